// The coordinator's dashboard: vanilla JavaScript, no framework, no library.
// Panels come from api/ops (a fresh snapshot, every 5 s); charts from
// api/ops/history, the coordinator's ring of samples: the page asks once for
// the chosen window, then only for the points it lacks (?since=<last t>).
// Charts are drawn by hand on <canvas>. Every class name below is written out
// in full: Tailwind finds the ones it compiles by reading this file.
"use strict";

const PALETTE = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04",
                 "#dc2626", "#4b5563", "#65a30d"];
const MAX_LINES = 8;

// The charts: which series (by name prefix) each one draws, and how.
const CHARTS = [
  {id: "ingest", title: "Ingest rows/s", prefix: "ingest.rows_per_s|", total: "ingest.rows_per_s",
   unit: "/s", pick: "largest"},
  {id: "calls", title: "Upstream calls/s per budget group", prefix: "calls.per_s|", unit: "/s",
   pick: "largest"},
  {id: "headroom", title: "Budget headroom (tightest budget of each group)",
   prefix: "budget.headroom|", unit: "%", percent: true, pick: "smallest", max: 1},
  {id: "queue", title: "Queue depth per kind", prefix: "queue.depth|", unit: "", pick: "largest"},
  {id: "latency", title: "Claim and commit latency (p50, p95 per interval)", prefix: "latency.",
   unit: " ms", scale: 1000, pick: "largest", empty: "no claim or commit in this window"},
];

const state = {
  window: 3600,        // seconds of history shown
  t: [],               // sample times (unix seconds), oldest first
  values: {},          // series name -> values aligned with t (null: no value)
  serverSkew: 0,       // server time - browser time, seconds
  historyLoaded: false,
  generation: 0,       // bumped when the window changes
  inflight: -1,        // generation of the history request under way
  pollMs: 1000,        // until the first answer says how often the coordinator samples
  ops: null,
};

// ---- small helpers --------------------------------------------------------

function esc(v) {
  return String(v).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function num(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (digits !== undefined) return v.toFixed(digits);
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(2);
}
function age(s) {
  if (s === null || s === undefined || s < 0) return "–";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
function clock(t) {
  const d = new Date(t * 1000);
  return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
}
function dayHour(rfc3339) {
  const t = Date.parse(rfc3339);
  if (Number.isNaN(t)) return rfc3339;
  return new Date(t).toLocaleString([], {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
}
function badge(text, tone) {
  const tones = {
    red: "bg-red-100 text-red-800 ring-red-200",
    amber: "bg-amber-100 text-amber-800 ring-amber-200",
    green: "bg-emerald-100 text-emerald-800 ring-emerald-200",
    slate: "bg-slate-100 text-slate-700 ring-slate-200",
    blue: "bg-blue-100 text-blue-800 ring-blue-200",
  };
  return "<span class=\"inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium ring-1 ring-inset " +
         tones[tone] + "\">" + esc(text) + "</span>";
}
function table(id, head, rows, emptyText) {
  const el = document.getElementById(id);
  const th = head.map((h, i) => "<th class=\"whitespace-nowrap px-3 py-2 font-medium " +
      (i ? "text-right" : "text-left") + "\">" + esc(h) + "</th>").join("");
  const body = rows.length
      ? rows.map(r => "<tr class=\"border-t border-slate-100 hover:bg-slate-50\">" + r.map((c, i) =>
            "<td class=\"whitespace-nowrap px-3 py-1.5 tabular-nums " + (i ? "text-right" : "text-left") +
            "\">" + c + "</td>").join("") + "</tr>").join("")
      : "<tr><td class=\"px-3 py-3 text-slate-400\" colspan=\"" + head.length + "\">" +
            esc(emptyText || "none") + "</td></tr>";
  el.innerHTML = "<thead class=\"bg-slate-50 text-xs uppercase tracking-wide text-slate-500\"><tr>" +
                 th + "</tr></thead><tbody>" + body + "</tbody>";
}
function bar(fraction, tone) {
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  const color = tone === "red" ? "bg-red-500" : tone === "amber" ? "bg-amber-500" : "bg-emerald-500";
  return "<div class=\"ml-auto h-2 w-28 overflow-hidden rounded bg-slate-200\"><div class=\"h-2 " + color +
         "\" style=\"width:" + pct.toFixed(1) + "%\"></div></div>";
}

// ---- fetching -------------------------------------------------------------

async function getJson(path) {
  const r = await fetch(path, {cache: "no-store"});
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function serverNow() { return Date.now() / 1000 + state.serverSkew; }

async function refreshOps() {
  const status = document.getElementById("status");
  try {
    const d = await getJson("api/ops");
    state.ops = d;
    const taken = Date.parse(d.taken_at) / 1000;
    if (!Number.isNaN(taken)) state.serverSkew = taken - Date.now() / 1000;
    const db = d.database_ok
        ? "<span class=\"text-emerald-400\">● database ok</span>"
        : "<span class=\"text-red-400\">● database unavailable: " + esc(d.database_error || "") + "</span>";
    status.innerHTML = db + " <span class=\"text-slate-500\">·</span> " + esc(d.role) +
        (d.leader_epoch ? " (epoch " + esc(d.leader_epoch) + ")" : "") +
        " <span class=\"text-slate-500\">· " + esc(clock(taken)) + "</span>" +
        (d.panels_error ? " <span class=\"text-amber-300\">· " + esc(d.panels_error) + "</span>" : "");
    renderPanels(d);
  } catch (e) {
    status.innerHTML = "<span class=\"text-red-400\">● coordinator unreachable (" + esc(e.message) + ")</span>";
  }
}

async function refreshHistory() {
  // One request at a time; an answer for a window no longer shown is dropped.
  if (state.inflight === state.generation) return;
  const generation = state.generation;
  state.inflight = generation;
  try {
    const since = state.historyLoaded && state.t.length
        ? state.t[state.t.length - 1]
        : serverNow() - state.window;
    const h = await getJson("api/ops/history?since=" + since.toFixed(3));
    if (generation !== state.generation) return;
    appendHistory(h);
    state.historyLoaded = true;
    if (h.interval_hint_s > 0) {
      // Ask about as often as the coordinator samples, between 1 and 5 s.
      state.pollMs = Math.max(1000, Math.min(5000, h.interval_hint_s * 1000));
    }
    renderCharts();
  } catch (e) {
    // The status line already says when the coordinator is unreachable.
  } finally {
    if (state.inflight === generation) state.inflight = -1;
  }
}

function appendHistory(h) {
  const n = h.t.length;
  if (!n) return;
  const before = state.t.length;
  for (const name of Object.keys(state.values)) {
    if (!(name in h.values)) for (let i = 0; i < n; ++i) state.values[name].push(null);
  }
  for (const name of h.series) {
    if (!(name in state.values)) state.values[name] = new Array(before).fill(null);
    for (const v of h.values[name]) state.values[name].push(v);
  }
  for (const t of h.t) state.t.push(t);
  trimHistory();
}

function trimHistory() {
  const cutoff = serverNow() - state.window;
  let drop = 0;
  while (drop < state.t.length && state.t[drop] < cutoff) ++drop;
  if (!drop) return;
  state.t.splice(0, drop);
  for (const name of Object.keys(state.values)) {
    state.values[name].splice(0, drop);
    if (state.values[name].every(v => v === null)) delete state.values[name];
  }
}

// ---- charts ---------------------------------------------------------------

function seriesFor(chart) {
  const out = [];
  for (const name of Object.keys(state.values)) {
    if (!name.startsWith(chart.prefix)) continue;
    const raw = state.values[name];
    const vals = chart.scale ? raw.map(v => (v === null ? null : v * chart.scale)) : raw;
    let last = null, peak = null;
    for (const v of vals) {
      if (v === null) continue;
      last = v;
      peak = peak === null ? v : Math.max(peak, v);
    }
    if (last === null) continue;
    out.push({name: name.slice(chart.prefix.length).replace(/_s$/, ""), values: vals, last, peak});
  }
  if (chart.pick === "smallest") out.sort((a, b) => a.last - b.last || a.name.localeCompare(b.name));
  else out.sort((a, b) => b.peak - a.peak || a.name.localeCompare(b.name));
  return out;
}

function buildCharts() {
  const host = document.getElementById("charts");
  host.innerHTML = CHARTS.map(c =>
      "<section class=\"rounded-lg bg-white p-3 shadow-sm ring-1 ring-slate-200\">" +
      "<div class=\"mb-1 flex items-baseline justify-between gap-2\"><h2 class=\"text-sm font-semibold text-slate-700\">" +
      esc(c.title) + "</h2><span id=\"chart-" + c.id + "-now\" class=\"text-xs text-slate-500 tabular-nums\"></span></div>" +
      "<canvas id=\"chart-" + c.id + "\" data-chart=\"" + c.id + "\" data-points=\"0\" class=\"block h-44 w-full\"></canvas>" +
      "<div id=\"chart-" + c.id + "-legend\" class=\"mt-1 flex flex-wrap gap-x-3 gap-y-0.5 text-xs text-slate-600\"></div>" +
      "</section>").join("");
}

function renderCharts() {
  for (const c of CHARTS) drawChart(c);
  window.sluiceDashboard.samples = state.t.length;
}

function drawChart(chart) {
  const canvas = document.getElementById("chart-" + chart.id);
  const legend = document.getElementById("chart-" + chart.id + "-legend");
  const nowLabel = document.getElementById("chart-" + chart.id + "-now");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px ui-sans-serif, system-ui, sans-serif";

  const all = seriesFor(chart);
  const shown = all.slice(0, MAX_LINES);
  const total = chart.total && state.values[chart.total] ? state.values[chart.total] : null;
  const left = 44, right = 8, top = 6, bottom = 18;
  const pw = w - left - right, ph = h - top - bottom;
  // The window, or less while the ring holds less (a coordinator just started).
  const t1 = serverNow();
  const t0 = Math.max(t1 - state.window, state.t.length ? Math.min(state.t[0], t1 - 60) : t1 - state.window);
  const x = t => left + ((t - t0) / (t1 - t0)) * pw;

  let ymax = chart.max || 0;
  if (!chart.max) {
    for (const s of shown) for (const v of s.values) if (v !== null && v > ymax) ymax = v;
    if (total) for (const v of total) if (v !== null && v > ymax) ymax = v;
    ymax = niceCeiling(ymax);
  }
  const y = v => top + ph - (v / ymax) * ph;

  // Grid and axes.
  g.strokeStyle = "#e2e8f0";
  g.fillStyle = "#64748b";
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let i = 0; i <= 4; ++i) {
    const v = (ymax * i) / 4, yy = Math.round(y(v)) + 0.5;
    g.beginPath(); g.moveTo(left, yy); g.lineTo(left + pw, yy); g.stroke();
    g.fillText(chart.percent ? Math.round(v * 100) + "%" : num(v), left - 4, yy);
  }
  g.textBaseline = "top";
  for (let i = 0; i <= 3; ++i) {
    const t = t0 + ((t1 - t0) * i) / 3;
    g.textAlign = i === 0 ? "left" : i === 3 ? "right" : "center";
    g.fillText(clock(t), x(t), top + ph + 4);
  }

  let points = 0;
  const line = (values, color, width) => {
    g.strokeStyle = color;
    g.lineWidth = width;
    g.beginPath();
    let pen = false;
    for (let i = 0; i < values.length; ++i) {
      const v = values[i];
      if (v === null || state.t[i] < t0) { pen = false; continue; }
      const px = x(state.t[i]), py = y(Math.min(v, ymax));
      if (pen) g.lineTo(px, py); else g.moveTo(px, py);
      pen = true;
      ++points;
    }
    g.stroke();
  };
  if (total && shown.length > 1) line(total, "#0f172a", 1.5);
  shown.forEach((s, i) => line(s.values, PALETTE[i % PALETTE.length], 1.5));
  canvas.dataset.points = String(points);

  if (!shown.length) {
    g.fillStyle = "#94a3b8";
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(chart.empty || "no samples in this window yet", left + pw / 2, top + ph / 2);
  }
  const fmt = v => chart.percent ? Math.round(v * 100) + "%" : num(v) + chart.unit;
  const items = shown.map((s, i) =>
      "<span class=\"inline-flex items-center gap-1\"><span class=\"inline-block h-2 w-2 rounded-full\" style=\"background:" +
      PALETTE[i % PALETTE.length] + "\"></span>" + esc(s.name) + " <span class=\"tabular-nums text-slate-400\">" +
      esc(fmt(s.last)) + "</span></span>");
  if (total && shown.length > 1) {
    items.unshift("<span class=\"inline-flex items-center gap-1\"><span class=\"inline-block h-0.5 w-3 bg-slate-900\"></span>all</span>");
  }
  if (all.length > shown.length) {
    items.push("<span class=\"text-slate-400\">+" + (all.length - shown.length) + " more</span>");
  }
  legend.innerHTML = items.join("");
  let headline = "";
  if (total) {
    const lastTotal = [...total].reverse().find(v => v !== null);
    if (lastTotal !== undefined) headline = fmt(lastTotal) + " now";
  } else if (shown.length && !chart.percent) {
    headline = fmt(shown.reduce((a, s) => a + s.last, 0)) + " now";
  } else if (shown.length) {
    headline = "tightest " + fmt(shown[0].last);
  }
  nowLabel.textContent = headline;
}

function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// ---- panels ---------------------------------------------------------------

function renderPanels(d) {
  const firingByStream = {};
  for (const a of d.alerts.firing) (firingByStream[a.stream] = firingByStream[a.stream] || []).push(a.rule);
  renderKpis(d);
  renderAlerts(d);
  renderStreams(d, firingByStream);
  renderBudgets(d);
  renderGold(d);
  renderQueueAndJobs(d);
}

function latest(name) {
  const vals = state.values[name];
  if (!vals) return null;
  for (let i = vals.length - 1; i >= 0; --i) if (vals[i] !== null) return vals[i];
  return null;
}

function renderKpis(d) {
  let calls = null;
  for (const name of Object.keys(state.values)) {
    if (!name.startsWith("calls.per_s|")) continue;
    const v = latest(name);
    if (v !== null) calls = (calls || 0) + v;
  }
  const depth = d.queue.reduce((a, k) => a + k.ready + k.leased + k.retrying, 0);
  const dead = d.queue.reduce((a, k) => a + k.dead, 0);
  const constrained = sortedBudgets(d)[0];
  const worstLag = d.streams.reduce((a, s) => Math.max(a, s.lag_seconds), 0);
  const cards = [
    ["Ingest", num(latest("ingest.rows_per_s")) + " rows/s", d.checkpoints.length + " streams"],
    ["Upstream calls", num(calls) + " /s", d.budgets.length + " budget groups"],
    ["Alerts firing", String(d.alerts.firing.length), d.alerts.firing.length ? "see below" : "all quiet",
     d.alerts.firing.length ? "red" : ""],
    ["Queue", num(depth) + " tasks", dead ? dead + " dead" : "none dead", dead ? "amber" : ""],
    ["Tightest budget", constrained ? headroomText(constrained) : "–", constrained ? constrained.name : "",
     constrained && budgetTone(constrained) === "red" ? "red" : ""],
    ["Worst stream lag", d.streams.length ? age(worstLag) : "–", d.streams.length ? "freshness SLO: stash 10 min, currency 65 min" : "no streams"],
  ];
  document.getElementById("kpis").innerHTML = cards.map(([label, value, sub, tone]) =>
      "<div class=\"rounded-lg bg-white px-4 py-3 shadow-sm ring-1 " +
      (tone === "red" ? "ring-red-300" : tone === "amber" ? "ring-amber-300" : "ring-slate-200") + "\">" +
      "<div class=\"text-xs font-medium uppercase tracking-wide text-slate-500\">" + esc(label) + "</div>" +
      "<div class=\"mt-1 text-2xl font-semibold tabular-nums " +
      (tone === "red" ? "text-red-700" : tone === "amber" ? "text-amber-700" : "text-slate-900") + "\">" + esc(value) + "</div>" +
      "<div class=\"truncate text-xs text-slate-500\" title=\"" + esc(sub) + "\">" + esc(sub) + "</div></div>").join("");
}

function renderAlerts(d) {
  const firing = document.getElementById("alerts-firing");
  firing.innerHTML = d.alerts.firing.length
      ? "<ul class=\"space-y-2\">" + d.alerts.firing.map(a =>
            "<li data-alert=\"" + esc(a.rule + "/" + a.stream) + "\" class=\"rounded-md border border-red-200 bg-red-50 px-3 py-2\">" +
            "<div class=\"flex items-center gap-2\">" + badge(a.rule, "red") +
            "<span class=\"font-medium\">" + esc(a.stream) + "</span>" +
            "<span class=\"ml-auto text-xs text-slate-500\">for " + esc(age(a.since_age_seconds)) + "</span></div>" +
            "<div class=\"mt-1 text-sm text-red-900\">" + esc(a.message) + "</div></li>").join("") + "</ul>"
      : "<div class=\"rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-800\">No alert is firing.</div>";
  const recent = document.getElementById("alerts-recent");
  recent.innerHTML = d.alerts.recent.length
      ? "<ul class=\"divide-y divide-slate-100 text-sm\">" + d.alerts.recent.map(e =>
            "<li class=\"flex items-center gap-2 py-1\">" + badge(e.state, e.state === "firing" ? "red" : "green") +
            "<span class=\"font-mono text-xs\">" + esc(e.rule) + "</span><span class=\"text-slate-600\">" + esc(e.stream) + "</span>" +
            "<span class=\"ml-auto whitespace-nowrap text-xs text-slate-500\">" + esc(age(e.at_age_seconds)) + " ago</span></li>").join("") + "</ul>"
      : "<div class=\"text-sm text-slate-400\">No alert has fired.</div>";
}

function renderStreams(d, firingByStream) {
  const health = {};
  for (const s of d.streams) health[s.stream] = s;
  const names = new Set(d.checkpoints.map(c => c.stream).concat(d.streams.map(s => s.stream)));
  const cps = {};
  for (const c of d.checkpoints) cps[c.stream] = c;
  const rows = [...names].sort().map(name => {
    const c = cps[name] || {}, s = health[name] || {};
    const alerts = firingByStream[name] || [];
    const stateCell = alerts.length ? alerts.map(r => badge(r, "red")).join(" ") : badge("healthy", "green");
    const rate = latest("ingest.rows_per_s|" + name);
    return ["<span class=\"font-medium\">" + esc(name) + "</span>",
            esc(s.kind || "–"),
            "<code class=\"text-xs text-slate-600\">" + esc(c.cursor !== undefined ? c.cursor : "–") + "</code>",
            esc(age(c.age_seconds)), esc(age(s.lag_seconds)),
            esc(num(c.rows)), esc(rate === null ? "–" : num(rate)),
            esc(num(s.requests_per_min)), esc(num(s.errors_window)),
            s.http_429_window ? badge(String(s.http_429_window), "amber") : "0",
            esc(num(s.pending_rows)), stateCell];
  });
  table("streams", ["stream", "kind", "cursor", "cursor moved", "lag", "rows", "rows/s", "req/min", "errors 5m", "429s 5m",
                    "pending", "state"], rows, "no stream checkpoints yet");
}

function budgetTone(b) {
  if (b.restricted || b.exhausted_budgets > 0) return "red";
  if (b.limit > 0 && b.remaining / b.limit < 0.2) return "amber";
  return "green";
}
function headroomText(b) { return b.limit > 0 ? Math.round((100 * b.remaining) / b.limit) + "%" : "–"; }
function sortedBudgets(d) {
  const rank = b => (b.restricted ? 0 : b.exhausted_budgets > 0 ? 1 : 2);
  const frac = b => (b.limit > 0 ? b.remaining / b.limit : 1);
  return [...d.budgets].sort((a, b) => rank(a) - rank(b) || frac(a) - frac(b) || a.name.localeCompare(b.name));
}

function renderBudgets(d) {
  const rows = sortedBudgets(d).map(b => {
    const tone = budgetTone(b);
    let mark = badge(b.learned ? "learned" : "default", "slate");
    let reason = "";
    if (b.restricted) {
      mark = badge("restricted", "red");
      reason = (b.reason || "restricted by the upstream") +
          (b.restricted_for_seconds ? " (" + age(b.restricted_for_seconds) + " left)" : "");
    } else if (b.exhausted_budgets > 0) {
      mark = badge("exhausted", "red");
      reason = b.exhausted_budgets + " of " + b.callers + " budget(s) cannot take a call" +
          (b.next_permitted_in_seconds ? "; next in " + age(b.next_permitted_in_seconds) : "");
    }
    return ["<span class=\"font-medium\">" + esc(b.name) + "</span>" +
                (b.most_constrained && b.most_constrained !== b.name
                     ? "<div class=\"text-xs text-slate-400\">" + esc(b.most_constrained) + "</div>" : ""),
            bar(b.limit > 0 ? b.remaining / b.limit : 0, tone),
            esc(headroomText(b)), esc(num(b.remaining)) + " / " + esc(num(b.limit)),
            esc(b.period_seconds !== undefined ? age(b.period_seconds) : "–"), esc(num(b.callers)),
            esc(num(b.granted)), esc(num(b.denied)), mark,
            "<span class=\"whitespace-normal text-xs " + (reason ? "text-red-700" : "text-slate-400") + "\">" +
                esc(reason || "–") + "</span>"];
  });
  table("budgets", ["group", "headroom", "", "remaining / limit", "window", "budgets", "granted", "denied", "state", "reason"],
        rows, "no budget seen yet");
}

function renderGold(d) {
  table("currency", ["league", "hour", "currencies", "chaos volume", "most traded (chaos each)"],
        d.gold.currency.map(c => [
          "<span class=\"font-medium\">" + esc(c.league) + "</span> <span class=\"text-xs text-slate-400\">" + esc(c.realm) + "</span>",
          esc(dayHour(c.hour)), esc(num(c.currencies)), esc(num(c.chaos_volume)),
          "<span class=\"text-xs\">" + c.top.map(t => esc(t.currency) + " <span class=\"text-slate-500\">" +
              esc(num(t.ratio_to_chaos)) + "</span>").join(" · ") + "</span>"]),
        "no currency snapshot yet");
  table("valuations", ["league", "stashes", "public", "priced items", "valued", "total (chaos)", "newest stash"],
        d.gold.valuations.map(v => [
          "<span class=\"font-medium\">" + esc(v.league) + "</span> <span class=\"text-xs text-slate-400\">" + esc(v.realm) + "</span>",
          esc(num(v.stashes)), esc(num(v.public_stashes)), esc(num(v.priced_items)),
          esc(num(v.valued_items)), "<span class=\"font-medium\">" + esc(num(v.total_chaos)) + "</span>",
          esc(v.updated_at ? clock(Date.parse(v.updated_at) / 1000) : "–")]),
        "no stash valuation yet");
}

function renderQueueAndJobs(d) {
  table("queue", ["kind", "ready", "leased", "retrying", "dead", "oldest"],
        d.queue.map(k => [esc(k.kind), esc(num(k.ready)), esc(num(k.leased)), esc(num(k.retrying)),
                          k.dead ? badge(String(k.dead), "red") : "0", esc(age(k.oldest_age_seconds))]),
        "no task queued");
  const outcome = o => o === "failed" ? badge("failed", "red") : o === "succeeded" ? badge("succeeded", "green")
                     : o === "running" ? badge("running", "blue") : o ? badge(o, "slate") : "–";
  table("jobs", ["job", "running", "last run", "started", "fail-closed skips"],
        d.jobs.map(j => ["<span class=\"font-medium\">" + esc(j.name) + "</span>", j.running ? badge("running", "blue") : "",
                         outcome(j.last_outcome), esc(age(j.last_started_age_seconds)) + (j.last_started_age_seconds >= 0 ? " ago" : ""),
                         j.skipped_fail_closed ? badge(String(j.skipped_fail_closed), "amber") : "0"]),
        "no job registered");
  table("runs", ["job", "outcome", "started", "took", "upstream calls", "rows", "errors", "detail"],
        d.runs.map(r => ["<span class=\"font-medium\">" + esc(r.job) + "</span>", outcome(r.outcome),
                         esc(age(r.started_age_seconds)) + " ago",
                         esc(r.duration_seconds !== undefined ? age(r.duration_seconds) : "–"),
                         esc(num(r.upstream_calls)), esc(num(r.rows_upserted)),
                         r.errors ? badge(String(r.errors), "amber") : "0",
                         "<span class=\"block max-w-md truncate text-left text-xs text-slate-500\" title=\"" + esc(r.detail) + "\">" +
                             esc(r.detail || "") + "</span>"]),
        "no run recorded yet");
}

// ---- wiring ---------------------------------------------------------------

function selectWindow(seconds) {
  state.window = seconds;
  state.generation += 1;
  state.t = [];
  state.values = {};
  state.historyLoaded = false;
  for (const b of document.querySelectorAll("#windows button")) {
    const on = Number(b.dataset.window) === seconds;
    b.classList.toggle("bg-slate-600", on);
    b.classList.toggle("text-white", on);
  }
  refreshHistory();
}

window.sluiceDashboard = {samples: 0};

async function historyLoop() {
  await refreshHistory();
  setTimeout(historyLoop, state.pollMs);
}

async function main() {
  buildCharts();
  for (const b of document.querySelectorAll("#windows button")) {
    b.addEventListener("click", () => selectWindow(Number(b.dataset.window)));
  }
  await refreshOps();
  selectWindow(state.window);
  setInterval(refreshOps, 5000);
  setTimeout(historyLoop, state.pollMs);
  window.addEventListener("resize", renderCharts);
}

main();
