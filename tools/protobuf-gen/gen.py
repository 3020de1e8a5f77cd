#!/usr/bin/env python3
"""Writes crates/apimachinery/src/protobuf/messages.txt: the protobuf shape of
every built-in Kubernetes message kaiser decodes, keyed by OpenAPI definition
name, with each field's number, JSON name, kind and zero-value rule.

Two sources, joined by field number:

* the wire shape (field numbers, scalar kinds, message references, repeated,
  maps) comes from the `k8s-pb` crate's prost-generated modules, which are
  compiled from upstream's generated.proto files;
* the JSON shape (JSON name, `omitempty`, Go pointer, `json:",inline"`) comes
  from upstream's Go API type files (types.go and friends), whose struct tags
  read `json:"name,omitempty" protobuf:"bytes,N,..."`.

A field the Go files do not describe (a type file older than the proto) takes
its JSON name from definitions.json and keeps its zero value; the run reports
every such field.

See README.md for how to run it.
"""

import argparse
import glob
import json
import os
import re
import sys

# Packages whose every message is decoded; others only as reachable from these.
ROOT_MODULES = [
    "api/core/v1",
    "api/apps/v1",
    "api/batch/v1",
    "api/autoscaling/v1",
    "api/autoscaling/v2",
    "api/policy/v1",
    "api/rbac/v1",
    "api/networking/v1",
    "api/storage/v1",
    "api/coordination/v1",
    "api/discovery/v1",
    "api/events/v1",
    "api/scheduling/v1",
    "api/node/v1",
    "api/certificates/v1",
    "api/admissionregistration/v1",
    "api/flowcontrol/v1",
    "api/authentication/v1",
    "api/authorization/v1",
    "kube_aggregator/pkg/apis/apiregistration/v1",
    "apiextensions_apiserver/pkg/apis/apiextensions/v1",
    "apimachinery/pkg/apis/meta/v1",
]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"

# Messages whose JSON form is not an object of their fields.
FORMS = {
    META + ".Time": "time",
    META + ".MicroTime": "microtime",
    META + ".Duration": "duration",
    META + ".FieldsV1": "raw",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "raw",
    APIEXT + ".JSON": "raw",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
    APIEXT + ".JSONSchemaPropsOrArray": "or-array",
    APIEXT + ".JSONSchemaPropsOrBool": "or-bool",
    APIEXT + ".JSONSchemaPropsOrStringArray": "or-strings",
}

# Messages not worth carrying: the Table family has no protobuf form upstream
# and runtime.Unknown is the envelope itself.
SKIP = {
    "io.k8s.apimachinery.pkg.runtime.Unknown",
    "io.k8s.apimachinery.pkg.runtime.TypeMeta",
}

SCALARS = {"string", "bytes", "bool", "int32", "int64", "double"}


def module_prefix(module):
    """k8s-pb module path -> OpenAPI definition package."""
    parts = module.split("/")
    parts[0] = parts[0].replace("_", "-")
    return "io.k8s." + ".".join(parts)


def go_prefix(path):
    """Upstream Go package directory -> OpenAPI definition package."""
    i = path.index("k8s.io/")
    rest = os.path.dirname(path[i + len("k8s.io/"):])
    return "io.k8s." + rest.replace("/", ".")


# ---------------------------------------------------------------- k8s-pb ---

PROST = re.compile(r'#\[prost\(([^\]]*)\)\]')
STRUCT = re.compile(r'^pub struct (\w+) \{')


def rust_type_target(module, rtype):
    """The message a prost field type names, as (module, Name), or None."""
    rtype = rtype.replace(" ", "")
    # the last path inside the generics is the message (or a scalar)
    paths = re.findall(r'((?:super::|crate::)*(?:\w+::)*\w+)', rtype)
    skip = {"Option", "Vec", "Box", "String", "BTreeMap", "u8", "i32", "i64",
            "bool", "f64", "core", "prost", "alloc"}
    cands = [p for p in paths if p.split("::")[-1] not in skip
             and not p.startswith("::")]
    if not cands:
        return None
    p = cands[-1]
    segs = p.split("::")
    base = module.split("/")
    while segs and segs[0] == "super":
        base = base[:-1]
        segs = segs[1:]
    if segs and segs[0] == "crate":
        base = []
        segs = segs[1:]
    return ("/".join(base + segs[:-1]), segs[-1])


def parse_k8s_pb(root):
    """{(module, RustName): [field dicts]} for every prost message."""
    messages = {}
    for path in glob.glob(os.path.join(root, "**", "mod.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), root)
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            m = STRUCT.match(lines[i])
            if not m:
                i += 1
                continue
            name = m.group(1)
            fields = []
            i += 1
            if lines[i - 1].rstrip().endswith("{}"):
                messages[(module, name)] = fields
                continue
            while i < len(lines) and lines[i] != "}":
                pm = PROST.search(lines[i])
                if pm:
                    attrs = pm.group(1)
                    # the field declaration may span lines up to the comma
                    decl = ""
                    i += 1
                    while True:
                        decl += lines[i].strip()
                        if decl.endswith(",") and decl.count("<") == decl.count(">"):
                            break
                        i += 1
                    fname, rtype = decl[len("pub "):-1].split(":", 1)
                    fields.append(prost_field(module, attrs, fname, rtype))
                i += 1
            messages[(module, name)] = fields
    return messages


def prost_field(module, attrs, fname, rtype):
    tag = int(re.search(r'tag = "(\d+)"', attrs).group(1))
    f = {"number": tag, "rust": fname.strip().removeprefix("r#"),
         "card": "single", "kind": None, "target": None}
    mm = re.match(r'btree_map = "string, (\w+)"', attrs)
    if mm:
        f["card"] = "map"
        val = mm.group(1)
        if val == "message":
            f["kind"] = "message"
            f["target"] = rust_type_target(module, rtype.split(",", 1)[1])
        else:
            f["kind"] = val
        return f
    kind = attrs.split(",")[0].strip()
    if kind.startswith("bytes"):
        kind = "bytes"
    if kind not in SCALARS | {"message"}:
        raise SystemExit(f"unsupported prost kind {attrs!r} in {module}")
    f["kind"] = kind
    if ", repeated" in attrs:
        f["card"] = "repeated"
    if kind == "message":
        f["target"] = rust_type_target(module, rtype)
    return f


# -------------------------------------------------------------------- Go ---

GO_STRUCT = re.compile(r'^type (\w+) struct \{')
GO_NAMED = re.compile(r'^type (\w+) (\[\]|map\[)')
GO_FIELD = re.compile(r'^\s*(?:(\w+)\s+)?(\*?[\w.\[\]*]+)\s+`([^`]*)`')


def parse_go(paths):
    """{(defprefix, GoName): {number: field}} and the named slice types."""
    structs, slices = {}, set()
    for path in paths:
        prefix = go_prefix(path)
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            nm = GO_NAMED.match(line)
            if nm and nm.group(2) == "[]":
                slices.add((prefix, nm.group(1)))
            m = GO_STRUCT.match(line)
            if not m:
                i += 1
                continue
            fields = {}
            i += 1
            while i < len(lines) and not lines[i].startswith("}"):
                fm = GO_FIELD.match(lines[i])
                if fm and not lines[i].lstrip().startswith("//"):
                    go_field(fields, fm)
                i += 1
            structs[(prefix, m.group(1))] = fields
    return structs, slices


def go_field(fields, fm):
    name, gotype, tag = fm.groups()
    pb = re.search(r'protobuf:"([^"]*)"', tag)
    if not pb or pb.group(1) == "-":
        return
    parts = pb.group(1).split(",")
    number = int(parts[1])
    js = re.search(r'json:"([^"]*)"', tag)
    jparts = (js.group(1) if js else "").split(",")
    jname = jparts[0]
    # an embedded struct without a JSON name has its fields promoted
    inline = name is None and jname == ""
    if not jname and not inline:
        # no json tag: encoding/json uses the Go field name
        jname = name or gotype.split(".")[-1].lstrip("*")
    fields[number] = {
        "json": jname,
        "omitempty": "omitempty" in jparts[1:],
        "pointer": gotype.startswith("*"),
        "inline": inline,
    }


# ---------------------------------------------------------- definitions ---

def snake(name):
    """prost's (heck's) snake_case, to match JSON names to prost names."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper():
            prev = name[i - 1] if i else ""
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if i and (prev.islower() or prev.isdigit() or (nxt.islower() and prev.isupper())):
                out.append("_")
            out.append(ch.lower())
        elif ch in "-$":
            if out and out[-1] != "_":
                out.append("_")
        else:
            out.append(ch)
    return "".join(out).strip("_")


def camel(rust):
    head, *rest = rust.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


# ------------------------------------------------------------------ main ---

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s-pb", required=True, help="k8s-pb crate src/ directory")
    ap.add_argument("--go", required=True, help="directory holding staging/src/k8s.io/...")
    ap.add_argument("--definitions", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    pb = parse_k8s_pb(args.k8s_pb)
    go_files = sorted(glob.glob(os.path.join(args.go, "**", "*.go"), recursive=True))
    structs, slices = parse_go(go_files)
    defs = json.load(open(args.definitions, encoding="utf-8"))

    # canonical names: Go's spelling, else the OpenAPI definition's, else prost's
    by_lower = {}
    for (prefix, name) in list(structs) + list(slices):
        by_lower.setdefault((prefix, name.lower()), prefix + "." + name)
    for d in defs:
        prefix, name = d.rsplit(".", 1)
        by_lower.setdefault((prefix, name.lower()), d)

    def canonical(module, rust_name):
        prefix = module_prefix(module)
        return by_lower.get((prefix, rust_name.lower()), prefix + "." + rust_name)

    # reachable set
    todo = [(m, n) for (m, n) in pb if m in ROOT_MODULES]
    seen = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        for f in pb[key]:
            if f["target"]:
                if f["target"] not in pb:
                    raise SystemExit(f"unresolved {f['target']} from {key}")
                todo.append(f["target"])

    notes = []
    out_msgs = {}
    for key in seen:
        full = canonical(*key)
        if full in SKIP:
            continue
        prefix, short = full.rsplit(".", 1)
        form = FORMS.get(full)
        if (prefix, short) in slices:
            form = "items"
        go = structs.get((prefix, short))
        props = defs.get(full, {}).get("properties", {})
        required = set(defs.get(full, {}).get("required", []))
        by_snake = {snake(p): p for p in props}
        fields = []
        for f in sorted(pb[key], key=lambda f: f["number"]):
            kind = f["kind"]
            if form == "raw" and kind == "bytes":
                kind = "json"
            if kind == "message":
                kind = canonical(*f["target"])
            entry = {"number": f["number"], "kind": kind, "card": f["card"],
                     "keep": True, "inline": False}
            g = go.get(f["number"]) if go else None
            if form:
                # rendered by the runtime from field numbers; names are labels
                entry["name"] = camel(f["rust"])
            elif g:
                entry["name"] = g["json"] or "-"
                entry["inline"] = g["inline"]
                entry["keep"] = g["pointer"] or not g["omitempty"]
                if props and not g["inline"] and g["json"] not in props:
                    notes.append(f"{full}.{g['json']}: not in definitions.json")
            else:
                # Newer than the Go files at hand: optional scalars added
                # lately are pointers (zero kept), except strings, which
                # are kept only when the schema requires them.
                jname = by_snake.get(f["rust"], camel(f["rust"]))
                entry["name"] = jname
                entry["keep"] = f["kind"] != "string" or jname in required
                rule = "zero kept" if entry["keep"] else "zero dropped"
                notes.append(f"{full} field {f['number']} ({jname}): no Go facts, {rule}")
            fields.append(entry)
        out_msgs[full] = (form, fields)

    write(args.out, out_msgs)
    for n in sorted(notes):
        print(n, file=sys.stderr)
    print(f"{len(out_msgs)} messages, {sum(len(f) for _, f in out_msgs.values())} fields; "
          f"{len(notes)} notes", file=sys.stderr)


def write(path, msgs):
    lines = [
        "# Protobuf shape of kaiser's built-in messages, by OpenAPI definition name.",
        "# Written by tools/protobuf-gen/gen.py; do not edit by hand.",
        "# message <definition> [form]",
        "# <number> <json name, - when inlined> <kind> [keep] [inline]",
        "#   kind: string bytes bool int32 int64 double json | <definition>;",
        "#   []kind repeated, {}kind map from string; keep: zero value kept.",
    ]
    for name in sorted(msgs):
        form, fields = msgs[name]
        lines.append(f"message {name}" + (f" {form}" if form else ""))
        for f in fields:
            kind = f["kind"]
            if f["card"] == "repeated":
                kind = "[]" + kind
            elif f["card"] == "map":
                kind = "{}" + kind
            flags = (" keep" if f["keep"] else "") + (" inline" if f["inline"] else "")
            lines.append(f"{f['number']} {f['name']} {kind}{flags}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
