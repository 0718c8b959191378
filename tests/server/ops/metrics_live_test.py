#!/usr/bin/env python3
"""/metrics of real processes: sluice-upstream-sim, sluice-coordinator (PoE
streams on, so checkpoints move) and one sluice-agent with --ops_listen, after
the agent has run ESI work (alliance ids and alliances) from the simulator.

Checks, on the coordinator's and the agent's live /metrics:
  - `promtool check metrics` passes on both texts;
  - the coordinator has upstream latency observations per rate-limit group
    (sluice_upstream_request_duration_seconds, from the agents' reports), the
    agent its own (sluice_agent_upstream_request_duration_seconds), and both
    histograms are well formed (cumulative buckets, +Inf == _count);
  - gRPC server metrics per method and code after the agent's calls
    (LeaseTasks, CompleteTasks, LeaseTokens, ReportBatch);
  - claim and commit latency histograms have observations;
  - a drained kind keeps its queue series at zero, and so does a kind never
    queued; every alert rule has its series;
  - process_* and sluice_build_info on both; the agent's /healthz answers;
  - every metric name the Grafana dashboard (charts/sluice/dashboards/
    sluice.json) queries is one these binaries export;
  - the README's metrics table lists every metric name exported, and names
    nothing the source does not define.

  tests/server/ops/metrics_live_test.py --build-dir=BUILD_DIR

Needs SLUICE_PG_ADMIN_DSN (scripts/pg_throwaway.sh), promtool (Debian's
prometheus package, scripts/deps.sh) and the binaries built
(sluice-coordinator, sluice-upstream-sim, sluice-agent, sluicectl).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from sluice_test_support import (Processes, admin_dsn, binaries, create_database,  # noqa: E402
                                 drop_database, fail, free_port, http_text, make_log, run_main,
                                 wait_until)
DASHBOARD = os.path.join(ROOT, "charts", "sluice", "dashboards", "sluice.json")
README = os.path.join(ROOT, "README.md")
METRIC_NAME = re.compile(r"\b((?:sluice|grpc_server|process)_[a-z0-9_]+)")


log = make_log("metrics_live_test")


def parse(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m:
            fail("unparseable sample line: %r" % line)
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def families(text):
    """Family names declared by # TYPE, with their types."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def series(samples, name, **want):
    return {labels: v for (n, labels), v in samples.items()
            if n == name and all((k, w) in labels for k, w in want.items())}


def promtool_check(what, text):
    out = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        fail("promtool check metrics failed on the %s's /metrics:\n%s%s" % (what, out.stdout, out.stderr))
    log("promtool check metrics: the %s's /metrics passes" % what)


def check_histograms(what, text):
    """Cumulative buckets ending at +Inf equal to _count, for every series."""
    samples = parse(text)
    for name, kind in families(text).items():
        if kind != "histogram":
            continue
        buckets = {}
        for (n, labels), v in samples.items():
            if n == name + "_bucket":
                le = dict(labels)["le"]
                rest = frozenset(l for l in labels if l[0] != "le")
                buckets.setdefault(rest, []).append((float("inf") if le == "+Inf" else float(le), v))
        for rest, bs in buckets.items():
            bs.sort()
            counts = [c for _, c in bs]
            if counts != sorted(counts):
                fail("%s: %s%s buckets are not cumulative: %s" % (what, name, dict(rest), bs))
            if bs[-1][0] != float("inf"):
                fail("%s: %s%s has no +Inf bucket" % (what, name, dict(rest)))
            count = samples.get((name + "_count", rest))
            if count is None or count != bs[-1][1] or (name + "_sum", rest) not in samples:
                fail("%s: %s%s: +Inf %s, _count %s, _sum present: %s" % (
                    what, name, dict(rest), bs[-1][1], count, (name + "_sum", rest) in samples))


def exported_names(texts):
    """Metric names as queried: family names plus a histogram's suffixed series."""
    names = set()
    for text in texts:
        for name, kind in families(text).items():
            names.add(name)
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def check_dashboard(names):
    with open(DASHBOARD) as f:
        dash = json.load(f)
    used = set()
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            used.update(METRIC_NAME.findall(target["expr"]))
    if len(used) < 20:
        fail("the dashboard queries only %d metric names: %s" % (len(used), sorted(used)))
    missing = sorted(used - names)
    if missing:
        fail("the Grafana dashboard queries metric names no binary exports: %s" % missing)
    log("the dashboard's %d metric names are all exported" % len(used))


def readme_table_names():
    with open(README) as f:
        text = f.read()
    start = text.index("<!-- metrics table -->")
    end = text.index("<!-- end of metrics table -->")
    names = set()
    for line in text[start:end].splitlines():
        m = re.match(r"^\| `([a-z0-9_]+)` \|", line)
        if m:
            names.add(m.group(1))
    return names


def check_readme(texts):
    documented = readme_table_names()
    exported = set()
    for text in texts:
        exported.update(families(text))
    undocumented = sorted(exported - documented)
    if undocumented:
        fail("the README's metrics table lacks: %s" % undocumented)
    # A name the binaries did not show here (it needs a job run, say) must
    # still be defined in the source.
    sources = []
    for d in ("common", "server", "agent"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for fn in files:
                if fn.endswith(".cc"):
                    with open(os.path.join(dirpath, fn)) as f:
                        sources.append(f.read())
    source = "\n".join(sources)
    stale = sorted(n for n in documented - exported if '"%s"' % n not in source)
    if stale:
        fail("the README's metrics table names metrics nothing defines: %s" % stale)
    log("the README's metrics table lists all %d exported names" % len(exported))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the run directory and database")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    bins = binaries(build, ("coordinator", "agent", "sim", "sluicectl"))
    if not shutil.which("promtool"):
        fail("promtool is missing (Debian's prometheus package; scripts/deps.sh installs it)")
    admin = admin_dsn()

    run_dir = tempfile.mkdtemp(prefix="sluice-metrics-")
    db, dsn = create_database(admin, "sluice_metrics")
    procs = Processes(run_dir)
    ok = False
    try:
        sim_port, grpc_port, ops_port, agent_ops_port = free_port(), free_port(), free_port(), free_port()
        procs.start("sim", [bins["sim"], "--port=%d" % sim_port, "--bind=127.0.0.1"])
        wait_until("the simulator", lambda: http_text("http://127.0.0.1:%d/sim/stats" % sim_port)[0] == 200, 30)
        secret_file = os.path.join(run_dir, "poe_client_secret")
        with open(secret_file, "w") as f:
            f.write("sim-poe-secret")
        hour = (int(time.time()) // 3600 - 4) * 3600
        procs.start("coordinator", [
            bins["coordinator"], "--listen=127.0.0.1:%d" % grpc_port,
            "--ops_listen=127.0.0.1:%d" % ops_port, "--jobs_enabled=false",
            "--poe_streams_enabled=true", "--poe_exchange_start_hour=%d" % hour,
            "--etl_interval_ms=500", "--poe_client_id=sim-poe-client",
            "--poe_client_secret_file=" + secret_file,
            "--poe_token_url=http://127.0.0.1:%d/oauth/token" % sim_port,
            "--contact=metrics@sluice.invalid",
        ], env={"SLUICE_DSN": dsn})
        ops = "http://127.0.0.1:%d" % ops_port
        agent_ops = "http://127.0.0.1:%d" % agent_ops_port
        wait_until("the coordinator's ops listener", lambda: http_text(ops + "/healthz")[0] == 200, 60)
        procs.start("agent", [
            bins["agent"], "--coordinator=127.0.0.1:%d" % grpc_port, "--workers=2",
            "--agent_id=metrics-agent", "--upstream_poe=http://127.0.0.1:%d" % sim_port,
            "--upstream_esi=http://127.0.0.1:%d" % sim_port, "--contact=metrics@sluice.invalid",
            "--ops_listen=127.0.0.1:%d" % agent_ops_port,
        ])
        wait_until("the agent's ops listener", lambda: http_text(agent_ops + "/healthz")[0] == 200, 30)

        enq = subprocess.run([bins["sluicectl"], "--coordinator=127.0.0.1:%d" % grpc_port,
                              "enqueue", "alliance_ids"], capture_output=True, text=True, timeout=60)
        if enq.returncode != 0:
            fail("sluicectl enqueue alliance_ids: %s%s" % (enq.stdout, enq.stderr))

        def drained():
            status, text = http_text(ops + "/metrics")
            if status != 200:
                return None
            s = parse(text)
            done = series(s, "sluice_upstream_request_duration_seconds_count", upstream="esi")
            queued = sum(series(s, "sluice_queue_tasks", kind=k).get(frozenset({("kind", k), ("state", st)}), 1)
                         for k in ("alliance_ids", "alliance") for st in ("ready", "leased", "retrying"))
            return text if done and queued == 0 else None
        started = time.monotonic()
        text = wait_until("the alliance ids and alliances fetched and committed", drained, 180)
        log("ESI work drained in %.1f s" % (time.monotonic() - started))
        wait_until("rows from the PoE streams",
                   lambda: sum(series(parse(http_text(ops + "/metrics")[1]), "sluice_checkpoint_rows_total").values()) > 0, 90)
        procs.check_alive()
        text = http_text(ops + "/metrics")[1]
        status, agent_text = http_text(agent_ops + "/metrics")
        if status != 200:
            fail("the agent's /metrics answered %d" % status)

        promtool_check("coordinator", text)
        promtool_check("agent", agent_text)
        check_histograms("coordinator", text)
        check_histograms("agent", agent_text)
        s, ag = parse(text), parse(agent_text)

        # Upstream latency per rate-limit group, on both sides.
        by_group = series(s, "sluice_upstream_request_duration_seconds_count", upstream="esi", status_class="2xx")
        groups = {dict(l)["group"]: v for l, v in by_group.items()}
        log("coordinator: ESI 2xx calls by group %s" % groups)
        if not any(g not in ("none", "other") and v > 0 for g, v in groups.items()):
            fail("no ESI call observed under a rate-limit group: %s" % groups)
        total = sum(series(s, "sluice_upstream_request_duration_seconds_sum", upstream="esi").values())
        count = sum(series(s, "sluice_upstream_request_duration_seconds_count", upstream="esi").values())
        log("coordinator: %d ESI calls, mean %.1f ms" % (count, 1000 * total / count))
        agent_groups = series(ag, "sluice_agent_upstream_request_duration_seconds_count", upstream="esi")
        if sum(agent_groups.values()) < count * 0.5:
            fail("the agent counted %s ESI calls, the coordinator %s" % (sum(agent_groups.values()), count))

        # gRPC server metrics after the agent's calls.
        for method in ("LeaseTasks", "CompleteTasks", "LeaseTokens", "ReportBatch"):
            handled = series(s, "grpc_server_handled_total", grpc_method=method, grpc_code="OK")
            if not handled or sum(handled.values()) < 1:
                fail("no OK %s in grpc_server_handled_total" % method)
            if not series(s, "grpc_server_handling_seconds_count", grpc_method=method):
                fail("no %s in grpc_server_handling_seconds" % method)
        lease_tokens = series(s, "grpc_server_handling_seconds_sum", grpc_method="LeaseTokens")
        lease_count = series(s, "grpc_server_handling_seconds_count", grpc_method="LeaseTokens")
        log("LeaseTokens: %d calls, mean %.2f ms" % (sum(lease_count.values()),
                                                     1000 * sum(lease_tokens.values()) / sum(lease_count.values())))

        for name in ("sluice_claim_duration_seconds", "sluice_commit_duration_seconds"):
            c = sum(series(s, name + "_count").values())
            if c < 1:
                fail("%s has no observations" % name)
            log("%s: %d, mean %.2f ms" % (name, c, 1000 * sum(series(s, name + "_sum").values()) / c))

        # Series at zero rather than dropped.
        for kind in ("alliance_ids", "universe_type"):
            for state in ("ready", "leased", "retrying"):
                key = ("sluice_queue_tasks", frozenset({("kind", kind), ("state", state)}))
                if s.get(key) != 0:
                    fail("sluice_queue_tasks{kind=%s,state=%s} is %r, want 0" % (kind, state, s.get(key)))
        for rule in ("checkpoint_drift", "stalled", "stash_lag", "currency_lag", "http_429_storm"):
            if ("sluice_alerts_firing", frozenset({("alert", rule)})) not in s:
                fail("no sluice_alerts_firing series for %s" % rule)

        for t, what in ((s, "coordinator"), (ag, "agent")):
            for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                         "process_open_fds", "process_start_time_seconds"):
                if not series(t, name):
                    fail("the %s has no %s" % (what, name))
            if not series(t, "sluice_build_info"):
                fail("the %s has no sluice_build_info" % what)
        if sum(series(ag, "sluice_agent_tasks_done_total").values()) < 1:
            fail("the agent shows no task done")

        names = exported_names([text, agent_text])
        check_dashboard(names)
        check_readme([text, agent_text])
        procs.check_alive()
        ok = True
        log("PASSED")
    finally:
        procs.stop()
        if ok and not a.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
            drop_database(admin, db)
        else:
            log("run directory kept: %s (database %s)" % (run_dir, db))


if __name__ == "__main__":
    run_main("metrics_live_test", main)
