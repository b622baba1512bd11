#!/usr/bin/env bash
# Kill -9 chaos, long run: the real Broker.dll killed at random moments while it refreshes the tokens of many
# accounts (60 s access tokens), with token answers dropped after rotation. It is the test
# tests/Broker.Tests/Chaos/KillNineTests.cs, scaled up; it ends with one figures row (see bench/README.md).
#
#   bench/Chaos/run.sh [accounts] [refreshes] [seed]      defaults: 40 accounts, 200 refreshes, random seed
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
export CHAOS_ACCOUNTS=${1:-40} CHAOS_REFRESHES=${2:-200} CHAOS_MAX_SECONDS=${CHAOS_MAX_SECONDS:-1200} CHAOS_REPORT=$report
[[ -n ${3:-} ]] && export CHAOS_SEED=$3
echo "load before: $(uptime)"
"$ROOT/broker.sh" test --filter "FullyQualifiedName~Broker.Tests.Chaos.KillNineTests" >&2
echo "load after:  $(uptime)"
echo "| accounts | refreshes answered | rotated, answer dropped | kills | kills while a refresh held its row lock | drop faults queued | needs_reconnect | refresh tokens lost | plaintext tokens found | chaos time | seed |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
cat "$report"
