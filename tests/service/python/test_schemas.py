"""Frames of every message type, encoded by the C++ codec, validated against schemas/*.schema.json.

Frames come from $ZINFER_PROTOCOL_FRAMES_DIR (client/*.msgpack, worker/*.msgpack), as written by
the gtest protocol_frames_test (which runs this file); when unset, this file runs that gtest
binary itself (found under $ZINFER_BUILD_DIR or build*/tests/) to produce them. It also checks
that the schemas are not vacuous (broken frames fail) and that the Python client's frames
validate, and writes those to $ZINFER_PROTOCOL_FRAMES_DIR/python/ for the C++ decoder to read.

    python3 tests/service/python/test_schemas.py -v        (or: python3 -m pytest ...)
"""

import copy
import glob
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import jsonschema  # noqa: E402
import msgpack  # noqa: E402

import zinfer_client  # noqa: E402
from zinfer_schema import FrameValidator  # noqa: E402

ALL_SCHEMAS = {"submit", "cancel", "health_request", "stats_request", "accepted", "token", "done", "error",
               "health", "stats"}
ERROR_CODES = {"INVALID_DEVICE", "VRAM_OOM", "MODEL_LOAD_FAILED", "INFERENCE_FAILED", "INVALID_PARAMETER",
               "KERNEL_LAUNCH_FAILED", "VRAM_RESIDENCY_FAILED", "DEVICE_NOT_FOUND", "UNKNOWN", "INVALID_REQUEST",
               "UNSUPPORTED_VERSION", "PROMPT_TOO_LONG", "DUPLICATE_JOB", "QUEUE_FULL", "DRAINING",
               "DEADLINE_EXCEEDED", "WORKER_LOST", "INTERNAL"}
_generated = None  # keeps a TemporaryDirectory alive for the run


def frames_dir() -> pathlib.Path:
    global _generated
    env = os.environ.get("ZINFER_PROTOCOL_FRAMES_DIR")
    if env:
        return pathlib.Path(env)
    if _generated is None:
        candidates = []
        if os.environ.get("ZINFER_BUILD_DIR"):
            candidates.append(pathlib.Path(os.environ["ZINFER_BUILD_DIR"]) / "tests" / "protocol_frames_test")
        candidates += [pathlib.Path(p) for p in glob.glob(str(ROOT / "build*" / "tests" / "protocol_frames_test"))]
        binaries = [p for p in candidates if p.is_file() and os.access(p, os.X_OK)]
        if not binaries:
            raise unittest.SkipTest("protocol_frames_test not built; set ZINFER_BUILD_DIR or build it")
        binary = max(binaries, key=lambda p: p.stat().st_mtime)
        _generated = tempfile.TemporaryDirectory()
        env = dict(os.environ, ZINFER_PROTOCOL_FRAMES_OUT=_generated.name)
        subprocess.run([str(binary)], env=env, check=True, capture_output=True)
    return pathlib.Path(_generated.name)


def load(direction: str):
    files = sorted((frames_dir() / direction).glob("*.msgpack"))
    if not files:
        raise AssertionError(f"no {direction} frames in {frames_dir()}")
    return {f.stem: f.read_bytes() for f in files}


class SchemaFiles(unittest.TestCase):
    def test_every_message_type_has_a_valid_2020_12_schema(self):
        v = FrameValidator()  # check_schema() on each file
        self.assertEqual(set(v.schemas), ALL_SCHEMAS)
        for stem, schema in v.schemas.items():
            self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", stem)


class CppFrames(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = FrameValidator()

    def validate_all(self, direction):
        seen = set()
        for name, frame in load(direction).items():
            with self.subTest(frame=name):
                msg = self.v.validate(frame, direction)
                seen.add(self.v.schema_for(msg, direction))
        return seen

    def test_worker_frames_validate(self):
        self.assertEqual(self.validate_all("worker"), {"accepted", "token", "done", "error", "health", "stats"})

    def test_client_frames_validate(self):
        self.assertEqual(self.validate_all("client"), {"submit", "cancel", "health_request", "stats_request"})

    def test_every_error_code_is_encoded(self):
        codes = set()
        for frame in load("worker").values():
            msg = msgpack.unpackb(frame, raw=False)
            if msg["type"] == "error":
                codes.add(msg["code"])
        self.assertEqual(codes, ERROR_CODES)

    def test_done_frames_cover_every_finish_reason(self):
        reasons = {msgpack.unpackb(f, raw=False)["finish_reason"] for n, f in load("worker").items()
                   if n.startswith("done")}
        self.assertEqual(reasons, {"stop", "length", "cancelled", "deadline"})


class SchemasRejectBrokenFrames(unittest.TestCase):
    """Mutations of valid C++ frames that the schemas must reject (so they are not vacuous)."""

    @classmethod
    def setUpClass(cls):
        cls.v = FrameValidator()
        cls.worker = {n: msgpack.unpackb(f, raw=False) for n, f in load("worker").items()}
        cls.client = {n: msgpack.unpackb(f, raw=False, strict_map_key=False) for n, f in load("client").items()}

    def assert_rejected(self, msg, direction):
        with self.assertRaises((jsonschema.ValidationError, ValueError)):
            self.v.validate(msgpack.packb(msg, use_bin_type=True), direction)

    def mutate(self, base, direction, **changes):
        msg = copy.deepcopy(base)
        for k, val in changes.items():
            if val is KeyError:
                del msg[k]
            else:
                msg[k] = val
        self.assert_rejected(msg, direction)

    def test_worker_mutations(self):
        w = self.worker
        self.mutate(w["done_stop"], "worker", finish_reason="none")
        self.mutate(w["done_stop"], "worker", usage=KeyError)
        self.mutate(w["done_stop"], "worker", seq=-1)
        self.mutate(w["token"], "worker", tokens=[])
        self.mutate(w["token"], "worker", tokens=[-1])
        self.mutate(w["token"], "worker", text=b"bytes")
        self.mutate(w["token"], "worker", extra_field=1)
        self.mutate(w["token_logprobs"], "worker", logprobs=[{"token": 1, "logprob": 0.5, "top": []}])
        self.mutate(w["error_QUEUE_FULL"], "worker", retriable=False)
        self.mutate(w["error_INVALID_REQUEST"], "worker", retriable=True)
        self.mutate(w["error_INVALID_REQUEST"], "worker", code="NOT_A_CODE")
        self.mutate(w["accepted"], "worker", job_id="has space")
        self.mutate(w["health"], "worker", status="sleeping")
        self.mutate(w["stats"], "worker", engine_steps=1.5)
        self.mutate(w["stats"], "worker", uptime_s=float("nan"))
        self.mutate(w["accepted"], "worker", v=2)

    def test_client_mutations(self):
        full = self.client["submit_full"]
        self.mutate(full, "client", messages=[{"role": "user", "content": "x"}])  # two prompt forms
        self.mutate(full, "client", prompt=KeyError)                                 # none
        self.mutate(full, "client", temperature=-1)
        self.mutate(full, "client", top_p=0)
        self.mutate(full, "client", max_tokens=0)
        self.mutate(full, "client", logprobs=21)
        self.mutate(full, "client", stop=["x"] * 17)
        self.mutate(full, "client", stop="")
        self.mutate(full, "client", logit_bias={"abc": 1})
        self.mutate(full, "client", priority=101)
        self.mutate(full, "client", deadline_ms=0)
        self.mutate(full, "client", job_id="")
        self.mutate(self.client["submit_messages"], "client", messages=[{"role": "tool", "content": "x"}])
        self.mutate(self.client["cancel"], "client", job_id=KeyError)
        self.mutate(self.client["health"], "client", type="ping")


class PythonClientFrames(unittest.TestCase):
    """zinfer_client's frames validate, and go to the C++ decoder via <frames dir>/python/."""

    def test_python_frames_validate_and_are_written_for_cpp(self):
        v = FrameValidator()
        frames = {
            "submit_full": zinfer_client.build_submit(
                "py-full", messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Bonjour ✓"}],
                temperature=0.25, top_k=7, logit_bias={50256: -100, "13": 1.5}, seed=1234, logprobs=2, stop="\n",
                max_tokens=12, deadline_ms=60000, stream=False),
            "submit_tokens": zinfer_client.build_submit("py-tokens", prompt_tokens=[1, 2, 3], top_p=None),
            "cancel": {"v": 1, "type": "cancel", "job_id": "py-full"},
            "health": {"v": 1, "type": "health"},
            "stats": {"v": 1, "type": "stats"},
        }
        out = os.environ.get("ZINFER_PROTOCOL_FRAMES_DIR")
        if out:
            (pathlib.Path(out) / "python").mkdir(parents=True, exist_ok=True)
        for name, msg in frames.items():
            frame = zinfer_client.pack(msg)
            v.validate(frame, "client")
            if out:
                (pathlib.Path(out) / "python" / f"{name}.msgpack").write_bytes(frame)
        self.assertNotIn("top_p", frames["submit_tokens"])  # None means "leave it out"
        with self.assertRaises(TypeError):
            zinfer_client.build_submit("x", prompt="a", messages=[])
        with self.assertRaises(TypeError):
            zinfer_client.build_submit("x", prompt="a", temprature=0.5)


if __name__ == "__main__":
    unittest.main()
