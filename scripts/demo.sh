#!/usr/bin/env bash
# The demo: builds Sluice, starts a throwaway PostgreSQL cluster, the upstream
# simulator (ESI-shaped, limits on), the coordinator and two agents, runs
# seed 001's daily ESI sequence twice (a cold day, then a warm day where ETags
# turn into 304s), and prints a summary. Exits non-zero if the sync is
# incomplete or the simulator saw a single limit violation.
#
#   scripts/demo.sh            # small universe, a few minutes
#   scripts/demo.sh --full     # seed 001's size: 3,547 alliances, 17,769 corporations, ~93k characters
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

UNIVERSE=small
ESI_GROUPS=${DEMO_ESI_GROUPS:-"alliance=1800/1m,corporation=1800/1m,character=1800/1m"}
WORKERS=${WORKER_COUNT:-4}
for arg in "$@"; do
  case "$arg" in
    --full) UNIVERSE=full; ESI_GROUPS=${DEMO_ESI_GROUPS:-"alliance=12000/1m,corporation=12000/1m,character=12000/1m"} ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

scripts/deps.sh
echo "==> building"
scripts/build.sh sluice-coordinator sluice-agent sluicectl sluice-upstream-sim >/dev/null
BIN=$PWD/build

RUN=$(mktemp -d /tmp/sluice-demo.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${SLUICE_PGDIR:-}" ] && "$ROOT/scripts/pg_throwaway.sh" stop "$SLUICE_PGDIR"
  echo "logs: $RUN"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

echo "==> starting a throwaway PostgreSQL cluster"
eval "$(scripts/pg_throwaway.sh start)"

SIM_PORT=$(free_port)
echo "==> starting the upstream simulator (universe: $UNIVERSE, ESI groups: $ESI_GROUPS)"
"$BIN/sim/sluice-upstream-sim" --port="$SIM_PORT" --bind=127.0.0.1 --universe="$UNIVERSE" \
  --esi_groups="$ESI_GROUPS" >"$RUN/sim.log" 2>&1 &
SIM_PID=$!; PIDS+=("$SIM_PID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" >/dev/null && break; sleep 0.1; done

COORD_PORT=$(free_port)
echo "==> starting the coordinator on :$COORD_PORT"
# The demo drives the daily sequence itself (day 1, day 2), so the
# coordinator's own periodic daily_esi job stays off.
"$BIN/server/sluice-coordinator" --listen="127.0.0.1:$COORD_PORT" --dsn="$SLUICE_DSN" --jobs_enabled=false \
  >"$RUN/coordinator.log" 2>&1 &
COORD_PID=$!; PIDS+=("$COORD_PID")
export SLUICE_COORDINATOR="127.0.0.1:$COORD_PORT"
for _ in $(seq 100); do "$BIN/client/sluicectl" status >/dev/null 2>&1 && break; sleep 0.1; done

AGENT_PIDS=()
for n in 1 2; do
  echo "==> starting agent $n ($WORKERS workers)"
  "$BIN/agent/sluice-agent" --coordinator="$SLUICE_COORDINATOR" --workers="$WORKERS" \
    --agent_id="demo-agent-$n" --upstream_esi="http://127.0.0.1:$SIM_PORT" \
    --contact="demo@sluice.invalid" --esi_token=sim-token >"$RUN/agent-$n.log" 2>&1 &
  AGENT_PIDS+=($!); PIDS+=($!)
done

START=$(date +%s)
echo "==> day 1: the daily ESI sequence on a cold database"
"$BIN/client/sluicectl" daily --timeout_s=7200
echo "==> day 2: the same sequence again; known ETags now turn into 304s"
"$BIN/client/sluicectl" daily --timeout_s=7200
END=$(date +%s)

"$BIN/client/sluicectl" entities --json >"$RUN/entities.json"
"$BIN/client/sluicectl" status --json >"$RUN/queue.json"
curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" >"$RUN/sim.json"
RSS_COORD=$(peak_rss_mb "$COORD_PID")
RSS_A1=$(peak_rss_mb "${AGENT_PIDS[0]}")
RSS_A2=$(peak_rss_mb "${AGENT_PIDS[1]}")
RSS_SIM=$(peak_rss_mb "$SIM_PID")

python3 - "$RUN" "$((END - START))" "$RSS_COORD" "$RSS_A1" "$RSS_A2" "$RSS_SIM" <<'PY'
import json, sys
run, elapsed, rc, r1, r2, rs = sys.argv[1:]
ent = json.load(open(f"{run}/entities.json"))
sim = json.load(open(f"{run}/sim.json"))
queue = json.load(open(f"{run}/queue.json"))
errors = sim.get("errors", 0)
total_viol = sim["violations"]["total"]
dead = sum(k.get("dead", 0) for k in queue.get("kinds", []))
pending = sum(k.get("ready", 0) + k.get("leased", 0) + k.get("retrying", 0) for k in queue.get("kinds", []))
print()
print("=" * 64)
print("Sluice demo summary")
print("=" * 64)
for row in ent["entities"]:
    print(f"  {row['kind'] + 's':<17} {row['count']:>9,} stored")
print(f"  upstream requests {sim.get('requests_total', 0):>9,}")
print(f"  304 not modified  {sim.get('not_modified', 0):>9,}")
print(f"  upstream errors   {errors:>9,}  (4xx/5xx answers)")
print(f"  limit violations  {total_viol:>9,}  (requests sent while limited, counted by the simulator)")
print(f"  dead tasks        {dead:>9,}")
print(f"  tasks pending     {pending:>9,}")
print(f"  elapsed           {int(elapsed):>8,}s  (both days)")
print(f"  peak RSS          coordinator {rc} MB, agents {r1} MB / {r2} MB, simulator {rs} MB")
print("=" * 64)
ok = total_viol == 0 and pending == 0
sys.exit(0 if ok else 1)
PY
