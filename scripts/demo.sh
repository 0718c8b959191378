#!/usr/bin/env bash
# The demo: builds Sluice, starts a throwaway PostgreSQL cluster, the upstream
# simulator (ESI- and PoE-shaped, limits on, billing each character and each
# source address on its own, as ESI does), the coordinator (which reads the
# simulator's OpenAPI document for ESI's route -> group map, as an operator
# would give it ESI's) and two agents on two source addresses (127.0.0.2 and
# 127.0.0.3: each has budgets of its own),
# runs seed 001's daily ESI sequence twice (a cold day, then a warm day where
# ETags turn into 304s) while the PoE stash and currency streams ingest beside
# it, then the scheduled workflows: killmail sync for characters with tokens
# (and an incremental re-sync), scan-entities discovery, and public contract
# aggregation (twice: the second run meets 304s). Prints a summary; exits
# non-zero if anything is left unfinished or the simulator saw a single limit
# violation.
#
#   scripts/demo.sh            # small universe, a few minutes
#   scripts/demo.sh --full     # seed 001's size: 3,547 alliances, 17,769 corporations, ~93k characters
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

UNIVERSE=small
# Per source address (characters' killmail lists: per character, ESI's own
# 30 tokens / 15 min; bodies: ESI's killmail group).
KILLMAIL_GROUPS="char-killmail=30/15m,killmail=3600/15m"
ESI_GROUPS=${DEMO_ESI_GROUPS:-"alliance=1800/1m,corporation=1800/1m,character=1800/1m,contracts=1800/1m,universe=1800/1m,$KILLMAIL_GROUPS"}
WORKERS=${WORKER_COUNT:-4}
for arg in "$@"; do
  case "$arg" in
    --full) UNIVERSE=full; ESI_GROUPS=${DEMO_ESI_GROUPS:-"alliance=12000/1m,corporation=12000/1m,character=12000/1m,contracts=12000/1m,universe=12000/1m,$KILLMAIL_GROUPS"} ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

scripts/deps.sh
echo "==> building"
scripts/build.sh sluice-coordinator sluice-agent sluicectl sluice-upstream-sim >/dev/null
BIN=$PWD/${BUILD_DIR:-build}

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
# Killmail histories stay put (no growth by the clock) so the re-sync figure
# below counts exactly the killmails the demo adds.
# ESI entities and lists (killmail lists too: the incremental re-sync waits
# for the list's Expires) stay cached for DEMO_CACHE_S (60 s): day 2 follows
# day 1 at once, and no resource may be fetched again before its Expires
# (the coordinator holds such tasks back; the simulator counts any request
# that comes early, "requests before Expires" in the summary).
# Its EVE SSO issues access tokens living DEMO_SSO_TOKEN_S (60 s; EVE's live
# 20 minutes) so the coordinator refreshes them during the demo, and its PoE
# routes demand GGG's service token, as the real ones do.
SIM_KILLMAIL_GROWTH_PERIOD_S=0 \
"$BIN/sim/sluice-upstream-sim" --port="$SIM_PORT" --bind=127.0.0.1 --universe="$UNIVERSE" \
  --esi_groups="$ESI_GROUPS" --esi_killmail_body_group=killmail \
  --sso_token_lifetime_s="${DEMO_SSO_TOKEN_S:-60}" --poe_require_token=true \
  --cache_list_seconds="${DEMO_CACHE_S:-60}" --cache_detail_seconds="${DEMO_CACHE_S:-60}" \
  --cache_members_seconds="${DEMO_CACHE_S:-60}" \
  --cache_killmail_recent_seconds="${DEMO_CACHE_S:-60}" >"$RUN/sim.log" 2>&1 &
SIM_PID=$!; PIDS+=("$SIM_PID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" >/dev/null && break; sleep 0.1; done
# Regions' contract lists too, so the second aggregation run waits only DEMO_CACHE_S for the
# Expires of the first's pages.
curl -sf -d "" "http://127.0.0.1:$SIM_PORT/sim/contracts/config?cache_s=${DEMO_CACHE_S:-60}" >/dev/null

# ESI publishes which rate-limit group each route is in (x-rate-limit in its
# OpenAPI document); the coordinator starts knowing them instead of probing.
curl -sf "http://127.0.0.1:$SIM_PORT/meta/openapi.json" >"$RUN/esi-openapi.json"

COORD_PORT=$(free_port)
echo "==> starting the coordinator on :$COORD_PORT"
OPS_PORT=$(free_port)
# The demo runs every job itself (sluicectl daily, sluicectl jobs run), so the
# coordinator's periodic schedule stays off. The PoE streams start with the
# coordinator and catch up from six hours ago.
# ESI tokens are stored sealed under a key of this run's own; the key and the
# DSN reach the coordinator by file and environment, never on its command line.
# The EVE application's and the GGG client's secrets (the simulator's) come
# by file too, as a mounted Secret would give them; their token endpoints are
# the simulator's.
(umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' >"$RUN/token.key"
 echo sim-eve-secret >"$RUN/eve-sso.secret"; echo sim-poe-secret >"$RUN/poe.secret")
SLUICE_DSN="$SLUICE_DSN" SLUICE_TOKEN_KEY_FILE="$RUN/token.key" \
SLUICE_EVE_SSO_CLIENT_SECRET_FILE="$RUN/eve-sso.secret" SLUICE_POE_CLIENT_SECRET_FILE="$RUN/poe.secret" \
"$BIN/server/sluice-coordinator" --listen="127.0.0.1:$COORD_PORT" --jobs_enabled=false \
  --ops_listen="127.0.0.1:$OPS_PORT" --poe_streams_enabled=true \
  --eve_sso_client_id=sim-eve-client --eve_sso_token_url="http://127.0.0.1:$SIM_PORT/v2/oauth/token" \
  --poe_client_id=sim-poe-client --poe_token_url="http://127.0.0.1:$SIM_PORT/oauth/token" \
  --contact="demo@sluice.invalid" \
  --esi_openapi_file="$RUN/esi-openapi.json" \
  --poe_exchange_start_hour=$(( ($(date +%s) / 3600 - 6) * 3600 )) \
  >"$RUN/coordinator.log" 2>&1 &
COORD_PID=$!; PIDS+=("$COORD_PID")
export SLUICE_COORDINATOR="127.0.0.1:$COORD_PORT"
for _ in $(seq 100); do "$BIN/client/sluicectl" status >/dev/null 2>&1 && break; sleep 0.1; done

AGENT_PIDS=()
for n in 1 2; do
  # Two hosts, played by two loopback addresses: the upstream bills each
  # address's public calls on buckets of its own.
  echo "==> starting agent $n ($WORKERS workers) on 127.0.0.$((n + 1))"
  # The token through the environment, as a secret should travel (a flag is
  # readable by every user of the host through ps).
  ESI_BEARER_TOKEN=sim-token "$BIN/agent/sluice-agent" --coordinator="$SLUICE_COORDINATOR" \
    --workers="$WORKERS" \
    --agent_id="demo-agent-$n" --upstream_esi="http://127.0.0.1:$SIM_PORT" \
    --bind_address="127.0.0.$((n + 1))" \
    --upstream_poe="http://127.0.0.1:$SIM_PORT" \
    --contact="demo@sluice.invalid" >"$RUN/agent-$n.log" 2>&1 &
  AGENT_PIDS+=($!); PIDS+=($!)
done

START=$(date +%s)
echo "==> day 1: the daily ESI sequence on a cold database"
"$BIN/client/sluicectl" daily --timeout_s=7200
DAY1_END=$(date +%s)
curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" >"$RUN/sim-day1.json"
echo "==> day 2: the same sequence again; known ETags now turn into 304s"
"$BIN/client/sluicectl" daily --timeout_s=7200

CTL="$BIN/client/sluicectl"
SIM="http://127.0.0.1:$SIM_PORT"
sql() { psql "$SLUICE_DSN" -qAtc "$1"; }
# Stream tasks live as long as their stream; everything else must drain.
wait_idle() {
  for _ in $(seq 1200); do
    local left
    left=$("$CTL" status --json | python3 -c '
import json, sys
q = json.load(sys.stdin)
print(sum(k["ready"] + k["leased"] + k["retrying"] for k in q.get("kinds", [])
          if not k["kind"].startswith("poe_")))')
    [ "$left" = 0 ] && return 0
    sleep 0.5
  done
  echo "queue did not drain" >&2; return 1
}
recent_pages() {
  curl -sf "$SIM/sim/stats" | python3 -c '
import json, sys
print(json.load(sys.stdin).get("requests_by_route", {}).get("/characters/{character_id}/killmails/recent/", 0))'
}

echo "==> killmail sync: 20 characters authorize the application at the simulator's EVE SSO; their refresh tokens go to the coordinator, which refreshes their access tokens from then on"
curl -sf -d "" "$SIM/sim/tokens?count=20" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    print(t["character_id"])' |
while read -r id; do
  # The refresh token goes through stdin: never on a command line.
  curl -sf -d "" "$SIM/sim/sso/grant?character_id=$id" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["refresh_token"])' |
    "$CTL" tokens add "$id" --refresh_token=- >/dev/null
done
"$CTL" jobs run killmail_sync --wait
wait_idle
KM_CHAR=$(sql "SELECT character_id FROM character_tokens ORDER BY last_killmail_id DESC NULLS LAST LIMIT 1")
PAGES_BEFORE=$(recent_pages)
echo "==> incremental re-sync: 5 new killmails for character $KM_CHAR, queued by hand at manual priority"
curl -sf -d "" "$SIM/sim/killmails?character_id=$KM_CHAR&count=5" >/dev/null
"$CTL" enqueue character_killmails "$KM_CHAR" --priority=manual >/dev/null
wait_idle
RESYNC_PAGES=$(( $(recent_pages) - PAGES_BEFORE ))
echo "==> scan entities: killmail participants missing from the database"
"$CTL" jobs run scan_entities --wait
wait_idle

echo "==> public contracts: two aggregation runs (the second sends the stored ETags; pages the simulator changed in between answer 200)"
"$CTL" jobs run contract_aggregation --wait
"$CTL" jobs run contract_aggregation --wait
wait_idle
END=$(date +%s)

echo "==> PoE streams"
"$CTL" checkpoints
"$CTL" ingest
"$CTL" alerts
"$CTL" jobs --limit=12
{
  echo "{"
  echo "\"killmails\": $(sql "SELECT count(*) FROM killmails WHERE body IS NOT NULL"),"
  echo "\"killmail_characters\": $(sql "SELECT count(*) FROM character_tokens WHERE last_killmail_sync_at IS NOT NULL"),"
  echo "\"resync_pages\": $RESYNC_PAGES,"
  echo "\"contracts\": $(sql "SELECT count(*) FROM contracts"),"
  echo "\"ship_contracts\": $(sql "SELECT count(*) FROM contracts WHERE is_ship_contract"),"
  echo "\"contract_items\": $(sql "SELECT count(*) FROM contract_items"),"
  echo "\"types\": $(sql "SELECT count(*) FROM universe_types"),"
  echo "\"stash_raw\": $(sql "SELECT count(*) FROM poe_stash_raw"),"
  echo "\"stash_pages\": $(sql "SELECT COALESCE(sum(pages), 0) FROM checkpoints WHERE stream LIKE 'poe_stash:%'"),"
  echo "\"exchange_raw\": $(sql "SELECT count(*) FROM poe_exchange_raw"),"
  echo "\"exchange_gaps\": $(sql "SELECT count(*) FROM poe_exchange_gaps"),"
  echo "\"silver_stashes\": $(sql "SELECT count(*) FROM poe_stash_silver"),"
  echo "\"silver_prices\": $(sql "SELECT count(*) FROM poe_item_price_silver"),"
  echo "\"gold_currency\": $(sql "SELECT count(*) FROM gold_currency_snapshot")"
  echo "}"
} >"$RUN/workflows.json"

"$BIN/client/sluicectl" entities --json >"$RUN/entities.json"
"$BIN/client/sluicectl" status --json >"$RUN/queue.json"
curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" >"$RUN/sim.json"
RSS_COORD=$(peak_rss_mb "$COORD_PID")
RSS_A1=$(peak_rss_mb "${AGENT_PIDS[0]}")
RSS_A2=$(peak_rss_mb "${AGENT_PIDS[1]}")
RSS_SIM=$(peak_rss_mb "$SIM_PID")

python3 - "$RUN" "$((END - START))" "$RSS_COORD" "$RSS_A1" "$RSS_A2" "$RSS_SIM" "$((DAY1_END - START))" <<'PY'
import json, re, sys
run, elapsed, rc, r1, r2, rs, day1 = sys.argv[1:]
ent = json.load(open(f"{run}/entities.json"))
wf = json.load(open(f"{run}/workflows.json"))
sim = json.load(open(f"{run}/sim.json"))
queue = json.load(open(f"{run}/queue.json"))
errors = sim.get("errors", 0)
total_viol = sim["violations"]["total"]
dead = sum(k.get("dead", 0) for k in queue.get("kinds", []))
pending = sum(k.get("ready", 0) + k.get("leased", 0) + k.get("retrying", 0) for k in queue.get("kinds", [])
              if not k["kind"].startswith("poe_"))
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
if total_viol:
    print(f"                    by caller: {sim['violations'].get('by_caller', {})}")
etiquette = sim.get("etiquette", {})
early = etiquette.get("requests_before_expires", 0)
print(f"  before Expires    {early:>9,}  (requests for a resource before the Expires the simulator"
      f" announced for it; goal 0)")
if early:
    print(f"                    by route: {etiquette.get('by_route', {})}")
oauth = sim.get("oauth", {})
grants = oauth.get("grants", {})
rejected = oauth.get("rejected", {})
expired = sum(v.get("expired", 0) for v in rejected.values())
print(f"  token refreshes   {grants.get('refresh_token', 0):>9,}  (EVE SSO refresh grants; "
      f"{oauth.get('invalid_grant', 0)} invalid_grant; PoE service tokens fetched: "
      f"{grants.get('client_credentials', 0)})")
print(f"  expired tokens    {expired:>9,}  (requests the upstreams refused for an expired token;"
      f" goal 0)")
uaf = sim.get("user_agent_format", {})
print(f"  User-Agents       ESI {uaf.get('esi.follows', 0):,} with a contact,"
      f" {uaf.get('esi.does_not', 0):,} without; PoE {uaf.get('poe.follows', 0):,} in GGG's"
      f" OAuth format, {uaf.get('poe.does_not', 0):,} not")
print(f"  dead tasks        {dead:>9,}")
print(f"  tasks pending     {pending:>9,}")
print(f"  killmails         {wf['killmails']:>9,}  for {wf['killmail_characters']} characters with tokens;"
      f" re-sync with 5 new read {wf['resync_pages']} list page(s)")
print(f"  contracts         {wf['contracts']:>9,}  ({wf['ship_contracts']:,} ship contracts,"
      f" {wf['contract_items']:,} items, {wf['types']:,} types cached)")
print(f"  PoE stash stream  {wf['stash_pages']:>9,} pages, {wf['stash_raw']:,} raw stashes ->"
      f" {wf['silver_stashes']:,} stashes, {wf['silver_prices']:,} priced items (silver)")
print(f"  PoE exchange      {wf['exchange_raw']:>9,} market rows, {wf['exchange_gaps']} hour(s) audited missing,"
      f" {wf['gold_currency']:,} currency snapshots (gold)")
print(f"  elapsed           {int(elapsed):>8,}s  (both days and the workflows)")
# Day 1 against what the upstream allowed: tokens each group needed (ESI's
# costs: 2xx 2, 304 1, 4xx 5) over what its buckets give (per source
# address, two addresses), the binding group's time being the ideal.
spec = json.load(open(f"{run}/esi-openapi.json"))
d1 = json.load(open(f"{run}/sim-day1.json"))
def shape(route):
    return re.sub(r"\{[^}]*\}", "{}", route).rstrip("/")
group_of, limit_of = {}, {}
for path, ops in spec["paths"].items():
    x = ops.get("get", {}).get("x-rate-limit")
    if x:
        group_of[shape(path)] = x["group"]
        w = x["window-size"]
        seconds = int(w[:-1]) * {"s": 1, "m": 60, "h": 3600}[w[-1]]
        limit_of[x["group"]] = (x["max-tokens"], seconds)
tokens = {}
by_status = d1.get("responses_by_status", {})
ok_share = by_status.get("200", 0) / max(1, d1.get("requests_total", 1))
for route, n in d1.get("requests_by_route", {}).items():
    g = group_of.get(shape(route))
    if g:
        tokens[g] = tokens.get(g, 0) + 2 * n  # nearly every day-1 answer is a 200
ideal, binding = 0.0, "-"
for g, t in tokens.items():
    per_window, window = limit_of[g]
    addresses = 2 if not g.startswith("char-") else 1
    bucket = per_window * addresses
    need = max(0.0, (t - bucket) / bucket) * window
    if need > ideal:
        ideal, binding = need, g
ratio = f"{int(day1) / ideal:.2f}" if ideal > 0 else "n/a (no group binds)"
print(f"  day 1             {int(day1):>8,}s  (budget-bound ideal {ideal:.0f}s, group {binding}:"
      f" ratio {ratio})")
callers = sim.get("requests_by_caller", {})
print(f"  callers billed    {callers.get('callers', 0):>9,}  (source addresses and characters, each"
      f" on buckets of its own)")
print(f"  peak RSS          coordinator {rc} MB, agents {r1} MB / {r2} MB, simulator {rs} MB")
print("=" * 64)
ok = (total_viol == 0 and pending == 0 and wf["killmails"] > 0 and wf["resync_pages"] == 1
      and expired == 0
      and wf["contracts"] > 0 and wf["stash_raw"] > 0 and wf["silver_stashes"] > 0)
sys.exit(0 if ok else 1)
PY
