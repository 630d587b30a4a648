"""Python client parity with `zinfer submit --nats` (run by tests/service/nats/python_nats_test.cpp
against a live nats-server and worker): usage: test_nats.py URL ZINFER_BIN JOBS.jsonl OUT_DIR.
The same jobs through clients/python/zinfer_nats.py and through the CLI give the same tokens,
in input order, with no job lost."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "clients", "python"))

from zinfer_nats import submit_batch  # noqa: E402


def main() -> int:
    url, zinfer, jobs_path, out_dir = sys.argv[1:5]
    jobs = [json.loads(line) for line in open(jobs_path) if line.strip()]
    py_jobs = [dict(j, job_id="py-" + j["job_id"]) for j in jobs]
    results, counts = submit_batch(url, "tiny", py_jobs, timeout=60)
    assert counts["lost"] == 0 and counts["done"] == len(jobs), counts
    cli_out = os.path.join(out_dir, "cli.jsonl")
    subprocess.run([zinfer, "submit", "--nats", url, "--nats-model", "tiny", "-i", jobs_path, "-o", cli_out],
                   check=True, stderr=subprocess.DEVNULL)
    cli = [json.loads(line) for line in open(cli_out)]
    assert [r["job_id"] for r in results] == [j["job_id"] for j in py_jobs], "input order"
    for py, c in zip(results, cli):
        assert py["tokens"] == c["tokens"], (py["job_id"], py["tokens"], c["tokens"])
        assert py["attempt"] == 1 and py["finish_reason"] == c["finish_reason"]
    print(f"python nats client: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
