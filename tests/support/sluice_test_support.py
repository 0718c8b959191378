"""Helpers shared by the Python process tests (tests/server/ops/dashboard_browser_test.py,
metrics_live_test.py): real sluice processes, a throwaway PostgreSQL database, HTTP and polling.

    sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
    from sluice_test_support import ...

A failed check raises AssertionError (fail); run_main turns it into exit status 1 with the
message, so ctest shows why.
"""
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Where each binary is in a build tree.
BINARIES = {
    "coordinator": ("server", "sluice-coordinator"),
    "agent": ("agent", "sluice-agent"),
    "sim": ("sim", "sluice-upstream-sim"),
    "sluicectl": ("client", "sluicectl"),
}


def fail(msg):
    raise AssertionError(msg)


def make_log(test_name):
    """A log function whose lines start with the test's name."""
    def log(msg):
        print("%s: %s" % (test_name, msg), flush=True)
    return log


def run_main(test_name, main):
    """Runs main(); a failed check exits 1, naming it."""
    try:
        main()
    except AssertionError as e:
        print("%s: FAILED: %s" % (test_name, e), file=sys.stderr)
        sys.exit(1)


def binaries(build_dir, names):
    """Paths of the named binaries (keys of BINARIES) in build_dir; fails naming any not built."""
    out = {}
    for name in names:
        sub, exe = BINARIES[name]
        path = os.path.join(build_dir, sub, exe)
        if not os.access(path, os.X_OK):
            fail("%s is not built: %s (scripts/build.sh %s)" % (name, path, exe))
        out[name] = path
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout_s, interval_s=0.2):
    """Polls predicate until it answers something true, and returns that; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    fail("timed out after %.0f s waiting for %s (last: %r)" % (timeout_s, what, last))


def http_get(url, token=None, timeout=5):
    """(status, body bytes); status 0 when nothing answered. token: a Bearer credential."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def http_text(url, token=None, timeout=5):
    """http_get with the body as text."""
    status, body = http_get(url, token, timeout)
    return status, body.decode()


def psql(dsn, sql):
    out = subprocess.run(["psql", dsn, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        fail("psql failed: %s\n%s" % (sql, out.stderr))
    return out.stdout.strip()


def dsn_with_db(dsn, db):
    if re.search(r"\bdbname=\S+", dsn):
        return re.sub(r"\bdbname=\S+", "dbname=" + db, dsn)
    return dsn + " dbname=" + db


def admin_dsn():
    """The throwaway server's admin DSN (scripts/pg_throwaway.sh)."""
    dsn = os.environ.get("SLUICE_PG_ADMIN_DSN")
    if not dsn:
        fail("SLUICE_PG_ADMIN_DSN is not set (eval \"$(scripts/pg_throwaway.sh start)\")")
    return dsn


def create_database(admin, prefix):
    """A new empty database: (its name, a DSN for it)."""
    db = "%s_%d_%s" % (prefix, os.getpid(), secrets.token_hex(3))
    psql(admin, "CREATE DATABASE %s" % db)
    return db, dsn_with_db(admin, db)


def drop_database(admin, db):
    psql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)


class Processes:
    """Child processes of a test, each logging to run_dir/<name>.log; stopped (SIGTERM, then
    SIGKILL after 20 s) in reverse order."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.procs = []

    def start(self, name, args, env=None):
        out = open(os.path.join(self.run_dir, name + ".log"), "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=full_env)
        self.procs.append((name, p, out))
        return p

    def check_alive(self):
        for name, p, _ in self.procs:
            if p.poll() is not None:
                fail("%s exited with %s (log: %s/%s.log)" % (name, p.returncode, self.run_dir, name))

    def log_tail(self, name, max_bytes=3000):
        """The end of a process's log ('' if it has none)."""
        path = os.path.join(self.run_dir, name + ".log")
        if not os.path.exists(path):
            return ""
        with open(path, "rb") as f:
            return f.read()[-max_bytes:].decode(errors="replace")

    def stop(self):
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p, out in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            out.close()
