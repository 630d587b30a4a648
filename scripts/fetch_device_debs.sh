#!/usr/bin/env bash
# Downloads (here, where apt works) the Debian 12 packages the service needs into <repo>/.deb
# (git-ignored), for a GPU machine with no network: carry .deb and run
# tests/kernels/run_gpu_tests.sh there, which unpacks them into a private prefix.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$ROOT/.deb"
cd "$ROOT/.deb"
# civetweb (the server binary) only because libcivetweb-dev's CMake targets check that
# /usr/bin/civetweb exists; prometheus-cpp's config pulls them in.
apt-get download libzmq3-dev libzmq5 cppzmq-dev libmsgpack-cxx-dev libcli11-dev nlohmann-json3-dev \
  libsodium23 libpgm-5.3-0 libnorm1 libbsd0 libmd0 libgssapi-krb5-2 libkrb5-3 libk5crypto3 \
  libkrb5support0 libkeyutils1 libcom-err2 \
  prometheus-cpp-dev libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprometheus-cpp-push1.0 \
  libcivetweb1 libcivetweb-dev civetweb
ls -la "$ROOT/.deb"
