"""Shared by the live-worker tests: waiting for a `zinfer serve` process to report ready."""

import time

from zinfer_client import ZinferError


def wait_ready(client, proc, log, timeout_s=60, health_timeout_s=1, name="worker"):
    """Asks `client` for health until the worker says ready. Raises RuntimeError with the
    worker's output (`log`, a file opened w+) when `proc` exits first or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.health(timeout_s=health_timeout_s)["status"] == "ready":
                return
        except ZinferError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"{name} did not become ready:\n{log.read()}")
        time.sleep(0.1)
