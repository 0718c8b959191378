#!/usr/bin/env bash
# The anchor for the decision bench: a Redis GCRA limiter (Debian's
# redis-server running bench/anchor/redis/gcra.lua, measured by its own C
# client redis-benchmark) and Sluice's throttler (a sluice-coordinator
# process measured by bench/decision_bench) side by side on this machine,
# with clients of the same shape, alternating, then medians and the ratios
# Sluice / Redis.
#
#   bench/decision_anchor.sh [--rounds=3] [--duration_s=10] [--clients=8]
#                            [--batch=100] [--streams=1] [--window=128]
#                            [--dsn='host=... port=... user=...'] [--build_dir=build] [--out=DIR]
#
# The shape: ONE client process with --clients connections and one request in
# flight on each. Redis: `redis-benchmark -c 8 -P 1 EVALSHA <gcra> 1 <key> ...`
# (one event loop; the request count is set from a 1 s calibration run so
# the measurement lasts about --duration_s). Sluice: `decision_bench
# --mode=target --async --clients=8` (one thread driving 8 unary calls
# through a CompletionQueue, one connection each) against a sluice-coordinator
# started here (periodic jobs off). Per round, Redis and Sluice take turns
# going first; Sluice is measured for NextPermitted (consumes nothing) and
# Acquire (n=1, max_wait 0: checks and consumes, as the GCRA script does).
# Then the ways around a round trip per decision, each counted in decisions
# (items), not messages: NextPermittedBatch and AcquireBatch (--batch items
# per message, same 8 calls in flight), the Decide stream (--streams streams,
# --window requests in flight each, one decision per message) and local
# decisions (client::LocalThrottle in the bench process: Acquire from tokens
# leased in bulk, 1,000 per lease with --throttle_max_lease_calls=1000, and
# NextPermitted). Both limits are far above the rate reached, so every
# decision is a grant. Each round also measures the ceiling: the same unary
# NextPermitted and Acquire against bench/grpc_ceiling_server, a
# ThrottlerService that decides nothing (what unary gRPC alone allows with
# this client; Sluice / ceiling and ceiling / Redis are printed too).
#
# Starts a PRIVATE redis-server (loopback, a free port, its own directory
# under a temporary directory, --save '' --appendonly no), the coordinator on
# a free port, and without --dsn a throwaway PostgreSQL cluster
# (scripts/pg_throwaway.sh) for the coordinator; with --dsn that server is
# used and its user must be allowed CREATE DATABASE. Everything it started is
# stopped on exit. Installs what it needs: Debian packages (scripts/deps.sh,
# and redis-server + redis-tools), and builds decision_bench,
# sluice-coordinator and grpc_ceiling_server when missing. Prints figures;
# asserts nothing about them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=3
DURATION=10
CLIENTS=8
BATCH=100
STREAMS=1
WINDOW=128
DSN=""
BUILD_DIR=${BUILD_DIR:-build}
OUT=""
usage() { sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for arg in "$@"; do
  case "$arg" in
    --rounds=*) ROUNDS=${arg#*=} ;;
    --duration_s=*) DURATION=${arg#*=} ;;
    --clients=*) CLIENTS=${arg#*=} ;;
    --batch=*) BATCH=${arg#*=} ;;
    --streams=*) STREAMS=${arg#*=} ;;
    --window=*) WINDOW=${arg#*=} ;;
    --dsn=*) DSN=${arg#*=} ;;
    --build_dir=*) BUILD_DIR=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $arg" >&2; usage ;;
  esac
done
# shellcheck source=anchor/common.sh
. "$ROOT/bench/anchor/common.sh"
require_positive_ints "rounds, duration_s, clients, batch, streams and window" \
  "$ROUNDS" "$DURATION" "$CLIENTS" "$BATCH" "$STREAMS" "$WINDOW"

# --- cleanup: everything started here, by pid --------------------------------
WORK=$(mktemp -d /tmp/decision-anchor-run.XXXXXX)
REDIS_PID=""
COORD_PID=""
CEILING_PID=""
PG_STARTED=""
DB_MADE=""
cleanup() {
  local rc=$?
  if [ -n "$COORD_PID" ] && kill -0 "$COORD_PID" 2>/dev/null; then
    kill -TERM "$COORD_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$COORD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$COORD_PID" 2>/dev/null || true
    wait "$COORD_PID" 2>/dev/null || true
  fi
  if [ -n "$CEILING_PID" ] && kill -0 "$CEILING_PID" 2>/dev/null; then
    kill -TERM "$CEILING_PID" 2>/dev/null || true
    wait "$CEILING_PID" 2>/dev/null || true
  fi
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  if [ -n "$DB_MADE" ] && [ -z "$PG_STARTED" ]; then
    psql "$DSN dbname=postgres" -X -q -c "drop database if exists $DB_MADE with (force)" </dev/null || true
  fi
  if [ -n "$PG_STARTED" ]; then "$ROOT/scripts/pg_throwaway.sh" stop "$PG_STARTED" || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- what the runs need --------------------------------------------------------
scripts/deps.sh
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null ||
   ! command -v redis-cli >/dev/null; then
  say "installing redis-server and redis-tools (Debian packages; the service is not used)"
  apt_install redis-server redis-tools
fi

case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
BENCH=$BUILD_DIR/bench/decision_bench
COORD=$BUILD_DIR/server/sluice-coordinator
CEILING=$BUILD_DIR/bench/grpc_ceiling_server
if [ ! -x "$BENCH" ] || ! grep -q local_next_permitted "$BENCH" || [ ! -x "$COORD" ] ||
   [ ! -x "$CEILING" ]; then
  say "building decision_bench, sluice-coordinator and grpc_ceiling_server into $BUILD_DIR"
  BUILD_DIR=$BUILD_DIR scripts/build.sh decision_bench sluice-coordinator grpc_ceiling_server
fi

if [ -z "$OUT" ]; then OUT=$(mktemp -d /tmp/decision-anchor.XXXXXX); fi
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# --- Redis -----------------------------------------------------------------------
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save '' --appendonly no \
  --daemonize no --protected-mode yes --logfile "$OUT/redis-server.log" </dev/null &
REDIS_PID=$!
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done
rcli ping >/dev/null || { echo "error: redis-server did not start (see $OUT/redis-server.log)" >&2; exit 1; }
SHA=$(rcli SCRIPT LOAD "$(cat "$ROOT/bench/anchor/redis/gcra.lua")")
# Limit: burst and rate 10^8 per second, like the Sluice budget below.
GCRA_ARGS=(1 anchor:decision 100000000 100000000 1 1)
[ "$(rcli EVALSHA "$SHA" "${GCRA_ARGS[@]}" | head -n1)" = 1 ] ||
  { echo "error: the GCRA script did not grant a call" >&2; exit 1; }
REDIS_VERSION=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')

# --- the coordinator ----------------------------------------------------------
if [ -z "$DSN" ]; then
  say "starting a throwaway PostgreSQL cluster"
  eval "$(scripts/pg_throwaway.sh start)"
  PG_STARTED=$SLUICE_PGDIR
  DSN=$SLUICE_PG_ADMIN_DSN
fi
DB=anchor_decisions_$$
psql "$DSN dbname=postgres" -X -q -v ON_ERROR_STOP=1 -c "drop database if exists $DB" -c "create database $DB" </dev/null
DB_MADE=$DB
COORD_PORT=$(free_port)
"$COORD" --listen="127.0.0.1:$COORD_PORT" --ops_listen= --jobs_enabled=false --dsn="$DSN dbname=$DB" \
  --throttle_max_lease_calls=1000 \
  >"$OUT/coordinator.log" 2>&1 </dev/null &
COORD_PID=$!
for _ in $(seq 1 200); do grep -q "coordinator serving" "$OUT/coordinator.log" && break; sleep 0.1; done
grep -q "coordinator serving" "$OUT/coordinator.log" ||
  { echo "error: sluice-coordinator did not start; last lines of $OUT/coordinator.log:" >&2; tail -n 15 "$OUT/coordinator.log" >&2; exit 1; }
CEILING_PORT=$(free_port)
"$CEILING" --listen="127.0.0.1:$CEILING_PORT" >"$OUT/ceiling.log" 2>&1 </dev/null &
CEILING_PID=$!
for _ in $(seq 1 100); do grep -q "serving on port" "$OUT/ceiling.log" && break; sleep 0.1; done
grep -q "serving on port" "$OUT/ceiling.log" ||
  { echo "error: grpc_ceiling_server did not start:" >&2; tail -n 15 "$OUT/ceiling.log" >&2; exit 1; }

{
  echo "decision anchor: $ROUNDS round(s); $CLIENTS connections, 1 request in flight each, one client process per system; $(nproc) cores;"
  echo "  Redis $REDIS_VERSION (no persistence) + bench/anchor/redis/gcra.lua via redis-benchmark, ~$DURATION s per run"
  echo "  Sluice sluice-coordinator + decision_bench --mode=target --async, $DURATION s per op after 2 s warm-up;"
  echo "    batches of $BATCH items, $STREAMS Decide stream(s) x $WINDOW in flight, local decisions in 1 thread"
  echo "  load average at start $(loadavg); logs and raw results: $OUT"
} | tee "$OUT/header.txt"

# --- the runs ------------------------------------------------------------------
FAILED=0
record() {  # json round load_before
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(round=int(sys.argv[2]), load_before=sys.argv[3], load_after=sys.argv[4]); print(json.dumps(r))' \
    "$1" "$2" "$3" "$(loadavg)" >>"$RESULTS"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("round %s  %-6s %-21s %10s decisions/s  p99 %s ms  (load %s)" % (r["round"], r["system"], r["op"], ("%.0f" % r["decisions_per_s"]) if r.get("decisions_per_s") else "FAILED", r.get("p99_ms", "-"), r["load_before"]))' \
    "$(tail -n1 "$RESULTS")"
}

run_redis() {  # round
  local round=$1 log="$OUT/r$1_redis.log" load_before; load_before=$(loadavg)
  local rc=0 calib n line
  # 1 s worth of requests at the rate a short run reaches (also the warm-up).
  calib=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CLIENTS" -P 1 -n 50000 --csv \
    EVALSHA "$SHA" "${GCRA_ARGS[@]}" 2>/dev/null | tail -n1 | cut -d, -f2 | tr -d '"') || rc=$?
  n=$(python3 -c "import sys; print(max(10000, int(float(sys.argv[1] or 0) * int(sys.argv[2]))))" "${calib:-0}" "$DURATION")
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CLIENTS" -P 1 -n "$n" --csv \
    EVALSHA "$SHA" "${GCRA_ARGS[@]}" >"$log" 2>&1 </dev/null || rc=$?
  line=$(python3 - "$log" "$n" "$CLIENTS" <<'PY' || true
import csv, json, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r and r[0].startswith("EVALSHA")]
if rows:
    r = rows[-1]
    print(json.dumps({"system": "redis", "op": "gcra", "clients": int(sys.argv[3]), "calls": int(sys.argv[2]),
                      "decisions_per_s": float(r[1]), "avg_ms": float(r[2]), "p50_ms": float(r[4]),
                      "p95_ms": float(r[5]), "p99_ms": float(r[6]), "max_ms": float(r[7])}))
PY
)
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    FAILED=1
    echo "round $round redis: FAILED (exit $rc); last lines of $log:" >&2; tail -n 15 "$log" >&2
    line='{"system":"redis","op":"gcra","ok":false}'
  fi
  record "$line" "$round" "$load_before"
}

run_grpc() {  # round system port ops
  local round=$1 system=$2 log="$OUT/r$1_$2.log" load_before; load_before=$(loadavg)
  local rc=0
  "$BENCH" --mode=target --target="127.0.0.1:$3" --async --clients="$CLIENTS" \
    --batch="$BATCH" --streams="$STREAMS" --window="$WINDOW" \
    --duration_s="$DURATION" --warmup_s=2 --ops="$4" --result_line \
    >"$log" 2>&1 </dev/null || rc=$?
  for op in ${4//,/ }; do
    local line; line=$(grep '^RESULT ' "$log" | cut -d' ' -f2- | grep "\"op\":\"$op\"" | head -n1 |
      sed "s/^{\"system\":\"sluice\"/{\"system\":\"$system\"/" || true)
    if [ "$rc" != 0 ] || [ -z "$line" ]; then
      FAILED=1
      echo "round $round $system $op: FAILED (exit $rc); last lines of $log:" >&2; tail -n 15 "$log" >&2
      line="{\"system\":\"$system\",\"op\":\"$op\",\"ok\":false}"
    fi
    record "$line" "$round" "$load_before"
  done
}
run_sluice() { run_grpc "$1" sluice "$COORD_PORT" "$SLUICE_OPS"; }
run_ceiling() { run_grpc "$1" ceiling "$CEILING_PORT" next_permitted,acquire; }

SLUICE_OPS=next_permitted,acquire,next_permitted_batch,acquire_batch,decide,local_acquire,local_next_permitted
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    run_redis "$r"; run_sluice "$r"; run_ceiling "$r"
  else
    run_ceiling "$r"; run_sluice "$r"; run_redis "$r"
  fi
done

# --- the table -------------------------------------------------------------------
python3 - "$RESULTS" "$(loadavg)" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
order = [("redis", "gcra"), ("sluice", "next_permitted"), ("sluice", "acquire"),
         ("sluice", "next_permitted_batch"), ("sluice", "acquire_batch"), ("sluice", "decide"),
         ("sluice", "local_acquire"), ("sluice", "local_next_permitted"),
         ("ceiling", "next_permitted"), ("ceiling", "acquire")]
label = {("ceiling", "next_permitted"): "ceiling NextPermitted (empty service)",
         ("ceiling", "acquire"): "ceiling Acquire (empty service)",
         ("redis", "gcra"): "Redis GCRA (EVALSHA, redis-benchmark)",
         ("sluice", "next_permitted"): "Sluice NextPermitted (unary gRPC)",
         ("sluice", "acquire"): "Sluice Acquire n=1 (unary gRPC)",
         ("sluice", "next_permitted_batch"): "Sluice NextPermittedBatch (items)",
         ("sluice", "acquire_batch"): "Sluice AcquireBatch (items)",
         ("sluice", "decide"): "Sluice Decide stream (NextPermitted)",
         ("sluice", "local_acquire"): "Sluice local Acquire (LocalThrottle)",
         ("sluice", "local_next_permitted"): "Sluice local NextPermitted"}
def med(k, field):
    v = [r[field] for r in rows if (r["system"], r["op"]) == k and r.get(field) is not None]
    return (statistics.median(v), min(v), max(v), len(v)) if v else None
print()
print("decisions/s and p99 latency (median of rounds; min-max; batches: per message)")
stats = {k: (med(k, "decisions_per_s"), med(k, "p99_ms")) for k in order}
for k in order:
    rate, p99 = stats[k]
    print("  %-40s %10s/s  %-24s p99 %6s ms  %s" % (
        label[k], "%.0f" % rate[0] if rate else "n/a",
        "(%.0f-%.0f over %d)" % (rate[1], rate[2], rate[3]) if rate else "",
        "%.3f" % p99[0] if p99 else "n/a",
        "(%.3f-%.3f)" % (p99[1], p99[2]) if p99 else ""))
print()
print("ratios of medians (Sluice / Redis GCRA): decisions/s, p99")
redis_rate, redis_p99 = stats[("redis", "gcra")]
for k in order[1:]:
    rate, p99 = stats[k]
    print("  %-40s %6s   p99 %6s" % (
        label[k], "%.2f" % (rate[0] / redis_rate[0]) if rate and redis_rate else "n/a",
        "%.2f" % (p99[0] / redis_p99[0]) if p99 and redis_p99 and redis_p99[0] else "n/a"))
print()
print("unary Sluice / the empty service with the same client (how far below gRPC's ceiling):")
for op in ("next_permitted", "acquire"):
    s_rate, c_rate = stats[("sluice", op)][0], stats[("ceiling", op)][0]
    print("  %-40s %6s" % (op, "%.2f" % (s_rate[0] / c_rate[0]) if s_rate and c_rate else "n/a"))
print()
print("raw rounds:")
print("  round  system  op                    decisions/s  p50_ms  p99_ms  max_ms   load before -> after")
for r in rows:
    print("  %5s  %-6s  %-21s %11s  %6s  %6s  %6s   %s -> %s" % (
        r["round"], r["system"], r["op"],
        "%.0f" % r["decisions_per_s"] if r.get("decisions_per_s") else "FAILED",
        r.get("p50_ms", "-"), r.get("p99_ms", "-"), r.get("max_ms", "-"),
        r["load_before"], r["load_after"]))
print()
print("load average at the end: %s" % sys.argv[2])
PY
if [ "$FAILED" != 0 ]; then
  echo "error: at least one run failed (see above and $OUT)" >&2
  exit 1
fi
