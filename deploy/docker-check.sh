#!/usr/bin/env bash
# Runs docker-compose.yml's hardened stack on a real Docker engine and checks what the offline tests
# (tests/Broker.Tests/Deploy) cannot: the build context, that every container starts with its
# capabilities, read-only root and limits, that the replicas get healthy, that no secret value is in
# any container's environment (`docker inspect`), that the broker logs no GSS/Kerberos error, and
# that Prometheus scrapes /metrics through the compose network, and that mosquitto (streaming) publishes no port
# and refuses anonymous clients. Slow (image builds): not part of
# `./broker.sh test`; docs/deploy-hardening.md says when and how it was run.
#
#   deploy/docker-check.sh            # all services, images from their registries
#   CHECK_SERVICES="postgres migrate broker-1 broker-2 nginx prometheus" BUILD_NETWORK=host deploy/docker-check.sh
#
# SCRAPE_AS_OPERATOR=1 adds deploy/compose.operator-token.yml with the metrics token as the operator
# token, for a broker build that does not know Metrics__TokenFile yet (Prometheus then scrapes as operator).
# Everything it makes (throw-away secrets, a self-signed certificate, the project `brokercheck` and
# its volumes) lives in a temporary directory and is removed at the end; KEEP=1 leaves the stack up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
read -r -a services <<<"${CHECK_SERVICES:-postgres migrate broker-1 broker-2 nginx prometheus grafana mosquitto fleet-telemetry}"
project=brokercheck
work="$(mktemp -d /tmp/broker-docker-check.XXXXXX)"
failures=0
say() { printf 'docker-check: %s\n' "$*" >&2; }
# check "what" command...: runs the command, counts a failure instead of stopping.
check() { if "${@:2}"; then say "ok   $1"; else say "FAIL $1"; failures=$((failures + 1)); fi; }
files=(-f "$root/docker-compose.yml")
[[ ${SCRAPE_AS_OPERATOR:-0} == 1 ]] && files+=(-f "$root/deploy/compose.operator-token.yml")
compose() { docker-compose -p "$project" --project-directory "$root" --env-file "$work/env" "${files[@]}" -f "$work/override.yml" "$@"; }
cleanup() {
  if [[ ${KEEP:-0} != 1 ]]; then compose down -v --remove-orphans >/dev/null 2>&1 || true; rm -rf "$work"; fi
}
trap cleanup EXIT

# 1. The build context: the checkout's files (git-ignored ones left out) plus decoys of everything
#    .dockerignore must keep out, sent to the engine and listed from inside an image.
say "build context"
mkdir -p "$work/context"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$work/context"
decoys=(.env .env.local deploy/secrets/vault_keys deploy/nginx/certs/privkey.pem deploy/fleet-telemetry/certs/privkey.pem private-key.pem src/Broker/partner.key
  src/Broker/bin/Release/x.dll src/Broker/obj/x.json .git/config .demo/x .test-pg/x TestResults/x.trx bench/out/x
  tests/OidcProvider/node_modules/x/package.json)
for d in "${decoys[@]}"; do mkdir -p "$work/context/$(dirname "$d")"; echo decoy > "$work/context/$d"; done
printf 'FROM %s\nCOPY . /context\n' "${CONTEXT_BASE_IMAGE:-debian:bookworm}" > "$work/context.Dockerfile"
docker build -q -f "$work/context.Dockerfile" -t brokercheck-context "$work/context" >/dev/null
listing="$(docker run --rm --entrypoint find brokercheck-context /context -type f)"
docker rmi brokercheck-context >/dev/null
listed() { grep -qxF "/context/$1" <<<"$listing"; }
unlisted() { ! listed "$1"; }
for d in "${decoys[@]}"; do check "$d stays out of the build context" unlisted "$d"; done
for f in global.json Directory.Packages.props src/Broker/Broker.csproj src/Broker/Program.cs migrations/BrokerDbContextModelSnapshot.cs; do
  check "$f is in the build context" listed "$f"
done

# 2. Throw-away secrets, root:10001 mode 440 as deploy/secrets/README.md says, and a certificate.
secrets=(vault_keys metrics_token tesla_client_secret postgres_password console_oidc_client_secret grafana_admin_password operator_token
  mqtt_broker_password mosquitto_passwd fleet_telemetry_config)
mkdir -p "$work/secrets" "$work/certs"
( umask 077
  echo "check-1=$(openssl rand -base64 32)" > "$work/secrets/vault_keys"
  for s in "${secrets[@]:1}"; do openssl rand -hex 24 > "$work/secrets/$s"; done
  [[ ${SCRAPE_AS_OPERATOR:-0} == 1 ]] && cp "$work/secrets/metrics_token" "$work/secrets/operator_token"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$work/certs/privkey.pem" -out "$work/certs/fullchain.pem" 2>/dev/null
  # The MQTT files as deploy/secrets/README.md makes them (mosquitto_passwd from the host, else the compose file's image).
  publisher="$(openssl rand -hex 24)"
  printf 'broker:%s\nfleet-telemetry:%s\n' "$(cat "$work/secrets/mqtt_broker_password")" "$publisher" > "$work/secrets/mosquitto_passwd"
  if command -v mosquitto_passwd >/dev/null; then
    mosquitto_passwd -U "$work/secrets/mosquitto_passwd"
  else
    docker run --rm -v "$work/secrets:/s" "$(sed -n 's/^ *image: \(eclipse-mosquitto:.*\)$/\1/p' "$root/docker-compose.yml")" \
      mosquitto_passwd -U /s/mosquitto_passwd
  fi
  template="$(cat "$root/deploy/fleet-telemetry/config.json")"
  printf '%s\n' "${template//@MQTT_PUBLISHER_PASSWORD@/$publisher}" > "$work/secrets/fleet_telemetry_config" )
chgrp 10001 "$work"/secrets/* "$work/certs/privkey.pem"
chmod 440 "$work"/secrets/* "$work/certs/privkey.pem"
chmod 444 "$work/certs/fullchain.pem"
chmod 755 "$work" "$work/certs" "$work/secrets"
{
  printf 'BROKER_HOST=localhost\nTELEMETRY_HOST=localhost\nTESLA_CLIENT_ID=docker-check\nCONSOLE_OIDC_AUTHORITY=\nCONSOLE_OIDC_CLIENT_ID=\nCONSOLE_OPERATOR_EMAIL=\nBROKER_IMAGE_TAG=check\n'
  for s in "${secrets[@]}"; do echo "BROKER_${s^^}_FILE=$work/secrets/$s"; done
} > "$work/env"
{
  printf 'services:\n  nginx:\n    volumes:\n      - %s/certs:/etc/nginx/certs:ro\n' "$work"
  printf '  fleet-telemetry:\n    volumes:\n      - %s/certs:/etc/fleet-telemetry/certs:ro\n' "$work"
  if [[ -n ${BUILD_NETWORK:-} ]]; then
    for s in migrate broker-1 broker-2; do printf '  %s:\n    build:\n      network: %s\n' "$s" "$BUILD_NETWORK"; done
  fi
} > "$work/override.yml"

# 3. Build, migrate, start.
say "build (slow the first time)"
compose build migrate >/dev/null
say "migrate"
compose run --rm migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
say "up: ${services[*]}"
compose up -d --no-build "${services[@]}"

id() { compose ps -q "$1"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$(id "$1")"; }
# healthy, or running for a container without a healthcheck (fleet-telemetry: distroless, nothing to probe with).
healthy() { [[ $(health "$1") =~ ^(healthy|running)$ ]]; }
for s in "${services[@]}"; do
  [[ $s == migrate ]] && continue
  for _ in $(seq 90); do healthy "$s" && break; sleep 2; done
  check "$s is healthy" healthy "$s"
done

# 4. What each running container got.
no_secret_in_env() {
  local env; env="$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(id "$1")")"
  for f in "$work"/secrets/*; do ! grep -qF "$(cat "$f")" <<<"$env" || return 1; done
}
read_only() { [[ $(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$(id "$1")") == true ]]; }
# Read from the host's /proc: the distroless fleet-telemetry image has no grep.
status_of() { cat "/proc/$(docker inspect -f '{{.State.Pid}}' "$(id "$1")")/status"; }
no_new_privs() { status_of "$1" | grep -q '^NoNewPrivs:[[:space:]]*1'; }
for s in "${services[@]}"; do
  [[ $s == migrate ]] && continue
  check "$s: no secret value in docker inspect's Env" no_secret_in_env "$s"
  [[ $s == grafana ]] || check "$s: read-only root file system" read_only "$s"
  check "$s: no-new-privileges" no_new_privs "$s"
  say "     $s: $(status_of "$s" | grep -E '^Cap(Eff|Bnd)' | tr '\n\t' '  ')memory $(docker inspect -f '{{.HostConfig.Memory}}' "$(id "$s")"), nano-cpus $(docker inspect -f '{{.HostConfig.NanoCpus}}' "$(id "$s")")"
done
no_gss_error() { ! compose logs --no-color "$1" | grep -Eiq 'gss|kerberos'; }
cannot_write_app() { ! docker exec "$(id "$1")" touch /app/probe 2>/dev/null; }
for r in broker-1 broker-2; do
  check "$r logs no GSS/Kerberos error" no_gss_error "$r"
  check "$r cannot write outside /tmp" cannot_write_app "$r"
done

if [[ " ${services[*]} " == *" mosquitto "* ]]; then
  not_published() { [[ -z $(docker port "$(id mosquitto)") ]]; }
  anonymous_refused() { docker exec "$(id mosquitto)" mosquitto_sub -h 127.0.0.1 -t x -C 1 -W 3 2>&1 | grep -q 'not authorised'; }
  check "mosquitto publishes no port on the host" not_published
  check "mosquitto refuses an anonymous client" anonymous_refused
fi

# 5. Through nginx (TLS), and Prometheus' scrape over the compose network.
status() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$work/certs/fullchain.pem" "${@:2}" "https://localhost$1"; }
is() { [[ $(status "${@:2}") == "$1" ]]; }
metrics_auth=(-H "Authorization: Bearer $(cat "$work/secrets/metrics_token")")
check "nginx serves /healthz over TLS" is 200 /healthz
check "the metrics token reads /metrics" is 200 /metrics "${metrics_auth[@]}"
[[ ${SCRAPE_AS_OPERATOR:-0} == 1 ]] || check "the metrics token gets 403 from the operator API" is 403 /api/v1/tenants "${metrics_auth[@]}"
query() { curl -fsS "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1"; }
scraped_both() { query 'count(up{job="broker"} == 1)' | grep -q '"value":\[[0-9.]*,"2"\]'; }
if [[ " ${services[*]} " == *" prometheus "* ]]; then
  for _ in $(seq 45); do scraped_both && break; sleep 2; done
  check "Prometheus scrapes both replicas through the compose network (up == 1)" scraped_both
  say "     $(query 'scrape_samples_scraped{job="broker"}' | grep -o '"instance":"[^"]*"\|"value":\[[^]]*\]' | tr '\n' ' ')"
fi
say "$failures check(s) failed"
[[ $failures == 0 ]]
