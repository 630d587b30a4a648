"""Example: talk to a running worker (zinfer serve --bind tcp://127.0.0.1:5555).

    python3 clients/python/example.py [tcp://127.0.0.1:5555] ["prompt text"]
"""

import sys
import uuid

from zinfer_client import Client, ZinferError


def main() -> int:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
    prompt = sys.argv[2] if len(sys.argv) > 2 else "The three primary colors are"
    with Client(endpoint, timeout_s=120) as client:
        health = client.health(timeout_s=10)
        print(f"worker: {health['status']}, model {health['model']} ({health['architecture']}), "
              f"device {health['device']}, context {health['context_length']}")

        # Streaming: print text as it arrives.
        job = f"example-{uuid.uuid4().hex[:8]}"
        client.submit(job, prompt=prompt, max_tokens=48, temperature=0.7, seed=1, stop=["\n\n"])
        for frame in client.frames(job):
            if frame["type"] == "accepted":
                print(f"[accepted, queue position {frame['queue_position']}]")
            elif frame["type"] in ("token", "done"):
                print(frame["text"], end="", flush=True)
            if frame["type"] == "done":
                t = frame["timings"]
                print(f"\n[{frame['finish_reason']}: {frame['usage']['completion_tokens']} tokens, "
                      f"ttft {t['ttft_ms']:.1f} ms, {t['tokens_per_s']:.1f} tok/s]")
            elif frame["type"] == "error":
                print(f"\n[error {frame['code']}: {frame['message']}]")

        # Chat, non-streaming, greedy.
        try:
            out = client.generate(f"chat-{uuid.uuid4().hex[:8]}", stream=False, temperature=0, max_tokens=32,
                                  messages=[{"role": "user", "content": "Say hello in French."}])
            print(f"chat: {out['text']!r} ({out['finish_reason']})")
        except ZinferError as e:
            print(f"chat failed: {e} (retriable: {e.retriable})")

        # A request the worker must reject, to show the error shape.
        try:
            client.generate("bad-temperature", prompt="x", temperature=-1)
        except ZinferError as e:
            print(f"rejected as expected: {e.code}: {e.message}")

        print("stats:", client.stats(timeout_s=10))
    return 0


if __name__ == "__main__":
    sys.exit(main())
