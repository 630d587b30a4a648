#!/usr/bin/env bash
# Sourced by run_gpu_tests.sh on a GPU machine that lacks the service's Debian packages
# (ZeroMQ, msgpack-cxx, CLI11, nlohmann-json) and has no network: unpacks the .deb files
# fetched beforehand into <repo>/.deb (scripts/fetch_device_debs.sh) into a private prefix —
# never into / — and points CMake, pkg-config and the linker at it. Exports ZINFER_DEPS and
# ZINFER_DEPS_LIB (prepend it to LD_LIBRARY_PATH only when running zinfer itself).
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ZINFER_DEPS=${ZINFER_DEPS:-/tmp/zinfer-deps}
mkdir -p "$ZINFER_DEPS/pkgconfig"
for f in "$ROOT"/.deb/*.deb; do dpkg -x "$f" "$ZINFER_DEPS"; done
ZINFER_DEPS_LIB="$ZINFER_DEPS/usr/lib/x86_64-linux-gnu"
# Our own libzmq.pc: the packaged one hard-codes /usr and lists Requires.private modules
# whose .pc files we do not carry.
cat > "$ZINFER_DEPS/pkgconfig/libzmq.pc" <<PC
prefix=$ZINFER_DEPS/usr
libdir=$ZINFER_DEPS_LIB
includedir=\${prefix}/include
Name: libzmq
Description: ZeroMQ (carried)
Version: 4.3.4
Libs: -L\${libdir} -lzmq
Cflags: -I\${includedir}
PC
export ZINFER_DEPS ZINFER_DEPS_LIB
export PKG_CONFIG_PATH="$ZINFER_DEPS/pkgconfig"
export CMAKE_PREFIX_PATH="$ZINFER_DEPS/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export CXXFLAGS="-I$ZINFER_DEPS/usr/include ${CXXFLAGS:-}"
export LDFLAGS="-Wl,-rpath-link=$ZINFER_DEPS_LIB -L$ZINFER_DEPS_LIB ${LDFLAGS:-}"
