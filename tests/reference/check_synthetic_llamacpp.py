#!/usr/bin/env python3
"""Cross-check of synthetic models and of reference_forward.py against llama.cpp.

For every tiny preset (llama, qwen2, gemma3, phi3, gpt2) in every weight type: writes the model with
`zinfer mkmodel`, loads it in llama.cpp (llama-cpp-python) — which checks our metadata,
tensor names, tokenizer section and quant blocks are what llama.cpp expects — and
compares llama.cpp's logits for a fixed 12-token sequence with the float64 reference.
llama.cpp rounds activations to 8 bits for quantized weights (and keeps an F16 KV cache),
so agreement is expected at the level of scripts/golden/synthetic_logits.py's q8_noise.

Usage: check_synthetic_llamacpp.py --zinfer build-x/bin/zinfer [--presets tiny-gemma3,tiny-gpt2]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_forward as rf  # noqa: E402

TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
TOKENS = [509, 17, 300, 45, 260, 499, 77, 128, 256, 3, 411, 200]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zinfer", required=True)
    ap.add_argument("--presets", default="tiny-llama,tiny-qwen2,tiny-gemma3,tiny-phi3,tiny-gpt2")
    a = ap.parse_args()
    import llama_cpp
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for preset in a.presets.split(","):
            for wtype in TYPES:
                path = os.path.join(tmp, f"{preset}_{wtype}.gguf")
                subprocess.run([a.zinfer, "mkmodel", "--preset", preset, "--type", wtype, "--seed", "1234",
                                "--out", path], check=True, capture_output=True)
                ref = rf.forward(rf.GgufModel(path), TOKENS)
                llm = llama_cpp.Llama(model_path=path, logits_all=True, n_ctx=64, verbose=False, n_threads=2)
                llm.eval(TOKENS)
                theirs = np.asarray(llm.scores[: len(TOKENS)], dtype=np.float64)
                d = np.abs(theirs - ref).max()
                same = int((theirs.argmax(1) == ref.argmax(1)).sum())
                worst = max(worst, d)
                print(f"{preset:10s} {wtype:5s} max|llama.cpp - ref| {d:.4f}  (max|ref| {np.abs(ref).max():.2f}) "
                      f"argmax agree {same}/{len(TOKENS)}")
                del llm
    print(f"worst {worst:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
