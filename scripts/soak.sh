#!/usr/bin/env bash
# The acceptance-size fault and soak runs of issue 11 (the normal test suite runs them smaller):
#   JetStreamFaults  3 workers, 1,000 jobs from 2 producers, one worker SIGKILLed and one
#                    drained with SIGTERM mid-stream; nats-server restarted on its store mid-run
#   ZmqSoak          10,000 jobs over ZeroMQ with random cancels and client disconnects
# Needs a build (scripts/build.sh) and nats-server (scripts/setup.sh); loopback only, ~5 min on
# a 2-core machine. Each test prints its measured figures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ZINFER_BUILD_DIR:-$ROOT/build}"
export ZINFER_SOAK=1
"$BUILD/tests/jetstream_faults_test"
"$BUILD/tests/zmq_soak_test"
"$BUILD/tests/fanout_submit_test"
