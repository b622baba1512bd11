#!/usr/bin/env bash
# broker.sh — operational entry point for Broker.
#
#   ./broker.sh demo                          run broker + Tesla simulator + Postgres locally
#   ./broker.sh test [dotnet test args...]    run the whole test suite against a private Postgres
#   ./broker.sh postgres start <dir> <port>   private PostgreSQL cluster (used by the test fixture)
#   ./broker.sh postgres stop <dir>
#   ./broker.sh new-key                       print a fresh vault key
#
# Works as root (CI, containers) and as a normal user. Run `./broker.sh help` for details.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Demo ports and paths (the simulator's defaults are 7800/7801/7802 and, for its China realm, 7803/7804; see its appsettings.json).
readonly DEMO_DIR="$ROOT/.demo"
readonly DEMO_PG_PORT=55433
readonly DEMO_MQTT_PORT=51883
readonly DEMO_BROKER_PORT=5080
readonly SIM_AUTH_PORT=7800 SIM_NA_PORT=7801 SIM_EU_PORT=7802 SIM_CN_AUTH_PORT=7803 SIM_CN_PORT=7804
# Tesla China's demo app at the simulator's China auth server (its seed file registers it; Tesla China knows no global app).
readonly DEMO_CN_CLIENT_ID=broker-demo-cn DEMO_CN_CLIENT_SECRET=demo-cn-client-secret
# The admin console's OpenID client at the simulator's development identity provider (/dev-idp).
readonly DEMO_CONSOLE_CLIENT_ID=broker-console

# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

# Messages go to stderr so that stdout stays machine-readable (e.g. the connection string).
say()  { printf '%s\n' "broker.sh: $*" >&2; }
die()  { printf '%s\n' "broker.sh: error: $*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# True when something accepts TCP connections on 127.0.0.1:<port>.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_free_port() {
  local port=$1 what=$2
  if port_busy "$port"; then
    die "port $port (needed for $what) is already in use on 127.0.0.1 — stop whatever listens there (try: ss -ltnp 'sport = :$port')"
  fi
}

# A random free port in the dynamic range, for throw-away clusters.
free_port() {
  local port i
  for i in $(seq 1 50); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
    if ! port_busy "$port"; then echo "$port"; return 0; fi
  done
  die "could not find a free TCP port"
}

# URL-safe random string of the given length (base64url alphabet, no padding).
random_urlsafe() {
  local len=$1 s=""
  while (( ${#s} < len )); do
    s+=$(openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n')
  done
  printf '%s' "${s:0:len}"
}

# Poll a URL until it answers 2xx or the deadline passes.
wait_http() {
  local url=$1 seconds=$2 pid=${3:-} i
  for (( i = 0; i < seconds * 2; i++ )); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    # Give up early when the process we are waiting for has died.
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# postgres start|stop — a private cluster from the machine's PostgreSQL binaries
# ---------------------------------------------------------------------------------------------

# Locate a PostgreSQL bin directory holding initdb and pg_ctl (PATH first, then Debian's layout).
pg_bindir() {
  local p
  if p=$(command -v initdb 2>/dev/null) && [[ -x "$(dirname "$p")/pg_ctl" ]]; then
    dirname "$p"; return 0
  fi
  # Newest major version first.
  while IFS= read -r p; do
    if [[ -x $p/initdb && -x $p/pg_ctl ]]; then echo "$p"; return 0; fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  die "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin — install them (Debian: apt-get install postgresql)"
}

# initdb refuses to run as root, so as root every server command runs as the `postgres` user.
as_pg() {
  if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' system user (Debian: apt-get install postgresql-common, or useradd --system postgres)"
    # From /: the caller's directory may be closed to the postgres user (a root-only temp dir).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# Sets PG_DATA and PG_RUN for cluster directory $1 (creating and chowning them as needed).
# As root the `postgres` user must be able to reach the directories. When <dir> sits below a
# directory it cannot traverse (e.g. a checkout under /root), the real directories go to
# /var/tmp/broker-pg/<hash> and <dir>/data, <dir>/run become symlinks to them.
pg_prepare_dirs() {
  local dir=$1 shadow
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if is_root && [[ ! -L $dir/data ]] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
    shadow="/var/tmp/broker-pg/$(printf '%s' "$dir" | sha256sum | cut -c1-16)"
    say "user 'postgres' cannot reach $dir; keeping the cluster in $shadow (symlinked from $dir)"
    install -d -m 755 /var/tmp/broker-pg
    # A new <dir> gets a new cluster, never the leftovers of an earlier <dir> of the same name.
    [[ -e $dir/data ]] || rm -rf "$shadow"
    install -d -o postgres -g postgres -m 700 "$shadow/data" "$shadow/run"
    [[ -e $dir/data ]] || ln -s "$shadow/data" "$dir/data"
    [[ -e $dir/run ]]  || ln -s "$shadow/run" "$dir/run"
  fi
  if is_root; then
    # Existing directories are chowned too: they may have been created by root earlier.
    install -d -o postgres -g postgres -m 700 "$dir/data" "$dir/run"
  else
    install -d -m 700 "$dir/data" "$dir/run"
  fi
  PG_DATA=$(readlink -f "$dir/data")
  PG_RUN=$(readlink -f "$dir/run")
}

pg_running() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

cmd_postgres_start() {
  local dir=${1:-} port=${2:-}
  [[ -n $dir && -n $port ]] || die "usage: ./broker.sh postgres start <dir> <port>"
  [[ $port =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
  PG_BIN=$(pg_bindir)
  pg_prepare_dirs "$dir"
  local cs="Host=127.0.0.1;Port=$port;Username=postgres;GSS Encryption Mode=Disable"

  if pg_running; then
    # Idempotent: an already running cluster is fine if it listens on the requested port.
    local running_port
    running_port=$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    if [[ -n $running_port && $running_port != "$port" ]]; then
      die "the cluster in $PG_DATA is already running on port $running_port, not $port — stop it first: ./broker.sh postgres stop $dir"
    fi
    say "PostgreSQL in $PG_DATA is already running on port $port"
    echo "$cs"
    return 0
  fi

  require_free_port "$port" "PostgreSQL"

  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    if [[ -n $(ls -A "$PG_DATA") ]]; then
      die "$PG_DATA is not empty but holds no PostgreSQL cluster; refusing to initdb over it"
    fi
    say "initialising a new cluster in $PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale >"$PG_RUN/initdb.log" 2>&1 \
      || { cat "$PG_RUN/initdb.log" >&2; die "initdb failed (log: $PG_RUN/initdb.log)"; }
  fi

  # Loopback TCP only; the Unix socket lives in our own run dir (not /var/run/postgresql).
  local opts="-p $port -k $PG_RUN -c listen_addresses=127.0.0.1 -c max_connections=${PG_MAX_CONNECTIONS:-200}"
  if [[ ${PG_FAST:-0} == 1 ]]; then
    # Throw-away test clusters only: durability is traded for speed.
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  say "starting PostgreSQL on 127.0.0.1:$port (data $PG_DATA, log $PG_RUN/postgres.log)"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_RUN/postgres.log" -w -t 60 -o "$opts" start >&2; then
    tail -n 20 "$PG_RUN/postgres.log" >&2 || true
    die "PostgreSQL did not start (log: $PG_RUN/postgres.log)"
  fi
  echo "$cs"
}

cmd_postgres_stop() {
  local dir=${1:-}
  [[ -n $dir ]] || die "usage: ./broker.sh postgres stop <dir>"
  [[ -d $dir/data ]] || { say "no cluster in $dir; nothing to stop"; return 0; }
  PG_BIN=$(pg_bindir)
  PG_DATA=$(readlink -f "$dir/data")
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >&2
  else
    say "PostgreSQL in $PG_DATA is not running"
  fi
}

cmd_postgres() {
  local sub=${1:-}
  shift || true
  case $sub in
    start) cmd_postgres_start "$@" ;;
    stop)  cmd_postgres_stop "$@" ;;
    *) die "usage: ./broker.sh postgres start <dir> <port> | postgres stop <dir>" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# test — install prerequisites, private Postgres, dotnet test, count results from TRX
# ---------------------------------------------------------------------------------------------

# Tests drive a real browser, nginx, Prometheus, mosquitto (Fleet Telemetry's MQTT broker) and validate docker-compose.yml.
ensure_test_packages() {
  local missing=() cmd
  for cmd in chromium nginx prometheus promtool docker-compose mosquitto mosquitto_passwd; do
    command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("$cmd")
  done
  (( ${#missing[@]} == 0 )) && return 0
  local pkgs=(chromium nginx prometheus docker-compose mosquitto mosquitto-clients)
  if is_root; then
    say "installing test prerequisites (missing: ${missing[*]})"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
  else
    say "warning: missing ${missing[*]}; tests that need them may fail or be skipped."
    say "         install them with: sudo apt-get install --no-install-recommends ${pkgs[*]}"
  fi
}

# Both commands need the PostgreSQL server binaries; as root (CI, a fresh container) they are installed, otherwise
# the message says exactly what to install.
ensure_postgres() {
  if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    return 0
  fi
  if is_root; then
    say "installing PostgreSQL (initdb and pg_ctl were not found)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
  else
    die "PostgreSQL server binaries (initdb, pg_ctl) are needed. Install them, then run this again: sudo apt-get install --no-install-recommends postgresql"
  fi
}

# The tests' OpenID provider runs on node (tests/OidcProvider): installed as root when missing.
ensure_node() {
  command -v npm >/dev/null 2>&1 && return 0
  if is_root; then
    say "installing node and npm (for the tests' OpenID provider)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
  else
    die "node and npm are needed for the tests' OpenID provider (tests/OidcProvider): sudo apt-get install --no-install-recommends nodejs npm"
  fi
}

# The tests' node tools, each pinned by its package-lock.json: tests/OidcProvider (npm oidc-provider, the real OpenID
# provider the console tests sign in against) and tests/Axe (axe-core, the accessibility check run in Chromium).
# npm ci runs only when a lock file changed since the last install.
ensure_test_node_tools() {
  local name dir want
  command -v npm >/dev/null 2>&1 || die "npm is needed for the tests' node tools (Debian: apt-get install nodejs npm)"
  for name in OidcProvider Axe; do
    dir="$ROOT/tests/$name"
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [[ -d $dir/node_modules && $(cat "$dir/node_modules/.installed-lock.sha256" 2>/dev/null) == "$want" ]]; then
      continue
    fi
    say "installing tests/$name (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci in $dir failed"
    echo "$want" >"$dir/node_modules/.installed-lock.sha256"
  done
}

# Sums the <Counters> of every TRX file in $1 into TRX_PASSED/TRX_FAILED/TRX_SKIPPED.
# Skipped tests show up as total - executed (xunit's skips are not in notExecuted).
count_trx() {
  local dir=$1 f line attr v
  local -A c
  TRX_PASSED=0 TRX_FAILED=0 TRX_SKIPPED=0 TRX_FILES=0
  while IFS= read -r -d '' f; do
    TRX_FILES=$((TRX_FILES + 1))
    line=$(grep -o '<Counters [^>]*>' "$f" | head -n1 || true)
    for attr in total executed passed failed error timeout aborted; do
      v=$(sed -n "s/.* $attr=\"\([0-9]*\)\".*/\1/p" <<<"$line")
      c[$attr]=${v:-0}
    done
    TRX_PASSED=$((TRX_PASSED + c[passed]))
    TRX_FAILED=$((TRX_FAILED + c[failed] + c[error] + c[timeout] + c[aborted]))
    TRX_SKIPPED=$((TRX_SKIPPED + c[total] - c[executed]))
  done < <(find "$dir" -name '*.trx' -print0 2>/dev/null)
}

# Fallback: sums vstest's "Total tests:/Passed:/Failed:/Skipped:" summary blocks.
count_console() {
  local log=$1
  TRX_PASSED=$(awk '/^ +Passed: [0-9]+$/ {n += $2} END {print n + 0}' "$log")
  TRX_FAILED=$(awk '/^ +Failed: [0-9]+$/ {n += $2} END {print n + 0}' "$log")
  TRX_SKIPPED=$(awk '/^ +Skipped: [0-9]+$/ {n += $2} END {print n + 0}' "$log")
}

cmd_test() {
  cd "$ROOT"
  command -v dotnet >/dev/null || die "the .NET SDK (dotnet) is not on PATH"
  ensure_postgres
  ensure_node
  ensure_test_packages
  say "restoring local .NET tools"
  dotnet tool restore
  ensure_test_node_tools

  # A throw-away cluster per run; fsync off (PG_FAST) because nothing here must survive.
  TEST_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/broker-test-pg.XXXXXX")
  chmod 755 "$TEST_PG_DIR"   # as root the `postgres` user must traverse it
  trap 'cmd_postgres_stop "$TEST_PG_DIR" >/dev/null 2>&1 || true; rm -rf "$TEST_PG_DIR"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local port cs
  port=$(free_port)
  cs=$(PG_FAST=1 cmd_postgres_start "$TEST_PG_DIR" "$port" | tail -n1)
  export BROKER_TEST_PG="$cs"
  say "BROKER_TEST_PG=$BROKER_TEST_PG"

  local results
  results="$ROOT/TestResults/run-$(date +%Y%m%d-%H%M%S)-$$"
  mkdir -p "$results"
  say "running: dotnet test Broker.sln -c Release $* (TRX files in $results)"
  local rc
  # A hung test must not eat the whole CI budget: blame-hang kills it and reports which one.
  # The console output is also kept in the results folder (set +e: we want dotnet's own status).
  set +e
  dotnet test Broker.sln -c Release \
    --results-directory "$results" \
    --logger "trx" \
    --logger "console;verbosity=normal" \
    --blame-hang-timeout "${BROKER_TEST_HANG_TIMEOUT:-20m}" --blame-hang-dump-type none \
    "$@" </dev/null 2>&1 | tee "$results/console.log"
  rc=${PIPESTATUS[0]}
  set -e

  # Stop Postgres now (the trap stays as a safety net) so the count line below is the last one.
  cmd_postgres_stop "$TEST_PG_DIR" || true

  count_trx "$results"
  # Each test project writes its own TRX, named after the second it finished; two projects
  # finishing in the same second could clobber one. If the console reported more result files
  # than exist, count from the console summaries instead.
  local reported
  reported=$(grep -c '^Results File: .*\.trx$' "$results/console.log" || true)
  if (( reported > TRX_FILES )); then
    say "warning: $reported TRX files reported but $TRX_FILES found; counting from the console summaries"
    count_console "$results/console.log"
  fi
  if (( TRX_FILES == 0 )); then
    say "no TRX results were written (dotnet test exited $rc) — the build or test host failed; see above"
    (( rc != 0 )) || rc=1
  elif (( rc != 0 && TRX_FAILED == 0 )); then
    say "dotnet test exited $rc although no test failed — see the output above"
  fi
  local summary="$TRX_PASSED passed, $TRX_FAILED failed"
  (( TRX_SKIPPED > 0 )) && summary+=", $TRX_SKIPPED skipped"
  echo "$summary"
  if (( TRX_FAILED > 0 )); then return 1; fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# demo — broker + simulator + Postgres on loopback, stopped together by Ctrl-C
# ---------------------------------------------------------------------------------------------

DEMO_PIDS=()
DEMO_STARTED_PG=0

demo_cleanup() {
  local pid i
  trap - EXIT INT TERM
  if (( ${#DEMO_PIDS[@]} > 0 )); then
    say "stopping broker and simulator"
    for pid in "${DEMO_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    # Give them a moment for a graceful shutdown, then insist.
    for (( i = 0; i < 20; i++ )); do
      local alive=0
      for pid in "${DEMO_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      (( alive )) || break
      sleep 0.5
    done
    for pid in "${DEMO_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  if (( DEMO_STARTED_PG )); then
    say "stopping PostgreSQL (data kept in $DEMO_DIR/pg)"
    cmd_postgres_stop "$DEMO_DIR/pg" || true
  fi
}

# The demo's cluster answers on 127.0.0.1, which every local user reaches: there the superuser needs the password from
# secrets.env (scram-sha-256). Its Unix socket sits in a directory only the cluster's owner can enter, and stays trust, so
# this sets the password through it, without the password on any command line. A cluster from an older demo, made with
# trust for everything, is changed the same way at its next start.
demo_pg_password() {
  local psql=$PG_BIN/psql
  [[ -x $psql ]] || psql=$(command -v psql) || psql=$(compgen -G "/usr/lib/postgresql/*/bin/psql" | tail -n1)
  [[ -x $psql ]] || die "psql not found (Debian: apt-get install postgresql-client)"
  printf "ALTER ROLE postgres PASSWORD '%s';\n" "$DEMO_PG_PASSWORD" \
    | as_pg "$psql" -h "$PG_RUN" -p "$DEMO_PG_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 >/dev/null \
    || die "could not set the demo database's password (log: $PG_RUN/postgres.log)"
  if grep -Eq '^host[[:space:]].*[[:space:]]trust[[:space:]]*$' "$PG_DATA/pg_hba.conf"; then
    as_pg sed -i -E 's/^(host[[:space:]].*[[:space:]])trust[[:space:]]*$/\1scram-sha-256/' "$PG_DATA/pg_hba.conf"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
  fi
}

# Creates .demo/secrets.env once; later runs reuse it so the database stays decryptable.
demo_secrets() {
  local f="$DEMO_DIR/secrets.env"
  if [[ ! -f $f ]]; then
    say "generating demo secrets in $f"
    ( umask 077
      {
        echo "# Generated by ./broker.sh demo. Delete .demo/ to start afresh."
        echo "DEMO_VAULT_KEY='$(openssl rand -base64 32)'"
        echo "DEMO_API_KEY='brk_$(random_urlsafe 32)'"
        echo "DEMO_CONNECT_TOKEN='$(random_urlsafe 43)'"
      } >"$f" )
  fi
  chmod 600 "$f"
  # Added after the first releases of the demo: older secrets files get it appended.
  grep -q '^DEMO_OPERATOR_TOKEN=' "$f" || echo "DEMO_OPERATOR_TOKEN='op_$(random_urlsafe 32)'" >>"$f"
  grep -q '^DEMO_CONSOLE_SECRET=' "$f" || echo "DEMO_CONSOLE_SECRET='$(random_urlsafe 32)'" >>"$f"
  grep -q '^DEMO_METRICS_TOKEN=' "$f" || echo "DEMO_METRICS_TOKEN='mt_$(random_urlsafe 32)'" >>"$f"
  grep -q '^DEMO_MQTT_BROKER_PASSWORD=' "$f" || echo "DEMO_MQTT_BROKER_PASSWORD='$(random_urlsafe 24)'" >>"$f"
  grep -q '^DEMO_MQTT_PUBLISHER_PASSWORD=' "$f" || echo "DEMO_MQTT_PUBLISHER_PASSWORD='$(random_urlsafe 24)'" >>"$f"
  grep -q '^DEMO_PG_PASSWORD=' "$f" || echo "DEMO_PG_PASSWORD='$(random_urlsafe 24)'" >>"$f"
  # shellcheck disable=SC1090
  source "$f"
  [[ -n ${DEMO_VAULT_KEY:-} && -n ${DEMO_API_KEY:-} && -n ${DEMO_CONNECT_TOKEN:-} && -n ${DEMO_OPERATOR_TOKEN:-} && -n ${DEMO_CONSOLE_SECRET:-} && -n ${DEMO_METRICS_TOKEN:-} \
        && -n ${DEMO_MQTT_BROKER_PASSWORD:-} && -n ${DEMO_MQTT_PUBLISHER_PASSWORD:-} && -n ${DEMO_PG_PASSWORD:-} ]] \
    || die "$f is incomplete; delete it (and .demo/pg, whose tokens it encrypts) and run again"
}

# The demo's MQTT broker (Debian's mosquitto), set up as docker-compose sets it up: no anonymous clients, and
# deploy/mosquitto/acl's subscribe-only account for a replica (broker-1, also its client id) and publish-only one for
# fleet-telemetry (here the simulator), loopback only.
demo_mosquitto() {
  local dir="$DEMO_DIR/mosquitto" bin
  bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  if [[ ! -x $bin ]]; then
    if is_root; then
      say "installing mosquitto (Fleet Telemetry's MQTT broker)"
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto mosquitto-clients
    else
      die "mosquitto is needed for streaming: sudo apt-get install --no-install-recommends mosquitto mosquitto-clients"
    fi
  fi
  mkdir -p "$dir"
  ( umask 077
    : >"$dir/passwd"
    mosquitto_passwd -b "$dir/passwd" broker-1 "$DEMO_MQTT_BROKER_PASSWORD"
    mosquitto_passwd -b "$dir/passwd" fleet-telemetry "$DEMO_MQTT_PUBLISHER_PASSWORD" )
  cp "$ROOT/deploy/mosquitto/acl" "$dir/acl"   # docker-compose.yml's own least-privilege ACL
  {
    echo "listener $DEMO_MQTT_PORT 127.0.0.1"
    echo "allow_anonymous false"
    echo "password_file $dir/passwd"
    echo "acl_file $dir/acl"
    echo "use_username_as_clientid true"
    echo "persistence true"
    echo "persistence_location $dir/"
    echo "max_queued_messages 100000"   # as deploy/mosquitto/mosquitto.conf
    echo "max_packet_size 1048576"
    echo "log_dest file $DEMO_DIR/logs/mosquitto.log"
    is_root && echo "user root"   # as root mosquitto would switch to user mosquitto, who cannot read .demo/
  } >"$dir/mosquitto.conf"
  say "starting mosquitto on 127.0.0.1:$DEMO_MQTT_PORT (log $DEMO_DIR/logs/mosquitto.log)"
  "$bin" -c "$dir/mosquitto.conf" </dev/null >/dev/null 2>&1 &
  DEMO_PIDS+=("$!")
}

demo_fail() {
  local name=$1 log=$2
  say "$name did not come up; last lines of $log:"
  tail -n 40 "$log" >&2 || true
  exit 1
}

cmd_demo() {
  cd "$ROOT"
  command -v dotnet >/dev/null || die "the .NET SDK (dotnet) is not on PATH"
  command -v curl >/dev/null || die "curl is needed to wait for the services"
  ensure_postgres

  # Fail fast on busy ports, before the slow build.
  require_free_port "$DEMO_BROKER_PORT" "the broker"
  require_free_port "$SIM_AUTH_PORT" "the simulator's auth server"
  require_free_port "$SIM_NA_PORT" "the simulator's NA Fleet API"
  require_free_port "$SIM_EU_PORT" "the simulator's EU Fleet API"
  require_free_port "$SIM_CN_AUTH_PORT" "the simulator's China auth server"
  require_free_port "$SIM_CN_PORT" "the simulator's China Fleet API"
  require_free_port "$DEMO_MQTT_PORT" "mosquitto (streaming)"

  say "building (Release)"
  dotnet build src/TeslaSimulator/TeslaSimulator.csproj -c Release -nologo -v q
  dotnet build src/Broker/Broker.csproj -c Release -nologo -v q

  mkdir -p "$DEMO_DIR/logs"
  demo_secrets

  trap demo_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Only stop at the end what we started now: a cluster that was already running stays up.
  PG_BIN=$(pg_bindir)
  if [[ -f $DEMO_DIR/pg/data/PG_VERSION ]] && PG_DATA=$(readlink -f "$DEMO_DIR/pg/data") && pg_running; then
    say "reusing the running demo PostgreSQL"
  else
    DEMO_STARTED_PG=1
  fi
  cmd_postgres_start "$DEMO_DIR/pg" "$DEMO_PG_PORT" >/dev/null
  demo_pg_password

  # No password here: the broker reads it from Database__Password, so the connection string can be shown.
  local db_cs="Host=127.0.0.1;Port=$DEMO_PG_PORT;Username=postgres;Database=broker_demo;GSS Encryption Mode=Disable"
  local sim_bin="$ROOT/src/TeslaSimulator/bin/Release/net10.0"
  local broker_bin="$ROOT/src/Broker/bin/Release/net10.0"
  local sim_log="$DEMO_DIR/logs/simulator.log" broker_log="$DEMO_DIR/logs/broker.log"

  demo_mosquitto

  say "starting the Tesla simulator (log $sim_log)"
  # The dev identity provider learns the console's client secret and the broker's callback URLs from here.
  ( cd "$sim_bin" && exec env \
      Simulator__DevIdentity__Clients__0__ClientId="$DEMO_CONSOLE_CLIENT_ID" \
      Simulator__DevIdentity__Clients__0__ClientSecret="$DEMO_CONSOLE_SECRET" \
      Simulator__DevIdentity__Clients__0__RedirectUris__0="http://127.0.0.1:$DEMO_BROKER_PORT/signin-oidc" \
      Simulator__DevIdentity__Clients__0__RedirectUris__1="http://localhost:$DEMO_BROKER_PORT/signin-oidc" \
      Simulator__DevIdentity__Clients__0__PostLogoutRedirectUris__0="http://127.0.0.1:$DEMO_BROKER_PORT/signout-callback-oidc" \
      Simulator__DevIdentity__Clients__0__PostLogoutRedirectUris__1="http://localhost:$DEMO_BROKER_PORT/signout-callback-oidc" \
      Simulator__PartnerDomains__broker.localhost="http://127.0.0.1:$DEMO_BROKER_PORT" \
      Simulator__Telemetry__MqttHost=127.0.0.1 \
      Simulator__Telemetry__MqttPort="$DEMO_MQTT_PORT" \
      Simulator__Telemetry__MqttUsername=fleet-telemetry \
      Simulator__Telemetry__MqttPassword="$DEMO_MQTT_PUBLISHER_PASSWORD" \
      dotnet TeslaSimulator.dll ) >"$sim_log" 2>&1 </dev/null &
  local sim_pid=$!
  DEMO_PIDS+=("$sim_pid")
  wait_http "http://127.0.0.1:$SIM_AUTH_PORT/status" 60 "$sim_pid" || demo_fail "the simulator" "$sim_log"

  say "starting the broker (log $broker_log)"
  ( cd "$broker_bin" && exec env \
      ASPNETCORE_ENVIRONMENT=Development \
      AllowedHosts="127.0.0.1;localhost" \
      ConnectionStrings__Broker="$db_cs" \
      Database__Password="$DEMO_PG_PASSWORD" \
      Vault__Keys__0__Id=demo-1 \
      Vault__Keys__0__Key="$DEMO_VAULT_KEY" \
      Tesla__ClientId=broker-demo \
      Tesla__ClientSecret=demo-client-secret \
      Tesla__AuthBaseUrl="http://127.0.0.1:$SIM_AUTH_PORT" \
      Tesla__TokenEndpoint="http://127.0.0.1:$SIM_AUTH_PORT/oauth2/v3/token" \
      Tesla__Regions__na="http://127.0.0.1:$SIM_NA_PORT" \
      Tesla__Regions__eu="http://127.0.0.1:$SIM_EU_PORT" \
      Tesla__Regions__cn="http://127.0.0.1:$SIM_CN_PORT" \
      Tesla__Auth__cn__ClientId="$DEMO_CN_CLIENT_ID" \
      Tesla__Auth__cn__ClientSecret="$DEMO_CN_CLIENT_SECRET" \
      Tesla__Auth__cn__AuthBaseUrl="http://127.0.0.1:$SIM_CN_AUTH_PORT" \
      Tesla__Auth__cn__TokenEndpoint="http://127.0.0.1:$SIM_CN_AUTH_PORT/oauth2/v3/token" \
      Demo__ApiKey="$DEMO_API_KEY" \
      Demo__ConnectToken="$DEMO_CONNECT_TOKEN" \
      Operator__Token="$DEMO_OPERATOR_TOKEN" \
      Metrics__Token="$DEMO_METRICS_TOKEN" \
      Demo__AdminEmail=alice-admin@example.com \
      Console__Oidc__Authority="http://127.0.0.1:$SIM_AUTH_PORT/dev-idp" \
      Console__Oidc__ClientId="$DEMO_CONSOLE_CLIENT_ID" \
      Console__Oidc__ClientSecret="$DEMO_CONSOLE_SECRET" \
      Console__Oidc__RequireHttpsMetadata=false \
      Console__Operators__Groups__0=broker-operators \
      Partner__Domain=broker.localhost \
      Partner__PairingBaseUrl="http://127.0.0.1:$SIM_AUTH_PORT" \
      Telemetry__Mqtt__Host=127.0.0.1 \
      Telemetry__Mqtt__Port="$DEMO_MQTT_PORT" \
      Telemetry__Mqtt__Username=broker-1 \
      Telemetry__Mqtt__Password="$DEMO_MQTT_BROKER_PASSWORD" \
      Telemetry__Server__Hostname=telemetry.broker.localhost \
      dotnet Broker.dll --urls "http://127.0.0.1:$DEMO_BROKER_PORT" ) >"$broker_log" 2>&1 </dev/null &
  local broker_pid=$!
  DEMO_PIDS+=("$broker_pid")
  wait_http "http://127.0.0.1:$DEMO_BROKER_PORT/healthz" 60 "$broker_pid" || demo_fail "the broker" "$broker_log"

  local base="http://127.0.0.1:$DEMO_BROKER_PORT"
  cat <<EOF

  Broker demo is running.

  Connect link (open in a browser):
      $base/connect/$DEMO_CONNECT_TOKEN
    Sign in at the simulator as alice@example.com or bob@example.com
    (the password hint is on the sign-in page), grant the scopes, see the result page.
    Tesla China: on the same page choose "Tesla in mainland China", then sign in at the
    simulator's China auth server (port $SIM_CN_AUTH_PORT, app $DEMO_CN_CLIENT_ID) as chen@example.cn / chen-demo.

  Tenant "demo" API key:
      $DEMO_API_KEY
      curl -H "Authorization: Bearer $DEMO_API_KEY" $base/api/v1/accounts
      curl -H "Authorization: Bearer $DEMO_API_KEY" $base/metrics      (this tenant's series)

  Prometheus scrape token (reads /metrics of every tenant plus the broker's own health, nothing else):
      curl -H "Authorization: Bearer $DEMO_METRICS_TOKEN" $base/metrics

  Operator token (the whole operator API: tenants, keys, audit; keep it away from scrapers):
      curl -H "Authorization: Bearer $DEMO_OPERATOR_TOKEN" $base/api/v1/tenants

  Database:
      $db_cs
      PGPASSWORD="\$DEMO_PG_PASSWORD" psql -h 127.0.0.1 -p $DEMO_PG_PORT -U postgres broker_demo   (the password is in $DEMO_DIR/secrets.env)

  Console (open in a browser):
      $base/console
    Sign in at the simulator's development identity provider (issuer
    http://127.0.0.1:$SIM_AUTH_PORT/dev-idp, client $DEMO_CONSOLE_CLIENT_ID) as
      operator@example.com / operator-demo        operator: every tenant, audit log, partner set-up
      alice-admin@example.com / alice-admin-demo  admin of the "demo" tenant
      bob-admin@example.com / bob-admin-demo      no tenant yet (invite him from the console)
    Partner set-up: Operator page → Generate key pair → Register (NA and EU with the global app,
    CN with the China app at the China auth server). API: $base/openapi/v1.json
    Streaming: once the key is registered and a car's owner has paired it (the account page's pairing link),
    the car streams through the simulator's fleet-telemetry and mosquitto (127.0.0.1:$DEMO_MQTT_PORT) instead of being polled.

  Tesla simulator: auth http://127.0.0.1:$SIM_AUTH_PORT, Fleet API na http://127.0.0.1:$SIM_NA_PORT, eu http://127.0.0.1:$SIM_EU_PORT;
    China: auth http://127.0.0.1:$SIM_CN_AUTH_PORT, Fleet API cn http://127.0.0.1:$SIM_CN_PORT
  Logs: $broker_log, $sim_log, $DEMO_DIR/pg/run/postgres.log
  Secrets: $DEMO_DIR/secrets.env

  Ctrl-C stops everything.

EOF
  # Stay in the foreground until Ctrl-C or until one of the two processes exits.
  local rc=0
  wait -n "$sim_pid" "$broker_pid" || rc=$?
  say "a demo process exited (status $rc); see $DEMO_DIR/logs/"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# new-key
# ---------------------------------------------------------------------------------------------

cmd_new_key() {
  command -v openssl >/dev/null || die "openssl is needed"
  echo '# Vault key (AES-256, base64): set Vault__Keys__N__Id=<a new id> and Vault__Keys__N__Key=<this value>; the last key listed encrypts, every key decrypts.'
  openssl rand -base64 32
}

# ---------------------------------------------------------------------------------------------

usage() {
  cat <<'EOF'
Usage: ./broker.sh <command> [args]

  demo
      Build (Release) and run the broker on http://127.0.0.1:5080 with the Tesla simulator
      (127.0.0.1:7800-7804, China included) and a private PostgreSQL in .demo/pg (port 55433, kept between
      runs). Prints the Connect link, the demo tenant's API key and the database details.
      Ctrl-C stops everything it started.

  test [dotnet test args...]
      Install missing test prerequisites (as root: chromium nginx prometheus docker-compose
      mosquitto via apt), restore .NET tools, npm ci the tests' OpenID provider in tests/OidcProvider
      (skipped while its package-lock.json is unchanged), start a throw-away PostgreSQL,
      export BROKER_TEST_PG and run `dotnet test Broker.sln -c Release`. Extra args are passed on, e.g.
      ./broker.sh test --filter FullyQualifiedName~Vault
      Ends with a line "N passed, N failed[, N skipped]" counted from the TRX files
      (TestResults/run-*/); exits non-zero when anything failed.

  postgres start <dir> <port>
      Start (initialising if needed) a private cluster: data in <dir>/data, socket and log in
      <dir>/run, listening on 127.0.0.1:<port>, trust auth, user postgres. Idempotent.
      PG_FAST=1 turns fsync off (tests only). The last line of stdout is the connection
      string Host=127.0.0.1;Port=<port>;Username=postgres;GSS Encryption Mode=Disable.

  postgres stop <dir>
      Stop that cluster (fast shutdown). No-op when it is not running.

  new-key
      Print a fresh vault key (openssl rand -base64 32) for Vault__Keys__N__Key.

  help
      This text.
EOF
}

main() {
  local cmd=${1:-help}
  shift || true
  case $cmd in
    demo)      cmd_demo "$@" ;;
    test)      cmd_test "$@" ;;
    postgres)  cmd_postgres "$@" ;;
    new-key)   cmd_new_key "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
