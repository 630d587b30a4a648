#!/usr/bin/env bash
# Installs everything zinfer needs on a fresh Debian 12 machine (build tools, libraries,
# the Python packages the reference tests use). Idempotent; run as root or with sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PKGS=(build-essential cmake pkg-config git python3 python3-pip unzip clang clang-format-14
      libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev
      libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
      prometheus-cpp-dev  # serve --metrics (Prometheus exposition through prometheus-cpp's civetweb)
      util-linux          # `script`: the submit progress test runs zinfer on a pseudo-terminal
      )
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --deploy: the tools deploy/validate.sh checks the deployment files with (promtool from
# Debian's prometheus; kubectl from kubernetes-client unless a kubectl is already installed;
# podman to build the image). Not needed to build or test zinfer.
if [ "${1:-}" = "--deploy" ]; then
  DEPLOY=(prometheus podman)
  command -v kubectl >/dev/null 2>&1 || DEPLOY+=(kubernetes-client)
  dmissing=()
  for p in "${DEPLOY[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || dmissing+=("$p"); done
  if [ "${#dmissing[@]}" -gt 0 ]; then
    echo "[setup] installing deploy tools: ${dmissing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${dmissing[@]}" >/dev/null
  fi
fi

# ZINFER_SETUP_PYTHON=0 skips the Python side (container builds need only the C++ toolchain).
if [ "${ZINFER_SETUP_PYTHON:-1}" = "0" ]; then
  echo "[setup] ok (no python packages: ZINFER_SETUP_PYTHON=0)"
  exit 0
fi

# Python side: the gguf package (independent dequantizer / reader) and numpy for the
# reference forward pass in tests/reference/.
# pyzmq, msgpack and jsonschema for the Python client and the schema checks of live frames.
# matplotlib for scripts/bench_plot.py (bench JSON → PNG).
if ! python3 -c "import gguf, numpy, zmq, msgpack, jsonschema, matplotlib" >/dev/null 2>&1; then
  echo "[setup] installing python packages"
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  python3 -m pip install -q "gguf>=0.17" numpy matplotlib -r "$ROOT/clients/python/requirements.txt" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "gguf>=0.17" numpy matplotlib -r "$ROOT/clients/python/requirements.txt"
fi
echo "[setup] ok"
