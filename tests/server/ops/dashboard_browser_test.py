#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's chromium, headless, driven over
the DevTools protocol (CDP, through --remote-debugging-pipe: no WebSocket
library needed), against real processes in real time: sluice-upstream-sim,
sluice-coordinator (with --ops_require_operator) and one sluice-agent
following the simulator's PoE streams.

Checks:
  - the ops listener still refuses the page and its API without an operator
    credential (the browser sends one: Network.setExtraHTTPHeaders);
  - the page loads with no console error, no exception, no failed request;
  - the charts update: the points drawn on the canvases and the samples held
    grow between two reads (the coordinator samples every 500 ms here);
  - panels fill from live data: budgets, checkpoint health, queue;
  - a checkpoint_drift alert raised by the test (a stream whose cursor stopped
    3 minutes ago without reaching the head, written into PostgreSQL) is shown
    as firing by the coordinator's own ETL loop and alert rules.

Leaves a full-page screenshot in BUILD_DIR/dashboard/dashboard.png.

  tests/server/ops/dashboard_browser_test.py --build-dir=BUILD_DIR

Needs SLUICE_PG_ADMIN_DSN (scripts/pg_throwaway.sh) and the binaries built
(sluice-coordinator, sluice-upstream-sim, sluice-agent); installs chromium
through scripts/deps.sh when it is missing.
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from sluice_test_support import (Processes, admin_dsn, binaries, create_database,  # noqa: E402
                                 drop_database, fail, free_port, http_get, make_log, psql,
                                 run_main, wait_until)

log = make_log("dashboard_browser_test")


class DevTools:
    """A CDP client over chromium's --remote-debugging-pipe: requests and
    events are JSON messages separated by NUL bytes on fds 3 (in) and 4 (out)."""

    def __init__(self, chromium, user_data_dir, width, height):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # Copies first: a pipe end may itself be fd 3 or 4 (dup2 onto
            # itself would leave it close-on-exec).
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3, inheritable=True)
            os.dup2(w, 4, inheritable=True)

        args = [chromium, "--headless=new", "--remote-debugging-pipe", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--metrics-recording-only", "--mute-audio",
                "--user-data-dir=" + user_data_dir, "--window-size=%d,%d" % (width, height),
                "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # chromium refuses to run as root with its sandbox
        os.makedirs(user_data_dir, exist_ok=True)
        self.log_file = open(os.path.join(os.path.dirname(user_data_dir), "chromium.log"), "wb")
        # close_fds=False: subprocess would close fds 3 and 4 after
        # preexec_fn; Python's own descriptors are close-on-exec anyway.
        self.proc = subprocess.Popen(args, close_fds=False,
                                     preexec_fn=child_fds, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events = []

    def _read_message(self, timeout_s):
        import select
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_chrome], [], [], timeout_s)
            if not ready:
                return None
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                fail("chromium closed the DevTools pipe (see chromium.log)")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout_s=30):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            reply = self._read_message(max(0.05, deadline - time.monotonic()))
            if reply is None:
                break
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    fail("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
        fail("no answer to %s within %d s" % (method, timeout_s))

    def pump(self, seconds):
        """Collects events for `seconds` (real time)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            reply = self._read_message(left)
            if reply and "method" in reply:
                self.events.append(reply)

    def close(self):
        try:
            self.send("Browser.close", timeout_s=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


class Page:
    def __init__(self, devtools, session):
        self.dt = devtools
        self.session = session

    def call(self, method, params=None, timeout_s=30):
        return self.dt.send(method, params, session=self.session, timeout_s=timeout_s)

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            fail("evaluating %s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def problems(self):
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for e in self.dt.events:
            if e.get("sessionId") != self.session:
                continue
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: %s %s" % (d.get("text"), d.get("exception", {}).get("description", "")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append("console.%s: %s" % (p["type"], " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append("log %s: %s %s" % (p["entry"]["level"], p["entry"].get("text"),
                                              p["entry"].get("url", "")))
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                out.append("load failed: %s" % p.get("errorText"))
            elif m == "Network.responseReceived" and p.get("response", {}).get("status", 200) >= 400:
                out.append("HTTP %d: %s" % (p["response"]["status"], p["response"]["url"]))
        return out


def ensure_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    log("chromium is missing: running scripts/deps.sh")
    subprocess.run([os.path.join(ROOT, "scripts", "deps.sh")], check=True,
                   stdin=subprocess.DEVNULL, stdout=sys.stderr)
    path = shutil.which("chromium")
    if not path:
        fail("scripts/deps.sh did not install chromium")
    return path


def chart_points(page):
    return page.eval("Object.fromEntries([...document.querySelectorAll('canvas[data-chart]')]"
                     ".map(c => [c.dataset.chart, Number(c.dataset.points)]))")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the run directory and database")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    bins = binaries(build, ("coordinator", "sim", "agent"))
    admin = admin_dsn()
    chromium = ensure_chromium()

    out_dir = os.path.join(build, "dashboard")
    os.makedirs(out_dir, exist_ok=True)
    run_dir = tempfile.mkdtemp(prefix="sluice-dashboard-")
    db, dsn = create_database(admin, "sluice_dashboard")
    procs = Processes(run_dir)
    devtools = None
    ok = False
    try:
        operator_token = secrets.token_hex(16)
        agent_token = secrets.token_hex(16)
        auth_file = os.path.join(run_dir, "credentials")
        with open(auth_file, "w") as f:
            for name, role, token in (("dash-operator", "operator", operator_token),
                                      ("dash-agent", "agent", agent_token)):
                f.write("%s %s sha256:%s\n" % (name, role, hashlib.sha256(token.encode()).hexdigest()))

        sim_port, grpc_port, ops_port = free_port(), free_port(), free_port()
        procs.start("sim", [bins["sim"], "--port=%d" % sim_port, "--bind=127.0.0.1"])
        wait_until("the simulator", lambda: http_get("http://127.0.0.1:%d/sim/stats" % sim_port)[0] == 200, 30)

        hour = (int(time.time()) // 3600 - 4) * 3600
        coordinator_args = [
            bins["coordinator"], "--listen=127.0.0.1:%d" % grpc_port,
            "--ops_listen=127.0.0.1:%d" % ops_port, "--ops_require_operator",
            "--auth_file=" + auth_file, "--ops_history_interval_ms=500",
            "--jobs_enabled=false", "--poe_streams_enabled=true",
            "--poe_exchange_start_hour=%d" % hour, "--etl_interval_ms=500",
        ]
        helpfull = subprocess.run([bins["coordinator"], "--helpfull"], capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL).stdout
        if "-poe_client_id" in helpfull:
            # The PoE streams authenticate as a GGG OAuth client: the simulator's.
            secret_file = os.path.join(run_dir, "poe_client_secret")
            with open(secret_file, "w") as f:
                f.write("sim-poe-secret")
            coordinator_args += ["--poe_client_id=sim-poe-client",
                                 "--poe_client_secret_file=" + secret_file,
                                 "--poe_token_url=http://127.0.0.1:%d/oauth/token" % sim_port,
                                 "--contact=dashboard@sluice.invalid"]
        procs.start("coordinator", coordinator_args, env={"SLUICE_DSN": dsn})
        ops = "http://127.0.0.1:%d" % ops_port
        wait_until("the coordinator's ops listener", lambda: http_get(ops + "/healthz")[0] == 200, 60)
        procs.start("agent", [
            bins["agent"], "--coordinator=127.0.0.1:%d" % grpc_port, "--workers=2",
            "--agent_id=dashboard-agent", "--upstream_poe=http://127.0.0.1:%d" % sim_port,
            "--upstream_esi=http://127.0.0.1:%d" % sim_port, "--contact=dashboard@sluice.invalid",
        ], env={"SLUICE_AUTH_TOKEN": agent_token})

        # The listener's authorization holds for the page and its API.
        for path in ("/", "/dashboard.js", "/api/ops", "/api/ops/history"):
            status, _ = http_get(ops + path)
            if status != 401:
                fail("%s without a credential answered %d, want 401" % (path, status))
            status, _ = http_get(ops + path, agent_token)
            if status != 401:
                fail("%s with an agent's credential answered %d, want 401" % (path, status))
            status, _ = http_get(ops + path, operator_token)
            if status != 200:
                fail("%s with the operator's credential answered %d, want 200" % (path, status))

        # Rows flowing: the stash stream has committed pages.
        def rows():
            status, body = http_get(ops + "/api/ops", operator_token)
            if status != 200:
                return None
            return sum(c["rows"] for c in json.loads(body)["checkpoints"])
        wait_until("rows ingested from the simulator's PoE streams", lambda: (rows() or 0) > 0, 90)
        procs.check_alive()

        devtools = DevTools(chromium, os.path.join(run_dir, "chromium-profile"), 1440, 1000)
        target = devtools.send("Target.createTarget", {"url": "about:blank"})
        session = devtools.send("Target.attachToTarget", {"targetId": target["targetId"],
                                                          "flatten": True})["sessionId"]
        page = Page(devtools, session)
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.call(domain + ".enable")
        page.call("Network.setExtraHTTPHeaders",
                  {"headers": {"Authorization": "Bearer " + operator_token}})
        page.call("Page.navigate", {"url": ops + "/"})
        wait_until("the page's first snapshot",
                   lambda: page.eval("(document.querySelector('#kpis') || {children: []}).children.length") > 0, 30)
        wait_until("the history's first samples",
                   lambda: page.eval("(window.sluiceDashboard || {samples: 0}).samples") >= 2, 30)
        title = page.eval("document.title")
        if title != "Sluice coordinator":
            fail("title %r" % title)
        css_applied = page.eval("getComputedStyle(document.querySelector('header')).backgroundColor")
        if css_applied in ("rgba(0, 0, 0, 0)", "transparent", None):
            fail("the compiled Tailwind stylesheet is not applied (header background %r)" % css_applied)

        first_samples = page.eval("window.sluiceDashboard.samples")
        first = chart_points(page)
        devtools.pump(4)
        second_samples = page.eval("window.sluiceDashboard.samples")
        second = chart_points(page)
        log("samples %d -> %d; points drawn %s -> %s" % (first_samples, second_samples, first, second))
        if second_samples <= first_samples:
            fail("the page's samples did not grow in 4 s: %d -> %d" % (first_samples, second_samples))
        for chart in ("ingest", "calls", "headroom", "queue"):
            if second.get(chart, 0) <= first.get(chart, 0):
                fail("chart %s did not grow: %s -> %s points" % (chart, first.get(chart), second.get(chart)))

        budgets = page.eval("document.querySelectorAll('#budgets tbody tr').length")
        streams = page.eval("document.querySelector('#streams').innerText")
        if budgets < 1:
            fail("no budget row on the page")
        # Most constrained first: restricted, then exhausted, then by headroom
        # (a budget with no known limit shows "–" and counts as 100%).
        order = page.eval("[...document.querySelectorAll('#budgets tbody tr')].map(r => "
                          "[r.cells[8].innerText.trim(), (h => isNaN(h) ? 100 : h)(parseFloat(r.cells[2].innerText))])")
        rank = {"restricted": 0, "exhausted": 1}
        keys = [(rank.get(state, 2), headroom) for state, headroom in order]
        if keys != sorted(keys):
            fail("budgets are not most constrained first: %s" % order)
        if "poe_stash:pc" not in streams:
            fail("the stash stream is not in the checkpoint panel: %r" % streams[:300])

        # An alert raised now: a stash stream whose cursor last moved 3 minutes
        # ago, never confirmed at the head since; the coordinator's ETL loop
        # finds checkpoint_drift (> 2 min) and records it firing.
        psql(dsn, "INSERT INTO checkpoints (stream, cursor, updated_at, polled_at, head_at, created_at) "
                  "VALUES ('poe_stash:dashtest', '5-5-5', now() - interval '3 minutes', "
                  "now() - interval '3 minutes', now() - interval '4 minutes', now() - interval '1 hour')")
        selector = "[data-alert=\"checkpoint_drift/poe_stash:dashtest\"]"
        wait_until("the checkpoint_drift alert on the page",
                   lambda: (devtools.pump(0.5), page.eval("!!document.querySelector('%s')" % selector))[1], 40)
        alert_text = page.eval("document.querySelector('%s').innerText" % selector)
        log("alert shown: %s" % alert_text.replace("\n", " | "))
        stream_row = page.eval("[...document.querySelectorAll('#streams tr')].map(r => r.innerText)"
                               ".find(t => t.includes('poe_stash:dashtest')) || ''")
        if "checkpoint_drift" not in stream_row:
            fail("the stream's row does not show its firing alert: %r" % stream_row)

        devtools.pump(2)
        problems = page.problems()
        if problems:
            fail("the page reported problems:\n  " + "\n  ".join(problems))

        # A full-page screenshot for a person to judge.
        height = page.eval("Math.ceil(document.documentElement.scrollHeight)")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1440, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
        devtools.pump(2.5)  # the charts redraw at the new size on their next poll
        shot = page.call("Page.captureScreenshot", {"format": "png"}, timeout_s=60)
        png = os.path.join(out_dir, "dashboard.png")
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        problems = page.problems()
        if problems:
            fail("the page reported problems:\n  " + "\n  ".join(problems))
        procs.check_alive()
        log("screenshot: %s" % png)
        ok = True
    finally:
        if devtools:
            devtools.close()
        procs.stop()
        if not ok:
            for name in ("coordinator", "agent", "sim"):
                tail = procs.log_tail(name)
                if tail:
                    log("--- %s.log (tail) ---\n%s" % (name, tail))
        if not args.keep:
            drop_database(admin, db)
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            log("kept %s and database %s" % (run_dir, db))
    log("ok")


if __name__ == "__main__":
    run_main("dashboard_browser_test", main)
