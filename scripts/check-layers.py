#!/usr/bin/env python3
"""Checks the layer rules of DESIGN.md mechanically; exits non-zero on a breach.

1. Crates: every workspace crate may depend (in [dependencies]) only on crates
   strictly below it in LAYERS. Nothing sideways, nothing upward.
2. Modules: inside each crate root (lib.rs / main.rs), the graph of references
   between sibling modules (`crate::a::…`, `super::b::…`, `use crate::{a, b}`)
   has no cycle: at the top level, and among the children of every directory
   module. A child naming its parent (or the parent its child) is not an edge:
   that is how Rust modules are written.
3. No crate above `conn` names a `kafka_protocol` item in its sources.

Usage: scripts/check-layers.py [--verbose]
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lower index = lower layer. Crates on one line are siblings (may not import each other).
LAYERS = [
    ["kwire-proto"],
    ["kwire-conn"],
    ["kwire-meta"],
    ["kwire-fetch", "kwire-produce"],
    ["kwire-group"],
    ["kwire-stream"],
    ["kwire-cli", "kwire"],
]
LEVEL = {c: i for i, row in enumerate(LAYERS) for c in row}
DIRS = {
    "kwire-proto": "crates/proto",
    "kwire-conn": "crates/conn",
    "kwire-meta": "crates/meta",
    "kwire-fetch": "crates/fetch",
    "kwire-produce": "crates/produce",
    "kwire-group": "crates/group",
    "kwire-stream": "crates/stream",
    "kwire-cli": "crates/cli",
    "kwire": "crates/kwire",
}
NO_WIRE_TYPES = ["kwire-meta", "kwire-fetch", "kwire-produce", "kwire-group", "kwire-stream", "kwire-cli"]

errors = []
verbose = "--verbose" in sys.argv


def deps_of(crate):
    """Workspace crates named in [dependencies] (not dev-dependencies)."""
    path = os.path.join(ROOT, DIRS[crate], "Cargo.toml")
    section = None
    out = set()
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("["):
                section = s.strip("[]")
                continue
            if section == "dependencies":
                m = re.match(r"([A-Za-z0-9_-]+)\s*[.=]", s)
                if m and m.group(1) in LEVEL:
                    out.add(m.group(1))
    return out


for crate in DIRS:
    for d in sorted(deps_of(crate)):
        if LEVEL[d] >= LEVEL[crate]:
            how = "sideways" if LEVEL[d] == LEVEL[crate] else "upward"
            errors.append(f"{crate} depends on {d} ({how}; DESIGN.md: dependencies point down only)")


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def module_files(root_file):
    """{module path tuple: file} for every module reachable by `mod x;` from a crate root."""
    mods = {(): root_file}
    todo = [()]
    while todo:
        path = todo.pop()
        f = mods[path]
        base = os.path.dirname(f)
        name = os.path.basename(f)
        if name not in ("lib.rs", "main.rs", "mod.rs"):
            base = os.path.join(base, name[:-3])
        with open(f) as fh:
            src = strip_comments(fh.read())
        for m in re.finditer(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", src, flags=re.M):
            child = m.group(1)
            for cand in (os.path.join(base, child + ".rs"), os.path.join(base, child, "mod.rs")):
                if os.path.exists(cand):
                    mods[path + (child,)] = cand
                    todo.append(path + (child,))
                    break
    return mods


def brace_heads(text):
    """First identifier of each comma-separated item at depth 0 of a `{…}` group."""
    heads, depth, cur = [], 0, ""
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            heads.append(cur)
            cur = ""
            continue
        if depth == 0:
            cur += ch
    heads.append(cur)
    out = []
    for h in heads:
        m = re.match(r"\s*(\w+)", h)
        if m:
            out.append(m.group(1))
    return out


def references(path, src, mods):
    """Absolute module paths (tuples) that the module at `path` names."""
    refs = set()
    for m in re.finditer(r"\b(crate|super|self)((?:::super)*)::(\{)?", src):
        kind, supers, brace = m.group(1), m.group(2), m.group(3)
        if kind == "crate":
            base = ()
        else:
            # `super` inside a mod.rs/plain file refers to the parent of `path`.
            up = (1 if kind == "super" else 0) + supers.count("super")
            if up > len(path):
                continue
            base = path[: len(path) - up]
        rest = src[m.end():]
        if brace:
            firsts = brace_heads(rest)
        else:
            mm = re.match(r"(\w+(?:::\w+)*)", rest)
            firsts = [mm.group(1)] if mm else []
        for first in firsts:
            parts = first.split("::") if not brace else [first]
            target = base
            for p in parts:
                if target + (p,) in mods:
                    target = target + (p,)
                else:
                    break
            refs.add(target)
    return refs


def find_cycle(nodes, edges):
    color = {n: 0 for n in nodes}
    stack = []

    def dfs(n):
        color[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if color[m] == 1:
                return stack[stack.index(m):] + [m]
            if color[m] == 0:
                c = dfs(m)
                if c:
                    return c
        stack.pop()
        color[n] = 2
        return None

    for n in sorted(nodes):
        if color[n] == 0:
            c = dfs(n)
            if c:
                return c
    return None


def check_crate(crate):
    src_dir = os.path.join(ROOT, DIRS[crate], "src")
    for root_name in ("lib.rs", "main.rs"):
        root_file = os.path.join(src_dir, root_name)
        if not os.path.exists(root_file):
            continue
        mods = module_files(root_file)
        # edges between siblings: for each referencing module and target, lift both to
        # their children of the deepest common ancestor.
        sib_edges = {}
        for path, f in mods.items():
            with open(f) as fh:
                src = strip_comments(fh.read())
            for t in references(path, src, mods):
                k = 0
                while k < min(len(path), len(t)) and path[k] == t[k]:
                    k += 1
                if k == len(path) or k == len(t):
                    continue  # ancestor/descendant: not a sibling edge
                parent = path[:k]
                a, b = path[k], t[k]
                sib_edges.setdefault(parent, {}).setdefault(a, set()).add(b)
        for parent, edges in sib_edges.items():
            nodes = set(edges) | {b for bs in edges.values() for b in bs}
            cyc = find_cycle(nodes, edges)
            where = "::".join(parent) or "crate root"
            if cyc:
                errors.append(
                    f"{crate} ({root_name}): import cycle among the modules of {where}: {' -> '.join(cyc)}"
                )
            elif verbose:
                print(f"ok {crate} ({root_name}) {where}: {len(nodes)} modules, no cycle")


for crate in DIRS:
    check_crate(crate)

for crate in NO_WIRE_TYPES:
    src_dir = os.path.join(ROOT, DIRS[crate], "src")
    for dp, _, fs in os.walk(src_dir):
        for fn in fs:
            if fn.endswith(".rs"):
                p = os.path.join(dp, fn)
                with open(p) as fh:
                    for i, line in enumerate(fh, 1):
                        if "kafka_protocol" in line:
                            errors.append(f"{os.path.relpath(p, ROOT)}:{i}: names kafka_protocol above conn")

for e in errors:
    print("check-layers: " + e, file=sys.stderr)
if errors:
    sys.exit(1)
print(f"check-layers: {len(DIRS)} crates, dependencies point down, no module import cycle, "
      f"no kafka_protocol above conn")
