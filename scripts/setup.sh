#!/usr/bin/env bash
# Installs everything zinfer needs on a fresh Debian 12 machine (build tools, libraries,
# the Python packages the reference tests use). Idempotent; run as root or with sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PKGS=(build-essential cmake pkg-config git python3 python3-pip unzip clang clang-format-14 clang-tidy-14
      libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev
      libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
      prometheus-cpp-dev libcpp-httplib-dev  # serve --metrics (text format; cpp-httplib serves it)
      bsdutils            # `script`: the submit progress test runs zinfer on a pseudo-terminal
      libnats-dev nats-server  # serve/submit --nats (JetStream) and its tests
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

# promtool (Debian's prometheus, without its recommended exporters): the metrics test checks a
# live worker's /metrics with Prometheus's own parser and linter (`promtool check metrics`).
if [ "${ZINFER_SETUP_BUILD_ONLY:-0}" != "1" ] && ! command -v promtool >/dev/null 2>&1; then
  echo "[setup] installing prometheus (for promtool)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# --deploy: the other tools deploy/validate.sh uses (kubectl from kubernetes-client unless a
# kubectl is already installed; podman and debootstrap to build the image from a local
# Debian base). Not needed to build or test zinfer.
if [ "${1:-}" = "--deploy" ]; then
  DEPLOY=(podman debootstrap)
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

# ZINFER_SETUP_BUILD_ONLY=1: only what building zinfer needs (container images): no promtool
# (above), no Python side.
if [ "${ZINFER_SETUP_BUILD_ONLY:-0}" = "1" ]; then
  echo "[setup] ok (build only: ZINFER_SETUP_BUILD_ONLY=1)"
  exit 0
fi

# Python side: the gguf package (independent dequantizer / reader) and numpy for the
# reference forward pass in tests/reference/.
# pyzmq, msgpack and jsonschema for the Python client and the schema checks of live frames.
# matplotlib for scripts/bench_plot.py (bench JSON → PNG); nats-py for the Python client's JetStream path.
if ! python3 -c "import gguf, numpy, zmq, msgpack, jsonschema, matplotlib, nats" >/dev/null 2>&1; then
  echo "[setup] installing python packages"
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  python3 -m pip install -q "gguf>=0.17" numpy matplotlib -r "$ROOT/clients/python/requirements.txt" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "gguf>=0.17" numpy matplotlib -r "$ROOT/clients/python/requirements.txt"
fi
echo "[setup] ok"
