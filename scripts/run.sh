#!/usr/bin/env bash
# run.sh [pagedkv args...]: install missing packages, build, run the CLI (default: the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh build
if (($#)); then exec build/pagedkv "$@"; else exec build/pagedkv demo; fi
