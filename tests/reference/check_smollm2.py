#!/usr/bin/env python3
"""Sanity check of reference_forward.py on the real SmolLM2-135M-Instruct GGUF.

1. Greedy continuation of an English prompt, decoded with the file's own vocabulary:
   it must read as coherent English (checked by eye; printed).
2. If llama-cpp-python is importable: llama.cpp's logits for the same tokens, and the max
   abs difference per position (llama.cpp quantizes activations to Q8, so ~1e-2 relative
   agreement is expected, and the same argmax).

The prompt is tokenized with a minimal byte-level BPE over the file's merges, enough for
plain ASCII words (the engine's tokenizer is tested elsewhere against llama.cpp).
Usage: check_smollm2.py [MODEL.gguf]
"""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from o200k_vocab_gguf import bytes_to_unicode  # noqa: E402  GPT-2's byte <-> unicode table
from reference_forward import GgufModel, forward, greedy  # noqa: E402

DEFAULT_MODEL = os.path.join(os.path.dirname(__file__), "..", "..", ".models",
                             "SmolLM2-135M-Instruct.Q4_1.gguf")


def bpe_encode(m: GgufModel, text: str) -> list[int]:
    tokens = m.string_array("tokenizer.ggml.tokens")
    vocab = {t: i for i, t in enumerate(tokens)}
    ranks = {tuple(s.split(" ", 1)): r for r, s in enumerate(m.string_array("tokenizer.ggml.merges"))}
    b2u = bytes_to_unicode()
    ids = []
    for piece in re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", text):
        sym = [b2u[b] for b in piece.encode("utf-8")]
        while len(sym) > 1:
            pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(sym, sym[1:]))]
            r, i = min(pairs)
            if r == 1 << 30:
                break
            sym = sym[:i] + [sym[i] + sym[i + 1]] + sym[i + 2:]
        ids += [vocab[s] for s in sym]
    return ids


def decode(m: GgufModel, ids: list[int]) -> str:
    tokens = m.string_array("tokenizer.ggml.tokens")
    u2b = {u: b for b, u in bytes_to_unicode().items()}
    return bytes(u2b[c] for i in ids for c in tokens[i] if c in u2b).decode("utf-8", "replace")


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    m = GgufModel(path)
    prompt = "The capital of France is Paris. The capital of Germany is"
    ids = bpe_encode(m, prompt)
    print("prompt ids:", ids)
    cont = greedy(m, ids, 12)
    print("greedy ids:", cont)
    print("greedy text:", repr(prompt + decode(m, cont)))

    try:
        import llama_cpp
    except ImportError:
        print("llama_cpp not importable: logits comparison skipped")
        return 0
    llm = llama_cpp.Llama(model_path=path, logits_all=True, n_ctx=256, verbose=False, n_threads=2)
    ref = forward(m, ids)
    llm.reset()
    llm.eval(ids)
    theirs = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
    for p in range(len(ids)):
        d = np.abs(ref[p] - theirs[p])
        print(f"pos {p:2d}: max|diff| {d.max():.4f}  rel {d.max() / np.abs(ref[p]).max():.4f}  "
              f"argmax ref {ref[p].argmax()} llama.cpp {theirs[p].argmax()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
