#!/usr/bin/env python3
"""Static and rendering checks for the Sluice Helm chart, without helm.

    python3 tests/charts/check_chart.py [charts/sluice]
    python3 tests/charts/check_chart.py charts/sluice --render   # print the rendered manifests

helm is not available where this runs, so this script checks what it can:

Static checks
  * Chart.yaml: apiVersion v2, name (= directory name), SemVer version, appVersion.
  * values.yaml parses to a mapping.
  * Every template: balanced {{ }} delimiters and if/with/range/define ... end blocks; every
    manifest template parses as YAML (duplicate keys are errors) after its actions are replaced by
    placeholders, once keeping the first branch of every if/with/range and once the last.
  * Every .Values.a.b path referenced in a template exists in values.yaml.
  * Every include/template name is defined; every function called is one this script knows
    (Go template built-ins and the Sprig/Helm functions the chart uses).
  * The agents' SLUICE_CONTACT is guarded by `required`.

Rendering checks
  A small interpreter for the Go template subset the chart uses (actions, pipelines, variables,
  if/else if/else, with, range, define/include, whitespace trimming, and the functions listed in
  FUNCS, with Helm's quirks: numbers from values files are float64, comparisons of mixed kinds
  fail, missing keys render empty, toYaml trims the final newline). It renders the chart for a
  set of scenarios, parses every manifest, and asserts what the chart promises (probes, Secrets,
  security context, spreading, hooks, failures with clear messages). It approximates helm; it is
  not helm. `helm lint` and `helm template` remain the real test where helm exists.

Exit status 0 when every check passes, 1 otherwise. Needs python3 and PyYAML (python3-yaml).
"""

import copy
import hashlib
import base64
import decimal
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_chart.py needs PyYAML (Debian: apt-get install python3-yaml)")


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
# Go template lexing and parsing

class TplError(Exception):
    """A template error helm would report (bad syntax, bad call, nil pointer...)."""


class TplFail(TplError):
    """`fail` or `required` was called: rendering stops with the chart's own message."""


def lex(src, name):
    """Splits a template into ('text', s) and ('action', body, line) tokens, applying the
    {{- and -}} whitespace trimming."""
    tokens = []
    pos = 0
    n = len(src)
    while True:
        i = src.find("{{", pos)
        if i < 0:
            tokens.append(["text", src[pos:]])
            break
        tokens.append(["text", src[pos:i]])
        line = src.count("\n", 0, i) + 1
        j = i + 2
        ltrim = False
        if src.startswith("-", j) and j + 1 < n and src[j + 1] in " \t\r\n":
            ltrim = True
            j += 1
        k = j
        while k < n and src[k] in " \t\r\n":
            k += 1
        if src.startswith("/*", k):
            end = src.find("*/", k + 2)
            if end < 0:
                raise TplError("%s:%d: unclosed comment" % (name, line))
            m = end + 2
            rtrim = False
            if src.startswith(" -}}", m):
                rtrim, m = True, m + 4
            elif src.startswith("}}", m):
                m += 2
            else:
                raise TplError("%s:%d: comment not closed by */}}" % (name, line))
            body = None
        else:
            m = j
            quote = None
            while m < n:
                c = src[m]
                if quote:
                    if c == "\\" and quote == '"':
                        m += 2
                        continue
                    if c == quote:
                        quote = None
                elif c in "\"`":
                    quote = c
                elif src.startswith("}}", m):
                    break
                elif c == "\n":
                    raise TplError("%s:%d: action spans lines (keep every {{ }} on one line)"
                                   % (name, line))
                m += 1
            if m >= n:
                raise TplError("%s:%d: unclosed action" % (name, line))
            body = src[j:m]
            rtrim = False
            if re.search(r"[ \t\r\n]-$", body):
                rtrim = True
                body = body[:-1]
            m += 2
        if ltrim:
            tokens[-1][1] = tokens[-1][1].rstrip(" \t\r\n")
        if body is not None:
            tokens.append(["action", body.strip(), line])
        pos = m
        if rtrim:
            while pos < n and src[pos] in " \t\r\n":
                pos += 1
    return tokens


TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<assign>:=|=)
  | (?P<punct>[|(),])
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.X)


def tokenize_action(body, where):
    out = []
    pos = 0
    while pos < len(body):
        m = TOKEN_RE.match(body, pos)
        if not m:
            raise TplError("%s: cannot parse action near %r" % (where, body[pos:pos + 20]))
        pos = m.end()
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "ws":
            continue
        out.append((kind, text))
    return out


def parse_pipeline(toks, where):
    """Returns ('pipe', decl_vars, op, commands); commands are lists of operands."""
    decl, op = [], None
    # Variable declaration: $x := ... or $i, $v := ...
    if toks and toks[0][0] == "var":
        look = 1
        names = [toks[0][1]]
        if len(toks) > 2 and toks[1] == ("punct", ",") and toks[2][0] == "var":
            names.append(toks[2][1])
            look = 3
        if len(toks) > look and toks[look][0] == "assign":
            decl, op = names, toks[look][1]
            toks = toks[look + 1:]
    commands = [[]]
    i = 0

    def operand(i):
        kind, text = toks[i]
        if kind == "punct" and text == "(":
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                if toks[j] == ("punct", "("):
                    depth += 1
                elif toks[j] == ("punct", ")"):
                    depth -= 1
                j += 1
            if depth:
                raise TplError("%s: unbalanced parentheses" % where)
            return ("pipe", parse_pipeline(toks[i + 1:j - 1], where)), j
        if kind == "str":
            return ("lit", json.loads(text)), i + 1
        if kind == "raw":
            return ("lit", text[1:-1]), i + 1
        if kind == "num":
            v = float(text) if re.search(r"[.eE]", text) else int(text)
            return ("lit", v), i + 1
        if kind == "var":
            parts = text.split(".")
            return ("var", parts[0], parts[1:]), i + 1
        if kind == "field":
            return ("field", text.split(".")[1:]), i + 1
        if kind == "dot":
            return ("field", []), i + 1
        if kind == "ident":
            if text in ("true", "false"):
                return ("lit", text == "true"), i + 1
            if text == "nil":
                return ("lit", None), i + 1
            return ("func", text), i + 1
        raise TplError("%s: unexpected %r" % (where, text))

    while i < len(toks):
        if toks[i] == ("punct", "|"):
            if not commands[-1]:
                raise TplError("%s: empty command in pipeline" % where)
            commands.append([])
            i += 1
            continue
        op_, i = operand(i)
        commands[-1].append(op_)
    if not commands[-1]:
        raise TplError("%s: empty pipeline" % where)
    return ("pipe", decl, op, commands)


def parse(tokens, name, defines):
    """Parses lexed tokens into a node list; define blocks go into `defines`."""
    pos = [0]

    def where(tok):
        return "%s:%d" % (name, tok[2])

    def parse_list(stop):
        nodes = []
        while pos[0] < len(tokens):
            tok = tokens[pos[0]]
            pos[0] += 1
            if tok[0] == "text":
                if tok[1]:
                    nodes.append(("text", tok[1]))
                continue
            body = tok[1]
            words = body.split(None, 1)
            head = words[0] if words else ""
            rest = words[1] if len(words) > 1 else ""
            w = where(tok)
            if head in ("end", "else"):
                if head not in stop:
                    raise TplError("%s: unexpected {{ %s }}" % (w, body))
                return nodes, (head, rest, w)
            if head in ("if", "with", "range"):
                pipe = parse_pipeline(tokenize_action(rest, w), w)
                body_nodes, term = parse_list(("end", "else"))
                if head == "if":
                    branches = [(pipe, body_nodes)]
                    else_nodes = []
                    while term[0] == "else":
                        if term[1].startswith("if ") or term[1] == "if":
                            cond = term[1][2:].strip()
                            p2 = parse_pipeline(tokenize_action(cond, term[2]), term[2])
                            b2, term = parse_list(("end", "else"))
                            branches.append((p2, b2))
                        elif term[1]:
                            raise TplError("%s: unsupported {{ else %s }}" % (term[2], term[1]))
                        else:
                            else_nodes, term = parse_list(("end",))
                    nodes.append(("if", branches, else_nodes, w))
                else:
                    else_nodes = []
                    if term[0] == "else":
                        if term[1]:
                            raise TplError("%s: unsupported {{ else %s }}" % (term[2], term[1]))
                        else_nodes, term = parse_list(("end",))
                    nodes.append((head, pipe, body_nodes, else_nodes, w))
                continue
            if head == "define":
                m = re.fullmatch(r'"([^"]+)"', rest.strip())
                if not m:
                    raise TplError("%s: bad define" % w)
                body_nodes, term = parse_list(("end",))
                if m.group(1) in defines:
                    raise TplError("%s: template %r defined twice" % (w, m.group(1)))
                defines[m.group(1)] = body_nodes
                continue
            if head in ("template", "block"):
                raise TplError("%s: use include, not {{ %s }}" % (w, head))
            nodes.append(("action", parse_pipeline(tokenize_action(body, w), w), w))
        if stop:
            raise TplError("%s: missing {{ end }}" % name)
        return nodes, None

    nodes, _ = parse_list(())
    return nodes


# --------------------------------------------------------------------------------------------
# Go values, formatting and comparison

def go_float(f):
    """fmt's %v of a float64 (strconv 'g', shortest): exponent form below 1e-4 and from 1e6,
    so a values-file 1000000 prints as 1e+06, as in helm."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    d = decimal.Decimal(repr(f)).normalize()
    sign, digits, exp = d.as_tuple()
    digits = "".join(map(str, digits))
    x = len(digits) + exp - 1  # decimal exponent of the first digit
    s = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (s, mant, "-" if x < 0 else "+", abs(x))
    return s + format(d.copy_abs(), "f")


def go_str(v):
    """fmt's %v."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, go_str(v[k])) for k in sorted(v)) + "]"
    raise TplError("cannot print %r" % (v,))


def kind(v):
    if v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "slice"
    if isinstance(v, dict):
        return "map"
    return type(v).__name__


def truth(v):
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


def empty(v):
    return not truth(v)


def strval(v):
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    return go_str(v)


def go_quote(s):
    return json.dumps(s, ensure_ascii=False)


def go_printf(fmt, args):
    out = []
    i = 0
    ai = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(fmt):
            raise TplError("printf: trailing %")
        verb = fmt[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            raise TplError("printf %r: missing argument for %%%s" % (fmt, verb))
        a = args[ai]
        ai += 1
        if verb == "s":
            if not isinstance(a, str):
                raise TplError("printf %r: %%s given %s %r (Go prints %%!s(...))" % (fmt, kind(a), a))
            out.append(a)
        elif verb == "d":
            if not isinstance(a, int) or isinstance(a, bool):
                raise TplError("printf %r: %%d given %s %r (Go prints %%!d(...); "
                               "values-file numbers are float64, use int)" % (fmt, kind(a), a))
            out.append(str(a))
        elif verb == "v":
            out.append(go_str(a))
        elif verb == "q":
            out.append(go_quote(strval(a)))
        else:
            raise TplError("printf: verb %%%s not supported here" % verb)
    if ai != len(args):
        raise TplError("printf %r: %d extra argument(s)" % (fmt, len(args) - ai))
    return "".join(out)


def go_compare(name, a, b):
    ka, kb = kind(a), kind(b)
    if name in ("eq", "ne"):
        if ka != kb:
            if a is not None and b is not None:
                raise TplError("%s: incompatible types for comparison (%s, %s: %r, %r); "
                               "values-file numbers are float64, use int" % (name, ka, kb, a, b))
            r = a is None and b is None
        else:
            if ka in ("slice", "map"):
                raise TplError("%s: uncomparable type %s" % (name, ka))
            r = a == b
        return r if name == "eq" else not r
    for k in (ka, kb):
        if k not in ("int", "float", "string"):
            raise TplError("%s: invalid type for comparison: %s" % (name, k))
    if ka != kb:
        raise TplError("%s: incompatible types for comparison (%s, %s: %r, %r); "
                       "values-file numbers are float64, use int" % (name, ka, kb, a, b))
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]


def to_int(v):
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v, 0)
        except ValueError:
            try:
                return int(float(v))
            except ValueError:
                return 0
    return 0


def json_numbers(v):
    """float64 values print as JSON numbers in toYaml: 1.0 -> 1."""
    if isinstance(v, float) and v == int(v) and abs(v) < 1e21:
        return int(v)
    if isinstance(v, list):
        return [json_numbers(x) for x in v]
    if isinstance(v, dict):
        return {k: json_numbers(x) for k, x in v.items()}
    return v


def to_yaml(v):
    return yaml.safe_dump(json_numbers(v), default_flow_style=False, sort_keys=True,
                          allow_unicode=True, width=1 << 30).rstrip("\n")


def sprig_trunc(n, s):
    n = to_int(n)
    if n < 0:
        return s[n:] if len(s) > -n else s
    return s[:n]


def indent(n, s):
    pad = " " * to_int(n)
    return pad + s.replace("\n", "\n" + pad)


def go_print(*args):
    out = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(strval(a) if isinstance(a, str) else go_str(a))
    return "".join(out)


def _required(msg, v):
    if v is None or (isinstance(v, str) and v == ""):
        raise TplFail(msg)
    return v


def _fail(msg):
    raise TplFail(msg)


def _default(d, *given):
    if not given or empty(given[0]):
        return d
    return given[0]


def _dict(*kv):
    if len(kv) % 2:
        raise TplError("dict: odd number of arguments")
    return {strval(kv[i]): kv[i + 1] for i in range(0, len(kv), 2)}


def _s(f):
    """Sprig string functions take strings; anything else is printed first."""
    return lambda *a: f(*[strval(x) for x in a])


FUNCS = {
    # Sprig / Helm
    "default": _default,
    "empty": empty,
    "required": _required,
    "fail": _fail,
    "quote": lambda *a: " ".join(go_quote(strval(x)) for x in a if x is not None),
    "squote": lambda *a: " ".join("'%s'" % strval(x) for x in a if x is not None),
    "toYaml": to_yaml,
    "toJson": lambda v: json.dumps(json_numbers(v), separators=(",", ":"), sort_keys=True),
    "nindent": lambda n, s: "\n" + indent(n, strval(s)),
    "indent": lambda n, s: indent(n, strval(s)),
    "trunc": lambda n, s: sprig_trunc(n, strval(s)),
    "trimSuffix": _s(lambda suf, s: s[:-len(suf)] if suf and s.endswith(suf) else s),
    "trimPrefix": _s(lambda pre, s: s[len(pre):] if pre and s.startswith(pre) else s),
    "trim": _s(lambda s: s.strip()),
    "replace": _s(lambda old, new, s: s.replace(old, new)),
    "lower": _s(lambda s: s.lower()),
    "upper": _s(lambda s: s.upper()),
    "contains": _s(lambda sub, s: sub in s),
    "hasPrefix": _s(lambda pre, s: s.startswith(pre)),
    "hasSuffix": _s(lambda suf, s: s.endswith(suf)),
    "dict": _dict,
    "list": lambda *a: list(a),
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "sha256sum": _s(lambda s: hashlib.sha256(s.encode()).hexdigest()),
    "b64enc": _s(lambda s: base64.b64encode(s.encode()).decode()),
    "toString": strval,
    "int": to_int,
    "int64": to_int,
    "join": lambda sep, l: strval(sep).join(strval(x) for x in (l or [])),
    "ternary": lambda a, b, c: a if truth(c) else b,
    "kindIs": lambda k, v: kind(v) == k,
    # Go text/template built-ins (and/or are special-cased: they short-circuit)
    "printf": lambda fmt, *a: go_printf(fmt, list(a)),
    "print": go_print,
    "not": lambda v: not truth(v),
    "len": lambda v: len(v) if isinstance(v, (str, list, dict)) else _fail_len(v),
    "eq": lambda a, *b: (any(go_compare("eq", a, x) for x in b) if b
                         else _raise("eq: missing argument")),
    "ne": lambda a, b: go_compare("ne", a, b),
    "lt": lambda a, b: go_compare("lt", a, b),
    "le": lambda a, b: go_compare("le", a, b),
    "gt": lambda a, b: go_compare("gt", a, b),
    "ge": lambda a, b: go_compare("ge", a, b),
}
SPECIAL_FUNCS = {"and", "or", "include"}
KNOWN_FUNCS = set(FUNCS) | SPECIAL_FUNCS


def _raise(msg):
    raise TplError(msg)


def _fail_len(v):
    raise TplError("len of %s" % kind(v))


# --------------------------------------------------------------------------------------------
# Evaluation

class Renderer:
    def __init__(self, chart_name, files, defines):
        self.chart_name = chart_name
        self.files = files        # template path -> node list
        self.defines = defines    # define name -> node list
        self.depth = 0

    def render_file(self, path, root):
        return self.exec_nodes(self.files[path], root, root, [{"$": root}])

    def include(self, name, data, root):
        nodes = self.defines.get(name)
        if nodes is None:
            nodes = self.files.get(name)
        if nodes is None:
            raise TplError("include: no template %r" % name)
        self.depth += 1
        if self.depth > 100:
            raise TplError("include: recursion too deep")
        try:
            return self.exec_nodes(nodes, data, root, [{"$": root}])
        finally:
            self.depth -= 1

    def exec_nodes(self, nodes, dot, root, scopes):
        out = []
        for node in nodes:
            t = node[0]
            if t == "text":
                out.append(node[1])
            elif t == "action":
                try:
                    v = self.eval_pipe(node[1], dot, root, scopes)
                except TplFail:
                    raise
                except TplError as e:
                    raise TplError("%s: %s" % (node[2], e))
                if node[1][1]:  # declarations print nothing
                    continue
                out.append("" if v is None else go_str(v))
            elif t == "if":
                _, branches, else_nodes, w = node
                chosen = else_nodes
                for pipe, body in branches:
                    if truth(self.eval_in(pipe, dot, root, scopes, w)):
                        chosen = body
                        break
                out.append(self.exec_nodes(chosen, dot, root, scopes + [{}]))
            elif t == "with":
                _, pipe, body, else_nodes, w = node
                v = self.eval_in(pipe, dot, root, scopes, w)
                if truth(v):
                    out.append(self.exec_nodes(body, v, root, scopes + [{}]))
                else:
                    out.append(self.exec_nodes(else_nodes, dot, root, scopes + [{}]))
            elif t == "range":
                _, pipe, body, else_nodes, w = node
                decl = pipe[1]
                v = self.eval_in(("pipe", [], None, pipe[3]), dot, root, scopes, w)
                if v is None or (isinstance(v, (list, dict)) and not v):
                    out.append(self.exec_nodes(else_nodes, dot, root, scopes + [{}]))
                    continue
                if isinstance(v, dict):
                    items = [(k, v[k]) for k in sorted(v)]
                elif isinstance(v, list):
                    items = list(enumerate(v))
                else:
                    raise TplError("%s: range can't iterate over %r" % (w, v))
                for k, item in items:
                    scope = {}
                    if len(decl) == 1:
                        scope[decl[0]] = item
                    elif len(decl) == 2:
                        scope[decl[0]], scope[decl[1]] = k, item
                    out.append(self.exec_nodes(body, item, root, scopes + [scope]))
            else:
                raise TplError("unknown node %r" % (t,))
        return "".join(out)

    def eval_in(self, pipe, dot, root, scopes, w):
        try:
            return self.eval_pipe(pipe, dot, root, scopes)
        except TplFail:
            raise
        except TplError as e:
            raise TplError("%s: %s" % (w, e))

    def eval_pipe(self, pipe, dot, root, scopes):
        _, decl, op, commands = pipe
        val = None
        for i, cmd in enumerate(commands):
            val = self.eval_command(cmd, dot, root, scopes, val if i else _NOARG)
        if decl:
            if len(decl) != 1:
                raise TplError("only range declares two variables")
            name = decl[0]
            if op == ":=":
                scopes[-1][name] = val
            else:
                for s in reversed(scopes):
                    if name in s:
                        s[name] = val
                        break
                else:
                    raise TplError("undefined variable %s" % name)
        return val

    def eval_command(self, cmd, dot, root, scopes, piped):
        first = cmd[0]
        if first[0] == "func":
            name = first[1]
            args = cmd[1:]
            if name in ("and", "or"):
                vals = args + ([("value", piped)] if piped is not _NOARG else [])
                if not vals:
                    raise TplError("%s: missing arguments" % name)
                v = None
                for a in vals:
                    v = self.eval_operand(a, dot, root, scopes)
                    if (name == "and") != truth(v):
                        return v
                return v
            argv = [self.eval_operand(a, dot, root, scopes) for a in args]
            if piped is not _NOARG:
                argv.append(piped)
            if name == "include":
                if len(argv) != 2 or not isinstance(argv[0], str):
                    raise TplError("include takes a name and a value")
                return self.include(argv[0], argv[1], root)
            f = FUNCS.get(name)
            if f is None:
                raise TplError("function %r not defined" % name)
            try:
                return f(*argv)
            except TypeError as e:
                raise TplError("wrong arguments to %s: %s" % (name, e))
        if len(cmd) > 1 or piped is not _NOARG:
            raise TplError("can't give arguments to a non-function %r" % (first,))
        return self.eval_operand(first, dot, root, scopes)

    def eval_operand(self, op, dot, root, scopes):
        t = op[0]
        if t == "lit" or t == "value":
            return op[1]
        if t == "pipe":
            return self.eval_pipe(op[1], dot, root, scopes + [{}])
        if t == "func":
            return self.eval_command([op], dot, root, scopes, _NOARG)
        if t == "field":
            return self.fields(dot, op[1], ".")
        if t == "var":
            name = op[1]
            for s in reversed(scopes):
                if name in s:
                    return self.fields(s[name], op[2], name)
            raise TplError("undefined variable %s" % name)
        raise TplError("bad operand %r" % (op,))

    @staticmethod
    def fields(v, names, base):
        path = base
        for n in names:
            if isinstance(v, dict):
                v = v.get(n)
            elif v is None:
                raise TplError("nil pointer evaluating interface {}.%s (at %s)" % (n, path))
            else:
                raise TplError("can't evaluate field %s in type %s (at %s)" % (n, kind(v), path))
            path = path.rstrip(".") + "." + n
        return v


_NOARG = object()


# --------------------------------------------------------------------------------------------
# Chart loading

class Chart:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.name = os.path.basename(self.path.rstrip("/"))
        with open(os.path.join(self.path, "Chart.yaml")) as f:
            self.meta = yaml.load(f, Loader=DupKeyLoader)
        with open(os.path.join(self.path, "values.yaml")) as f:
            self.values_text = f.read()
        self.values = yaml.load(self.values_text, Loader=DupKeyLoader)
        self.sources = {}  # "sluice/templates/x.yaml" -> text
        tdir = os.path.join(self.path, "templates")
        for root, _, files in os.walk(tdir):
            for fn in sorted(files):
                full = os.path.join(root, fn)
                rel = os.path.relpath(full, self.path).replace(os.sep, "/")
                with open(full) as f:
                    self.sources["%s/%s" % (self.meta.get("name", self.name), rel)] = f.read()
        self.defines = {}
        self.files = {}
        self.parse_errors = []
        for key in sorted(self.sources):
            try:
                self.files[key] = parse(lex(self.sources[key], key), key, self.defines)
            except TplError as e:
                self.parse_errors.append(str(e))

    def manifest_keys(self):
        return [k for k in sorted(self.files)
                if not os.path.basename(k).startswith("_") and not k.endswith("NOTES.txt")]


def floatify(v):
    """Helm reads values files through JSON: every number becomes a float64."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, list):
        return [floatify(x) for x in v]
    if isinstance(v, dict):
        return {k: floatify(x) for k, x in v.items()}
    return v


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


def set_path(d, dotted, value):
    """--set a.b.c=value (the value keeps its Python type: --set gives int64, not float64)."""
    keys = dotted.split(".")
    out = {}
    cur = out
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    cur[keys[-1]] = value
    return merge(d, out)


def render(chart, values_file=None, sets=None, release="rel", namespace="ns"):
    """Renders every template like `helm template`; returns ({path: text}, notes)."""
    values = floatify(chart.values)
    if values_file:
        values = merge(values, floatify(values_file))
    for k, v in (sets or {}).items():
        values = set_path(values, k, v)
    name = chart.meta["name"]
    root = {
        "Values": values,
        "Chart": {"Name": name, "Version": str(chart.meta["version"]),
                  "AppVersion": str(chart.meta.get("appVersion", "")),
                  "Description": chart.meta.get("description", ""), "Type": "application"},
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm",
                    "IsInstall": True, "IsUpgrade": False, "Revision": 1},
        "Capabilities": {"KubeVersion": {"Version": "v1.29.0", "Major": "1", "Minor": "29"}},
        "Template": {"BasePath": "%s/templates" % name, "Name": ""},
    }
    r = Renderer(name, chart.files, chart.defines)
    out = {}
    for key in chart.manifest_keys():
        root["Template"]["Name"] = key
        out[key] = r.render_file(key, root)
    notes_key = "%s/templates/NOTES.txt" % name
    root["Template"]["Name"] = notes_key
    notes = r.render_file(notes_key, root) if notes_key in chart.files else ""
    return out, notes


def manifests(rendered):
    """Splits rendered files into parsed objects, like Helm's manifest splitting."""
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


def placeholder_variants(src):
    """Renderings of a template with placeholders for its actions: variant i keeps branch
    min(i, n-1) of every if/with/range block with n branches (so every branch is kept in some
    variant). Lines holding only actions disappear; inline actions become a scalar placeholder."""
    lines = src.split("\n")
    acts = [[a for a in re.findall(r"\{\{-?\s*(.*?)\s*-?\}\}", ln) if not a.startswith("/*")]
            for ln in lines]
    # Branch count of the block opened on each line.
    counts, st, widest = {}, [], 1
    for li, line_acts in enumerate(acts):
        for a in line_acts:
            head = (a.split() or [""])[0]
            if head in ("if", "with", "range", "define"):
                st.append([li, 1])
            elif head == "else" and st:
                st[-1][1] += 1
            elif head == "end" and st:
                start, n = st.pop()
                counts[start] = n
                widest = max(widest, n)
    variants = []
    for i in range(widest):
        out, stack, in_comment = [], [], False
        for li, line in enumerate(lines):
            stripped = line.strip()
            if in_comment:
                in_comment = "*/" not in stripped
                continue
            if re.match(r"^\{\{-?\s*/\*", stripped) and "*/" not in stripped:
                in_comment = True
                continue
            for a in acts[li]:
                head = (a.split() or [""])[0]
                if head in ("if", "with", "range", "define"):
                    n = counts.get(li, 1)
                    stack.append({"n": n, "branch": 0, "keep": min(i, n - 1), "define": head == "define"})
                elif head == "else" and stack:
                    stack[-1]["branch"] += 1
                elif head == "end" and stack:
                    stack.pop()
            if re.fullmatch(r"(\{\{.*?\}\}\s*)+", stripped):
                continue
            if all(not b["define"] and b["branch"] == b["keep"] for b in stack):
                out.append(re.sub(r"\{\{.*?\}\}", "TPL", line))
        variants.append("\n".join(out))
    return variants


VALUES_REF = re.compile(r"(?<![A-Za-z0-9_])\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def walk_pipes(nodes):
    """Yields every pipeline in a node list (including nested ones)."""
    for node in nodes:
        t = node[0]
        if t == "action":
            yield node[1]
        elif t == "if":
            for pipe, body in node[1]:
                yield pipe
                yield from walk_pipes(body)
            yield from walk_pipes(node[2])
        elif t in ("with", "range"):
            yield node[1]
            yield from walk_pipes(node[2])
            yield from walk_pipes(node[3])


def walk_commands(pipe):
    for cmd in pipe[3]:
        yield cmd
        for op in cmd:
            if op[0] == "pipe":
                yield from walk_commands(op[1])


def check_templates(chart, rep):
    for e in chart.parse_errors:
        rep.check(False, "template syntax: %s" % e)
    # YAML with placeholders.
    for key in chart.manifest_keys():
        for i, text in enumerate(placeholder_variants(chart.sources[key])):
            try:
                load_all(text)
                rep.check(True, "")
            except yaml.YAMLError as e:
                rep.check(False, "%s (placeholder variant %d) is not valid YAML: %s"
                          % (key, i, str(e).replace("\n", " ")))
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
    # include names and functions.
    for key, nodes in list(chart.files.items()) + [("define " + k, v) for k, v in chart.defines.items()]:
        for pipe in walk_pipes(nodes):
            for cmd in walk_commands(pipe):
                if cmd[0][0] == "func":
                    fname = cmd[0][1]
                    rep.check(fname in KNOWN_FUNCS,
                              "%s: unknown function %r (not in this checker's list: a typo, or "
                              "add it to FUNCS)" % (key, fname))
                    if fname == "include" and len(cmd) > 1 and cmd[1][0] == "lit":
                        rep.check(cmd[1][1] in chart.defines or cmd[1][1] in chart.files,
                                  "%s: include of undefined template %r" % (key, cmd[1][1]))
    # Every define is used.
    all_src = "".join(chart.sources.values())
    for name in chart.defines:
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
        if o.get("kind") in ("Deployment", "Job"):
            pod = tmpl["spec"]
            plabels = tmpl["metadata"]["labels"]
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
    t(cs["replicas"] == 1, "coordinator replicas default 1")
    t(cs.get("strategy", {}).get("type") == "Recreate", "coordinator strategy Recreate")
    t(c["command"] == ["sluice-coordinator"], "coordinator command")
    t(c["image"] == "sluice:%s" % chart.meta["appVersion"], "image defaults to repository:appVersion")
    t(c["ports"] == [{"name": "grpc", "containerPort": 50051, "protocol": "TCP"},
                     {"name": "ops", "containerPort": 9090, "protocol": "TCP"}],
      "coordinator ports: gRPC 50051, ops 9090")
    t(env["SLUICE_OPS_LISTEN"]["value"] == "0.0.0.0:9090", "ops listener on 9090")
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
    t(c["readinessProbe"].get("grpc") == {"port": 50051, "service": "sluice.v1.AgentService"},
      "readiness: grpc probe on sluice.v1.AgentService, got %r" % c["readinessProbe"])
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
    t("ports" not in ac, "agents serve no port")
    t(not any(p in ac for p in ("startupProbe", "readinessProbe", "livenessProbe")), "agents have no probes")
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
    t(not find(objs, "PodDisruptionBudget", component="coordinator"), "no coordinator PDB")

    # NOTES.
    t("grpcurl -plaintext localhost:50051 grpc.health.v1.Health/Check" in notes, "NOTES: grpcurl health check")
    t("port-forward svc/%s-coordinator 50051:50051" % full in notes, "NOTES: port-forward")
    t("sluicectl status" in notes, "NOTES: sluicectl status")
    t("<no value>" not in notes and "%!" not in notes, "NOTES renders cleanly")
    for k, text in rendered.items():
        t("%!" not in text and "<no value>" not in text, "%s renders cleanly" % k)


def expect_fail(chart, t, values, needle, what):
    try:
        render(chart, values)
    except TplFail as e:
        t(needle in str(e), "%s: failure message %r lacks %r" % (what, str(e), needle))
        return str(e)
    t(False, "%s: rendering should fail" % what)
    return None


def scenario_failures(chart, t):
    v = merge(REQUIRED, {"agent": {"contact": ""}})
    msg = expect_fail(chart, t, v, "agent.contact is required", "empty agent.contact")
    if msg:
        t("User-Agent" in msg, "the contact message explains the User-Agent")
    v = copy.deepcopy(REQUIRED)
    del v["agent"]
    expect_fail(chart, t, v, "agent.contact is required", "agent.contact not set")
    v = copy.deepcopy(REQUIRED)
    del v["database"]
    expect_fail(chart, t, v, "database.existingSecret", "no DSN")
    v = copy.deepcopy(REQUIRED)
    del v["auth"]
    expect_fail(chart, t, v, "auth.existingSecret", "no auth token")
    expect_fail(chart, t, merge(REQUIRED, {"tls": {"enabled": True}}), "tls.existingSecret", "TLS without a Secret")
    expect_fail(chart, t, merge(REQUIRED, {"coordinator": {"terminationGracePeriodSeconds": 15}}),
                "terminationGracePeriodSeconds", "grace == drain")
    expect_fail(chart, t, merge(REQUIRED, {"agent": {"terminationGracePeriodSeconds": 10}}),
                "agent.terminationGracePeriodSeconds", "agent grace < drain")
    expect_fail(chart, t, merge(REQUIRED, {"coordinator": {"livenessProbe": {"type": "http"}}}),
                "grpc or tcp", "bad probe type")


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


def scenario_egress_from_the_pod(chart, t):
    objs = manifests(render(chart, merge(REQUIRED, {"agent": {"egressFrom": "hostIP"}}))[0])
    generic_checks(objs, t)
    ae = env_of(container(one(objs, "Deployment", component="agent")))
    t(ae["SLUICE_EGRESS"].get("valueFrom") == {"fieldRef": {"fieldPath": "status.hostIP"}},
      "SLUICE_EGRESS from the node's address")
    objs = manifests(render(chart, REQUIRED)[0])
    ae = env_of(container(one(objs, "Deployment", component="agent")))
    t("SLUICE_EGRESS" not in ae, "no egress by default (agents share the safe 'unknown' budget)")
    expect_fail(chart, t, merge(REQUIRED, {"agent": {"egressFrom": "nodeName"}}),
                "podIP or hostIP", "bad egressFrom")


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
    t(not find(objs, "PodDisruptionBudget"), "one agent: no PDB")
    t(env_of(container(one(objs, "Deployment", component="coordinator")))["SLUICE_MIGRATE"]["value"] == "true",
      "coordinator migrates at start-up")

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
    t(one(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1, "PDB with 5 agents")

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
    t("WARNING: coordinator.replicaCount is 2" in notes, "NOTES warns about several coordinators")
    t(one(objs, "Service")["metadata"]["annotations"] == {"example.org/s": "x"}, "Service annotations")
    jpod = one(objs, "Job")["spec"]["template"]["spec"]
    t(jpod["serviceAccountName"] == "migrator" and jpod["nodeSelector"] == {"pool": "core"}, "Job overrides")

    # Agents off: the contact is not needed.
    v = copy.deepcopy(REQUIRED)
    v["agent"] = {"enabled": False}
    objs = manifests(render(chart, v)[0])
    t(not find(objs, "Deployment", component="agent") and not find(objs, "PodDisruptionBudget"),
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
    # ServiceAccount off.
    v = merge(REQUIRED, {"serviceAccount": {"create": False}})
    objs = manifests(render(chart, v)[0])
    t(not find(objs, "ServiceAccount"), "serviceAccount.create=false")
    t(container(one(objs, "Deployment", component="coordinator")) and
      one(objs, "Deployment", component="coordinator")["spec"]["template"]["spec"]["serviceAccountName"] == "default",
      "serviceAccount.create=false uses default")
    # Long names stay within 63 characters.
    objs = manifests(render(chart, REQUIRED, release="a-very-long-release-name-that-goes-on-and-on-for-ever-x")[0])
    generic_checks(objs, t)


def run_scenarios(chart, rep):
    def t(ok, msg):
        rep.check(bool(ok), "render: " + msg)
    for fn in (scenario_defaults, scenario_failures, scenario_existing_secrets, scenario_tls,
               scenario_egress_from_the_pod, scenario_variants):
        try:
            fn(chart, t)
        except (TplError, AssertionError, KeyError, IndexError, TypeError, yaml.YAMLError) as e:
            rep.check(False, "render: %s stopped: %s: %s" % (fn.__name__, type(e).__name__, e))


# --------------------------------------------------------------------------------------------

def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    path = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "..", "charts", "sluice")
    if "--render" in argv:
        # Prints what this script's renderer makes of the chart with the minimal required
        # values (an approximation of `helm template rel <chart> -n ns --set ...`).
        chart = Chart(path)
        rendered, notes = render(chart, REQUIRED)
        for key, text in rendered.items():
            if text.strip():
                print("---\n# Source: %s%s" % (key, text if text.startswith("\n") else "\n" + text))
        print("--- NOTES.txt\n" + notes)
        return 0
    rep = Report()
    try:
        chart = Chart(path)
    except (OSError, yaml.YAMLError) as e:
        print("FAIL: cannot load chart %s: %s" % (path, e))
        return 1
    check_chart_yaml(chart, rep)
    check_templates(chart, rep)
    if not chart.parse_errors:
        run_scenarios(chart, rep)
    for e in rep.errors:
        print("FAIL:", e)
    print("%s: %d checks passed, %d failed" % (os.path.relpath(chart.path), rep.passed, len(rep.errors)))
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
