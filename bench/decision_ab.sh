#!/usr/bin/env bash
# A/B of unary throttler decisions between two builds, alternating within one
# invocation (the machine is shared: only alternation makes two figures
# comparable). Starts a throwaway PostgreSQL, one sluice-coordinator per
# build (each its own database, periodic jobs off, both running throughout),
# then per round runs each build's decision_bench --mode=target --async
# --clients=8 against its own coordinator, A and B taking turns going first,
# and prints per op the median decisions/s, p99 and client CPU of each side.
#
#   bench/decision_ab.sh --a=BUILD_DIR --b=BUILD_DIR [--rounds=4] [--duration_s=8]
#                        [--ops=next_permitted,acquire] [--coord_args_a=...] [--coord_args_b=...]
#
# Each BUILD_DIR must hold server/sluice-coordinator and bench/decision_bench
# (a copy of an earlier build is fine). Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
A="" B="" ROUNDS=4 DURATION=8 OPS=next_permitted,acquire ARGS_A="" ARGS_B=""
for arg in "$@"; do
  case "$arg" in
    --a=*) A=${arg#*=} ;;
    --b=*) B=${arg#*=} ;;
    --rounds=*) ROUNDS=${arg#*=} ;;
    --duration_s=*) DURATION=${arg#*=} ;;
    --ops=*) OPS=${arg#*=} ;;
    --coord_args_a=*) ARGS_A=${arg#*=} ;;
    --coord_args_b=*) ARGS_B=${arg#*=} ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ -n "$A" ] && [ -n "$B" ] || { echo "--a and --b are required" >&2; exit 2; }
# shellcheck source=anchor/common.sh
. "$ROOT/bench/anchor/common.sh"
require_positive_ints "rounds and duration_s" "$ROUNDS" "$DURATION"

WORK=$(mktemp -d /tmp/decision-ab.XXXXXX)
PIDS=()
PG=""
stop_on_exit

eval "$(scripts/pg_throwaway.sh start)"
PG=$SLUICE_PGDIR
declare -A PORT
for side in a b; do
  dir=$A args=$ARGS_A
  [ "$side" = b ] && dir=$B args=$ARGS_B
  psql "$SLUICE_PG_ADMIN_DSN dbname=postgres" -X -q -c "create database ab_$side" </dev/null
  PORT[$side]=$(free_port)
  # shellcheck disable=SC2086
  "$dir/server/sluice-coordinator" --listen="127.0.0.1:${PORT[$side]}" --ops_listen= \
    --jobs_enabled=false --dsn="$SLUICE_PG_ADMIN_DSN dbname=ab_$side" \
    --throttle_max_lease_calls=1000 $args >"$WORK/coord_$side.log" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 1 200); do grep -q "coordinator serving" "$WORK/coord_$side.log" && break; sleep 0.1; done
  grep -q "coordinator serving" "$WORK/coord_$side.log" ||
    { echo "coordinator $side did not start:" >&2; tail "$WORK/coord_$side.log" >&2; exit 1; }
done

echo "A=$A  B=$B  rounds=$ROUNDS duration=${DURATION}s ops=$OPS; load at start $(loadavg)"
: >"$WORK/results"
run() {  # side round
  local side=$1 dir=$A; [ "$side" = b ] && dir=$B
  local load; load=$(loadavg)
  "$dir/bench/decision_bench" --mode=target --target="127.0.0.1:${PORT[$side]}" --async \
    --clients=8 --duration_s="$DURATION" --warmup_s=2 --ops="$OPS" --result_line \
    >"$WORK/r$2_$side.log" 2>&1 </dev/null || { tail "$WORK/r$2_$side.log" >&2; exit 1; }
  grep '^RESULT ' "$WORK/r$2_$side.log" | cut -d' ' -f2- |
    sed "s|^{|{\"side\":\"$side\",\"load\":\"$load\",\"log\":\"$WORK/r$2_$side.log\",|" >>"$WORK/results"
}
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then run a "$r"; run b "$r"; else run b "$r"; run a "$r"; fi
done
python3 - "$WORK/results" <<'PY'
import json, re, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def cores(r):  # the client's CPU, from the op's line of the table
    for line in open(r["log"]):
        if line.split()[:1] == [r["op"]]:
            m = re.search(r"clients ([0-9.]+) cores", line)
            if m: return float(m.group(1))
    return float("nan")
for r in rows:
    print("  %s %-16s %9.0f/s p99 %6.3f ms  client %.2f cores  (load %s)" % (
        r["side"], r["op"], r["decisions_per_s"], r["p99_ms"], cores(r), r["load"]))
for op in dict.fromkeys(r["op"] for r in rows):
    med = {}
    for side in "ab":
        v = [r for r in rows if r["op"] == op and r["side"] == side]
        med[side] = (statistics.median(x["decisions_per_s"] for x in v),
                     statistics.median(x["p99_ms"] for x in v),
                     statistics.median(cores(x) for x in v))
    print("%-16s A %9.0f/s p99 %.3f ms (client %.2f cores) | B %9.0f/s p99 %.3f ms (client %.2f cores) | B/A %.2f" % (
        op, *med["a"], *med["b"], med["b"][0] / med["a"][0]))
PY
echo "load at end $(loadavg)"
