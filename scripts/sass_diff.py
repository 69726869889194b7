#!/usr/bin/env python3
"""SASS comparison of two builds of the CUDA kernels, per kernel name: a refactor that must not
change generated code (moving code between files, splitting translation units) is checked by
showing every kernel's sm_90a SASS (instructions and encodings) and resource usage identical.

usage: sass_diff.py BEFORE AFTER     (each: a binary, or several joined by commas)

e.g. for the decode and kv kernels of two gpu_check builds:
  sass_diff.py B/attention/cuda/libpagedkv_cuda_capi.so,B/kv/cuda/kv_cuda_test \\
               A/attention/cuda/libpagedkv_cuda_capi.so,A/kv/cuda/kv_cuda_test
Kernels are matched by mangled name, whatever file or order they come from; the hash that names
an anonymous namespace (it depends on the source path) is ignored. Needs cuobjdump and nvdisasm
(see sass_check.py). Exit 1 when any kernel differs or exists on one side only.
"""
import os
import re
import shutil
import subprocess
import sys


def tool():
    t = shutil.which("cuobjdump") or "/usr/local/cuda/bin/cuobjdump"
    if not os.path.exists(t):
        sys.exit("sass_diff: cuobjdump not found")
    return t


def norm(name):
    return re.sub(r"_GLOBAL__N__[0-9a-f]+_", "_GLOBAL__N__", name.strip().rstrip(":"))


def kernels(binaries):
    """{kernel name: (SASS text, resource usage line)} over all binaries."""
    out = {}
    for b in binaries.split(","):
        sass = subprocess.run([tool(), "-sass", "-arch", "sm_90a", b], capture_output=True,
                              text=True, check=True).stdout
        res = subprocess.run([tool(), "-res-usage", "-arch", "sm_90a", b], capture_output=True,
                             text=True, check=True).stdout.split("\n")
        usage = {norm(l.strip()[len("Function "):]): res[i + 1].strip()
                 for i, l in enumerate(res) if l.strip().startswith("Function ")}
        for k in re.split(r"\n\s*Function : ", sass)[1:]:
            name, body = k.split("\n", 1)
            body = re.split(r"\n\s*\.{10,}", body)[0].rstrip()  # up to the end-of-function dots
            name = norm(name)
            entry = (body, usage.get(name, "?"))
            if out.get(name, entry) != entry:
                sys.exit(f"sass_diff: {name} differs between binaries of one build")
            out[name] = entry
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = kernels(sys.argv[1]), kernels(sys.argv[2])
    bad = 0
    for name in sorted(set(a) | set(b)):
        if name not in b or name not in a:
            print(f"only {'before' if name in a else 'after'}: {name}")
            bad += 1
        elif a[name] != b[name]:
            what = "SASS" if a[name][0] != b[name][0] else "resource usage"
            print(f"{what} differs: {name}")
            bad += 1
    same = len(set(a) & set(b)) - sum(1 for n in set(a) & set(b) if a[n] != b[n])
    instrs = sum(len(re.findall(r"/\*[0-9a-f]{4,}\*/", a[n][0])) for n in set(a) & set(b))
    print(f"sass_diff: {len(a)} kernels before, {len(b)} after, {same} identical "
          f"(SASS and resource usage, {instrs} instructions), {bad} differ or unmatched")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
