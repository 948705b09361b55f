#!/usr/bin/env bash
# Benchmark: the real app and the raw-floor app (bench/floor_app.py) under the same gunicorn
# settings, on PostgreSQL + Redis over loopback, driven by wrk; writes bench/results.md.
#
#   bash bench/run.sh                      # main run (make bench)
#   bash bench/run.sh --compare-workers    # worker-class comparison (bench/compare_workers.sh)
#
# Environment (all optional):
#   SIZES="10000 1000000"   item counts, seeded in order (each one tops up the previous)
#   DURATION=10s            wrk duration per scenario ("5" means 5s)
#   WRK_THREADS=2 WRK_CONNECTIONS=16 WRK_TIMEOUT=10s
#   WEB_CONCURRENCY GUNICORN_THREADS GUNICORN_WORKER_CLASS   passed to gunicorn.conf.py
#   COMPARE_SIZE=10000      items for --compare-workers
#   BENCH_DB=myproject_bench  KEEP_DB=1 keeps the database afterwards
#   BENCH_OURS_PORT BENCH_FLOOR_PORT (default: free ports)
#   PGHOST/PGPORT/PGUSER (default 127.0.0.1/5432/postgres), BENCH_REDIS_URL
# Run from anywhere; it works in the repository root with the virtualenv at .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=main
case "${1:-}" in
  --compare-workers) MODE=compare ;;
  "") ;;
  *) echo "usage: bash bench/run.sh [--compare-workers]" >&2; exit 2 ;;
esac

VENV=${VENV:-.venv}
BIN=$VENV/bin
SIZES=${SIZES:-"10000 1000000"}
COMPARE_SIZE=${COMPARE_SIZE:-10000}
DURATION=${DURATION:-10s}
[[ $DURATION =~ ^[0-9]+$ ]] && DURATION=${DURATION}s
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
BENCH_DB=${BENCH_DB:-myproject_bench}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
# Free ports picked by the kernel unless given: the machine may run other servers (and other
# benches) on the usual ones.
free_port() { "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
OURS_PORT=${BENCH_OURS_PORT:-$(free_port)}
FLOOR_PORT=${BENCH_FLOOR_PORT:-$(free_port)}
[[ $OURS_PORT != "$FLOOR_PORT" ]] || FLOOR_PORT=$(free_port)
RESULTS=bench/results.md
OUT=bench/out/$MODE
SEARCH_WORD=guitar  # in about a third of the seeded items
RARE_WORD=9999     # in item names only: 1 item at 10,000, about 200 at 1,000,000

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $BIN/python ]] || die "no virtualenv at $VENV (run 'make' targets first)"
[[ -x $BIN/gunicorn ]] || die "gunicorn is not installed in $VENV"

# --------------------------------------------------------------------------- tools
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v wrk >/dev/null 2>&1 || die "wrk is not available"
command -v curl >/dev/null 2>&1 || die "curl is not available"
command -v psql >/dev/null 2>&1 || die "psql is not available"

# --------------------------------------------------------------------------- environment
secret() { "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(36))'; }  # 48 chars
export FLASK_APP=myproject
export FLASK_CONFIG=production
export DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB"
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}
# What production runs: rate limits on, counted in Redis, with budgets no scenario reaches
# (every request is counted and carries its X-RateLimit-* headers). The *_limits_off rows
# restart ours with RATELIMIT_ENABLED=false as the reference (API.md: at most 15% dearer).
export RATELIMIT_ENABLED=true
BENCH_LIMIT="1000000000 per minute"
export RATELIMIT_DEFAULT=$BENCH_LIMIT RATELIMIT_ANONYMOUS=$BENCH_LIMIT RATELIMIT_PREMIUM=$BENCH_LIMIT
export RATELIMIT_LOGIN=$BENCH_LIMIT RATELIMIT_REGISTER=$BENCH_LIMIT
# The slow/idle-client scenario opens its sockets from one address, with its own Origin.
export SOCKETIO_MAX_PER_ADDRESS=100000 ALLOWED_HOSTS=127.0.0.1,localhost
SECRET_KEY=$(secret)
JWT_SECRET_KEY=$(secret)
export SECRET_KEY JWT_SECRET_KEY
unset GUNICORN_BIND PORT

flush_redis() {
  "$BIN/python" -c 'import os, redis; redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()'
}
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB" -Atc "$1"; }

# --------------------------------------------------------------------------- servers
declare -A MASTER=()

start_app() {  # name port label [APP]
  local name=$1 port=$2 label=$3 app=${4:-}
  local -a cmd=("$BIN/gunicorn" -c gunicorn.conf.py -b "127.0.0.1:$port")
  [[ -n $app ]] && cmd+=("$app")
  "${cmd[@]}" >"$OUT/log-$name-$label.log" 2>&1 &
  MASTER[$name]=$!
}

wait_health() {  # name port
  local name=$1 port=$2
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then return 0; fi
    kill -0 "${MASTER[$name]}" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$OUT"/log-"$name"-*.log >&2 || true
  die "$name did not become healthy on port $port"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_servers() {  # label
  local port
  for port in "$OURS_PORT" "$FLOOR_PORT"; do
    port_free "$port" || die "port $port is in use (set BENCH_OURS_PORT / BENCH_FLOOR_PORT)"
  done
  start_app ours "$OURS_PORT" "$1"
  start_app floor "$FLOOR_PORT" "$1" bench.floor_app:app
  wait_health ours "$OURS_PORT"
  wait_health floor "$FLOOR_PORT"
}

stop_app() {  # name
  local name=$1 pid=${MASTER[$1]}
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  unset "MASTER[$name]"
}

stop_servers() {
  local name
  for name in "${!MASTER[@]}"; do stop_app "$name"; done
}

worker_rss() {  # name -> "N workers: a, b, ... MiB (total T MiB); master M MiB" ; sets RSS_TOTAL
  local master=${MASTER[$1]}
  local rows
  rows=$(ps -o rss= --ppid "$master" | awk '{printf "%.0f\n", $1/1024}')
  RSS_TOTAL=$(echo "$rows" | awk '{s+=$1} END {print s+0}')
  local master_mib private p
  master_mib=$(ps -o rss= -p "$master" | awk '{printf "%.0f", $1/1024}')
  # Private (not shared with the master or the other workers): what one more worker costs.
  private=$(for p in $(ps -o pid= --ppid "$master"); do
    awk '/^Private_(Clean|Dirty):/ {s += $2} END {printf "%.0f\n", s/1024}' \
      "/proc/$p/smaps_rollup" 2>/dev/null
  done | paste -sd, | sed 's/,/, /g')
  echo "$(echo "$rows" | grep -c .) workers: $(echo "$rows" | paste -sd, | sed 's/,/, /g') MiB" \
    "(total $RSS_TOTAL MiB; private ${private:-?} MiB); master $master_mib MiB"
}

# CPU accounting: utime+stime clock ticks of the app's workers, of the PostgreSQL backends
# serving the bench database, and of redis-server (shared: other clients count too).
CLK_TCK=$(getconf CLK_TCK)
cpu_snapshot() {  # app-name file
  local p
  {
    for p in $(ps -o pid= --ppid "${MASTER[$1]}"); do
      awk -v p="$p" '{print "app", p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
    done
    for p in $(sql "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                    AND pid <> pg_backend_pid()"); do
      awk -v p="$p" '{print "pg", p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
    done
    for p in $(pgrep -x redis-server || true); do
      awk -v p="$p" '{print "redis", p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
    done
  } >"$2"
}
cpu_per_request() {  # before after requests -> "cpu_app_ms=.. cpu_pg_ms=.. cpu_redis_ms=.." lines
  awk -v n="$3" -v hz="$CLK_TCK" 'NR == FNR { start[$1 " " $2] = $3; next }
    { d[$1] += $3 - (($1 " " $2) in start ? start[$1 " " $2] : 0) }
    END { for (g in d) if (n > 0) printf "cpu_%s_ms=%.3f\n", g, d[g] * 1000 / hz / n }' "$1" "$2"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_servers
  if [[ -n ${SINK_PID:-} ]]; then kill "$SINK_PID" 2>/dev/null || true; fi
  if [[ ${KEEP_DB:-0} != 1 ]]; then
    dropdb --if-exists --force "$BENCH_DB" 2>/dev/null || true
  fi
  flush_redis 2>/dev/null || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------------- load
token() {
  curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"username": "demo1", "password": "demo-password"}' \
    "http://127.0.0.1:$OURS_PORT/auth/token" |
    "$BIN/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# A fresh API key of demo1 (items:read, users:read), made with a login's token: the same
# reads with a key and with a JWT (API.md: a key check costs no more than a JWT check).
api_key() {
  curl -fsS -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(token)" \
    -d '{"name": "bench", "scopes": ["items:read", "users:read"], "expires_in_days": 1}' \
    "http://127.0.0.1:$OURS_PORT/auth/api-keys" |
    "$BIN/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# run_scenario KIND GROUP NAME APP PORT key=value...
#   keys: method path bust(0/1) token body ids id_max
run_scenario() {
  local kind=$1 group=$2 name=$3 app=$4 port=$5
  shift 5
  local method=GET path=/ bust=0 tok="" body="" ids="" id_max="" kv
  for kv in "$@"; do
    case $kv in
      method=*) method=${kv#*=} ;;
      path=*) path=${kv#*=} ;;
      bust=*) bust=${kv#*=} ;;
      token=*) tok=${kv#*=} ;;
      body=*) body=${kv#*=} ;;
      ids=*) ids=${kv#*=} ;;
      id_max=*) id_max=${kv#*=} ;;
      *) die "bad scenario option $kv" ;;
    esac
  done
  local raw="$OUT/raw/$group-$name-$app"
  # One probe request first: its status shows up in the report if it is not 2xx.
  local probe_path=$path probe_body=${body//\{n\}/probe}
  if [[ -n $ids ]]; then probe_path=${probe_path//\{id\}/${ids%%,*}}; fi
  probe_path=${probe_path//\{id\}/1}
  if [[ $bust == 1 ]]; then
    [[ $probe_path == *\?* ]] && probe_path+="&_=probe$RANDOM" || probe_path+="?_=probe$RANDOM"
  fi
  local -a curl_args=(-s -o "$raw.probe" -w '%{http_code}' -X "$method")
  [[ -n $tok ]] && curl_args+=(-H "Authorization: Bearer $tok")
  [[ -n $body ]] && curl_args+=(-H 'Content-Type: application/json' --data "$probe_body")
  local probe
  probe=$(curl "${curl_args[@]}" "http://127.0.0.1:$port$probe_path" || echo "000")

  cpu_snapshot "$app" "$raw.cpu0"
  BENCH_METHOD=$method BENCH_PATH=$path BENCH_BUST=$bust BENCH_TOKEN=$tok BENCH_BODY=$body \
    BENCH_IDS=$ids BENCH_ID_MAX=$id_max BENCH_NONCE="$name$app$(date +%s%N)" \
    BENCH_OUT="$raw.txt" \
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency \
    -s bench/scenario.lua "http://127.0.0.1:$port/" >"$raw.wrk" 2>&1 ||
    log "wrk failed for $name/$app (see $raw.wrk)"
  cpu_snapshot "$app" "$raw.cpu1"
  local requests
  requests=$(sed -n 's/^requests=//p' "$raw.txt" 2>/dev/null || true)
  cpu_per_request "$raw.cpu0" "$raw.cpu1" "${requests:-0}" >>"$raw.txt" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$group" "$name" "$app" "$probe" "$raw.txt" \
    >>"$OUT/runs.tsv"
  local rps p50 p99 bad cpu
  cpu=$(sed -n 's/^cpu_app_ms=//p' "$raw.txt" 2>/dev/null || true)
  rps=$(sed -n 's/^rps=//p' "$raw.txt" 2>/dev/null || true)
  p50=$(sed -n 's/^p50_us=//p' "$raw.txt" 2>/dev/null || true)
  p99=$(sed -n 's/^p99_us=//p' "$raw.txt" 2>/dev/null || true)
  bad=$(sed -n 's/^non2xx=//p' "$raw.txt" 2>/dev/null || true)
  log "$(printf '%-8s %-19s %-5s probe %s %9s req/s p50 %7s us p99 %8s us non-2xx %s app %s ms/req' \
    "$group" "$name" "$app" "$probe" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${bad:-?}" "${cpu:-?}")"
}

next_link() {  # path -> the path of the rel="next" link in our answer for it (empty if none)
  curl -fsS -D - -o /dev/null "http://127.0.0.1:$OURS_PORT$1" | "$BIN/python" -c '
import re, sys
for line in sys.stdin:
    if line.lower().startswith("link:"):
        match = re.search(r"<([^>]*)>;\s*rel=\"next\"", line)
        if match:
            url = match.group(1)
            print(url[url.index("/", url.index("//") + 2):])'
}

# both GROUP NAME key=value...: the scenario against ours, then the floor
both() {
  local group=$1 name=$2
  shift 2
  run_scenario "$MODE" "$group" "$name" ours "$OURS_PORT" "$@"
  run_scenario "$MODE" "$group" "$name" floor "$FLOOR_PORT" "$@"
}

warm_up() {
  local port
  for port in "$OURS_PORT" "$FLOOR_PORT"; do
    for path in "/api/items/{id}" "/api/items?page=1&per_page=20"; do
      BENCH_PATH=$path BENCH_BUST=1 BENCH_ID_MAX=100 BENCH_OUT="$OUT/raw/warmup.txt" \
        wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d2s -s bench/scenario.lua \
        "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    done
  done
}

code_version() {  # the app code the servers load now (the work tree may move during a run)
  echo "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- \
    myproject migrations gunicorn.conf.py 2>/dev/null || echo ' + uncommitted changes')"
}

record_meta() {
  local settings
  settings=$("$BIN/gunicorn" -c gunicorn.conf.py -b 127.0.0.1:$OURS_PORT --print-config 2>/dev/null |
    awk '$1 ~ /^(workers|worker_class|threads|worker_connections|keepalive|timeout)$/ {
      printf "%s%s=%s", (n++ ? " " : ""), $1, $3 }')
  {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc=$(nproc)"
    echo "mem=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "kernel=$(uname -sr)"
    echo "python=$("$BIN/python" -V 2>&1)"
    echo "gunicorn=$("$BIN/gunicorn" --version 2>&1 | awk '{print $NF}' | tr -d '()')"
    echo "postgres=$(sql 'SHOW server_version' | awk '{print "PostgreSQL " $1}')"
    echo "redis=$("$BIN/python" -c 'import os, redis
print(redis.Redis.from_url(os.environ["REDIS_URL"]).info()["redis_version"])')"
    echo "wrk=$(wrk --version 2>&1 | head -n 1 | awk '{print $1 " " $2}')"
    echo "gunicorn_settings=$settings (env: WEB_CONCURRENCY=${WEB_CONCURRENCY:-unset}," \
      "GUNICORN_THREADS=${GUNICORN_THREADS:-unset}," \
      "GUNICORN_WORKER_CLASS=${GUNICORN_WORKER_CLASS:-unset})"
    echo "wrk_args=-t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT --latency"
    echo "db_note=VACUUM ANALYZE after each seed"
    echo "redis_db=${REDIS_URL##*/}"
    echo "limits=RATELIMIT_ENABLED=true, every limit $BENCH_LIMIT"
    echo "commit=$(code_version)"
  } >>"$OUT/meta.txt"
}

setup_database() {
  log "fresh database $BENCH_DB, Redis ${REDIS_URL##*/} flushed"
  flush_redis || die "cannot reach Redis at $REDIS_URL"
  dropdb --if-exists --force "$BENCH_DB"
  createdb "$BENCH_DB"
  "$BIN/flask" db upgrade >"$OUT/migrate.log" 2>&1 || { cat "$OUT/migrate.log" >&2; die "migration"; }
}

seed() {  # size -> appends seed_<size> to meta
  local size=$1 before after t0 t1 t2
  before=$(sql 'SELECT count(*) FROM items')
  log "seeding $size items (from $before)"
  t0=$(date +%s.%N)
  "$BIN/flask" seed --users 1000 --items "$size" --seed 1 >"$OUT/seed-$size.log" 2>&1 ||
    { cat "$OUT/seed-$size.log" >&2; die "flask seed failed"; }
  t1=$(date +%s.%N)
  sql 'VACUUM ANALYZE'
  t2=$(date +%s.%N)
  after=$(sql 'SELECT count(*) FROM items')
  local text
  text=$(awk -v b="$before" -v a="$after" -v s="$t1" -v r="$t0" -v v="$t2" 'BEGIN {
    printf "flask seed from %d to %d items in %.1f s (VACUUM ANALYZE %.1f s)", b, a, s - r, v - s }')
  log "$text"
  echo "seed_$size=$text" >>"$OUT/meta.txt"
}

count_errors() {  # label -> text
  local label=$1 n
  n=$(cat "$OUT/log-ours-$label.log" "$OUT/log-ours-$label-limits-off.log" \
    "$OUT/log-ours-$label-tracing-off.log" "$OUT/log-ours-$label-tracing-on.log" \
    "$OUT/log-floor-$label.log" 2>/dev/null |
    grep -cE '"level": "(ERROR|CRITICAL)"|Traceback|\[ERROR\]|WORKER TIMEOUT' || true)
  echo "${n:-0}"
}

# What tracing costs (docs/operations.md "Tracing"): ours restarted as production runs it
# (tracing off: nothing of OpenTelemetry imported), then with OTEL_EXPORTER_OTLP_ENDPOINT
# pointed at bench/otlp_sink.py (accepts and drops the spans), a cached and an uncached read
# each. Leaves ours stopped.
tracing_pair() {  # size
  local size=$1 label sink_port
  "$BIN/python" -c 'import opentelemetry.sdk' 2>/dev/null || {
    log "the otel extra is not installed in $VENV: skipping the tracing rows"; return 0; }
  if [[ -z ${SINK_PID:-} ]]; then
    rm -f "$OUT/otlp-sink.port"
    "$BIN/python" bench/otlp_sink.py "$OUT/otlp-sink.port" &
    SINK_PID=$!
    for _ in $(seq 1 50); do [[ -s $OUT/otlp-sink.port ]] && break; sleep 0.1; done
    [[ -s $OUT/otlp-sink.port ]] || die "the OTLP sink did not start"
  fi
  sink_port=$(cat "$OUT/otlp-sink.port")
  for label in off on; do
    stop_app ours
    if [[ $label == on ]]; then
      OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" \
        start_app ours "$OURS_PORT" "$size-tracing-$label"
    else
      start_app ours "$OURS_PORT" "$size-tracing-$label"
    fi
    wait_health ours "$OURS_PORT"
    run_scenario main "$size" "item_hot_tracing_$label" ours "$OURS_PORT" path=/api/items/42
    run_scenario main "$size" "item_uncached_tracing_$label" ours "$OURS_PORT" \
      path="/api/items/{id}" bust=1 id_max="$size"
  done
  stop_app ours
}

# --------------------------------------------------------------------------- main run
main_run() {
  local size total last deep deep_path tok demo1_ids parity_paths load_before
  for size in $SIZES; do
    seed "$size"
    total=$(sql 'SELECT count(*) FROM items')
    last=$(((total + 19) / 20))
    deep=$((last / 2 > 0 ? last / 2 : 1))
    demo1_ids=$(sql "SELECT string_agg(id::text, ',') FROM (SELECT items.id FROM items
      JOIN users ON users.id = items.user_id WHERE users.username = 'demo1'
      ORDER BY items.id LIMIT 200) s")
    [[ -n $demo1_ids ]] || die "demo1 owns no items"

    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    log "starting servers for $size items (load average $load_before)"
    start_servers "$size"
    echo "commit_$size=$(code_version)" >>"$OUT/meta.txt"
    # The deep page as a client walking the next links reaches it (with the API's cursor).
    deep_path=$(next_link "/api/items?page=$((deep > 1 ? deep - 1 : 1))&per_page=20")
    [[ -n $deep_path && $deep -gt 1 ]] || deep_path="/api/items?page=$deep&per_page=20"
    log "deep page: $deep_path"
    echo "deep_$size=$deep_path" >>"$OUT/meta.txt"
    parity_paths=("/api/items/1" "/api/items/$total" "/api/items?page=1&per_page=20"
      "/api/items?page=1&per_page=100" "/api/items?page=$deep&per_page=20" "$deep_path"
      "/api/items?q=$SEARCH_WORD" "/api/items?q=$RARE_WORD" "/api/items?category=books"
      "/api/items?page=999999")
    "$BIN/python" bench/report.py parity "http://127.0.0.1:$OURS_PORT" \
      "http://127.0.0.1:$FLOOR_PORT" "$OUT/parity-$size.tsv" "${parity_paths[@]}" |
      tee "$OUT/parity-$size.txt" >&2
    echo "parity_$size=$(head -n 1 "$OUT/parity-$size.txt" | sed 's/^parity: //')" \
      >>"$OUT/meta.txt"
    warm_up

    # Reads, ours and floor. Busted variants miss the response cache on every request.
    both "$size" item_uncached path="/api/items/{id}" bust=1 id_max="$size"
    tok=$(token)
    both "$size" item_uncached_auth path="/api/items/{id}" bust=1 id_max="$size" token="$tok"
    both "$size" item_hot path="/api/items/42"
    both "$size" item_hot_auth path="/api/items/42" token="$tok"
    both "$size" list_p1 path="/api/items?page=1&per_page=20" bust=1
    both "$size" list_p1_hot path="/api/items?page=1&per_page=20"
    both "$size" list_100 path="/api/items?page=1&per_page=100" bust=1
    both "$size" list_deep path="$deep_path" bust=1
    both "$size" list_deep_offset path="/api/items?page=$deep&per_page=20" bust=1
    both "$size" search path="/api/items?q=$SEARCH_WORD" bust=1
    both "$size" search_rare path="/api/items?q=$RARE_WORD" bust=1
    both "$size" category path="/api/items?category=books" bust=1

    worker_rss ours >"$OUT/rss-$size-ours-after-reads.txt"
    worker_rss floor >"$OUT/rss-$size-floor-after-reads.txt"

    # Authenticated endpoints and writes: ours only. Writes come last (they invalidate the
    # whole response cache and add rows).
    tok=$(token)
    run_scenario main "$size" users_me ours "$OURS_PORT" path=/api/users/me token="$tok"
    run_scenario main "$size" users_me_key ours "$OURS_PORT" path=/api/users/me token="$(api_key)"
    tok=$(token)
    run_scenario main "$size" create ours "$OURS_PORT" method=POST path=/api/items token="$tok" \
      body='{"name": "Bench item {n}", "description": "made by wrk", "category": "books"}'
    tok=$(token)
    run_scenario main "$size" patch ours "$OURS_PORT" method=PATCH path="/api/items/{id}" \
      token="$tok" ids="$demo1_ids" body='{"description": "patched {n}"}'
    run_scenario main "$size" login ours "$OURS_PORT" method=POST path=/auth/token \
      body='{"username": "demo1", "password": "demo-password"}'

    worker_rss ours >"$OUT/rss-$size-ours-at-end.txt"
    worker_rss floor >"$OUT/rss-$size-floor-at-end.txt"
    log "RSS ours: $(cat "$OUT/rss-$size-ours-at-end.txt")"
    log "RSS floor: $(cat "$OUT/rss-$size-floor-at-end.txt")"

    # What the limits cost: cached reads back to back, limits on, then ours restarted with
    # RATELIMIT_ENABLED=false (the reference; everything else the same).
    run_scenario main "$size" item_hot_limits_on ours "$OURS_PORT" path=/api/items/42
    run_scenario main "$size" list_p1_hot_limits_on ours "$OURS_PORT" \
      path="/api/items?page=1&per_page=20"
    stop_app ours
    RATELIMIT_ENABLED=false start_app ours "$OURS_PORT" "$size-limits-off"
    wait_health ours "$OURS_PORT"
    run_scenario main "$size" item_hot_limits_off ours "$OURS_PORT" path=/api/items/42
    run_scenario main "$size" list_p1_hot_limits_off ours "$OURS_PORT" \
      path="/api/items?page=1&per_page=20"
    tracing_pair "$size"
    echo "load_$size=$(cut -d' ' -f1-3 /proc/loadavg) at the end (before: $load_before)" \
      >>"$OUT/meta.txt"
    stop_servers
    echo "errors_$size=$(count_errors "$size")" >>"$OUT/meta.txt"
  done
  "$BIN/python" bench/report.py main "$OUT" "$RESULTS"
}

# --------------------------------------------------------------------------- worker classes
compare_run() {
  # "class workers threads" per configuration; COMPARE_CONFIGS="gevent 2 1;gthread 2 4" overrides.
  local configs=("sync 4 1" "gthread 2 4" "gthread 4 4" "gthread 2 128" "gevent 2 1" "gevent 4 1")
  if [[ -n ${COMPARE_CONFIGS:-} ]]; then IFS=';' read -r -a configs <<<"$COMPARE_CONFIGS"; fi
  if ! "$BIN/python" -c 'import gevent' 2>/dev/null; then
    log "gevent is not installed in $VENV: skipping the gevent worker"
    local kept=() c
    for c in "${configs[@]}"; do [[ $c == gevent* ]] || kept+=("$c"); done
    configs=("${kept[@]}")
  fi
  seed "$COMPARE_SIZE"
  echo "size=$COMPARE_SIZE" >>"$OUT/meta.txt"
  local config class workers threads label
  for config in "${configs[@]}"; do
    read -r class workers threads <<<"$config"
    # gunicorn turns "sync" with threads > 1 into gthread: sync and gevent get 1 thread.
    export GUNICORN_WORKER_CLASS=$class WEB_CONCURRENCY=$workers GUNICORN_THREADS=$threads
    if [[ $class == gthread ]]; then label="gthread-${workers}w-x${threads}t"; else
      label="$class-${workers}w"; fi
    log "worker class $label"
    start_servers "$label"
    warm_up
    both "$label" item_uncached path="/api/items/{id}" bust=1 id_max="$COMPARE_SIZE"
    both "$label" list_p1 path="/api/items?page=1&per_page=20" bust=1
    worker_rss ours >"$OUT/rss-$label-ours.txt"
    local ours_total=$RSS_TOTAL
    worker_rss floor >"$OUT/rss-$label-floor.txt"
    printf 'ours=%s\nfloor=%s\n' "$ours_total" "$RSS_TOTAL" >"$OUT/rss-compare-$label.kv"
    # API.md "Capacity under slow and idle clients": 50 trickling connections and 50 idle
    # Socket.IO clients, then 50 timed item reads (ours only; bounded to about a minute).
    "$BIN/python" bench/slow_clients.py "http://127.0.0.1:$OURS_PORT" --id-max "$COMPARE_SIZE" |
      tr ' ' '\n' >"$OUT/slow-$label.kv" || log "slow-client scenario failed for $label"
    log "slow clients $label: $(paste -sd' ' "$OUT/slow-$label.kv")"
    stop_servers
  done
  unset GUNICORN_WORKER_CLASS WEB_CONCURRENCY GUNICORN_THREADS
  "$BIN/python" bench/report.py compare "$OUT" "$RESULTS"
}

# --------------------------------------------------------------------------- go
rm -rf "$OUT"
mkdir -p "$OUT/raw"
setup_database
record_meta
if [[ $MODE == main ]]; then main_run; else compare_run; fi
log "done: $RESULTS (raw wrk output and server logs in $OUT)"
