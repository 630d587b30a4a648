#!/usr/bin/env python3
"""Golden logits and greedy tokens of the tiny synthetic gpt-oss models from OpenAI's own
PyTorch implementation: tests/data/golden/<preset>_torch.json.

The reference is gpt_oss/torch/model.py of the `gpt-oss` PyPI package (pure Python; the
package wants Python >= 3.12, so fetch the wheel without installing it):

    pip download --no-deps --python-version 3.12 --only-binary=:all: gpt-oss==0.0.9 -d /tmp/go
    unzip -q -o /tmp/go/gpt_oss-0.0.9-py3-none-any.whl -d /tmp/go
    pip install torch gguf numpy
    python3 scripts/golden/gpt_oss_reference.py --gpt-oss /tmp/go --zinfer build/bin/zinfer

model.py is loaded by path with its one import of the package (gpt_oss.torch.weights, a
safetensors checkpoint reader we do not use) stubbed out; nothing else of the package runs.
For each preset the script writes the synthetic model with `zinfer mkmodel` (Q8_0 attention,
embedding and output; MXFP4 experts, as the gpt-oss GGUF releases store them), reads every
tensor back with the `gguf` package and dequantizes it with gguf's own dequantizer (so the
MXFP4 experts reach the reference as float32 values: its MXFP4 path is a triton GPU kernel
we do not need), maps the GGUF tensors onto the reference's parameters (q/k/v rows
concatenated into qkv; ffn_gate_exps/ffn_up_exps interleaved back into mlp1 rows 0::2/1::2,
as llama.cpp's converter split them), converts the whole model to float32 and runs it on
the CPU. The model's config comes from the GGUF metadata.

Per prompt (token ids; the synthetic vocabulary has no meaning to lose): 32 greedy tokens
(argmax of the full-sequence forward of prompt + tokens so far, no cache, as the package's
TokenGenerator does), and float32 logits at the last prompt position and every 4th greedy
step (teacher-forced along the greedy path). The C++ test (tests/engine/model/
gpt_oss_reference_test.cpp) rewrites the model with the C++ writer, checks it hashes to the
file read here, and compares.
"""
from __future__ import annotations

import argparse
import base64
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
from gguf import GGUFReader, quants

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESETS = ["tiny-gpt-oss", "tiny-gpt-oss-top2"]
SEED = 77
STEPS = 32
PROMPTS = [
    [1, 2, 3, 4, 5, 6, 7, 8],
    [300, 17, 256, 44, 9, 480, 333, 12, 7, 100, 260],
    [509, 17, 300, 45, 260, 499, 77, 128, 256, 3, 411, 200],
    [42] * 6 + [43, 44, 45, 46, 47, 48, 49],
    [5, 250, 5, 250, 5, 250, 5, 250, 400],
    [11, 22, 33, 44, 55, 66, 77, 88, 99, 111, 122, 133, 144, 155],
]


def fnv1a64(path: str) -> str:
    h = 0xcbf29ce484222325
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            for b in chunk:
                h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def load_reference_model_py(gpt_oss_dir: str):
    """Imports gpt_oss/torch/model.py by path, stubbing gpt_oss.torch.weights."""
    stub = types.ModuleType("gpt_oss.torch.weights")
    stub.Checkpoint = object
    for name in ("gpt_oss", "gpt_oss.torch"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["gpt_oss.torch.weights"] = stub
    path = os.path.join(gpt_oss_dir, "gpt_oss", "torch", "model.py")
    spec = importlib.util.spec_from_file_location("gpt_oss_reference_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, path


def wheel_version(gpt_oss_dir: str) -> str:
    infos = [d for d in os.listdir(gpt_oss_dir) if d.startswith("gpt_oss-") and d.endswith(".dist-info")]
    return "gpt-oss " + infos[0].removesuffix(".dist-info").rsplit("-", 1)[1] if infos else "gpt-oss"


def meta(reader: GGUFReader, key: str):
    f = reader.fields[key]
    v = f.parts[f.data[0]]
    if f.types[0].name == "STRING":
        return bytes(v).decode()
    return v.tolist()[0]


def tensors_f32(reader: GGUFReader) -> dict[str, np.ndarray]:
    out = {}
    for t in reader.tensors:
        a = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        out[t.name] = a.reshape([int(x) for x in reversed(t.shape)])
    return out


def build_model(mod, reader: GGUFReader):
    a = "gpt-oss."
    cfg = mod.ModelConfig(
        num_hidden_layers=meta(reader, a + "block_count"),
        num_experts=meta(reader, a + "expert_count"),
        experts_per_token=meta(reader, a + "expert_used_count"),
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        hidden_size=meta(reader, a + "embedding_length"),
        intermediate_size=meta(reader, a + "expert_feed_forward_length"),
        swiglu_limit=7.0,
        head_dim=meta(reader, a + "attention.key_length"),
        num_attention_heads=meta(reader, a + "attention.head_count"),
        num_key_value_heads=meta(reader, a + "attention.head_count_kv"),
        sliding_window=meta(reader, a + "attention.sliding_window"),
        initial_context_length=meta(reader, a + "rope.scaling.original_context_length"),
        rope_theta=meta(reader, a + "rope.freq_base"),
        rope_scaling_factor=meta(reader, a + "rope.scaling.factor"),
        rope_ntk_alpha=1.0,
        rope_ntk_beta=32.0,
    )
    eps = meta(reader, a + "attention.layer_norm_rms_epsilon")
    model = mod.Transformer(cfg, device=torch.device("cpu")).to(torch.float32).eval()
    w = tensors_f32(reader)
    T = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
    sd = {"embedding.weight": T(w["token_embd.weight"]),
          "norm.scale": T(w["output_norm.weight"]),
          "unembedding.weight": T(w["output.weight"])}
    for i in range(cfg.num_hidden_layers):
        p, b = f"blk.{i}.", f"block.{i}."
        sd[b + "attn.norm.scale"] = T(w[p + "attn_norm.weight"])
        sd[b + "attn.qkv.weight"] = T(np.concatenate(
            [w[p + "attn_q.weight"], w[p + "attn_k.weight"], w[p + "attn_v.weight"]], axis=0))
        sd[b + "attn.qkv.bias"] = T(np.concatenate(
            [w[p + "attn_q.bias"], w[p + "attn_k.bias"], w[p + "attn_v.bias"]]))
        sd[b + "attn.out.weight"] = T(w[p + "attn_output.weight"])
        sd[b + "attn.out.bias"] = T(w[p + "attn_output.bias"])
        sd[b + "attn.sinks"] = T(w[p + "attn_sinks.weight"])
        sd[b + "mlp.norm.scale"] = T(w[p + "post_attention_norm.weight"])
        sd[b + "mlp.gate.weight"] = T(w[p + "ffn_gate_inp.weight"])
        sd[b + "mlp.gate.bias"] = T(w[p + "ffn_gate_inp.bias"])
        gate, up = w[p + "ffn_gate_exps.weight"], w[p + "ffn_up_exps.weight"]  # [E][ff][d]
        mlp1 = np.empty((gate.shape[0], 2 * gate.shape[1], gate.shape[2]), np.float32)
        mlp1[:, 0::2], mlp1[:, 1::2] = gate, up
        gb, ub = w[p + "ffn_gate_exps.bias"], w[p + "ffn_up_exps.bias"]  # [E][ff]
        mlp1_b = np.empty((gb.shape[0], 2 * gb.shape[1]), np.float32)
        mlp1_b[:, 0::2], mlp1_b[:, 1::2] = gb, ub
        sd[b + "mlp.mlp1_weight"] = T(mlp1)
        sd[b + "mlp.mlp1_bias"] = T(mlp1_b)
        sd[b + "mlp.mlp2_weight"] = T(w[p + "ffn_down_exps.weight"])  # [E][d][ff]
        sd[b + "mlp.mlp2_bias"] = T(w[p + "ffn_down_exps.bias"])
    missing = set(dict(model.named_parameters())) - set(sd)
    assert not missing, f"unmapped reference parameters: {sorted(missing)}"
    model.load_state_dict(sd, strict=True)
    # The reference's RMSNorm eps is fixed at 1e-5; the file must agree.
    assert abs(eps - 1e-5) < 1e-12, f"layer_norm_rms_epsilon {eps} != the reference's 1e-5"
    return model, cfg


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


@torch.inference_mode()
def run_prompt(model, prompt: list[int]) -> dict:
    tokens = list(prompt)
    for _ in range(STEPS):
        logits = model(torch.tensor(tokens, dtype=torch.int32))[-1]
        tokens.append(int(torch.argmax(logits).item()))
    full = model(torch.tensor(tokens, dtype=torch.int32)).numpy()  # teacher-forced, one pass
    # Rows: the last prompt position, then greedy steps 4, 8, ..., 32 (the row whose argmax
    # chose generated token s is len(prompt) - 1 + s - 1).
    positions = [len(prompt) - 1] + [len(prompt) - 1 + s - 1 for s in range(4, STEPS + 1, 4)]
    greedy = tokens[len(prompt):]
    assert all(int(np.argmax(full[len(prompt) - 1 + s])) == greedy[s] for s in range(STEPS)), \
        "one-pass logits disagree with the step-by-step greedy path"
    srt = np.sort(full[positions], axis=1)
    return {"prompt": prompt, "greedy": greedy, "positions": positions,
            "logits_f32_b64": b64(full[positions]),
            "min_top2_gap": float(np.min(srt[:, -1] - srt[:, -2]))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpt-oss", required=True, help="directory with the unpacked gpt-oss wheel")
    ap.add_argument("--zinfer", default=os.path.join(ROOT, "build", "bin", "zinfer"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "golden"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    mod, model_py = load_reference_model_py(args.gpt_oss)
    for preset in PRESETS:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, preset + ".gguf")
            subprocess.run([args.zinfer, "mkmodel", "--preset", preset, "--type", "Q8_0",
                            "--expert-type", "MXFP4", "--seed", str(SEED), "--out", path],
                           check=True, stdout=subprocess.DEVNULL)
            reader = GGUFReader(path)
            model, cfg = build_model(mod, reader)
            cases = [run_prompt(model, p) for p in PROMPTS]
            fx = {
                "reference": {
                    "implementation": wheel_version(args.gpt_oss) +
                                      " gpt_oss/torch/model.py, float32, CPU",
                    "torch": torch.__version__,
                    "weights": "GGUF tensors dequantized by gguf " +
                               importlib.metadata.version("gguf") + " (MXFP4 experts included)",
                },
                "preset": preset, "type": "Q8_0", "expert_type": "MXFP4", "seed": SEED,
                "file_size": os.path.getsize(path), "file_fnv1a64": fnv1a64(path),
                "n_vocab": cfg.vocab_size, "steps": STEPS, "cases": cases,
            }
        out = os.path.join(args.out, preset.replace("-", "_") + "_torch.json")
        with open(out, "w") as f:
            json.dump(fx, f, indent=1)
            f.write("\n")
        gaps = [c["min_top2_gap"] for c in cases]
        print(f"{preset}: wrote {out}; min top-2 logit gap at stored rows {min(gaps):.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
