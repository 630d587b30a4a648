#!/usr/bin/env python3
"""Golden greedy tokens and logits from Hugging Face transformers (float32, CPU).

transformers reads the GGUF itself (dequantizing every tensor with the `gguf` package and
undoing llama.cpp's q/k permutation), then runs its own PyTorch implementation of the
architecture in float32. That is the independent reference for zinfer's CPU backend in its
exact mode (float dot products against dequantized weights), which the CUDA kernels are then
checked against.

The prompts (token ids) are taken from the llama.cpp golden file so both references see the
same inputs; llama.cpp also produced those ids (tokenizer identity is tested separately).

Usage: hf_goldens.py MODEL.gguf LLAMACPP_GOLDEN.json OUT.json [--steps 64] [--top 20]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("prompts", help="llama.cpp golden JSON whose cases give the prompt ids")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()

    import transformers
    from transformers import AutoModelForCausalLM

    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    d, f = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    src = json.load(open(args.prompts))
    cases = []
    for case in src["cases"]:
        ids = list(case["prompt_ids"])
        input_ids = torch.tensor([ids], dtype=torch.long)
        out = model(input_ids=input_ids, use_cache=True)
        past = out.past_key_values
        logits = out.logits[0, -1].double().numpy()
        generated, steps = [], []
        for step in range(args.steps):
            order = np.argsort(-logits, kind="stable")[: args.top]
            tok = int(order[0])  # argmax, lowest id on ties (stable sort)
            steps.append({
                "top_ids": [int(i) for i in order],
                "top_logits": [round(float(logits[i]), 5) for i in order],
                "margin": round(float(logits[order[0]] - logits[order[1]]), 6),
            })
            generated.append(tok)
            out = model(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1].double().numpy()
        cases.append({"name": case["name"], "prompt_ids": ids, "generated_ids": generated,
                      "steps": steps})
        print(f"{case['name']}: {len(ids)} prompt tokens, min margin "
              f"{min(s['margin'] for s in steps):.4f}", file=sys.stderr)
    doc = {
        "format": 1,
        "reference": {"tool": "transformers", "version": transformers.__version__,
                      "torch": torch.__version__, "dtype": "float32", "device": "cpu",
                      "attn_implementation": "eager",
                      "greedy": "argmax of the last position's logits, lowest id on ties; no stop at EOS"},
        "model": {"file": f, "sha256": sha256(args.model)},
        "n_generate": args.steps,
        "top_k": args.top,
        "cases": cases,
    }
    with open(args.out, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
