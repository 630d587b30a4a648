#!/usr/bin/env bash
# clang-tidy (the pinned 14, with the committed .clang-tidy) over the project's C++ sources, or
# over those a change touches: scripts/tidy.sh [--since REV] [FILE...]. Needs a configured
# build/ (compile_commands.json; scripts/build.sh makes it). Prints each finding and a count
# per check; exits 1 when there is any finding.
# A finding in a header is reported once, however many sources include it.
# CI (.ci/run) runs it over the whole tree beside the tests: a translation unit takes 5-10 s of
# CPU (the headers dominate), the tree ~18 CPU-minutes. Before committing, run it
# on what you change: --since main. Intentional exceptions carry NOLINT with the reason.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${ZINFER_BUILD_DIR:-$ROOT/build}"
TIDY=${CLANG_TIDY:-clang-tidy-14}
command -v "$TIDY" > /dev/null || { echo "[tidy] $TIDY not found" >&2; exit 2; }
[ -f "$BUILD/compile_commands.json" ] || { echo "[tidy] no $BUILD/compile_commands.json (run scripts/build.sh)" >&2; exit 2; }

files=()
if [ "${1:-}" = "--since" ]; then
  mapfile -t files < <(git diff --name-only --diff-filter=d "$2" -- '*.cpp' | grep -v '^tests/data/' || true)
  shift 2
fi
files+=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(git ls-files '*.cpp' | grep -v '^tests/data/')
fi
# Only sources the build compiles (compile_commands.json lists them; .cu files are left out:
# clang-tidy does not parse nvcc's flags).
mapfile -t files < <(for f in "${files[@]}"; do
  grep -q "\"file\": \"$ROOT/$f\"" "$BUILD/compile_commands.json" && echo "$f"
done)
[ ${#files[@]} -gt 0 ] || { echo "[tidy] nothing to check"; exit 0; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 1 "$TIDY" -p "$BUILD" --quiet --extra-arg=-Wno-unknown-warning-option \
    2> /dev/null | grep -E 'warning:|error:' | sort -u > "$log" || true
cat "$log"
n=$(wc -l < "$log")
echo "[tidy] ${#files[@]} file(s), $n finding(s)"
if [ "$n" -gt 0 ]; then
  grep -oE '\[[a-z-]+[a-z.-]*\]$' "$log" | sort | uniq -c | sort -rn
  exit 1
fi
