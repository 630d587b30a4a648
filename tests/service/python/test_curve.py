"""The Python client's CurveZMQ side (clients/python/zinfer_client.py CurveKeys) against a live
`zinfer serve` bound on tcp://127.0.0.2 (a loopback address the bind policy treats as remote,
so the worker requires keys), as tests/service/worker/worker_curve_test.cpp does in-process:
keys come from `zinfer keygen`; a client whose key is in --curve-authorized-keys streams a job
(Client and FanoutClient); a client with an unknown key, and a plaintext client, get nothing at
all (their requests time out, no job reaches the worker).

Needs ZINFER_BIN (the gtest python_curve_test sets it); without it every test is skipped.

    ZINFER_BIN=build/bin/zinfer python3 tests/service/python/test_curve.py -v
"""

import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from zinfer_client import Client, CurveKeys, ZinferError, read_curve_key_file  # noqa: E402
from zinfer_fanout import FanoutClient  # noqa: E402
from zinfer_schema import FrameValidator  # noqa: E402
from worker_ready import wait_ready  # noqa: E402


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class CurveWorker(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("ZINFER_BIN")
        if not binary:
            raise unittest.SkipTest("set ZINFER_BIN to run against a live worker")
        cls.tmp = tempfile.TemporaryDirectory()
        d = pathlib.Path(cls.tmp.name)
        model = str(d / "tiny.gguf")
        subprocess.run([binary, "mkmodel", "--preset", "tiny-llama", "--type", "Q8_0", "--out", model], check=True,
                       stdout=subprocess.DEVNULL)
        (d / "authorized").mkdir()
        for name in ("server", "authorized/client", "stranger"):
            subprocess.run([binary, "keygen", "--out", str(d / name)], check=True, stdout=subprocess.DEVNULL)
        cls.keys_dir = d
        cls.endpoint = f"tcp://127.0.0.2:{free_port('127.0.0.2')}"
        cls.probe = f"ipc://{d}/probe.sock"
        cls.log = open(d / "serve.log", "w+")
        cls.proc = subprocess.Popen([binary, "serve", "--model", model, "--device", "cpu", "--threads", "1",
                                     "--bind", cls.endpoint, "--curve-secret-key", str(d / "server.key_secret"),
                                     "--curve-authorized-keys", str(d / "authorized"), "--probe-bind", cls.probe,
                                     "--log-level", "info"], stdout=cls.log, stderr=subprocess.STDOUT)
        cls.validator = FrameValidator()
        with Client(cls.probe) as probe:  # plaintext, local: the probe endpoint needs no key
            wait_ready(probe, cls.proc, cls.log)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        code = cls.proc.wait(timeout=60)
        cls.log.close()
        cls.tmp.cleanup()
        if code != 0:
            raise AssertionError(f"zinfer serve exited with {code}")

    def keys(self, secret_file):
        return CurveKeys.from_files(str(self.keys_dir / "server.key"), str(self.keys_dir / secret_file))

    def accepted_jobs(self):
        with Client(self.probe) as probe:
            return probe.stats(timeout_s=10)["jobs_accepted"]

    def test_key_files_as_keygen_writes_them(self):
        public, secret = read_curve_key_file(str(self.keys_dir / "authorized/client.key_secret"), need_secret=True)
        self.assertEqual(read_curve_key_file(str(self.keys_dir / "authorized/client.key")), (public, None))
        self.assertEqual(len(secret), 40)
        with self.assertRaises(ValueError) as no_secret:
            read_curve_key_file(str(self.keys_dir / "server.key"), need_secret=True)
        self.assertIn("secret-key", str(no_secret.exception))
        bare = self.keys_dir / "bare.key"
        bare.write_text(public + "\n")
        self.assertEqual(read_curve_key_file(str(bare)), (public, None))

    def test_authorized_key_streams_a_job(self):
        def validate(frame):
            self.validator.validate(frame, "worker")
        with Client(self.endpoint, curve=self.keys("authorized/client.key_secret"), timeout_s=30,
                    frame_hook=validate) as c:
            self.assertEqual(c.health()["status"], "ready")
            c.submit("curve-1", prompt_tokens=[1, 2, 3], max_tokens=5, ignore_eos=True, seed=3)
            frames = list(c.frames("curve-1"))
        self.assertEqual(frames[0]["type"], "accepted")
        self.assertEqual(frames[-1]["type"], "done")
        self.assertEqual(frames[-1]["finish_reason"], "length")
        self.assertEqual(sum(len(f.get("tokens", [])) for f in frames), 5)
        self.assertEqual(sum(f["type"] in ("done", "error") for f in frames), 1)
        # The fan-out client speaks CurveZMQ too.
        with FanoutClient([self.endpoint], curve=self.keys("authorized/client.key_secret"), timeout_s=30) as pool:
            out = pool.generate("curve-2", prompt_tokens=[1, 2, 3], max_tokens=5, ignore_eos=True, seed=3)
        self.assertEqual(out["tokens"], [t for f in frames for t in f.get("tokens", [])])

    def test_unknown_key_and_plaintext_get_nothing(self):
        before = self.accepted_jobs()
        stranger = self.keys("stranger.key_secret")
        for label, client in (("unknown key", Client(self.endpoint, curve=stranger, timeout_s=2)),
                              ("plaintext", Client(self.endpoint, timeout_s=2))):
            with self.subTest(client=label), client:
                # Once the worker has refused the handshake the connection is gone until libzmq
                # reconnects, so the submit may not even be queued: TIMEOUT either way.
                with self.assertRaises(ZinferError) as no_answer:
                    client.submit("x", prompt_tokens=[1], max_tokens=5)
                    next(client.frames("x", timeout_s=1.5))
                self.assertEqual(no_answer.exception.code, "TIMEOUT")
                with self.assertRaises(ZinferError) as no_health:
                    client.health(timeout_s=1.0)
                self.assertEqual(no_health.exception.code, "TIMEOUT")
        # Through the fan-out client: the unknown key's job ends WORKER_LOST, never started.
        with FanoutClient([self.endpoint], curve=stranger, worker_timeout_s=1.0, timeout_s=10) as pool:
            results, counts = pool.submit_batch([{"job_id": "y", "prompt_tokens": [1], "max_tokens": 5}], retries=0)
        self.assertEqual(results[0]["error"]["code"], "WORKER_LOST")
        self.assertEqual(counts["failed"], 1)
        self.assertEqual(self.accepted_jobs(), before, "no job of theirs reached the worker")
        self.log.seek(0)
        self.assertIn(f"key {stranger.public} is not authorized", self.log.read())


if __name__ == "__main__":
    unittest.main()
