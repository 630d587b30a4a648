"""Producer side of the NATS JetStream path (schemas/PROTOCOL.md §9), with nats-py — the same
contract as `zinfer submit --nats`: jobs are published with the job id as message id (the
stream drops duplicates), every frame comes back on this producer's reply subject (kept by the
results stream), the first terminal frame of a job is its result (later ones, from a
redelivered attempt, are counted and discarded), and results come back in input order.

    from zinfer_nats import submit_batch
    results, counts = submit_batch("nats://127.0.0.1:4222", "tiny", [
        {"job_id": "a", "prompt": "Hello", "max_tokens": 16, "seed": 1},
    ])
    # counts: {"jobs": 1, "done": 1, "failed": 0, "lost": 0, "duplicated": 0, "redelivered": 0}
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import msgpack
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from zinfer_client import PROTOCOL_VERSION


def priority_class(priority: int) -> str:
    return "high" if priority > 0 else ("low" if priority < 0 else "normal")


async def _ensure_stream(js, name: str, subjects: List[str], work_queue: bool, max_age: float = 0) -> None:
    cfg = StreamConfig(name=name, subjects=subjects, storage=StorageType.FILE,
                       retention=RetentionPolicy.WORK_QUEUE if work_queue else RetentionPolicy.LIMITS,
                       max_age=max_age or None)
    try:
        await js.add_stream(cfg)
    except BadRequestError:
        pass  # it exists (perhaps with other limits): use it as it is


async def submit_batch_async(url: str, model: str, jobs: List[Dict[str, Any]], *, timeout: float = 600.0,
                             stream: str = "ZINFER_JOBS", subject_prefix: str = "zinfer.jobs",
                             results_stream: str = "ZINFER_RESULTS",
                             results_prefix: str = "zinfer.results") -> Tuple[List[Dict[str, Any]], Dict[str, int]]:
    """Publishes `jobs` (submit maps; v/type filled in, job_id required and unique) and returns
    (one result per job in input order, counts)."""
    ids = [j["job_id"] for j in jobs]
    if len(set(ids)) != len(ids):
        raise ValueError("job ids must be unique (they are the de-duplication key)")
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    me = uuid.uuid4().hex[:16]
    reply, durable = f"{results_prefix}.{me}", f"zinfer-results-{me}"
    await _ensure_stream(js, stream, [f"{subject_prefix}.>"], True)
    await _ensure_stream(js, results_stream, [f"{results_prefix}.>"], False, 86400)
    await js.add_consumer(results_stream, ConsumerConfig(durable_name=durable, filter_subject=reply,
                                                         ack_policy=AckPolicy.NONE,
                                                         deliver_policy=DeliverPolicy.ALL))
    sub = await js.pull_subscribe_bind(durable=durable, stream=results_stream)
    index = {job_id: i for i, job_id in enumerate(ids)}
    results: List[Optional[Dict[str, Any]]] = [None] * len(jobs)
    counts = {"jobs": len(jobs), "done": 0, "failed": 0, "lost": 0, "duplicated": 0, "redelivered": 0}
    partial: Dict[str, Tuple[int, str, List[int]]] = {}  # job → (attempt, text, tokens) so far
    for i, job in enumerate(jobs):
        msg = {"v": PROTOCOL_VERSION, "type": "submit", **job}
        subject = f"{subject_prefix}.{model}.{priority_class(int(job.get('priority') or 0))}"
        ack = await js.publish(subject, msgpack.packb(msg), headers={"Nats-Msg-Id": job["job_id"],
                                                                     "Zinfer-Reply": reply})
        if ack.duplicate:
            results[i] = {"job_id": job["job_id"], "error": {
                "code": "DUPLICATE_JOB", "retriable": False,
                "message": "the stream already holds a job with this id (de-duplication window)"}}
            counts["failed"] += 1
    last = time.monotonic()
    while any(r is None for r in results) and time.monotonic() - last < timeout:
        try:
            msgs = await sub.fetch(256, timeout=0.5)
        except (asyncio.TimeoutError, nats.errors.TimeoutError):
            continue
        for m in msgs:
            f = msgpack.unpackb(m.data, raw=False, strict_map_key=False)
            i = index.get(f.get("job_id"))
            if i is None:
                continue
            attempt, kind = int(f.get("attempt", 1)), f.get("type")
            terminal = kind in ("done", "error")
            if results[i] is not None:
                counts["duplicated"] += 1 if terminal else 0
                continue
            seen = partial.get(f["job_id"])
            if seen is None or seen[0] != attempt:  # frames of an unfinished attempt are dropped
                seen = (attempt, "", [])
            if kind in ("token", "done"):
                seen = (attempt, seen[1] + f.get("text", ""), seen[2] + list(f.get("tokens", [])))
            partial[f["job_id"]] = seen
            if not terminal:
                continue
            last = time.monotonic()
            counts["redelivered"] += 1 if attempt > 1 else 0
            if kind == "done":
                rec = {k: v for k, v in f.items() if k not in ("v", "type", "seq")}
                rec["text"], rec["tokens"] = seen[1], seen[2]
                counts["done"] += 1
            else:
                rec = {"job_id": f["job_id"], "attempt": attempt, "error": {
                    "code": f.get("code"), "message": f.get("message"), "retriable": f.get("retriable")}}
                counts["failed"] += 1
            results[i] = rec
    for i, r in enumerate(results):
        if r is None:
            counts["lost"] += 1
            results[i] = {"job_id": ids[i], "error": {"code": "WORKER_LOST", "retriable": True,
                                                      "message": f"no terminal frame within {timeout} s"}}
    try:
        await js.delete_consumer(results_stream, durable)
        await js.purge_stream(results_stream, subject=reply)
    finally:
        await nc.close()
    return results, counts  # type: ignore[return-value]


def submit_batch(url: str, model: str, jobs: List[Dict[str, Any]], **kwargs: Any):
    """submit_batch_async() for synchronous code."""
    return asyncio.run(submit_batch_async(url, model, jobs, **kwargs))
