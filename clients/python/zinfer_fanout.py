"""Jobs spread over several workers without a broker (schemas/PROTOCOL.md §10): the Python side
of `zinfer submit --connect A --connect B …`.

    from zinfer_fanout import FanoutClient
    with FanoutClient(["ipc:///run/zinfer/w0.sock", "tcp://127.0.0.1:5556"], worker_timeout_s=5) as pool:
        # A batch: results in input order, a lost worker's jobs run again on the others.
        results, counts = pool.submit_batch([{"job_id": "a", "prompt": "Hi", "max_tokens": 8}], retries=3)
        # One job at a time, streamed, as with zinfer_client.Client:
        pool.submit("b", prompt="Hello", max_tokens=8)
        for frame in pool.frames("b"):
            ...

One DEALER per worker (as service/client/fanout_client.h). A job goes to the reachable worker
with the fewest of this client's jobs in flight; every worker gets a `health` request each
heartbeat, and any frame from it proves it alive. A worker silent for worker_timeout_s while
it holds jobs is lost: each of its jobs ends with a client-side error frame
`{"type": "error", "code": "WORKER_LOST", "retriable": true, "endpoint": <the worker>}`, and
submit_batch() (or generate(retries=N)) submits it again to the others. Frames of a job are
taken only from the worker it is placed on, so a late answer from a worker thought lost never
mixes with the retry's: every job ends exactly once as this client sees it.

Like Client, a FanoutClient is not thread-safe; use one per thread. Do not mix poll() with
frames()/submit_batch() on the same jobs: poll() hands frames out instead of buffering them.
"""

from __future__ import annotations

import collections
import heapq
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import zmq

from zinfer_client import (PROTOCOL_VERSION, TERMINAL_TYPES, ClientBase, CurveKeys, ZinferError, build_submit,
                           pack, unpack)

JOB_FRAME_TYPES = ("accepted", "token", "done", "error")


class _Worker:
    __slots__ = ("endpoint", "sock", "in_flight", "last_heard", "last_ping", "lost", "health")

    def __init__(self, endpoint: str, sock: zmq.Socket):
        self.endpoint = endpoint
        self.sock = sock
        self.in_flight = 0
        self.last_heard = time.monotonic()
        self.last_ping = 0.0
        self.lost = False
        self.health: Optional[Dict[str, Any]] = None  # its last health reply


class FanoutClient(ClientBase):
    """DEALERs to several workers; see the module's documentation."""

    def __init__(self, endpoints: Sequence[str], *, heartbeat_s: float = 1.0, worker_timeout_s: float = 10.0,
                 timeout_s: float = 600.0, curve: Optional[CurveKeys] = None, context: Optional[zmq.Context] = None,
                 frame_hook: Optional[Callable[[bytes], None]] = None):
        """heartbeat_s: health request interval per worker. worker_timeout_s: silence after
        which a worker holding jobs is lost (`zinfer submit --worker-timeout`). timeout_s: how
        long frames()/submit_batch() wait when no frame arrives at all (`--timeout`). curve:
        CurveZMQ keys (one worker key for all endpoints). frame_hook sees every payload."""
        if not endpoints:
            raise ValueError("at least one worker endpoint is required")
        super().__init__(context)
        self.heartbeat_s = heartbeat_s
        self.worker_timeout_s = worker_timeout_s
        self.timeout_s = timeout_s
        self.frame_hook = frame_hook
        # With several workers a send must fail while a worker is unreachable, so the job goes
        # to another one instead of queueing for a dead peer.
        self._several = len(endpoints) > 1
        self._workers: List[_Worker] = []
        self._poller = zmq.Poller()
        for ep in endpoints:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if self._several:
                sock.setsockopt(zmq.IMMEDIATE, 1)
            if curve is not None:
                curve.apply(sock)
            sock.connect(ep)
            self._workers.append(_Worker(ep, sock))
            self._poller.register(sock, zmq.POLLIN)
        self._owner: Dict[str, int] = {}  # job id → worker index
        self._other: Deque[Dict[str, Any]] = collections.deque()  # stats replies, errors without job_id
        self._ping = pack({"v": PROTOCOL_VERSION, "type": "health"})

    # -- placement -------------------------------------------------------------------------

    @property
    def endpoints(self) -> List[str]:
        return [w.endpoint for w in self._workers]

    def workers(self) -> List[Dict[str, Any]]:
        """Each worker as this client sees it: endpoint, in_flight, lost, seconds since its last
        frame, and its last health reply (None before the first)."""
        now = time.monotonic()
        return [{"endpoint": w.endpoint, "in_flight": w.in_flight, "lost": w.lost,
                 "silent_s": now - w.last_heard, "health": w.health} for w in self._workers]

    def wait_ready(self, timeout_s: float = 30.0) -> List[str]:
        """Waits until every worker has answered a heartbeat with status "ready" (connections
        are made in the background: right after construction a worker may not be reachable
        yet, and jobs would all go to the first one that is), at most timeout_s; returns the
        endpoints that are ready. Job frames arriving meanwhile are kept for frames()."""
        deadline = time.monotonic() + timeout_s
        while True:
            ready = [w.endpoint for w in self._workers if (w.health or {}).get("status") == "ready"]
            if len(ready) == len(self._workers) or time.monotonic() >= deadline:
                return ready
            for w in self._workers:
                if w.health is None or w.health.get("status") != "ready":
                    w.last_ping = 0.0  # ask again now rather than a heartbeat later
            self._buffer(self.poll(min(0.05, max(0.0, deadline - time.monotonic()))))

    def place(self, job_id: str, payload: bytes) -> Optional[str]:
        """Sends an encoded submit to the least-loaded reachable worker now; its endpoint, or
        None when no worker can take it at the moment (all unreachable)."""
        if job_id in self._owner:
            raise ValueError(f"job {job_id!r} is already in flight")
        order = sorted((i for i, w in enumerate(self._workers) if not w.lost),
                       key=lambda i: self._workers[i].in_flight)
        for i in order:
            w = self._workers[i]
            try:
                # Never blocks: with one worker too, a connection that is gone for good (a
                # CurveZMQ worker refused this client's key) must not hang the caller.
                w.sock.send(payload, zmq.NOBLOCK)
            except zmq.Again:
                continue
            if w.in_flight == 0:
                w.last_heard = time.monotonic()  # its silence counts from now
            w.in_flight += 1
            self._owner[job_id] = i
            return w.endpoint
        return None

    def submit(self, job_id: str, prompt: Optional[str] = None, *, timeout_s: Optional[float] = None,
               **kwargs: Any) -> str:
        """Places one job (build_submit's arguments); returns the worker's endpoint. Waits up to
        timeout_s for a reachable worker (ZinferError "TIMEOUT" after that)."""
        payload = pack(build_submit(job_id, prompt, **kwargs))
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while True:
            endpoint = self.place(job_id, payload)
            if endpoint is not None:
                return endpoint
            if time.monotonic() >= deadline:
                raise ZinferError("TIMEOUT", f"no worker reachable within {timeout:g} s", retriable=True,
                                  job_id=job_id)
            self._buffer(self.poll(0.05))

    def cancel(self, job_id: str) -> None:
        """Sends a cancel to the worker the job is placed on (nothing if it is not in flight)."""
        i = self._owner.get(job_id)
        if i is None:
            return
        try:
            self._workers[i].sock.send(pack({"v": PROTOCOL_VERSION, "type": "cancel", "job_id": job_id}),
                                       zmq.NOBLOCK)
        except zmq.Again:
            pass

    # -- frames ----------------------------------------------------------------------------

    def poll(self, timeout_s: float) -> List[Dict[str, Any]]:
        """Job frames (accepted, token, done, error, and WORKER_LOST for the jobs of a worker
        found lost) that arrive within timeout_s: waits for the first, returns it with whatever
        else is there. Sends due heartbeats meanwhile. [] on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            out = self._tick()
            wait = 0.0 if out else max(0.0, min(deadline - time.monotonic(), self.heartbeat_s / 2))
            events = dict(self._poller.poll(int(wait * 1000)))
            for i, w in enumerate(self._workers):
                if w.sock not in events:
                    continue
                while True:
                    try:
                        parts = w.sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    frame = self._dispatch(i, parts[-1])
                    if frame is not None:
                        out.append(frame)
            if out or time.monotonic() >= deadline:
                return out

    def frames(self, job_id: str, timeout_s: Optional[float] = None):
        """Yields the job's frames in order (accepted, token*, done | error) and stops after the
        terminal one; a WORKER_LOST error frame when its worker is lost. timeout_s bounds the
        wait for each frame (ZinferError "TIMEOUT")."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        if not self._jobs.get(job_id) and job_id not in self._owner:
            self._jobs.pop(job_id, None)
            raise ValueError(f"job {job_id!r} is not in flight")

        def receive(waiting_since: float) -> None:
            left = waiting_since + timeout - time.monotonic()
            if left <= 0:
                raise ZinferError("TIMEOUT", f"no frame of {job_id} within {timeout:g} s", retriable=True,
                                  job_id=job_id)
            self._buffer(self.poll(left))

        yield from self._job_frames(job_id, receive)

    def generate(self, job_id: str, prompt: Optional[str] = None, *, retries: int = 0,
                 timeout_s: Optional[float] = None, **kwargs: Any) -> Dict[str, Any]:
        """Submits and waits for the end, as Client.generate; a job lost with its worker (or
        answered DRAINING / QUEUE_FULL) is submitted again up to `retries` times."""
        for attempt in range(retries + 1):
            self.submit(job_id, prompt, timeout_s=timeout_s, **kwargs)
            out, error = self._read_result(job_id, timeout_s)
            if error is None:
                return out
            if attempt == retries or not self._retriable_here(error):
                raise ZinferError.from_frame(error)
        raise ZinferError("INTERNAL", f"job {job_id} ended without a terminal frame")

    # -- batches ---------------------------------------------------------------------------

    def submit_batch(self, jobs: Sequence[Dict[str, Any]], *, window: int = 32, retries: int = 50,
                     timeout_s: Optional[float] = None,
                     on_result: Optional[Callable[[int, Dict[str, Any]], None]] = None
                     ) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
        """Runs `jobs` (submit maps as in `zinfer submit`'s JSONL: the PROTOCOL.md §4.1 fields;
        job_id defaults to "job-<index>") with at most `window` in flight, and returns
        (results in input order, counts). A result is the job's done frame with its whole text
        and tokens (as `zinfer submit` writes it) or {"job_id", "error": {code, message,
        retriable}}. A job lost with its worker (WORKER_LOST), answered QUEUE_FULL, or DRAINING
        with several workers, is submitted again while it has had at most `retries` attempts
        beyond the first. on_result(index, result) is called once per job as it ends.
        counts: jobs, done, failed, resubmitted (after WORKER_LOST), retried (QUEUE_FULL /
        DRAINING), placed ({endpoint: submits}), lost_workers."""
        if window < 1:
            raise ValueError(f"window must be ≥ 1, got {window}")
        timeout = self.timeout_s if timeout_s is None else timeout_s
        n = len(jobs)
        ids = [str(j.get("job_id", f"job-{i}")) for i, j in enumerate(jobs)]
        if len(set(ids)) != n:
            raise ValueError("job ids must be unique within a batch")
        payloads = [pack({"v": PROTOCOL_VERSION, "type": "submit", **j, "job_id": ids[i]})
                    for i, j in enumerate(jobs)]
        index = {job_id: i for i, job_id in enumerate(ids)}
        results: List[Optional[Dict[str, Any]]] = [None] * n
        attempts = [0] * n
        partial: Dict[int, Tuple[List[str], List[int], List[Any]]] = {}
        counts: Dict[str, Any] = {"jobs": n, "done": 0, "failed": 0, "resubmitted": 0, "retried": 0,
                                  "placed": {ep: 0 for ep in self.endpoints}, "lost_workers": 0}
        lost_before = sum(w.lost for w in self._workers)
        fresh = collections.deque(range(n))
        due: List[Tuple[float, int, int]] = []  # (when, tie-break, index): retries
        in_flight: Dict[int, str] = {}
        seq = 0
        last_move = time.monotonic()

        def finish(i: int, rec: Dict[str, Any]) -> None:
            results[i] = rec
            in_flight.pop(i, None)
            partial.pop(i, None)
            counts["done" if "error" not in rec else "failed"] += 1
            if on_result is not None:
                on_result(i, rec)

        def again(i: int, delay: float) -> None:
            nonlocal seq
            in_flight.pop(i, None)
            partial.pop(i, None)
            seq += 1
            heapq.heappush(due, (time.monotonic() + delay, seq, i))

        while fresh or due or in_flight:
            now = time.monotonic()
            while len(in_flight) < window:
                if due and due[0][0] <= now:
                    _, _, i = heapq.heappop(due)
                elif fresh:
                    i = fresh.popleft()
                else:
                    break
                endpoint = self.place(ids[i], payloads[i])
                if endpoint is None:  # no worker can take it now: again on the next turn
                    seq += 1
                    heapq.heappush(due, (now + 0.1, seq, i))
                    break
                if not in_flight:
                    last_move = now  # the timeout counts from here
                attempts[i] += 1
                in_flight[i] = endpoint
                partial[i] = ([], [], [])
                counts["placed"][endpoint] += 1
            for f in self.poll(0.1 if in_flight or due else 0):
                i = index.get(f.get("job_id"))
                if i is None or i not in in_flight:
                    continue  # not this batch's
                kind = f["type"]
                if "endpoint" not in f:
                    last_move = time.monotonic()  # a worker's frame, not a lost-worker verdict
                text, tokens, logprobs = partial[i]
                if kind in ("token", "done"):
                    text.append(f.get("text", ""))
                    tokens.extend(f.get("tokens", []))
                    logprobs.extend(f.get("logprobs", []))
                if kind == "done":
                    rec = {k: v for k, v in f.items() if k not in ("v", "type", "seq")}
                    rec["text"], rec["tokens"] = "".join(text), list(tokens)
                    if logprobs:
                        rec["logprobs"] = list(logprobs)
                    finish(i, rec)
                elif kind == "error":
                    code = f.get("code")
                    if code == "WORKER_LOST" and attempts[i] <= retries:
                        counts["resubmitted"] += 1
                        again(i, 0.0)
                    elif self._retriable_here(f) and attempts[i] <= retries:
                        counts["retried"] += 1
                        again(i, min(2.0, 0.05 * (1 << min(attempts[i] - 1, 5))))  # 50 ms doubling
                    else:
                        finish(i, {"job_id": ids[i], "error": {"code": code, "message": f.get("message", ""),
                                                              "retriable": bool(f.get("retriable"))}})
            if (in_flight or due) and time.monotonic() - last_move > timeout:
                # Nothing moved for the timeout (no worker reachable, or none answering).
                for i in sorted(set(in_flight) | {d[2] for d in due} | set(fresh)):
                    if results[i] is None:
                        self._forget(ids[i])
                        finish(i, {"job_id": ids[i], "error": {
                            "code": "WORKER_LOST", "retriable": True,
                            "message": f"no frame from any worker for {timeout:g} s"}})
                break
        counts["lost_workers"] = sum(w.lost for w in self._workers) - lost_before
        return results, counts  # type: ignore[return-value]

    # -- internals -------------------------------------------------------------------------

    def _retriable_here(self, frame: Dict[str, Any]) -> bool:
        """Whether an error frame asks for the same job again: lost with its worker, refused for
        now (QUEUE_FULL), or by a draining worker when there are others (DRAINING)."""
        code = frame.get("code")
        return code in ("WORKER_LOST", "QUEUE_FULL") or (code == "DRAINING" and len(self._workers) > 1)

    def _dispatch(self, i: int, payload: bytes) -> Optional[Dict[str, Any]]:
        w = self._workers[i]
        w.last_heard = time.monotonic()
        w.lost = False  # it answers again
        if self.frame_hook is not None:
            self.frame_hook(payload)
        frame = unpack(payload)
        kind, job_id = frame.get("type"), frame.get("job_id")
        if kind == "health":
            w.health = frame
            return None
        if job_id is None or kind not in JOB_FRAME_TYPES:
            self._other.append(frame)
            return None
        if self._owner.get(job_id) != i:
            return None  # a job placed elsewhere since (its worker was thought lost), or not ours
        if kind in TERMINAL_TYPES:
            self._forget(job_id)
        return frame

    def _forget(self, job_id: str) -> None:
        i = self._owner.pop(job_id, None)
        if i is not None and self._workers[i].in_flight > 0:
            self._workers[i].in_flight -= 1

    def _tick(self) -> List[Dict[str, Any]]:
        """Sends due heartbeats; finds lost workers and returns WORKER_LOST frames for their jobs."""
        now = time.monotonic()
        out: List[Dict[str, Any]] = []
        for i, w in enumerate(self._workers):
            if now - w.last_ping >= self.heartbeat_s:
                try:
                    w.sock.send(self._ping, zmq.NOBLOCK)
                except zmq.Again:
                    pass
                w.last_ping = now
            if w.lost or w.in_flight == 0 or now - w.last_heard < self.worker_timeout_s:
                continue
            w.lost = True
            for job_id in [j for j, owner in self._owner.items() if owner == i]:
                del self._owner[job_id]
                out.append({"v": PROTOCOL_VERSION, "type": "error", "job_id": job_id, "code": "WORKER_LOST",
                            "retriable": True, "endpoint": w.endpoint,
                            "message": f"worker {w.endpoint} stopped answering for {self.worker_timeout_s:g} s"})
            w.in_flight = 0
        return out

    def _buffer(self, frames: List[Dict[str, Any]]) -> None:
        for f in frames:
            self._jobs[f["job_id"]].append(f)

    def _sockets(self) -> List[zmq.Socket]:
        return [w.sock for w in self._workers]
