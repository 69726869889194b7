#!/usr/bin/env bash
# Rebuilds BENCHMARKS.md from the sections kept in docs/benchmarks/ (headings demoted one level).
# Run after updating any of them. (Lab notes of the GPU kernel work live in dev/, not here.)
set -euo pipefail
cd "$(dirname "$0")/.."
sections=(cpu_decode prefix_cache engine gpu_decode gpu_model tokenizer cpu_model)
{
  echo "# Benchmarks"
  echo
  echo "Each section is kept in docs/benchmarks/ and copied here by scripts/assemble_benchmarks.sh;" \
       "every figure names its machine or card and is a ratio to a baseline measured in the same run."
  echo
  for i in "${!sections[@]}"; do
    [ "$i" -gt 0 ] && echo
    sed 's/^#/##/' "docs/benchmarks/${sections[$i]}.md"
  done
} > BENCHMARKS.md
