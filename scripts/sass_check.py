#!/usr/bin/env python3
"""SASS check of the CUDA decode kernels: every L2-hinted copy (LDGSTS ... desc[URn]) must read
a descriptor register that its kernel writes.

usage: sass_check.py BINARY [CUOBJDUMP]

Why: ptxas 13.0 emits `LDGSTS.E.BYPASS.128 [R+UR0], desc[UR1][R.64]` with UR0 / UR1 never
written when it folds a hinted copy's shared destination into a uniform base plus an offset (an
illegal instruction at run time). The kernels keep those destinations per thread
(kept_per_thread in attention/cuda/cp_async.cuh); this check names any kernel where the pattern
comes back, before the GPU tests fail with "illegal instruction". Needs cuobjdump and nvdisasm
(CUDA toolkit; the GPU machine's, or pip's nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm).
Exit 1 on a finding.
"""
import os
import re
import shutil
import subprocess
import sys


def main():
    binary = sys.argv[1]
    tool = sys.argv[2] if len(sys.argv) > 2 else shutil.which("cuobjdump")
    if not tool and os.path.exists("/usr/local/cuda/bin/cuobjdump"):
        tool = "/usr/local/cuda/bin/cuobjdump"
    if not tool:
        print("sass_check: cuobjdump not found, skipped")
        return 0
    sass = subprocess.run([tool, "-sass", "-arch", "sm_90a", binary], capture_output=True,
                          text=True, check=True).stdout
    bad = 0
    kernels = re.split(r"\n\s*Function : ", sass)[1:]
    for k in kernels:
        name = k.split("\n", 1)[0].strip()
        # Destination operand of each instruction (after an optional predicate).
        written = set(re.findall(r"\*/\s+(?:@!?U?P\w+\s+)?[A-Z0-9_.]+\s+(UR\d+)", k))
        read = set(re.findall(r"desc\[(UR\d+)\]", k))
        missing = sorted(read - written)
        if missing:
            bad += 1
            print(f"sass_check: {name}: descriptor {', '.join(missing)} never written")
    print(f"sass_check: {len(kernels)} kernels, {bad} with an unwritten descriptor register")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
