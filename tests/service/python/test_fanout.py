"""The Python client's fan-out (clients/python/zinfer_fanout.py) against three live `zinfer serve`
workers on the CPU backend with the tiny synthetic model, as tests/service/cli/fanout_submit_test.cpp
does for `zinfer submit --connect A --connect B --connect C`: jobs spread over the workers; one
worker is SIGKILLed mid-batch; with retries its jobs complete on the others (every job exactly
once, results in input order, seeded tokens equal to a one-worker run and to the records
`zinfer submit` writes); without retries they come back WORKER_LOST, retriable. Every frame is
validated against schemas/.

Needs ZINFER_BIN (the gtest python_fanout_test sets it); without it every test is skipped.

    ZINFER_BIN=build/bin/zinfer python3 tests/service/python/test_fanout.py -v
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from zinfer_client import Client, ZinferError  # noqa: E402
from zinfer_fanout import FanoutClient  # noqa: E402
from zinfer_schema import FrameValidator  # noqa: E402
from worker_ready import wait_ready  # noqa: E402


def seeded_jobs(prefix, n, max_tokens=48):
    """The jobs of tests/service/cli/batch_harness.h write_jobs(): seeded sampling, so a job's
    tokens are the same on any worker and any attempt."""
    return [{"job_id": f"{prefix}{i}", "prompt_tokens": [1, 2 + i % 50, 3 + i % 7, 4], "max_tokens": max_tokens,
             "temperature": 0.9, "seed": 1000 + i, "ignore_eos": True, "priority": i % 3 - 1} for i in range(n)]


class ThreeWorkers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = os.environ.get("ZINFER_BIN")
        if not cls.binary:
            raise unittest.SkipTest("set ZINFER_BIN to run against live workers")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = os.path.join(cls.tmp.name, "tiny-llama-Q8_0.gguf")
        subprocess.run([cls.binary, "mkmodel", "--preset", "tiny-llama", "--type", "Q8_0", "--out", cls.model],
                       check=True, stdout=subprocess.DEVNULL)
        cls.validator = FrameValidator()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp.name)
        self.endpoints = [f"ipc://{self.dir}/w{i}.sock" for i in range(3)]
        self.logs = [open(os.path.join(self.dir, f"worker{i}.log"), "w+") for i in range(3)]
        self.procs = [subprocess.Popen([self.binary, "serve", "--model", self.model, "--device", "cpu",
                                        "--threads", "1", "--bind", ep, "--max-running", "4", "--log-level", "warn"],
                                       stdout=log, stderr=subprocess.STDOUT)
                      for ep, log in zip(self.endpoints, self.logs)]
        for i, ep in enumerate(self.endpoints):
            self._wait_ready(i, ep)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for log in self.logs:
            log.close()

    def _wait_ready(self, i, endpoint):
        with Client(endpoint) as c:
            wait_ready(c, self.procs[i], self.logs[i], name=f"worker {i}")

    def _validate(self, frame: bytes) -> None:
        self.validator.validate(frame, "worker")

    def _kill_after(self, n_results, pool_box):
        """An on_result callback that SIGKILLs worker 0 at the first end of a job, once n_results
        jobs have ended, when the pool (pool_box[0]) has jobs in flight on it — with fast workers
        it can hold none at the n-th result (seen in CI) — and the list of job indices it saw end."""
        seen = []
        killed = []

        def on_result(i, _rec):
            seen.append(i)
            if not killed and len(seen) >= n_results and pool_box[0]._workers[0].in_flight > 0:
                os.kill(self.procs[0].pid, signal.SIGKILL)
                killed.append(True)
        return on_result, seen

    def test_jobs_spread_and_stream_with_heartbeats(self):
        with FanoutClient(self.endpoints, heartbeat_s=0.2, frame_hook=self._validate) as pool:
            self.assertEqual(pool.wait_ready(30), self.endpoints)
            placed = [pool.submit(f"s-{i}", prompt_tokens=[1, 2, 3], max_tokens=6, ignore_eos=True, seed=i)
                      for i in range(6)]
            # Least loaded first: six jobs over three idle workers, two each.
            self.assertEqual(sorted(placed.count(ep) for ep in self.endpoints), [2, 2, 2])
            for i in (5, 0, 3, 1, 4, 2):  # out of order: the others' frames are buffered meanwhile
                frames = list(pool.frames(f"s-{i}", timeout_s=30))
                self.assertEqual(frames[0]["type"], "accepted")
                self.assertEqual(frames[-1]["type"], "done")
                self.assertEqual(sum(len(f.get("tokens", [])) for f in frames), 6)
                self.assertTrue(all(f["job_id"] == f"s-{i}" for f in frames))
            pool.poll(0.5)  # heartbeats answered
            for w in pool.workers():
                self.assertFalse(w["lost"])
                self.assertEqual(w["in_flight"], 0)
                self.assertEqual(w["health"]["status"], "ready")
            out = pool.generate("g-1", prompt_tokens=[1, 2], max_tokens=4, ignore_eos=True)
            self.assertEqual(len(out["tokens"]), 4)
            with self.assertRaises(ValueError):
                next(pool.frames("never-submitted"))

    def test_killed_workers_jobs_complete_exactly_once_on_the_others_in_input_order(self):
        n = 300
        jobs = seeded_jobs("fan-", n)
        box = [None]
        on_result, seen = self._kill_after(n // 10, box)
        start = time.monotonic()
        with FanoutClient(self.endpoints, worker_timeout_s=2, timeout_s=120, frame_hook=self._validate) as pool:
            box[0] = pool
            self.assertEqual(pool.wait_ready(30), self.endpoints)
            results, counts = pool.submit_batch(jobs, retries=3, on_result=on_result)
        secs = time.monotonic() - start
        self.assertEqual(self.procs[0].wait(timeout=10), -signal.SIGKILL)
        self.assertEqual(sorted(seen), list(range(n)), "every job ended exactly once")
        self.assertEqual([r["job_id"] for r in results], [j["job_id"] for j in jobs], "input order")
        for r in results:
            self.assertEqual(r.get("finish_reason"), "length", r)
            self.assertEqual(len(r["tokens"]), 48)
        self.assertGreater(counts["resubmitted"], 0, "the killed worker held jobs")
        self.assertEqual(counts["lost_workers"], 1)
        self.assertTrue(all(counts["placed"][ep] > 0 for ep in self.endpoints), counts)
        # The same jobs on one surviving worker: seeded tokens are equal.
        with FanoutClient([self.endpoints[1]], timeout_s=120) as one:
            single, single_counts = one.submit_batch(jobs)
        self.assertEqual(single_counts["done"], n)
        for r, s in zip(results, single):
            self.assertEqual(r["tokens"], s["tokens"], r["job_id"])
            self.assertEqual(r["text"], s["text"], r["job_id"])
        # And `zinfer submit` on that worker writes the same records (fields and tokens).
        jobs_file, cli_file = os.path.join(self.dir, "jobs.jsonl"), os.path.join(self.dir, "cli.jsonl")
        with open(jobs_file, "w") as f:
            f.writelines(json.dumps(j) + "\n" for j in jobs)
        subprocess.run([self.binary, "submit", "--connect", self.endpoints[2], "-i", jobs_file, "-o", cli_file],
                       check=True, stderr=subprocess.DEVNULL)
        with open(cli_file) as f:
            cli = [json.loads(line) for line in f]
        for r, c in zip(results, cli):
            self.assertEqual(sorted(r), sorted(c), r["job_id"])
            self.assertEqual((r["job_id"], r["tokens"], r["text"]), (c["job_id"], c["tokens"], c["text"]))
        print(f"\n{n} jobs over 3 workers, one SIGKILLed after {n // 10} results: {secs:.1f} s, "
              f"{counts['resubmitted']} resubmitted after WORKER_LOST, placed {sorted(counts['placed'].values())}, "
              f"0 lost, tokens equal to a one-worker run", file=sys.stderr)

    def test_without_retries_the_lost_jobs_are_worker_lost(self):
        n = 300
        jobs = seeded_jobs("lost-", n)
        box = [None]
        on_result, seen = self._kill_after(n // 10, box)
        with FanoutClient(self.endpoints, worker_timeout_s=2, timeout_s=120, frame_hook=self._validate) as pool:
            box[0] = pool
            self.assertEqual(pool.wait_ready(30), self.endpoints)
            results, counts = pool.submit_batch(jobs, retries=0, on_result=on_result)
        self.assertEqual(sorted(seen), list(range(n)), "every job ended exactly once")
        self.assertEqual([r["job_id"] for r in results], [j["job_id"] for j in jobs])
        lost = [r for r in results if "error" in r]
        for r in lost:
            self.assertEqual(r["error"]["code"], "WORKER_LOST")
            self.assertTrue(r["error"]["retriable"])
        for r in results:
            if "error" not in r:
                self.assertEqual(r["finish_reason"], "length")
        self.assertGreater(len(lost), 0)
        self.assertEqual(counts["failed"], len(lost))
        self.assertEqual(counts["done"] + counts["failed"], n)
        self.assertEqual(counts["resubmitted"], 0)
        print(f"\n{len(lost)} of {n} jobs came back WORKER_LOST", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
