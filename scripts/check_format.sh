#!/usr/bin/env bash
# Fails when a C++/CUDA source differs from what the committed .clang-format makes of it, with
# the pinned clang-format (14, Debian 12's; other versions format differently). With --fix it
# rewrites the files instead. Test data under tests/data/ is left alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CF=${CLANG_FORMAT:-clang-format-14}
command -v "$CF" > /dev/null || { echo "[format] $CF not found (scripts/setup.sh installs it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | grep -v '^tests/data/')
if [ "${1:-}" = "--fix" ]; then
  "$CF" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$CF" --dry-run --Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "[format] ${#bad[@]} file(s) differ from $CF's formatting (fix: scripts/check_format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "[format] ${#files[@]} files formatted"
