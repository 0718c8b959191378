#!/usr/bin/env python3
"""The README's flag tables, generated from the binaries themselves.

Each binary describes its flags once, in their gflags definitions: `--helpxml`
gives every flag's name, default and help text, `--helpenv` (common/env_flags.cc)
the environment variable that can set it. This script renders one Markdown table
per binary between the README's markers

    <!-- BEGIN flags BINARY ... -->
    <!-- END flags BINARY -->

and, with --check (what CTest's ReadmeFlagTables runs), fails showing the
difference when the README's tables are not what the binaries say, so the
tables cannot drift from the code.

    scripts/flag_tables.py --build-dir=build [--check] [README.md]
"""
import argparse
import difflib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

# (name in the README, path in the build tree)
BINARIES = [
    ("sluice-coordinator", "server/sluice-coordinator"),
    ("sluice-agent", "agent/sluice-agent"),
    ("sluicectl", "client/sluicectl"),
    ("sluice-upstream-sim", "sim/sluice-upstream-sim"),
]
# Flags defined in these folders are the project's; the rest (gflags' own,
# glog's) are documented by those libraries.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_DIRS = ("server/", "agent/", "client/", "common/", "sim/")


def run(binary, flag):
    # Without the caller's environment: every flag may be set from it, and
    # --helpxml would show such a value (a DSN, a token) as the default.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GLOG_minloglevel": "3"}
    # gflags' help flags exit non-zero after printing; the output is what counts.
    out = subprocess.run([binary, flag], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, timeout=60, env=env)
    return out.stdout.decode("utf-8")


def project_flags(binary):
    root = ET.fromstring(run(binary, "--helpxml"))
    flags = []
    for f in root.iter("flag"):
        # __FILE__ as the compiler got it: relative to the build tree when
        # ccache (CCACHE_BASEDIR) rewrote it, else the source's absolute path.
        path = f.findtext("file") or ""
        if os.path.isabs(path):
            path = os.path.relpath(path, ROOT)
            if path.startswith(".."):
                continue  # outside this checkout: a library's flag
        path = os.path.normpath(path).replace("\\", "/")
        path = re.sub(r"^(\.\./)+", "", path)
        if not path.startswith(PROJECT_DIRS):
            continue
        flags.append({
            "name": f.findtext("name"),
            "meaning": f.findtext("meaning") or "",
            "default": f.findtext("default") or "",
            "type": f.findtext("type") or "",
        })
    return sorted(flags, key=lambda f: f["name"])


def env_names(binary):
    names = {}
    for line in run(binary, "--helpenv").splitlines():
        parts = line.split()
        if len(parts) == 2:
            names[parts[0]] = parts[1]
    return names


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def render(name, binary):
    env = env_names(binary)
    rows = ["| flag | env | default | |", "|---|---|---|---|"]
    for f in project_flags(binary):
        default = f["default"]
        if default == "":
            default = "empty"
        else:
            default = "`%s`" % default
        variable = "`%s`" % env[f["name"]] if f["name"] in env else ""
        rows.append("| `--%s` | %s | %s | %s |" % (f["name"], variable, cell(default), cell(f["meaning"])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--check", action="store_true", help="fail if the README differs; change nothing")
    ap.add_argument("readme", nargs="?", default="README.md")
    args = ap.parse_args()

    with open(args.readme, encoding="utf-8") as fh:
        text = fh.read()
    updated = text
    for name, rel in BINARIES:
        binary = os.path.join(args.build_dir, rel)
        if not os.access(binary, os.X_OK):
            sys.exit("flag_tables: %s is not built (%s)" % (name, binary))
        pattern = re.compile(r"(<!-- BEGIN flags %s\b[^\n]*-->\n)(.*?)(<!-- END flags %s -->)"
                             % (re.escape(name), re.escape(name)), re.S)
        m = pattern.search(updated)
        if not m:
            sys.exit("flag_tables: %s has no <!-- BEGIN flags %s ... --> / <!-- END flags %s --> markers"
                     % (args.readme, name, name))
        table = "\n".join(render(name, binary)) + "\n"
        updated = updated[:m.start(2)] + table + updated[m.end(2):]

    if updated == text:
        print("flag_tables: %s matches every binary's flags" % args.readme)
        return 0
    if args.check:
        sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), updated.splitlines(True),
                                                   args.readme, args.readme + " (from the binaries)"))
        print("\nflag_tables: the README's flag tables differ from the binaries' flags; run "
              "scripts/flag_tables.py --build-dir=%s to regenerate them" % args.build_dir)
        return 1
    with open(args.readme, "w", encoding="utf-8") as fh:
        fh.write(updated)
    print("flag_tables: %s updated" % args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
