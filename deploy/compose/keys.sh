#!/usr/bin/env bash
# CurveZMQ keys for compose.yaml: the worker's pair and one producer's, in deploy/compose/keys/
# (worker.key_secret stays there; clients/producer.key is what the worker accepts; give
# producer.key_secret and worker.key to the producer). Needs a built zinfer (ZINFER=path).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZINFER="${ZINFER:-$HERE/../../build/bin/zinfer}"
mkdir -p "$HERE/keys/clients"
[ -e "$HERE/keys/worker.key_secret" ] || "$ZINFER" keygen --out "$HERE/keys/worker"
[ -e "$HERE/keys/clients/producer.key_secret" ] || "$ZINFER" keygen --out "$HERE/keys/clients/producer"
# The container's user (uid 10001) must read the worker's secret.
chmod 0644 "$HERE/keys/worker.key_secret"
echo "keys in $HERE/keys"
