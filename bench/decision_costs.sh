#!/usr/bin/env bash
# Where a unary decision's time goes: per decision, the CPU, context switches
# and system calls of the server and of the client process, for
#   redis    Debian's redis-server running bench/anchor/redis/gcra.lua, driven
#            by redis-benchmark -c N -P 1 EVALSHA (one process, N connections,
#            one request in flight each);
#   sluice   a sluice-coordinator (periodic jobs off), driven by
#            decision_bench --mode=target --async --clients=N --ops=OP (one
#            thread, N unary calls in flight, one connection each);
#   ceiling  bench/grpc_ceiling_server, a ThrottlerService that decides
#            nothing, driven by the same decision_bench: what unary gRPC alone
#            costs, the rate no unary service can pass with that client.
# Each system runs alone, one after the other; counts are taken with
# `perf stat -p` on both processes over --duration_s while the client runs
# (after 3 s of warm-up), and divided by the decisions made in that window
# (Redis: INFO commandstats; gRPC: the bench's measured rate). Also prints
# which server threads used the CPU (/proc/PID/task). Needs perf with access
# to tracepoints (root, or perf_event_paranoid <= -1).
#
#   bench/decision_costs.sh [--duration_s=8] [--clients=8] [--op=next_permitted]
#                           [--systems=redis,sluice,ceiling] [--rounds=1]
#                           [--coord_args='...'] [--ceiling_args='...'] [--client_args='...']
#                           [--ceiling_b_args='...' --client_b_args='...' (system ceiling_b:
#                            a second ceiling server, its client given --client_b_args instead)]
#                           [--build_dir=build]
#
# Starts a throwaway PostgreSQL for the coordinator, and stops everything it
# started on exit. Prints figures; asserts nothing about them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=8
CLIENTS=8
OP=next_permitted
SYSTEMS=redis,sluice,ceiling
ROUNDS=1
COORD_ARGS=""
CEILING_ARGS=""
CEILING_B_ARGS=""
CLIENT_B_ARGS=""
CLIENT_ARGS=""
BUILD_DIR=${BUILD_DIR:-build}
usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for arg in "$@"; do
  case "$arg" in
    --duration_s=*) DURATION=${arg#*=} ;;
    --clients=*) CLIENTS=${arg#*=} ;;
    --op=*) OP=${arg#*=} ;;
    --systems=*) SYSTEMS=${arg#*=} ;;
    --rounds=*) ROUNDS=${arg#*=} ;;
    --coord_args=*) COORD_ARGS=${arg#*=} ;;
    --ceiling_args=*) CEILING_ARGS=${arg#*=} ;;
    --ceiling_b_args=*) CEILING_B_ARGS=${arg#*=} ;;
    --client_b_args=*) CLIENT_B_ARGS=${arg#*=} ;;
    --client_args=*) CLIENT_ARGS=${arg#*=} ;;
    --build_dir=*) BUILD_DIR=${arg#*=} ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $arg" >&2; usage ;;
  esac
done
# shellcheck source=anchor/common.sh
. "$ROOT/bench/anchor/common.sh"
require_positive_ints "duration_s, clients and rounds" "$DURATION" "$CLIENTS" "$ROUNDS"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
BENCH=$BUILD_DIR/bench/decision_bench
COORD=$BUILD_DIR/server/sluice-coordinator
CEILING=$BUILD_DIR/bench/grpc_ceiling_server
for b in "$BENCH" "$COORD" "$CEILING"; do
  [ -x "$b" ] || { echo "missing $b: scripts/build.sh decision_bench sluice-coordinator grpc_ceiling_server" >&2; exit 1; }
done
command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/decision-costs.XXXXXX)
PIDS=()
PG=""
stop_on_exit

EVENTS=task-clock,context-switches,raw_syscalls:sys_enter
for s in sendmsg recvmsg sendto recvfrom read write readv writev epoll_wait epoll_pwait epoll_ctl futex; do
  EVENTS+=",syscalls:sys_enter_$s"
done

# thread_cpu PID: "tid comm ticks" per thread (comm without spaces).
thread_cpu() {
  local t stat comm rest
  for t in /proc/"$1"/task/*; do
    stat=$(cat "$t/stat" 2>/dev/null) || continue
    comm=${stat#*(}; comm=${comm%)*}; rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo "${t##*/} ${comm// /_} $((${12} + ${13}))"
  done
}

# measure NAME SERVER_PID CLIENT_PID: perf on both for DURATION s.
measure() {
  thread_cpu "$2" >"$WORK/$1.threads0"
  perf stat -x, -e "$EVENTS" -p "$2" -- sleep "$DURATION" 2>"$WORK/$1.server" &
  local p1=$!
  perf stat -x, -e "$EVENTS" -p "$3" -- sleep "$DURATION" 2>"$WORK/$1.client" &
  local p2=$!
  wait "$p1" "$p2"
  thread_cpu "$2" >"$WORK/$1.threads1"
}

report() {  # NAME DECISIONS
  python3 - "$WORK" "$1" "$2" "$DURATION" <<'PY'
import collections, os, sys
work, name, decisions, duration = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
if decisions <= 0:
    print(f"{name}: no decisions counted"); sys.exit(0)
def read(side):
    out = {}
    for line in open(f"{work}/{name}.{side}"):
        f = line.strip().split(",")
        if len(f) < 3 or not f[0] or f[0].startswith("<"):
            continue
        out[f[2].replace("syscalls:sys_enter_", "")] = float(f[0])
    return out
print(f"{name}: {decisions / duration:,.0f} decisions/s")
for side in ("server", "client"):
    c = read(side)
    rest = {k: v / decisions for k, v in c.items()
            if k not in ("task-clock", "context-switches", "raw_syscalls:sys_enter") and v}
    detail = ", ".join(f"{k} {v:.2f}" for k, v in sorted(rest.items(), key=lambda kv: -kv[1]))
    print(f"  {side}: {c.get('task-clock', 0) * 1000 / decisions:5.1f} us CPU, "
          f"{c.get('context-switches', 0) / decisions:4.2f} context switches, "
          f"{c.get('raw_syscalls:sys_enter', 0) / decisions:5.2f} syscalls per decision ({detail})")
hz = os.sysconf("SC_CLK_TCK")
before = {l.split()[0]: int(l.split()[2]) for l in open(f"{work}/{name}.threads0") if len(l.split()) == 3}
threads = collections.defaultdict(lambda: [0, 0])
for l in open(f"{work}/{name}.threads1"):
    f = l.split()
    if len(f) != 3: continue
    d = int(f[2]) - before.get(f[0], 0)
    if d > 0:
        threads[f[1]][0] += 1
        threads[f[1]][1] += d
print("  server threads that used the CPU: " + ", ".join(
    f"{comm} x{n} {t / hz / duration:.2f} cores" for comm, (n, t) in sorted(threads.items(), key=lambda kv: -kv[1][1])))
PY
}

loadstart=$(loadavg)
echo "decision costs: one client process, $CLIENTS connections x 1 in flight; op $OP; counted over ${DURATION} s per system; $(nproc) cores; load at start $loadstart"

# --- servers ---------------------------------------------------------------------
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save '' --appendonly no \
  --daemonize no --protected-mode yes --logfile "$WORK/redis-server.log" </dev/null &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done
SHA=$(rcli SCRIPT LOAD "$(cat "$ROOT/bench/anchor/redis/gcra.lua")")
GCRA_ARGS=(1 anchor:decision 100000000 100000000 1 1)
evalsha_calls() { rcli INFO commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'; }

eval "$(scripts/pg_throwaway.sh start)"
PG=$SLUICE_PGDIR
psql "$SLUICE_PG_ADMIN_DSN dbname=postgres" -X -q -c "create database decision_costs" </dev/null
COORD_PORT=$(free_port)
# shellcheck disable=SC2086
"$COORD" --listen="127.0.0.1:$COORD_PORT" --ops_listen= --jobs_enabled=false \
  --dsn="$SLUICE_PG_ADMIN_DSN dbname=decision_costs" --throttle_max_lease_calls=1000 $COORD_ARGS \
  >"$WORK/coordinator.log" 2>&1 </dev/null &
COORD_PID=$!
PIDS+=("$COORD_PID")
CEILING_PORT=$(free_port)
# shellcheck disable=SC2086
"$CEILING" --listen="127.0.0.1:$CEILING_PORT" $CEILING_ARGS >"$WORK/ceiling.log" 2>&1 </dev/null &
CEILING_PID=$!
PIDS+=("$CEILING_PID")
# A second ceiling server with other arguments (system "ceiling_b"), for A/B.
CEILING_B_PORT=$(free_port)
# shellcheck disable=SC2086
"$CEILING" --listen="127.0.0.1:$CEILING_B_PORT" $CEILING_B_ARGS >"$WORK/ceiling_b.log" 2>&1 </dev/null &
CEILING_B_PID=$!
PIDS+=("$CEILING_B_PID")
for _ in $(seq 1 200); do grep -q "coordinator serving" "$WORK/coordinator.log" && break; sleep 0.1; done
grep -q "coordinator serving" "$WORK/coordinator.log" ||
  { echo "sluice-coordinator did not start:" >&2; tail "$WORK/coordinator.log" >&2; exit 1; }
grep -q "serving on port" "$WORK/ceiling.log" ||
  { sleep 1; grep -q "serving on port" "$WORK/ceiling.log"; } ||
  { echo "grpc_ceiling_server did not start:" >&2; tail "$WORK/ceiling.log" >&2; exit 1; }

# --- runs ---------------------------------------------------------------------------
run_redis() {  # round
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CLIENTS" -P 1 -n 100000000 -q \
    EVALSHA "$SHA" "${GCRA_ARGS[@]}" >/dev/null 2>&1 </dev/null &
  local client=$!
  sleep 3
  local c0; c0=$(evalsha_calls)
  measure "redis$1" "$REDIS_PID" "$client"
  local c1; c1=$(evalsha_calls)
  kill -TERM "$client" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  echo "round $1 (load $(loadavg))"
  report "redis$1" "$((c1 - c0))"
}

run_grpc() {  # name round server_pid port client_args
  local log="$WORK/$1$2.bench"
  # shellcheck disable=SC2086
  "$BENCH" --mode=target --target="127.0.0.1:$4" --async --clients="$CLIENTS" --ops="$OP" \
    --warmup_s=2 --duration_s=$((DURATION + 2)) --result_line $5 >"$log" 2>&1 </dev/null &
  local client=$!
  sleep 3.5
  measure "$1$2" "$3" "$client"
  wait "$client" || { echo "decision_bench failed:" >&2; tail "$log" >&2; exit 1; }
  local rate
  rate=$(grep '^RESULT ' "$log" | cut -d' ' -f2- | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["decisions_per_s"])')
  echo "round $2 (load $(loadavg)); bench: $(grep "^$OP " "$log" | head -n1)"
  report "$1$2" "$(python3 -c "print(int($rate * $DURATION))")"
}

for ((r = 1; r <= ROUNDS; r++)); do
  for sys in ${SYSTEMS//,/ }; do
    case "$sys" in
      redis) run_redis "$r" ;;
      sluice) run_grpc sluice "$r" "$COORD_PID" "$COORD_PORT" "$CLIENT_ARGS" ;;
      ceiling) run_grpc ceiling "$r" "$CEILING_PID" "$CEILING_PORT" "$CLIENT_ARGS" ;;
      ceiling_b) run_grpc ceiling_b "$r" "$CEILING_B_PID" "$CEILING_B_PORT" "${CLIENT_B_ARGS:-$CLIENT_ARGS}" ;;
      *) echo "unknown system $sys" >&2; exit 2 ;;
    esac
  done
done
echo "load at end $(loadavg)"
