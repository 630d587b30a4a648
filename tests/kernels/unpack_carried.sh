#!/usr/bin/env bash
# On the GPU host: unpacks what scripts/pack_for_device.sh put in <repo>/.carry into /tmp/zb —
# bin/zinfer and bin/copy_bandwidth, tests/<name>, lib/ — for runs without a build. Source it: it exports
# LD_LIBRARY_PATH (lib/ first) and ZB=/tmp/zb; scripts/bench_variants.sh and bench_peer.sh take
# BUILD=$ZB.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export ZB=/tmp/zb
mkdir -p "$ZB/bin" "$ZB/tests"
for f in "$ROOT"/.carry/*.gz; do
  name=$(basename "$f" .gz)
  dir=tests
  case "$name" in zinfer | copy_bandwidth) dir=bin ;; esac
  gunzip -c "$f" > "$ZB/$dir/$name" && chmod +x "$ZB/$dir/$name"
done
[ -f "$ROOT/.carry/lib.tgz" ] && tar xzf "$ROOT/.carry/lib.tgz" -C "$ZB"
export LD_LIBRARY_PATH="$ZB/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
