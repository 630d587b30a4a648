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

  gemma3       x * sqrt(n_embd); per layer x += postnorm(attn(prenorm(x))) with RMSNorm of
               each q/k head before NEOX RoPE; layers il % 6 != 5 are local (keys within the
               last sliding_window positions, rope base 10000, no scaling), the others
               global (rope.freq_base, rope scaling); scores / sqrt(query_pre_attn_scalar)
               (head_dim, or n_embd / n_head for the 62-layer 27B); x += postnorm(
               down(gelu_tanh(gate) * up)); GGUF norm weights already include Gemma's +1
  phi3         llama with fused attn_qkv ([q | k | v] output rows) and fused ffn_up
               ([gate | up]), NEOX RoPE
  gpt2         x = wte[tok] + wpe[pos]; LayerNorm with bias; fused QKV with bias; plain
               multi-head attention; MLP down(gelu_tanh(up(x) + b) ) + b

Architectures live in ARCHITECTURES (name -> forward function).

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


def rope(x: np.ndarray, positions: np.ndarray, n_rot: int, base: float, style: str,
         freq_scale: float = 1.0) -> np.ndarray:
    """x: (T, n_heads, head_dim). Rotates the first n_rot dims of every head; positions are
    multiplied by freq_scale (linear rope scaling: 1 / rope.scaling.factor)."""
    half = n_rot // 2
    inv_freq = base ** (-2.0 * np.arange(half, dtype=np.float64) / n_rot)  # (half,)
    ang = (positions.astype(np.float64) * freq_scale)[:, None] * inv_freq[None, :]  # (T, half)
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


def causal_gqa_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None,
                         window: int = 0) -> np.ndarray:
    """q: (T, H, D), k/v: (T, Hkv, D) -> (T, H*D). Scores are q.k * scale (default
    1/sqrt(D)); window > 0 lets query i see keys j with i - window < j <= i only."""
    T, H, D = q.shape
    group = H // k.shape[1]
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    out = np.empty((T, H, D))
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    visible = (j <= i) & ((i - j < window) if window > 0 else True)
    mask = np.where(visible, 0.0, -np.inf)
    for h in range(H):
        kh, vh = k[:, h // group, :], v[:, h // group, :]
        s = q[:, h, :] @ kh.T * scale + mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        out[:, h, :] = (s / s.sum(axis=-1, keepdims=True)) @ vh
    return out.reshape(T, H * D)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


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


# ---- gemma3 ----------------------------------------------------------------------------

def forward_gemma3(m: GgufModel, tokens: list[int]) -> np.ndarray:
    T = len(tokens)
    pos = np.arange(T)
    n_layer, n_embd = int(m.key("block_count")), int(m.key("embedding_length"))
    n_head = int(m.key("attention.head_count"))
    n_head_kv = int(m.key("attention.head_count_kv", n_head))
    hd = int(m.key("attention.key_length", n_embd // n_head))
    n_rot = int(m.key("rope.dimension_count", hd))
    eps = float(m.key("attention.layer_norm_rms_epsilon"))
    window = int(m.key("attention.sliding_window", 0))
    global_base = float(m.key("rope.freq_base", 1000000.0))
    global_scale = 1.0 / float(m.key("rope.scaling.factor", 1.0))
    softcap = float(m.key("final_logit_softcapping", 0.0))
    # query_pre_attn_scalar is not in GGUF: head_dim, except Gemma 3 27B (62 layers).
    scale = 1.0 / np.sqrt(n_embd // n_head if n_layer == 62 else hd)
    x = m.tensor("token_embd.weight")[np.asarray(tokens)] * np.sqrt(n_embd)
    for i in range(n_layer):
        p = f"blk.{i}."
        is_global = window == 0 or i % 6 == 5
        base, fscale = (global_base, global_scale) if is_global else (10000.0, 1.0)
        h = rms_norm(x, m.tensor(p + "attn_norm.weight"), eps)
        q = linear(h, m.tensor(p + "attn_q.weight")).reshape(T, n_head, hd)
        k = linear(h, m.tensor(p + "attn_k.weight")).reshape(T, n_head_kv, hd)
        v = linear(h, m.tensor(p + "attn_v.weight")).reshape(T, n_head_kv, hd)
        q = rope(rms_norm(q, m.tensor(p + "attn_q_norm.weight"), eps), pos, n_rot, base, "neox", fscale)
        k = rope(rms_norm(k, m.tensor(p + "attn_k_norm.weight"), eps), pos, n_rot, base, "neox", fscale)
        a = causal_gqa_attention(q, k, v, scale=scale, window=0 if is_global else window)
        o = linear(a, m.tensor(p + "attn_output.weight"))
        x = x + rms_norm(o, m.tensor(p + "post_attention_norm.weight"), eps)
        h = rms_norm(x, m.tensor(p + "ffn_norm.weight"), eps)
        f = gelu_tanh(linear(h, m.tensor(p + "ffn_gate.weight"))) * linear(h, m.tensor(p + "ffn_up.weight"))
        f = linear(f, m.tensor(p + "ffn_down.weight"))
        x = x + rms_norm(f, m.tensor(p + "post_ffw_norm.weight"), eps)
    x = rms_norm(x, m.tensor("output_norm.weight"), eps)
    w_out = m.tensor("output.weight") if m.has("output.weight") else m.tensor("token_embd.weight")
    logits = x @ w_out.T
    return softcap * np.tanh(logits / softcap) if softcap > 0 else logits


# ---- phi3 ------------------------------------------------------------------------------

def forward_phi3(m: GgufModel, tokens: list[int]) -> np.ndarray:
    hp = LlamaFamilyHparams.from_model(m, "neox", 10000.0)
    T = len(tokens)
    pos = np.arange(T)
    dq, dkv = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim
    x = m.tensor("token_embd.weight")[np.asarray(tokens)]
    for i in range(hp.n_layer):
        p = f"blk.{i}."
        h = rms_norm(x, m.tensor(p + "attn_norm.weight"), hp.eps)
        qkv = linear(h, m.tensor(p + "attn_qkv.weight"))
        q = qkv[:, :dq].reshape(T, hp.n_head, hp.head_dim)
        k = qkv[:, dq:dq + dkv].reshape(T, hp.n_head_kv, hp.head_dim)
        v = qkv[:, dq + dkv:].reshape(T, hp.n_head_kv, hp.head_dim)
        q = rope(q, pos, hp.n_rot, hp.rope_base, "neox")
        k = rope(k, pos, hp.n_rot, hp.rope_base, "neox")
        x = x + linear(causal_gqa_attention(q, k, v), m.tensor(p + "attn_output.weight"))
        h = rms_norm(x, m.tensor(p + "ffn_norm.weight"), hp.eps)
        gu = linear(h, m.tensor(p + "ffn_up.weight"))
        n_ff = gu.shape[-1] // 2
        x = x + linear(silu(gu[:, :n_ff]) * gu[:, n_ff:], m.tensor(p + "ffn_down.weight"))
    x = rms_norm(x, m.tensor("output_norm.weight"), hp.eps)
    w_out = m.tensor("output.weight") if m.has("output.weight") else m.tensor("token_embd.weight")
    return x @ w_out.T


# ---- gpt2 ------------------------------------------------------------------------------

def forward_gpt2(m: GgufModel, tokens: list[int]) -> np.ndarray:
    T = len(tokens)
    n_layer, d = int(m.key("block_count")), int(m.key("embedding_length"))
    n_head = int(m.key("attention.head_count"))
    eps = float(m.key("attention.layer_norm_epsilon"))
    x = m.tensor("token_embd.weight")[np.asarray(tokens)] + m.tensor("position_embd.weight")[np.arange(T)]
    for i in range(n_layer):
        p = f"blk.{i}."
        h = layer_norm(x, m.tensor(p + "attn_norm.weight"), m.tensor(p + "attn_norm.bias"), eps)
        qkv = linear(h, m.tensor(p + "attn_qkv.weight"), m.tensor(p + "attn_qkv.bias"))
        q, k, v = (qkv[:, j * d:(j + 1) * d].reshape(T, n_head, d // n_head) for j in range(3))
        a = causal_gqa_attention(q, k, v)
        x = x + linear(a, m.tensor(p + "attn_output.weight"), m.tensor(p + "attn_output.bias"))
        h = layer_norm(x, m.tensor(p + "ffn_norm.weight"), m.tensor(p + "ffn_norm.bias"), eps)
        u = gelu_tanh(linear(h, m.tensor(p + "ffn_up.weight"), m.tensor(p + "ffn_up.bias")))
        x = x + linear(u, m.tensor(p + "ffn_down.weight"), m.tensor(p + "ffn_down.bias"))
    x = layer_norm(x, m.tensor("output_norm.weight"), m.tensor("output_norm.bias"), eps)
    w_out = m.tensor("output.weight") if m.has("output.weight") else m.tensor("token_embd.weight")
    return x @ w_out.T


ARCHITECTURES = {
    "llama": forward_llama,
    "qwen2": forward_qwen2,
    "gemma3": forward_gemma3,
    "phi3": forward_phi3,
    "gpt2": forward_gpt2,
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
