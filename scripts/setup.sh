#!/usr/bin/env bash
# Installs everything zinfer needs on a fresh Debian 12 machine (build tools, libraries,
# the Python packages the reference tests use). Idempotent; run as root or with sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PKGS=(build-essential cmake git python3 python3-pip unzip clang clang-format-14
      libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev
      libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
      libnats-dev nats-server)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python side: the gguf package (independent dequantizer / reader) and numpy for the
# reference forward pass in tests/reference/.
# pyzmq, msgpack and jsonschema for the Python client and the schema checks of live frames.
if ! python3 -c "import gguf, numpy, zmq, msgpack, jsonschema, nats" >/dev/null 2>&1; then
  echo "[setup] installing python packages"
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  python3 -m pip install -q "gguf>=0.17" numpy -r "$ROOT/clients/python/requirements.txt" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "gguf>=0.17" numpy -r "$ROOT/clients/python/requirements.txt"
fi
echo "[setup] ok"
