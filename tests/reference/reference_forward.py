#!/usr/bin/env python3
"""Independent float64 numpy forward pass for GGUF decoder models.

The reference our C++ CPU backend is checked against. It shares no code with the engine:
weights come from `gguf.GGUFReader` and `gguf.quants.dequantize`, every activation is
float64, and each step is written the plain way from the definitions:

  RMSNorm      x / sqrt(mean(x^2) + eps) * w
  RoPE         llama ("NORM" in llama.cpp): rotate pairs (2i, 2i+1) — llama.cpp's converter
               permutes HF's q/k rows so GGUF llama weights expect this pairing;
               qwen2 ("NEOX"): rotate pairs (i, i + n_rot/2); theta_i = base^(-2i/n_rot)
  attention    causal, grouped-query (head h reads kv head h // (n_head / n_head_kv)),
               scores scaled by 1/sqrt(head_dim)
  FFN          down(silu(gate(x)) * up(x))
  output       output.weight, or token_embd.weight when the model ties them

Architectures live in ARCHITECTURES (name -> forward function); gemma3/phi3/gpt2 can be
added as their own functions next to the llama-family one.

Usage:
  reference_forward.py MODEL.gguf --tokens 1,2,3 [--greedy N] [--out logits.npy]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize


class GgufModel:
    """Metadata and lazily dequantized float64 tensors of one GGUF file."""

    def __init__(self, path: str):
        self.path = path
        self.reader = GGUFReader(path)
        self.meta = {}
        for name, field in self.reader.fields.items():
            if not field.types or field.types[0] == GGUFValueType.ARRAY:
                continue
            part = field.parts[field.data[0]]
            if field.types[0] == GGUFValueType.STRING:
                self.meta[name] = bytes(part).decode("utf-8")
            else:
                self.meta[name] = part[0].item()
        self.arch = self.meta["general.architecture"]
        self._tensors = {t.name: t for t in self.reader.tensors}
        self._cache: dict[str, np.ndarray] = {}

    def key(self, suffix: str, default=None):
        """Architecture-scoped metadata: key('block_count') reads '<arch>.block_count'."""
        return self.meta.get(f"{self.arch}.{suffix}", default)

    def has(self, name: str) -> bool:
        return name in self._tensors

    def tensor(self, name: str) -> np.ndarray:
        """Shape (ne1, ne0) for matrices (rows are output features), (ne0,) for vectors."""
        if name not in self._cache:
            t = self._tensors[name]
            w = dequantize(t.data, t.tensor_type).astype(np.float64)
            ne = [int(x) for x in t.shape]  # ne[0] first
            self._cache[name] = w.reshape(list(reversed(ne)))
        return self._cache[name]

    def maybe(self, name: str):
        return self.tensor(name) if self.has(name) else None

    def string_array(self, key: str) -> list[str]:
        f = self.reader.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


# ---- building blocks ---------------------------------------------------------------

def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x: np.ndarray, positions: np.ndarray, n_rot: int, base: float, style: str) -> np.ndarray:
    """x: (T, n_heads, head_dim). Rotates the first n_rot dims of every head."""
    half = n_rot // 2
    inv_freq = base ** (-2.0 * np.arange(half, dtype=np.float64) / n_rot)  # (half,)
    ang = positions.astype(np.float64)[:, None] * inv_freq[None, :]        # (T, half)
    cos = np.cos(ang)[:, None, :]
    sin = np.sin(ang)[:, None, :]
    out = x.copy()
    if style == "norm":
        x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        out[..., 0:n_rot:2] = x0 * cos - x1 * sin
        out[..., 1:n_rot:2] = x0 * sin + x1 * cos
    elif style == "neox":
        x0, x1 = x[..., :half], x[..., half:n_rot]
        out[..., :half] = x0 * cos - x1 * sin
        out[..., half:n_rot] = x0 * sin + x1 * cos
    else:
        raise ValueError(f"unknown rope style {style}")
    return out


def causal_gqa_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """q: (T, H, D), k/v: (T, Hkv, D) -> (T, H*D)."""
    T, H, D = q.shape
    group = H // k.shape[1]
    out = np.empty((T, H, D))
    mask = np.triu(np.full((T, T), -np.inf), k=1)
    for h in range(H):
        kh, vh = k[:, h // group, :], v[:, h // group, :]
        s = q[:, h, :] @ kh.T / np.sqrt(D) + mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        out[:, h, :] = (s / s.sum(axis=-1, keepdims=True)) @ vh
    return out.reshape(T, H * D)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    y = x @ w.T
    return y + b if b is not None else y


# ---- llama family (llama, qwen2) -----------------------------------------------------

@dataclass
class LlamaFamilyHparams:
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_rot: int
    rope_base: float
    eps: float
    rope_style: str  # "norm" | "neox"

    @staticmethod
    def from_model(m: GgufModel, rope_style: str, default_base: float) -> "LlamaFamilyHparams":
        n_embd = int(m.key("embedding_length"))
        n_head = int(m.key("attention.head_count"))
        head_dim = int(m.key("attention.key_length", n_embd // n_head))
        return LlamaFamilyHparams(
            n_layer=int(m.key("block_count")), n_embd=n_embd, n_head=n_head,
            n_head_kv=int(m.key("attention.head_count_kv", n_head)), head_dim=head_dim,
            n_rot=int(m.key("rope.dimension_count", head_dim)),
            rope_base=float(m.key("rope.freq_base", default_base)),
            eps=float(m.key("attention.layer_norm_rms_epsilon")), rope_style=rope_style)


def forward_llama_family(m: GgufModel, tokens: list[int], hp: LlamaFamilyHparams) -> np.ndarray:
    T = len(tokens)
    pos = np.arange(T)
    x = m.tensor("token_embd.weight")[np.asarray(tokens)]  # (T, n_embd)
    for i in range(hp.n_layer):
        p = f"blk.{i}."
        h = rms_norm(x, m.tensor(p + "attn_norm.weight"), hp.eps)
        # Biases exist for qwen2; llama.cpp's llama graph also adds them when present.
        q = linear(h, m.tensor(p + "attn_q.weight"), m.maybe(p + "attn_q.bias"))
        k = linear(h, m.tensor(p + "attn_k.weight"), m.maybe(p + "attn_k.bias"))
        v = linear(h, m.tensor(p + "attn_v.weight"), m.maybe(p + "attn_v.bias"))
        q = rope(q.reshape(T, hp.n_head, hp.head_dim), pos, hp.n_rot, hp.rope_base, hp.rope_style)
        k = rope(k.reshape(T, hp.n_head_kv, hp.head_dim), pos, hp.n_rot, hp.rope_base, hp.rope_style)
        v = v.reshape(T, hp.n_head_kv, hp.head_dim)
        a = causal_gqa_attention(q, k, v)
        x = x + linear(a, m.tensor(p + "attn_output.weight"), m.maybe(p + "attn_output.bias"))
        h = rms_norm(x, m.tensor(p + "ffn_norm.weight"), hp.eps)
        g = linear(h, m.tensor(p + "ffn_gate.weight"))
        u = linear(h, m.tensor(p + "ffn_up.weight"))
        x = x + linear(silu(g) * u, m.tensor(p + "ffn_down.weight"))
    x = rms_norm(x, m.tensor("output_norm.weight"), hp.eps)
    w_out = m.tensor("output.weight") if m.has("output.weight") else m.tensor("token_embd.weight")
    return x @ w_out.T


def forward_llama(m: GgufModel, tokens: list[int]) -> np.ndarray:
    return forward_llama_family(m, tokens, LlamaFamilyHparams.from_model(m, "norm", 10000.0))


def forward_qwen2(m: GgufModel, tokens: list[int]) -> np.ndarray:
    return forward_llama_family(m, tokens, LlamaFamilyHparams.from_model(m, "neox", 10000.0))


ARCHITECTURES = {
    "llama": forward_llama,
    "qwen2": forward_qwen2,
}


def forward(m: GgufModel, tokens: list[int]) -> np.ndarray:
    """Logits (float64) of every position: shape (len(tokens), n_vocab)."""
    if m.arch not in ARCHITECTURES:
        raise NotImplementedError(f"architecture {m.arch!r} has no reference forward")
    return ARCHITECTURES[m.arch](m, list(tokens))


def greedy(m: GgufModel, tokens: list[int], n: int) -> list[int]:
    """Greedy continuation (full recompute per step: slow but obviously correct)."""
    out = list(tokens)
    for _ in range(n):
        out.append(int(np.argmax(forward(m, out)[-1])))
    return out[len(tokens):]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--greedy", type=int, default=0, help="also print N greedy tokens")
    ap.add_argument("--out", help="write logits (float64 .npy)")
    a = ap.parse_args()
    m = GgufModel(a.model)
    toks = [int(t) for t in a.tokens.split(",")]
    logits = forward(m, toks)
    if a.out:
        np.save(a.out, logits)
    print("argmax per position:", logits.argmax(axis=-1).tolist())
    if a.greedy:
        print("greedy:", greedy(m, toks, a.greedy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
