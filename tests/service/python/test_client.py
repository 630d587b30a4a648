"""The Python client against a live `zinfer serve` (SmolLM2-135M on CPU), with every frame the
worker sends validated against schemas/*.schema.json.

Greedy tokens are compared with the transformers goldens in
tests/data/golden/smollm2_hf_greedy.json (which the CPU backend's default exact path matches
token for token) over a 16-token prefix: enough to show that prompt tokens and generated
tokens travel through the protocol and the client unchanged. Full 64-token parity is
tests/engine/model/hf_golden_test's job.

Needs ZINFER_BIN (the zinfer binary) and ZINFER_MODEL (SmolLM2-135M-Instruct.Q4_1.gguf); the
gtest python_client_test sets both. Without them every test is skipped.

    ZINFER_BIN=build/bin/zinfer ZINFER_MODEL=.models/SmolLM2-135M-Instruct.Q4_1.gguf \\
        python3 tests/service/python/test_client.py -v
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import zmq  # noqa: E402

import zinfer_client  # noqa: E402
from zinfer_client import Client, ZinferError  # noqa: E402
from zinfer_schema import FrameValidator  # noqa: E402
from worker_ready import wait_ready  # noqa: E402

GOLDEN = ROOT / "tests" / "data" / "golden" / "smollm2_hf_greedy.json"


class LiveWorker(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary, model = os.environ.get("ZINFER_BIN"), os.environ.get("ZINFER_MODEL")
        if not binary or not model:
            raise unittest.SkipTest("set ZINFER_BIN and ZINFER_MODEL to run against a live worker")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.endpoint = f"ipc://{cls.tmp.name}/zinfer.sock"
        cls.log = open(pathlib.Path(cls.tmp.name) / "serve.log", "w+")
        cls.proc = subprocess.Popen([binary, "serve", "-m", model, "--bind", cls.endpoint, "-t", "2",
                                     "--ctx", "1024", "--log-level", "warn"], stdout=cls.log, stderr=subprocess.STDOUT)
        cls.validator = FrameValidator()
        cls.frames_seen = 0

        def validate(frame: bytes) -> None:
            cls.validator.validate(frame, "worker")  # raises: the test that received it fails
            cls.frames_seen += 1

        cls.validate = staticmethod(validate)
        cls.client = Client(cls.endpoint, timeout_s=120, frame_hook=validate)
        wait_ready(cls.client, cls.proc, cls.log, timeout_s=120, health_timeout_s=2)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.proc.terminate()  # SIGTERM: drain, then exit 0
        try:
            code = cls.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            code = cls.proc.wait()
        cls.log.close()
        cls.tmp.cleanup()
        if code != 0:
            raise AssertionError(f"zinfer serve exited with {code}")
        if cls.frames_seen < 20:
            raise AssertionError(f"only {cls.frames_seen} worker frames were validated")

    def test_health_and_stats(self):
        health = self.client.health()
        self.assertEqual(health["status"], "ready")
        self.assertEqual(health["architecture"], "llama")
        self.assertEqual(health["context_length"], 1024)
        stats = self.client.stats()
        self.assertGreaterEqual(stats["uptime_s"], 0)

    def test_greedy_tokens_match_reference(self):
        golden = json.loads(GOLDEN.read_text())
        checked = 0
        for case in golden["cases"]:
            n = 16
            with self.subTest(case=case["name"]):
                out = self.client.generate(f"golden-{case['name']}", prompt_tokens=case["prompt_ids"],
                                           temperature=0, max_tokens=n, ignore_eos=True)
                self.assertEqual(out["tokens"], case["generated_ids"][:n])
                self.assertEqual(out["finish_reason"], "length")
                self.assertEqual(out["usage"]["completion_tokens"], n)
                self.assertEqual(out["usage"]["prompt_tokens"], len(case["prompt_ids"]))
                checked += 1
        self.assertGreaterEqual(checked, 2)

    def test_stream_order_and_text(self):
        self.client.submit("stream-1", prompt="List three colors:", max_tokens=12, temperature=0, ignore_eos=True,
                           logprobs=3)
        frames = list(self.client.frames("stream-1"))
        self.assertEqual(frames[0]["type"], "accepted")
        self.assertEqual(frames[-1]["type"], "done")
        tokens = [f for f in frames if f["type"] == "token"]
        self.assertEqual([f["seq"] for f in tokens], list(range(len(tokens))))
        self.assertEqual(frames[-1]["seq"], len(tokens))
        all_tokens = [t for f in frames[1:] for t in f["tokens"]]
        self.assertEqual(len(all_tokens), 12)
        self.assertEqual(frames[-1]["usage"]["completion_tokens"], 12)
        lps = [lp for f in frames[1:] for lp in f.get("logprobs", [])]
        self.assertEqual([lp["token"] for lp in lps], all_tokens)
        # Greedy: the chosen token is the most likely one of the raw distribution.
        for lp in lps:
            self.assertEqual(len(lp["top"]), 3)
            self.assertEqual(lp["top"][0]["token"], lp["token"])
        # Non-streaming gives the same text in one done frame.
        whole = self.client.generate("stream-2", prompt="List three colors:", max_tokens=12, temperature=0,
                                     ignore_eos=True, stream=False)
        self.assertEqual(whole["text"], "".join(f["text"] for f in frames[1:]))
        self.assertEqual(whole["tokens"], all_tokens)

    def test_interleaved_jobs_are_buffered_per_job(self):
        for i in range(3):
            self.client.submit(f"multi-{i}", prompt=f"Count to {i + 3}:", max_tokens=6, temperature=0,
                               ignore_eos=True, seed=i)
        # Read the last one first: frames of the others arrive meanwhile and must be kept.
        for i in (2, 0, 1):
            frames = list(self.client.frames(f"multi-{i}"))
            self.assertEqual(frames[0]["type"], "accepted")
            self.assertEqual(frames[-1]["type"], "done")
            self.assertTrue(all(f["job_id"] == f"multi-{i}" for f in frames))
            self.assertEqual(sum(len(f.get("tokens", [])) for f in frames), 6)

    def test_cancel_ends_the_job_and_is_idempotent(self):
        self.client.submit("long", prompt="Once upon a time", max_tokens=400, ignore_eos=True, seed=7)
        frames = self.client.frames("long")
        self.assertEqual(next(frames)["type"], "accepted")
        self.client.cancel("long")
        rest = list(frames)
        self.assertEqual(rest[-1]["type"], "done")
        self.assertEqual(rest[-1]["finish_reason"], "cancelled")
        self.assertLess(rest[-1]["usage"]["completion_tokens"], 400)
        # Cancelling again, or an unknown id, sends nothing: the next frame is the health reply.
        self.client.cancel("long")
        self.client.cancel("never-existed")
        self.assertEqual(self.client.health()["type"], "health")
        self.assertNotIn("long", self.client._jobs)
        self.assertNotIn("never-existed", self.client._jobs)

    def test_rejections_carry_code_and_field(self):
        with self.assertRaises(ZinferError) as bad_temp:
            self.client.generate("bad-temp", prompt="x", temperature=-1)
        self.assertEqual(bad_temp.exception.code, "INVALID_PARAMETER")
        self.assertEqual(bad_temp.exception.job_id, "bad-temp")
        self.assertIn("submit.temperature", bad_temp.exception.message)
        self.assertFalse(bad_temp.exception.retriable)

        with self.assertRaises(ZinferError) as vocab:
            self.client.generate("bad-token", prompt_tokens=[1, 49152])
        self.assertEqual(vocab.exception.code, "INVALID_REQUEST")

        self.client.submit("dup", prompt="Hello", max_tokens=8, ignore_eos=True)
        self.client.submit("dup", prompt="Hello again")
        frames = list(self.client.frames("dup"))
        kinds = [f["type"] for f in frames]
        self.assertIn("error", kinds)
        dup = next(f for f in frames if f["type"] == "error")
        self.assertEqual(dup["code"], "DUPLICATE_JOB")
        # The live job still ends normally after the duplicate's error.
        rest = list(self.client.frames("dup"))
        self.assertEqual(rest[-1]["type"], "done")

        self.client.send_raw(b"\xc1 not msgpack")
        with self.assertRaises(ZinferError) as garbage:
            self.client.health()  # the error without job_id arrives first
        self.assertEqual(garbage.exception.code, "INVALID_REQUEST")
        self.assertIsNone(garbage.exception.job_id)

    def test_req_style_envelope(self):
        ctx = zmq.Context.instance()
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(self.endpoint)
        try:
            req.send(zinfer_client.pack({"v": 1, "type": "stats"}))
            self.assertTrue(req.poll(30000))
            frame = req.recv()
            self.validate(frame)
            self.assertEqual(zinfer_client.unpack(frame)["type"], "stats")
        finally:
            req.close(0)


if __name__ == "__main__":
    unittest.main()
