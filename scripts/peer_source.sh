#!/usr/bin/env bash
# Fetches the pinned llama.cpp source (the one vendored by the llama-cpp-python source
# release) where PyPI is reachable and packs what building llama-bench and
# llama-batched-bench with CUDA needs into <repo>/.peer/llama.cpp-src.tar.gz (~6 MB; the
# 76 MB release is mostly models, docs and other backends). scripts/bench_peer.sh unpacks
# it on the GPU host, which needs no network.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
OUT="$ROOT/.peer"
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download -q --no-binary :all: --no-deps "llama-cpp-python==$VERSION" -d "$TMP"
tar xzf "$TMP"/llama_cpp_python-"$VERSION".tar.gz -C "$TMP"
SRC="$TMP/llama_cpp_python-$VERSION/vendor/llama.cpp"
cd "$SRC"
rm -rf docs models media benches gguf-py conversion scripts examples tests pocs skills tools/ui \
  tools/server/public*
for d in ggml/src/ggml-*/; do
  case "$d" in ggml/src/ggml-cuda/ | ggml/src/ggml-cpu/) ;; *) rm -rf "$d" ;; esac
done
echo "$VERSION" > LLAMA_CPP_PYTHON_VERSION
tar czf "$OUT/llama.cpp-src.tar.gz" -C "$SRC/.." llama.cpp
ls -la "$OUT/llama.cpp-src.tar.gz"
