#!/usr/bin/env bash
# Replicas, long stretch: two or three in-process brokers on one database, clustered Quartz on the wall clock,
# 5 s polls and 60 s access tokens (refreshed 30 s before expiry), duplicate triggers and a scrape comparison
# every 30 s. It is the test tests/Broker.Tests/Polling/ThreeReplicasTests.cs, scaled up; it ends with one
# figures row (see bench/README.md).
#
#   bench/Replicas/run.sh [replicas] [accounts] [seconds]      defaults: 3 replicas, 12 accounts, 1800 s
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
export BROKER_REPLICAS_COUNT=${1:-3} BROKER_REPLICAS_ACCOUNTS=${2:-12} BROKER_REPLICAS_SECONDS=${3:-1800} BROKER_REPLICAS_REPORT=$report
# broker.sh's hang guard (20 min) would stop a long stretch: allow the stretch and 15 minutes.
export BROKER_TEST_HANG_TIMEOUT="$(( BROKER_REPLICAS_SECONDS / 60 + 15 ))m"
echo "load before: $(uptime)"
echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"
rc=0
"$ROOT/broker.sh" test --filter "FullyQualifiedName~Broker.Tests.Polling.ThreeReplicasTests" >&2 || rc=$?
echo "load after:  $(uptime)"
echo "| replicas | accounts | seconds | polls per replica | overlapping polls | token refreshes (allowed maximum) | scrape agreement |"
echo "|---|---|---|---|---|---|---|"
cat "$report"
exit $rc
