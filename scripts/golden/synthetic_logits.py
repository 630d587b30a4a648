#!/usr/bin/env python3
"""Golden logits of synthetic models: tests/data/synthetic/<preset>_<type>.json.

For every tiny preset (llama, qwen2, gemma3, phi3, gpt2) in every supported weight type
(plus the EXTRA real-shape cases), runs `zinfer mkmodel --preset P --type T --seed 1234`, reads the file back with the `gguf`
package and computes float64 reference logits for a fixed 12-token sequence with
tests/reference/reference_forward.py (independent of the engine). Each fixture records:

  file_size, file_fnv1a64   the C++ writer must reproduce the file byte for byte
  tensors                   name, type, ne, offset as gguf.GGUFReader sees them
  metadata                  the scalar keys (and array lengths) as gguf.GGUFReader sees them
  positions, logits_f32_b64  reference logits [len(positions)][n_vocab] of those positions
                            (all 12 for tiny-llama/qwen2, the last 6 for the newer tiny
                            presets to keep fixtures small — tiny-gemma3's 4-token window
                            already slides from position 4), little-endian float32, base64
  q8_noise                  max |logit change| when activations are rounded to 8 bits per
                            block before every matmul (a simulation of llama.cpp's Q8
                            activations), which sizes the tolerance of the non-exact path

Usage: scripts/golden/synthetic_logits.py --zinfer build-x/bin/zinfer [--out tests/data/synthetic]
         [--presets tiny-gemma3,tiny-phi3]   (only these presets' fixtures)
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFReader, GGUFValueType

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import reference_forward as rf  # noqa: E402

PRESETS = ["tiny-llama", "tiny-qwen2"]
# Stored positions per fixture: the newer presets keep the last 6 to stay small.
NEW_PRESETS = ["tiny-gemma3", "tiny-phi3", "tiny-gpt2"]
NEW_KEEP_LAST = 6
TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
# Real shapes, cut to 2 layers: ne0 = 576 forces the Q4_K -> Q5_0 fallback next to real Q4_K
# rows (ffn_down), 9 query heads share 3 KV heads, the output is tied and llama.cpp's mix
# makes token_embd Q8_0 — as in the real SmolLM2 GGUF. Only the last positions are stored.
EXTRA = [{"preset": "smollm2-135m", "type": "Q4_K", "layers": 2, "mix": True, "keep_last": 2}]
SEED = 1234
TOKENS = [509, 17, 300, 45, 260, 499, 77, 128, 256, 3, 411, 200]

# Activation blocks as llama.cpp's vec_dot_type: Q8_K (256) for K-quants, else Q8_0/Q8_1 (32).
K_TYPES = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}


def fnv1a64(path: str) -> str:
    h = 0xCBF29CE484222325
    with open(path, "rb") as f:
        data = f.read()
    prime = 0x100000001B3
    mask = (1 << 64) - 1
    for b in data:
        h = ((h ^ b) * prime) & mask
    return f"{h:016x}"


def scalar_meta(reader: GGUFReader) -> dict:
    out = {}
    for name, f in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        t = f.types[0]
        if t == GGUFValueType.ARRAY:
            out[name] = {"array_len": len(f.data), "elem_type": f.types[1].name}
        elif t == GGUFValueType.STRING:
            out[name] = bytes(f.parts[f.data[0]]).decode("utf-8")
        elif t in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
            out[name] = float(f.parts[f.data[0]][0])
        elif t == GGUFValueType.BOOL:
            out[name] = bool(f.parts[f.data[0]][0])
        else:
            out[name] = int(f.parts[f.data[0]][0])
    return out


def q8_noise(model: rf.GgufModel, wtype: str, ref: np.ndarray) -> float:
    block = 256 if wtype in K_TYPES else 32
    orig = rf.linear

    def q8(x):
        xb = x.reshape(-1, block)
        d = np.abs(xb).max(axis=1, keepdims=True) / 127.0
        d[d == 0] = 1.0
        return (np.round(xb / d) * d).reshape(x.shape)

    rf.linear = lambda x, w, b=None: orig(q8(x) if x.shape[-1] % block == 0 else x, w, b)
    try:
        noisy = rf.forward(model, TOKENS)
    finally:
        rf.linear = orig
    return float(np.abs(noisy - ref).max())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zinfer", default=os.environ.get("ZINFER_BIN", os.path.join(ROOT, "build", "bin", "zinfer")))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "synthetic"))
    ap.add_argument("--presets", help="comma-separated presets to (re)generate; default all")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cases = [{"preset": p, "type": t, "layers": 0, "mix": False, "keep_last": len(TOKENS)}
             for p in PRESETS for t in TYPES]
    cases += [{"preset": p, "type": t, "layers": 0, "mix": False, "keep_last": NEW_KEEP_LAST}
              for p in NEW_PRESETS for t in TYPES]
    cases += EXTRA
    if a.presets:
        wanted = set(a.presets.split(","))
        cases = [c for c in cases if c["preset"] in wanted]
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            preset, wtype = case["preset"], case["type"]
            path = os.path.join(tmp, f"{preset}_{wtype}.gguf")
            cmd = [a.zinfer, "mkmodel", "--preset", preset, "--type", wtype, "--seed", str(SEED), "--out", path]
            if case["layers"]:
                cmd += ["--layers", str(case["layers"])]
            if case["mix"]:
                cmd += ["--mix"]
            subprocess.run(cmd, check=True, capture_output=True)
            reader = GGUFReader(path)
            model = rf.GgufModel(path)
            logits = rf.forward(model, TOKENS)
            positions = list(range(len(TOKENS) - case["keep_last"], len(TOKENS)))
            tensors = [{"name": t.name, "type": t.tensor_type.name, "ne": [int(x) for x in t.shape],
                        "offset": int(t.data_offset)} for t in reader.tensors]
            fixture = {
                "preset": preset, "arch": model.arch, "type": wtype, "seed": SEED, "layers": case["layers"],
                "mix": case["mix"], "tokens": TOKENS, "positions": positions,
                "n_vocab": int(logits.shape[1]), "file_size": os.path.getsize(path),
                "file_fnv1a64": fnv1a64(path), "tensors": tensors, "metadata": scalar_meta(reader),
                "max_abs_logit": float(np.abs(logits[positions]).max()),
                "q8_noise": q8_noise(model, wtype, logits),
                "logits_f32_b64": base64.b64encode(logits[positions].astype("<f4").tobytes()).decode("ascii"),
            }
            suffix = f"_L{case['layers']}" if case["layers"] else ""
            suffix += "_mix" if case["mix"] else ""
            out = os.path.join(a.out, f"{preset}_{wtype}{suffix}.json")
            with open(out, "w") as f:
                json.dump(fixture, f, indent=1)
            print(f"{out}: max|logit| {fixture['max_abs_logit']:.3f} q8_noise {fixture['q8_noise']:.4f} "
                  f"argmax {logits[positions].argmax(axis=1).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
