#!/usr/bin/env bash
# check_format.sh [--fix]: every C++ / CUDA source of the project formatted by clang-format with
# the repository's .clang-format (run as the CTest test `format`; --fix rewrites the files).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -- 'src/*.h' 'src/*.cc' 'src/*.cu' 'src/*.cuh' 'bench/*.cc' 'bench/*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2> /tmp/pagedkv_format.$$; then
  grep -E "^[^ ].*: (warning|error):" /tmp/pagedkv_format.$$ | cut -d: -f1 | sort -u | \
    sed 's/^/needs clang-format: /'
  rm -f /tmp/pagedkv_format.$$
  echo "run: bash scripts/check_format.sh --fix"
  exit 1
fi
rm -f /tmp/pagedkv_format.$$
echo "format: ${#files[@]} files clean"
