#!/usr/bin/env python3
"""Render zinfer benchmark results as PNG charts (matplotlib).

Inputs (either or both):
  --bench FILE   one or more `zinfer bench --model M --batch 1 --batch 8 ... --json` outputs
                 (one JSON object per line; several lines = several runs/devices, one line each
                 in the chart): throughput vs concurrency (decode tokens/s and ms per step
                 against the batch size).
                 Lines of `zinfer bench --e2e ... --json` (a real `zinfer serve` end to end) in
                 the same file are drawn as OUT_DIR/e2e.png instead: output tokens/s of the
                 engine alone and of every run through serve, and TTFT / inter-token latency
                 p50 and p99 per run.
  --jobs FILE    the JSONL results of `zinfer submit` (one line per job with "timings" and
                 "usage"): latency percentiles p50/p90/p99 of queue time, time to first token,
                 inter-token latency and end-to-end latency.

Writes OUT_DIR/throughput.png, OUT_DIR/e2e.png and/or OUT_DIR/latency.png and prints what it
wrote.
Example (README "Performance"):
  build/bin/zinfer bench --model M.gguf --batch 1 --batch 2 --batch 4 --batch 8 --json > bench.json
  build/bin/zinfer bench --e2e --model M.gguf --jobs 256 --tokens 256 --json >> bench.json
  build/bin/zinfer submit --connect EP --input jobs.jsonl --output results.jsonl
  python3 scripts/bench_plot.py --bench bench.json --jobs results.jsonl --out docs/img
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def read_lines(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"error: {path}:{n}: not JSON: {e}")
    return out


def label_of(run):
    model = run.get("model", {})
    name = model.get("name") or os.path.basename(model.get("file", "?"))
    device = run.get("device", "?").split(" (")[0]
    returns = run.get("options", {}).get("decode_returns")
    return f"{name} on {device}" + (f", step returns {returns}" if returns else "")


def plot_throughput(runs, out_path, title):
    fig, (ax_tps, ax_ms) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run in runs:
        decode = sorted(run.get("decode", []), key=lambda d: d["batch"])
        if not decode:
            sys.exit("error: --bench: a run without a \"decode\" list (use zinfer bench --json)")
        b = [d["batch"] for d in decode]
        ax_tps.plot(b, [d["tokens_per_s"] for d in decode], marker="o", label=label_of(run))
        ax_ms.plot(b, [d["ms_per_step"] for d in decode], marker="o", label=label_of(run))
    for ax in (ax_tps, ax_ms):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent sequences (decode batch)")
        ax.grid(True, which="both", alpha=0.3)
    ax_tps.set_ylabel("decode tokens/s (all sequences)")
    ax_tps.set_title("Throughput vs concurrency")
    ax_ms.set_ylabel("ms per decode step (= inter-token latency)")
    ax_ms.set_title("Step time vs concurrency")
    ax_tps.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def e2e_label(run, name):
    labels = {"engine": "engine alone"}
    if name in labels:
        return labels[name]
    parts = name.split("/")
    if parts[0] == "unique":
        return f"serve {parts[1]}"
    return f"shared prefix, {parts[-1]}"


def plot_e2e(reports, out_path, title):
    n = len(reports)
    fig, axes = plt.subplots(n, 2, figsize=(12, 4.2 * n), squeeze=False)
    for row, rep in zip(axes, reports):
        ax_tps, ax_lat = row
        runs = ([rep["engine"]] if "engine" in rep else []) + rep.get("runs", [])
        names = [e2e_label(rep, r["name"]) for r in runs]
        bars = ax_tps.bar(range(len(runs)), [r["tokens_per_s"] for r in runs],
                          color=["gray"] + ["C0"] * (len(runs) - 1) if "engine" in rep else "C0")
        ax_tps.bar_label(bars, fmt="%.0f", fontsize=7)
        ax_tps.set_xticks(range(len(runs)))
        ax_tps.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        ax_tps.set_ylabel("output tokens/s (all jobs)")
        w = rep["workload"]
        ax_tps.set_title(f"{label_of(rep)}: {w['jobs']} jobs, {w['prompt_tokens']} prompt + "
                         f"{w['tokens_per_job']} sampled tokens, max-running {w['max_running']}",
                         fontsize=9)
        width = 0.2
        series = [("TTFT p50", "ttft_ms", "p50"), ("TTFT p99", "ttft_ms", "p99"),
                  ("ITL p50", "itl_ms", "p50"), ("ITL p99", "itl_ms", "p99")]
        for i, (label, key, q) in enumerate(series):
            xs = [x + (i - 1.5) * width for x in range(len(runs))]
            vals = [max(r[key][q], 1e-3) for r in runs]
            b = ax_lat.bar(xs, vals, width, label=label)
            ax_lat.bar_label(b, fmt="%.0f", fontsize=6)
        ax_lat.set_xticks(range(len(runs)))
        ax_lat.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        ax_lat.set_yscale("log")
        ax_lat.set_ylabel("milliseconds (as the clients saw them)")
        ax_lat.grid(True, axis="y", which="both", alpha=0.3)
        ax_lat.legend(fontsize=7)
        ax_lat.set_title("time to first token / inter-token latency", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def percentile(values, q):
    v = sorted(values)
    if not v:
        return 0.0
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def plot_latency(jobs, out_path, title):
    done = [j for j in jobs if "timings" in j]
    if not done:
        sys.exit("error: --jobs: no finished job with \"timings\" (zinfer submit's output)")
    series = {
        "queue": [j["timings"]["queue_ms"] for j in done],
        "time to first token": [j["timings"]["ttft_ms"] for j in done],
        "inter-token": [j["timings"]["decode_ms"] / (j["usage"]["completion_tokens"] - 1)
                        for j in done if j["usage"]["completion_tokens"] > 1],
        "end to end": [j["timings"]["ttft_ms"] + j["timings"]["decode_ms"] for j in done],
    }
    qs = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.25
    names = list(series)
    for i, (qname, q) in enumerate(qs):
        vals = [percentile(series[n], q) for n in names]
        xs = [x + (i - 1) * width for x in range(len(names))]
        bars = ax.bar(xs, vals, width, label=qname)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("milliseconds")
    ax.set_yscale("log")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f"{title} — latency percentiles over {len(done)} jobs")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bench", help="zinfer bench --json output (JSON lines)")
    p.add_argument("--jobs", help="zinfer submit results (JSONL)")
    p.add_argument("--out", default=".", help="output directory")
    p.add_argument("--title", default="zinfer", help="chart title prefix")
    a = p.parse_args()
    if not a.bench and not a.jobs:
        p.error("give --bench and/or --jobs")
    os.makedirs(a.out, exist_ok=True)
    if a.bench:
        lines = read_lines(a.bench)
        e2e = [r for r in lines if r.get("mode") == "e2e"]
        engine = [r for r in lines if r.get("mode") != "e2e"]
        if engine:
            path = os.path.join(a.out, "throughput.png")
            plot_throughput(engine, path, a.title)
            print(path)
        if e2e:
            path = os.path.join(a.out, "e2e.png")
            plot_e2e(e2e, path, a.title)
            print(path)
    if a.jobs:
        path = os.path.join(a.out, "latency.png")
        plot_latency(read_lines(a.jobs), path, a.title)
        print(path)


if __name__ == "__main__":
    main()
