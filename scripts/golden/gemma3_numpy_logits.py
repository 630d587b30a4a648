#!/usr/bin/env python3
"""Float64 numpy reference logits of the real Gemma 3 GGUF on a short token list
(tests/data/golden/gemma3_numpy_logits.json), for tests/engine/model/gemma3_golden_test.cpp.

tests/reference/reference_forward.py (gguf dequantization + plain numpy, no engine code)
runs the whole prompt; the full rows (262144 logits) are too large to commit, so each
position keeps its top-K (id, logit) pairs plus the logits of a fixed random sample of
ids, which is enough to catch any systematic error (norm offsets, rope, window, scaling).
It also prints a greedy continuation decoded with the file's vocabulary as an eyeball check.

The token ids come from llama.cpp's tokenizer (vocab only) so the list is a real prompt.

Usage: gemma3_numpy_logits.py [--model .models/gemma-3-270m-q4_k_m.gguf] [--out ...]
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import reference_forward as rf  # noqa: E402

PROMPT = "<start_of_turn>user\nWrite one sentence about the sea.<end_of_turn>\n<start_of_turn>model\n"
TOP_K = 16
N_SAMPLE = 256
SEED = 20250827


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, ".models", "gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "golden", "gemma3_numpy_logits.json"))
    ap.add_argument("--greedy", type=int, default=8)
    a = ap.parse_args()

    import llama_cpp
    tok = llama_cpp.Llama(model_path=a.model, vocab_only=True, verbose=False)
    ids = tok.tokenize(PROMPT.encode("utf-8"), add_bos=True, special=True)
    del tok

    m = rf.GgufModel(a.model)
    logits = rf.forward(m, ids)  # (T, n_vocab) float64
    n_vocab = logits.shape[1]
    rng = np.random.default_rng(SEED)
    sample = sorted(int(i) for i in rng.choice(n_vocab, size=N_SAMPLE, replace=False))
    positions = []
    for p in range(len(ids)):
        row = logits[p]
        top = np.argsort(-row, kind="stable")[:TOP_K]
        positions.append({"top_ids": [int(i) for i in top], "top_logits": [float(row[i]) for i in top],
                          "sample_logits": [float(row[i]) for i in sample]})
    sha = hashlib.sha256()
    with open(a.model, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    doc = {"format": 1,
           "reference": "tests/reference/reference_forward.py (float64 numpy over gguf-dequantized weights)",
           "model": {"file": os.path.basename(a.model), "sha256": sha.hexdigest(),
                     "size": os.path.getsize(a.model)},
           "prompt": PROMPT, "tokens": ids, "n_vocab": n_vocab, "sample_ids": sample,
           "max_abs_logit": float(np.abs(logits).max()), "positions": positions}
    with open(a.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    vocab = m.string_array("tokenizer.ggml.tokens")
    print(f"wrote {a.out}: {len(ids)} tokens, max|logit| {doc['max_abs_logit']:.2f}")
    if a.greedy:
        cont = rf.greedy(m, ids, a.greedy)
        print("greedy:", cont, repr("".join(vocab[i] for i in cont).replace("\u2581", " ")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
