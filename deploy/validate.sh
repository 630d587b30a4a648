#!/usr/bin/env bash
# Validates every file in deploy/ with the tools this machine has (deploy/README.md lists what
# each step proves and what cannot be run here). Tools: bash scripts/setup.sh --deploy
# (promtool, podman, kubectl) and `pip install kubernetes-validate pyyaml`.
#   bash deploy/validate.sh            # everything but the image build
#   bash deploy/validate.sh --image    # also build the image with podman (CPU variant, slow)
# Needs build/bin/zinfer and, for the live metrics check, the SmolLM2 model (ZINFER_MODELS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ZINFER="${ZINFER:-$ROOT/build/bin/zinfer}"
MODELS="${ZINFER_MODELS:-$ROOT/.models}"
TMP="$(mktemp -d)"
SERVE_PID=""
NATS_PID=""
cleanup() {
  if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; fi
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
step() { echo "== $*"; }
skip() { echo "   SKIPPED: $*"; }

step "systemd unit"
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/local/bin/zinfer#$ZINFER#g" deploy/systemd/zinfer-worker@.service > "$TMP/zinfer-worker@.service"
  systemd-analyze verify "$TMP/zinfer-worker@.service" && echo "   ok"
else
  skip "systemd-analyze not installed"
fi

step "Prometheus config and alert rules (promtool)"
promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml

step "live worker: /metrics passes promtool; every metric the dashboard and alerts use exists"
MODEL="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$MODEL" ] && [ -x "$ZINFER" ]; then
  # With a JetStream server the worker also exposes the zinfer_jetstream_* families (--nats).
  NATS_FLAGS=()
  NATS_BIN="$(command -v nats-server || true)"
  [ -z "$NATS_BIN" ] && [ -x /usr/sbin/nats-server ] && NATS_BIN=/usr/sbin/nats-server
  if [ -n "$NATS_BIN" ]; then
    "$NATS_BIN" -js -a 127.0.0.1 -p 19422 -sd "$TMP/jetstream" >/dev/null 2>&1 &
    NATS_PID=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/19422) 2>/dev/null && break; sleep 0.1; done
    NATS_FLAGS=(--nats nats://127.0.0.1:19422)
  fi
  "$ZINFER" serve --model "$MODEL" --device cpu --bind "ipc://$TMP/w.sock" --ctx 128 -t 1 \
    --metrics 127.0.0.1:19400 --log-level warn "${NATS_FLAGS[@]}" &
  SERVE_PID=$!
  for _ in $(seq 60); do "$ZINFER" health --connect "ipc://$TMP/w.sock" >/dev/null 2>&1 && break; sleep 1; done
  echo '{"prompt": "Hello", "max_tokens": 2}' | "$ZINFER" submit --connect "ipc://$TMP/w.sock" >/dev/null
  curl -sf http://127.0.0.1:19400/metrics > "$TMP/metrics.txt"
  promtool check metrics < "$TMP/metrics.txt" && echo "   promtool check metrics: ok"
  python3 - "$TMP/metrics.txt" deploy/grafana/zinfer-dashboard.json deploy/prometheus/alerts.yml <<'PY'
import json, re, sys
exposed = {l.split()[2] for l in open(sys.argv[1]) if l.startswith("# TYPE ")}
dash = json.load(open(sys.argv[2]))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs.append(dash["templating"]["list"][1]["definition"])
exprs += re.findall(r"expr: (.*)", open(sys.argv[3]).read())
used = set()
for e in exprs:
    for name in re.findall(r"\b(zinfer_[a-z0-9_]+)", e):
        used.add(re.sub(r"_(bucket|sum|count)$", "", name))
missing = sorted(used - exposed)
if not any(m.startswith("zinfer_jetstream_") for m in exposed):
    skipped = sorted(m for m in missing if m.startswith("zinfer_jetstream_"))
    if skipped:
        print(f"   SKIPPED: {len(skipped)} zinfer_jetstream_* metrics (no nats-server here, so no --nats)")
    missing = [m for m in missing if m not in skipped]
if missing:
    sys.exit(f"   FAILED: used but not exposed: {missing}")
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
print(f"   ok: {len(used)} metrics used by {len(exprs)} expressions, all exposed")
PY
  kill "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=""
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID"; wait "$NATS_PID" || true; NATS_PID=""; fi
else
  skip "no $MODEL or $ZINFER"
fi

step "Kubernetes manifests"
kubectl kustomize deploy/k8s > "$TMP/k8s.yaml" && echo "   kubectl kustomize: renders $(grep -c '^kind:' "$TMP/k8s.yaml") objects"
if command -v kubernetes-validate >/dev/null; then
  kubernetes-validate --strict --quiet deploy/k8s/namespace.yaml deploy/k8s/deployment.yaml \
    deploy/k8s/service.yaml deploy/k8s/pdb.yaml && echo "   kubernetes-validate --strict: ok (built-in kinds)"
else
  skip "kubernetes-validate not installed (pip install kubernetes-validate)"
fi
# PodMonitor and ScaledObject are CRDs (no schema offline): check the fields their CRDs
# require, and that they point at the Deployment's labels, port name and name.
python3 - "$TMP/k8s.yaml" <<'PY'
import sys, yaml
docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
dep = docs["Deployment"]
labels = dep["spec"]["template"]["metadata"]["labels"]
c = dep["spec"]["template"]["spec"]["containers"][0]
ports = {p["name"] for p in c["ports"]}
pm = docs["PodMonitor"]
assert pm["apiVersion"] == "monitoring.coreos.com/v1"
assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items(), "PodMonitor selector"
for ep in pm["spec"]["podMetricsEndpoints"]:
    assert ep["port"] in ports, f"PodMonitor port {ep['port']} not in {ports}"
so = docs["ScaledObject"]
assert so["apiVersion"] == "keda.sh/v1alpha1"
assert so["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
for t in so["spec"]["triggers"]:
    assert t["type"] and all(isinstance(v, str) for v in t["metadata"].values()), "trigger metadata must be strings"
    for k in ("natsServerMonitoringEndpoint", "stream", "consumer", "lagThreshold"):
        assert k in t["metadata"], k
assert isinstance(so["spec"]["minReplicaCount"], int) and so["spec"]["maxReplicaCount"] >= so["spec"]["minReplicaCount"]
pdb = docs["PodDisruptionBudget"]
assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "PDB selector"
svc = docs["Service"]
assert svc["spec"]["selector"].items() <= labels.items(), "Service selector"
# Drain: the grace period must exceed --drain-timeout plus the preStop sleep.
args = dict(a[2:].split("=", 1) for a in c["args"])
grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
pre = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
assert grace > float(args["drain-timeout"]) + pre, (grace, args["drain-timeout"], pre)
assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
    cmd = c[probe]["exec"]["command"]
    assert cmd[:2] == ["zinfer", "health"] and args["probe-bind"] in cmd, probe
print("   CRD fields, selectors, ports, grace period > drain + preStop, probes: ok")
PY

step "compose file"
python3 - <<'PY'
import yaml
c = yaml.safe_load(open("deploy/compose/compose.yaml"))
s = c["services"]
assert set(s) >= {"worker", "nats", "prometheus", "grafana"}
w = s["worker"]
assert w["stop_signal"] == "SIGTERM"
grace = int(w["stop_grace_period"].rstrip("s"))
drain = [a for a in w["command"] if a.startswith("--drain-timeout=")][0].split("=")[1]
assert grace > float(drain), "stop_grace_period must exceed --drain-timeout"
assert w["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
print("   structure ok (services, drain grace, GPU reservation)")
PY
if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
  ZINFER_MODEL=/dev/null docker compose -f deploy/compose/compose.yaml config >/dev/null && echo "   docker compose config: ok"
else
  skip "docker compose not installed: YAML structure checked only"
fi

step "Grafana dashboard"
python3 -c "import json; d = json.load(open('deploy/grafana/zinfer-dashboard.json')); print('   json ok:', len(d['panels']), 'panels')"

step "container image"
if [ "${1:-}" = "--image" ]; then
  # No registry is reachable here: the Debian base is made locally with debootstrap, and the
  # CUDA bases cannot be pulled, so this builds the CPU variant of the same Dockerfile.
  if ! podman image exists localhost/debian:12; then
    debootstrap --variant=minbase bookworm "$TMP/rootfs" http://deb.debian.org/debian >/dev/null
    tar -C "$TMP/rootfs" -c . | podman import - localhost/debian:12 >/dev/null
  fi
  # --format docker keeps HEALTHCHECK (the OCI format drops it). ZINFER_REUSE_IMAGE=1 checks
  # an existing zinfer:cpu-dev without rebuilding it.
  if [ "${ZINFER_REUSE_IMAGE:-0}" != "1" ] || ! podman image exists zinfer:cpu-dev; then
    podman build --format docker --cgroup-manager=cgroupfs --isolation=chroot \
      -f deploy/docker/Dockerfile \
      --build-arg BUILD_BASE=localhost/debian:12 --build-arg RUN_BASE=localhost/debian:12 \
      -t zinfer:cpu-dev .
  fi
  if podman run --rm --cgroup-manager=cgroupfs zinfer:cpu-dev --help >/dev/null 2>&1; then
    echo "   podman run: the image runs zinfer"
  else
    # Sandboxes that refuse containers (setrlimit/cgroups): run the image's own filesystem in a
    # chroot as its user instead — the worker with the image's default flags, CurveZMQ on,
    # probed on its plaintext probe socket, a keyed job over TCP, a plaintext client refused.
    echo "   podman run refused here; checking the image's filesystem under chroot"
    MNT="$(podman image mount zinfer:cpu-dev)"
    mkdir -p "$TMP/keys/clients"
    "$ZINFER" keygen --out "$TMP/keys/worker" >/dev/null
    "$ZINFER" keygen --out "$TMP/keys/clients/producer" >/dev/null
    chmod 0644 "$TMP/keys/worker.key_secret"; chmod 0755 "$TMP/keys" "$TMP/keys/clients"
    mount --bind "$(dirname "$MODEL")" "$MNT/models"
    mount --bind "$TMP/keys" "$MNT/keys"
    mount -t tmpfs tmpfs "$MNT/run/zinfer" && chown 10001 "$MNT/run/zinfer"
    chroot --userspec=10001:10001 "$MNT" /usr/local/bin/zinfer serve \
      --model "/models/$(basename "$MODEL")" --bind tcp://0.0.0.0:15555 \
      --probe-bind ipc:///run/zinfer/probe.sock --curve-secret-key /keys/worker.key_secret \
      --curve-authorized-keys /keys/clients --metrics 0.0.0.0:19401 -t 1 --ctx 128 \
      --log-level warn &
    SERVE_PID=$!
    ok=1
    for _ in $(seq 60); do
      chroot --userspec=10001:10001 "$MNT" /usr/local/bin/zinfer health \
        --connect ipc:///run/zinfer/probe.sock >/dev/null 2>&1 && break
      sleep 1
    done
    chroot --userspec=10001:10001 "$MNT" /usr/local/bin/zinfer health \
      --connect ipc:///run/zinfer/probe.sock >/dev/null || ok=0
    echo '{"prompt": "Hi", "max_tokens": 3}' | "$ZINFER" submit --connect tcp://127.0.0.1:15555 \
      --curve-server-key "$TMP/keys/worker.key" \
      --curve-secret-key "$TMP/keys/clients/producer.key_secret" >/dev/null || ok=0
    if "$ZINFER" health --timeout 1 --connect tcp://127.0.0.1:15555 >/dev/null 2>&1; then ok=0; fi
    curl -sf http://127.0.0.1:19401/metrics | grep -q '^zinfer_requests_accepted_total 1' || ok=0
    kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || ok=0; SERVE_PID=""
    umount "$MNT/run/zinfer" "$MNT/keys" "$MNT/models"
    podman image unmount --force zinfer:cpu-dev >/dev/null
    [ "$ok" = 1 ] || { echo "   FAILED: the image's worker"; exit 1; }
    echo "   image (chroot, uid 10001): probe socket ready, keyed job done, plaintext refused, metrics, SIGTERM exit 0"
  fi
else
  skip "pass --image to build it with podman (~20 min on 2 cores)"
fi
echo "deploy/validate.sh: all checks that could run passed"
