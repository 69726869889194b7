#!/usr/bin/env python3
"""Checks every #include under src/ against the layer table of ../shared/DESIGN.md §1.

A layer's code may include its own headers, core's, and those of the layers it may use; the
attention layer sees only the kv layer's plain views. Tests (*_test.cc), test helpers (testing/)
and example programs (examples/) may also include any layer below their own. Run by CTest
(test `layering`); prints each violation as file:line and exits 1 if there is any.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")

# Layer -> layers its code may include (besides itself and core).
MAY_USE = {
    "core": set(),
    "kv": set(),
    "attention": {"kv:views"},
    "tokenizer": set(),
    "model": {"kv", "attention"},
    "engine": {"kv", "attention", "model", "tokenizer"},
    "cli": {"engine", "tokenizer", "server"},
    "server": {"engine", "tokenizer"},
}
KV_VIEWS = {"kv/kv_view.h", "kv/page_list.h", "kv/attention_rule.h"}
RANK = {"core": 0, "kv": 1, "attention": 2, "tokenizer": 2, "model": 3, "engine": 4, "server": 5,
        "cli": 6}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')


def is_test_code(path):
    parts = path.split(os.sep)
    return path.endswith("_test.cc") or "testing" in parts or "examples" in parts


def allowed(layer, header, test_code):
    target = header.split("/")[0]
    if target in (layer, "core"):
        return True
    if test_code and RANK.get(target, 99) < RANK[layer]:
        return True
    rules = MAY_USE[layer]
    return target in rules or ("kv:views" in rules and header in KV_VIEWS)


def main():
    errors = []
    for layer in sorted(os.listdir(SRC)):
        if not os.path.isdir(os.path.join(SRC, layer)):
            continue
        if layer not in MAY_USE:
            errors.append(f"src/{layer}: not a layer of DESIGN.md §1 (add it to {__file__})")
            continue
        for dirpath, _, files in os.walk(os.path.join(SRC, layer)):
            for name in files:
                if not name.endswith((".h", ".cc", ".cu", ".cuh")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT)
                test_code = is_test_code(os.path.relpath(path, SRC))
                with open(path, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and not allowed(layer, f"{m.group(1)}/{m.group(2)}", test_code):
                            errors.append(f"{rel}:{lineno}: layer '{layer}' may not include "
                                          f"\"{m.group(1)}/{m.group(2)}\"")
    for e in errors:
        print(e)
    print(f"check_layers: {len(errors)} violation(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
