"""Small Python client for a zinfer worker (schemas/PROTOCOL.md): pyzmq DEALER + msgpack.

    from zinfer_client import Client
    with Client("tcp://127.0.0.1:5555") as c:
        print(c.health()["status"])
        c.submit("job-1", prompt="The capital of France is", max_tokens=16, temperature=0)
        for frame in c.frames("job-1"):          # accepted, token..., then done or error
            if frame["type"] == "token":
                print(frame["text"], end="", flush=True)
        print(c.generate("job-2", prompt="Hi", max_tokens=8)["text"])

One Client may have many jobs in flight: frames of other jobs that arrive while you iterate
over one are buffered until you ask for them. A Client is not thread-safe (neither is a
ZeroMQ socket); use one per thread.

A worker bound beyond loopback speaks CurveZMQ (README "Operations"): give the client the
worker's public key file and this client's key pair, both as `zinfer keygen` writes them:

    keys = CurveKeys.from_files("keys/worker.key", "keys/clients/producer.key_secret")
    with Client("tcp://10.0.0.5:5555", curve=keys) as c: ...

Several workers at once, with jobs placed on the least-loaded one and lost workers' jobs
retried elsewhere: zinfer_fanout.FanoutClient.
"""

from __future__ import annotations

import collections
import re
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, NamedTuple, Optional, Tuple, TypeVar

import msgpack
import zmq

PROTOCOL_VERSION = 1
TERMINAL_TYPES = ("done", "error")

# Fields a submit may carry besides job_id and the prompt form (PROTOCOL.md §4.1).
SUBMIT_FIELDS = (
    "temperature", "top_k", "top_p", "min_p", "repetition_penalty", "presence_penalty",
    "frequency_penalty", "penalty_last_n", "logit_bias", "seed", "logprobs", "max_tokens", "stop",
    "stop_token_ids", "ignore_eos", "priority", "deadline_ms", "stream",
)


class ZinferError(Exception):
    """An error frame from the worker (or a local timeout, code "TIMEOUT")."""

    def __init__(self, code: str, message: str, retriable: bool = False, job_id: Optional[str] = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retriable = retriable
        self.job_id = job_id

    @classmethod
    def from_frame(cls, frame: Dict[str, Any]) -> "ZinferError":
        return cls(frame.get("code", "UNKNOWN"), frame.get("message", ""), bool(frame.get("retriable")),
                   frame.get("job_id"))


def build_submit(job_id: str, prompt: Optional[str] = None, *, prompt_tokens: Optional[List[int]] = None,
                 messages: Optional[List[Dict[str, str]]] = None, **params: Any) -> Dict[str, Any]:
    """The submit map. Exactly one prompt form; params are the PROTOCOL.md §4.1 fields
    (unknown names raise TypeError here rather than being silently ignored by the worker)."""
    forms = [f for f, v in (("prompt", prompt), ("prompt_tokens", prompt_tokens), ("messages", messages))
             if v is not None]
    if len(forms) != 1:
        raise TypeError(f"exactly one of prompt, prompt_tokens, messages is required, got {forms or 'none'}")
    unknown = sorted(set(params) - set(SUBMIT_FIELDS))
    if unknown:
        raise TypeError(f"unknown submit fields: {', '.join(unknown)}")
    msg: Dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "submit", "job_id": job_id}
    if prompt is not None:
        msg["prompt"] = prompt
    elif prompt_tokens is not None:
        msg["prompt_tokens"] = list(prompt_tokens)
    else:
        msg["messages"] = [dict(m) for m in messages or []]
    msg.update({k: v for k, v in params.items() if v is not None})
    if isinstance(msg.get("logit_bias"), dict):
        # Decimal-string keys, as in JSON (the worker accepts integer keys too).
        msg["logit_bias"] = {str(k): v for k, v in msg["logit_bias"].items()}
    return msg


_Z85_KEY = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


def read_curve_key_file(path: str, need_secret: bool = False) -> Tuple[str, Optional[str]]:
    """(public, secret) Z85 keys of a key file in the format `zinfer keygen` writes (czmq's
    zcert text: `public-key = "..."` and, in the NAME.key_secret file, `secret-key = "..."`),
    or of a file holding a bare 40-character Z85 public key. need_secret: the file must hold a
    secret key; the public key is then derived from it (and checked against the file's).
    Raises ValueError naming the file."""
    public: Optional[str] = None
    secret: Optional[str] = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = re.search(r'(public|secret)-key\s*=\s*"([^"]*)"', line)
            if m:
                if m.group(1) == "public":
                    public = m.group(2)
                else:
                    secret = m.group(2)
                continue
            words = line.split()
            if words and _Z85_KEY.match(words[0]) and public is None and not need_secret:
                public = words[0]
    if need_secret:
        if secret is None or not _Z85_KEY.match(secret):
            raise ValueError(f'{path}: no secret-key = "<40 Z85 characters>" line '
                             "(use the _secret file of zinfer keygen)")
        derived = zmq.curve_public(secret.encode()).decode()
        if public is not None and public != derived:
            raise ValueError(f"{path}: its public-key does not belong to its secret-key")
        return derived, secret
    if public is None or not _Z85_KEY.match(public):
        raise ValueError(f'{path}: no public-key = "<40 Z85 characters>" line')
    return public, None


class CurveKeys(NamedTuple):
    """A CurveZMQ client's keys (Z85): the worker's public key and this client's key pair."""
    server_public: str
    public: str
    secret: str

    @classmethod
    def from_files(cls, server_key_file: str, secret_key_file: str) -> "CurveKeys":
        """server_key_file: the worker's NAME.key (the --curve-server-key of `zinfer submit`);
        secret_key_file: this client's NAME.key_secret, whose NAME.key is in the worker's
        --curve-authorized-keys directory."""
        server, _ = read_curve_key_file(server_key_file)
        public, secret = read_curve_key_file(secret_key_file, need_secret=True)
        assert secret is not None
        return cls(server, public, secret)

    def apply(self, sock: zmq.Socket) -> None:
        """Makes `sock` a CurveZMQ client (before connect)."""
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_public.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public.encode())
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret.encode())


def pack(msg: Dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


def unpack(frame: bytes) -> Dict[str, Any]:
    # strict_map_key=False: logit_bias may use integer keys.
    return msgpack.unpackb(frame, raw=False, strict_map_key=False)


_Client = TypeVar("_Client", bound="ClientBase")


class ClientBase:
    """What Client and FanoutClient share: a ZeroMQ context (their own unless one is given)
    whose sockets close() closes, use in a `with` statement, and each job's received frames,
    buffered until frames() reads them."""

    def __init__(self, context: Optional[zmq.Context]):
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._jobs: Dict[str, Deque[Dict[str, Any]]] = collections.defaultdict(collections.deque)

    def _job_frames(self, job_id: str, receive: Callable[[float], None]) -> Iterator[Dict[str, Any]]:
        """Yields the job's frames in order and stops after the terminal one; while none is
        buffered it calls receive(t), t the time.monotonic() at which the wait for this frame
        began. The job is forgotten once the reader has taken all its frames."""
        queue = self._jobs[job_id]
        try:
            while True:
                waiting_since = time.monotonic()
                while not queue:
                    receive(waiting_since)
                frame = queue.popleft()
                yield frame
                if frame.get("type") in TERMINAL_TYPES:
                    return
        finally:
            if not queue:
                self._jobs.pop(job_id, None)

    def frames(self, job_id: str, timeout_s: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        raise NotImplementedError

    def _read_result(self, job_id: str,
                     timeout_s: Optional[float]) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
        """Reads the job's frames to its end: (the result generate() returns, None), or (None, the
        error frame) when the job ends with one."""
        text: List[str] = []
        reasoning: List[str] = []
        tokens: List[int] = []
        logprobs: List[Dict[str, Any]] = []
        for frame in self.frames(job_id, timeout_s):
            kind = frame["type"]
            if kind == "error":
                return None, frame
            if kind in ("token", "done"):
                text.append(frame["text"])
                reasoning.append(frame.get("reasoning", ""))
                tokens.extend(frame["tokens"])
                logprobs.extend(frame.get("logprobs", []))
            if kind == "done":
                out = {"text": "".join(text), "tokens": tokens, "finish_reason": frame["finish_reason"],
                       "usage": frame["usage"], "timings": frame["timings"], "logprobs": logprobs}
                if "reasoning" in frame:
                    out["reasoning"] = "".join(reasoning)
                return out, None
        raise ZinferError("INTERNAL", f"job {job_id} ended without a terminal frame")

    def _sockets(self) -> List[zmq.Socket]:
        raise NotImplementedError

    def close(self) -> None:
        for sock in self._sockets():
            sock.close(0)
        if self._own_context:
            self._ctx.term()

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Client(ClientBase):
    """A DEALER connection to one worker."""

    def __init__(self, endpoint: str, *, identity: Optional[bytes] = None, timeout_s: float = 60.0,
                 context: Optional[zmq.Context] = None, frame_hook: Optional[Callable[[bytes], None]] = None,
                 curve: Optional[CurveKeys] = None):
        """frame_hook, if given, sees every received payload before decoding (tests validate
        live frames against the JSON Schemas with it). curve: speak CurveZMQ (a worker with
        --curve-secret-key); a worker that does not know this client's key answers nothing, so
        requests end in ZinferError "TIMEOUT"."""
        super().__init__(context)
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        if identity is not None:
            self._sock.setsockopt(zmq.ROUTING_ID, identity)
        if curve is not None:
            curve.apply(self._sock)
        self._sock.connect(endpoint)
        self.timeout_s = timeout_s
        self.frame_hook = frame_hook
        self._other: Deque[Dict[str, Any]] = collections.deque()  # health, stats, errors without job_id

    # -- requests --------------------------------------------------------------------------

    def send(self, msg: Dict[str, Any], timeout_s: Optional[float] = None) -> None:
        self.send_raw(pack(msg), timeout_s)

    def send_raw(self, payload: bytes, timeout_s: Optional[float] = None) -> None:
        """Sends bytes as they are (for testing a worker's handling of malformed frames).
        ZinferError "TIMEOUT" when the frame cannot even be queued within timeout_s (default:
        the client's): the connection is gone and not back (e.g. a CurveZMQ worker refused
        this client's key)."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        self._sock.setsockopt(zmq.SNDTIMEO, max(0, int(timeout * 1000)))
        try:
            self._sock.send(payload)
        except zmq.Again:
            raise ZinferError("TIMEOUT", f"could not send to the worker within {timeout:g} s",
                              retriable=True) from None

    def submit(self, job_id: str, prompt: Optional[str] = None, **kwargs: Any) -> None:
        """Sends a submit; read its frames with frames(job_id) or use generate()."""
        self.send(build_submit(job_id, prompt, **kwargs))

    def cancel(self, job_id: str) -> None:
        """Idempotent. A live job then ends with done / finish_reason "cancelled"."""
        self.send({"v": PROTOCOL_VERSION, "type": "cancel", "job_id": job_id})

    def health(self, timeout_s: Optional[float] = None) -> Dict[str, Any]:
        self.send({"v": PROTOCOL_VERSION, "type": "health"}, timeout_s)
        return self._await_reply("health", timeout_s)

    def stats(self, timeout_s: Optional[float] = None) -> Dict[str, Any]:
        self.send({"v": PROTOCOL_VERSION, "type": "stats"}, timeout_s)
        return self._await_reply("stats", timeout_s)

    # -- responses -------------------------------------------------------------------------

    def frames(self, job_id: str, timeout_s: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        """Yields the job's frames in order (accepted, token*, done | error) and stops after the
        terminal one. timeout_s bounds the wait for each frame (ZinferError "TIMEOUT")."""
        yield from self._job_frames(job_id, lambda _since: self._receive_one(timeout_s))

    def generate(self, job_id: str, prompt: Optional[str] = None, *, timeout_s: Optional[float] = None,
                 **kwargs: Any) -> Dict[str, Any]:
        """Submits and waits for the end. Returns {"text", "tokens", "finish_reason", "usage",
        "timings", "logprobs"}, plus "reasoning" (the analysis channel) for harmony (gpt-oss)
        chat jobs; raises ZinferError if the job ends with an error frame."""
        self.submit(job_id, prompt, **kwargs)
        out, error = self._read_result(job_id, timeout_s)
        if error is not None:
            raise ZinferError.from_frame(error)
        return out

    def _await_reply(self, kind: str, timeout_s: Optional[float]) -> Dict[str, Any]:
        while True:
            for i, frame in enumerate(self._other):
                if frame.get("type") == kind:
                    del self._other[i]
                    return frame
                if frame.get("type") == "error":  # a health/stats request itself was rejected
                    del self._other[i]
                    raise ZinferError.from_frame(frame)
            self._receive_one(timeout_s)

    def _receive_one(self, timeout_s: Optional[float]) -> None:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if self._sock.poll(remaining_ms, zmq.POLLIN):
                break
            if time.monotonic() >= deadline:
                raise ZinferError("TIMEOUT", f"no frame from the worker within {timeout:g} s", retriable=True)
        parts = self._sock.recv_multipart()
        if self.frame_hook is not None:
            self.frame_hook(parts[-1])
        frame = unpack(parts[-1])  # a REQ-style envelope would put an empty frame first
        job_id = frame.get("job_id")
        if job_id is not None and frame.get("type") in ("accepted", "token", "done", "error"):
            self._jobs[job_id].append(frame)
        else:
            self._other.append(frame)

    def _sockets(self) -> List[zmq.Socket]:
        return [self._sock]
