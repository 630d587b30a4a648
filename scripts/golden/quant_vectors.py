#!/usr/bin/env python3
"""Golden vectors for engine/quant from the independent gguf-py reference.

For every weight type: raw blocks (gguf.quants.quantize of random floats where gguf can
quantize the type, otherwise random valid blocks with sane fp16 scales), their dequantization
by gguf.quants.dequantize, a random activation row, that row quantized to the type's
vec_dot_type, and float64 dot products. Q8_0/F16/BF16 activations come from gguf; Q8_1 and
Q8_K (which gguf cannot quantize) from small numpy versions of ggml's documented formulas.

Output: tests/data/quant/<TYPE>.zqv, act_edge.zqv and mxfp4_edge.zqv (every E8M0 exponent), each a list of named arrays:
  b"ZQV1", u32 count, then per array: u32 name_len, name, u32 dtype (0 u8, 1 f32, 2 f64),
  u64 byte_len, bytes.   (little-endian)

Usage: python3 scripts/golden/quant_vectors.py [out_dir]
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES

N_BLOCKS = 7  # tests also use the 1- and 3-block prefixes of every row

WEIGHT_TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
                T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.MXFP4]
QUANTIZABLE = {T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.MXFP4}
VEC_DOT_TYPE = {T.F32: T.F32, T.F16: T.F16, T.BF16: T.BF16,
                T.Q4_0: T.Q8_0, T.Q5_0: T.Q8_0, T.Q8_0: T.Q8_0, T.MXFP4: T.Q8_0,
                T.Q4_1: T.Q8_1, T.Q5_1: T.Q8_1,
                T.Q2_K: T.Q8_K, T.Q3_K: T.Q8_K, T.Q4_K: T.Q8_K, T.Q5_K: T.Q8_K, T.Q6_K: T.Q8_K}
# Byte offsets of the fp16 super-block scales inside K-quant blocks (ggml block_q*_K).
K_SCALE_OFFSETS = {T.Q2_K: (80, 82), T.Q3_K: (108,), T.Q4_K: (0, 2), T.Q5_K: (0, 2), T.Q6_K: (208,)}

F32 = np.float32


def write_zqv(path: Path, arrays: dict[str, np.ndarray]) -> None:
    codes = {np.dtype(np.uint8): 0, np.dtype(np.float32): 1, np.dtype(np.float64): 2}
    out = bytearray(b"ZQV1" + struct.pack("<I", len(arrays)))
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        data = arr.tobytes()
        out += struct.pack("<I", len(name)) + name.encode() + struct.pack("<IQ", codes[arr.dtype], len(data)) + data
    path.write_bytes(bytes(out))


def fp16_bytes(v: np.ndarray) -> np.ndarray:
    return v.astype(np.float16).reshape(-1, 1).view(np.uint8)


# ---- activation quantizers (ggml formulas) ----

def q8_scale(amax: np.ndarray, simd: bool) -> tuple[np.ndarray, np.ndarray]:
    d = (amax / F32(127)).astype(F32)
    with np.errstate(divide="ignore"):
        if simd:  # x86 quantize_row_q8_0/1: id = 127/amax
            iscale = np.where(amax == 0, F32(0), F32(127) / amax).astype(F32)
        else:     # quantize_row_q8_0/1_ref: id = 1/d
            iscale = np.where(d == 0, F32(0), F32(1) / d).astype(F32)
    return d, iscale


def q8_quants(x: np.ndarray, simd: bool) -> tuple[np.ndarray, np.ndarray]:
    blocks = x.reshape(-1, 32).astype(F32)
    d, iscale = q8_scale(np.abs(blocks).max(axis=1, keepdims=True), simd)
    v = (blocks * iscale).astype(F32)
    q = np.rint(v) if simd else quants.np_roundf(v)  # half-even vs half-away-from-zero
    return d, q.astype(np.int8)


def quantize_q8_0(x: np.ndarray, simd: bool) -> np.ndarray:
    d, q = q8_quants(x, simd)
    return np.concatenate([fp16_bytes(d), q.view(np.uint8)], axis=1).reshape(-1)


def quantize_q8_1(x: np.ndarray, simd: bool) -> np.ndarray:
    d, q = q8_quants(x, simd)
    s = (q.astype(np.int32).sum(axis=1, keepdims=True).astype(F32) * d).astype(F32)
    return np.concatenate([fp16_bytes(d), fp16_bytes(s), q.view(np.uint8)], axis=1).reshape(-1)


def quantize_q8_k(x: np.ndarray) -> np.ndarray:
    out = []
    for b in x.reshape(-1, 256).astype(F32):
        imax = int(np.argmax(np.abs(b)))  # first index of the largest magnitude, like ggml
        if np.abs(b[imax]) == 0:
            out.append(np.zeros(292, np.uint8))
            continue
        iscale = F32(F32(-127) / b[imax])
        q = np.minimum(127, np.rint((iscale * b).astype(F32))).astype(np.int8)
        bsums = q.astype(np.int16).reshape(16, 16).sum(axis=1).astype(np.int16)
        d = np.array([F32(1) / iscale], F32)
        out.append(np.concatenate([d.view(np.uint8), q.view(np.uint8), bsums.view(np.uint8)]))
    return np.concatenate(out)


def quantize_act(x: np.ndarray, t: T, simd: bool = False) -> np.ndarray:
    if t == T.Q8_0:
        if simd:
            return quantize_q8_0(x, True)
        ref = quants.quantize(x, T.Q8_0).reshape(-1)
        assert np.array_equal(ref, quantize_q8_0(x, False)), "numpy Q8_0 ref rule disagrees with gguf"
        return ref
    if t == T.Q8_1:
        return quantize_q8_1(x, simd)
    if t == T.Q8_K:
        return quantize_q8_k(x)
    return np.ascontiguousarray(quants.quantize(x, t)).view(np.uint8).reshape(-1)


def dequantize_act(raw: np.ndarray, t: T) -> np.ndarray:
    if t == T.Q8_1:
        b = raw.reshape(-1, 36)
        d = b[:, 0:2].copy().view(np.float16).astype(F32)
        return (b[:, 4:].copy().view(np.int8).astype(F32) * d).reshape(-1)
    if t == T.Q8_K:
        b = raw.reshape(-1, 292)
        d = b[:, 0:4].copy().view(F32)
        return (d * b[:, 4:260].copy().view(np.int8).astype(F32)).reshape(-1)
    return quants.dequantize(raw, t).reshape(-1).astype(F32)


def q8_1_sum_correction(w_raw: np.ndarray, w_type: T, act_raw: np.ndarray) -> float:
    """ggml's Q4_1/Q5_1 x Q8_1 dot uses m * s with s = fp16(d * sum(q)) (d before fp16
    rounding) where the exact product of the dequantized rows has m * fp16(d) * sum(q)."""
    wb = w_raw.reshape(-1, GGML_QUANT_SIZES[w_type][1])
    m = wb[:, 2:4].copy().view(np.float16).astype(np.float64).reshape(-1)
    ab = act_raw.reshape(-1, 36)
    d = ab[:, 0:2].copy().view(np.float16).astype(np.float64).reshape(-1)
    s = ab[:, 2:4].copy().view(np.float16).astype(np.float64).reshape(-1)
    qsum = ab[:, 4:].copy().view(np.int8).astype(np.int64).sum(axis=1)
    return float(np.sum(m * (s - d * qsum)))


# ---- weights ----

def make_weights(t: T, rng: np.random.Generator) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[t]
    n = N_BLOCKS * (block_size if block_size > 1 else 32)
    if t in QUANTIZABLE:
        data = (rng.standard_normal(n) * 0.05).astype(F32)
        if block_size > 1:
            data[2 * block_size:3 * block_size] = 0  # an all-zero block: d == 0
        return np.ascontiguousarray(quants.quantize(data, t)).view(np.uint8).reshape(-1)
    raw = rng.integers(0, 256, size=(N_BLOCKS, type_size), dtype=np.uint8)
    for off in K_SCALE_OFFSETS[t]:
        raw[:, off:off + 2] = fp16_bytes(rng.uniform(0.0005, 0.02, size=N_BLOCKS).astype(F32))
    return raw.reshape(-1)


def type_fixture(t: T) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240 + int(t))
    raw = make_weights(t, rng)
    deq = quants.dequantize(raw, t).reshape(-1).astype(F32)
    n = deq.size
    x = rng.standard_normal(n).astype(F32)
    vt = VEC_DOT_TYPE[t]
    act = quantize_act(x, vt)
    act_deq = dequantize_act(act, vt)
    dot_q = float(np.dot(deq.astype(np.float64), act_deq.astype(np.float64)))
    if vt == T.Q8_1:
        dot_q += q8_1_sum_correction(raw, t, act)
    arrays = {
        "raw": raw,
        "deq": deq,
        "x": x,
        "act": act,
        "act_deq": act_deq,
        "dot_f32_ref": np.array([np.dot(deq.astype(np.float64), x.astype(np.float64))]),
        "dot_q_ref": np.array([dot_q]),
    }
    if vt in (T.Q8_0, T.Q8_1):
        arrays["act_simd"] = quantize_act(x, vt, simd=True)
    return arrays


def edge_activation() -> np.ndarray:
    """768 floats (3 Q8_K super-blocks, 24 Q8_0 blocks) with rounding ties, a zero region,
    fp16 range edges and random values."""
    rng = np.random.default_rng(777)
    ties = np.concatenate([[-127.0], np.arange(-60, 60) + 0.5, rng.uniform(-100, 100, 135)])
    zeros = np.zeros(256)
    f16_edges = [65504.0, 65519.0, 65520.0, 70000.0, -1e-8, 6e-8, 2.0 ** -25, 3 * 2.0 ** -25,
                 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2.0 ** -14, 2.0 ** -14 * (1 - 2.0 ** -11),
                 -0.0, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 3.0e38]
    mixed = np.concatenate([f16_edges, np.full(16, 0.0), rng.standard_normal(224)])
    return np.concatenate([ties, zeros, mixed]).astype(F32)


def edge_fixture() -> dict[str, np.ndarray]:
    x = edge_activation()
    return {
        "x": x,
        "q8_0_ref": quantize_act(x, T.Q8_0),
        "q8_0_simd": quantize_act(x, T.Q8_0, simd=True),
        "q8_1_ref": quantize_act(x, T.Q8_1),
        "q8_1_simd": quantize_act(x, T.Q8_1, simd=True),
        "q8_k": quantize_act(x, T.Q8_K),
        "f16": quantize_act(x, T.F16),
        "bf16": quantize_act(x, T.BF16),
    }


def mxfp4_edge_fixture() -> dict[str, np.ndarray]:
    """One MXFP4 block per E8M0 exponent byte 0..255 (0 and 1 are the two subnormal scales,
    255 overflows the largest codes to inf) with random E2M1 codes, dequantized by gguf."""
    rng = np.random.default_rng(4242)
    raw = rng.integers(0, 256, size=(256, 17), dtype=np.uint8)
    raw[:, 0] = np.arange(256, dtype=np.uint8)
    raw[0, 1:] = np.arange(16, dtype=np.uint8) * 0x11  # every code in both nibbles
    raw = raw.reshape(-1)
    return {"raw": raw, "deq": quants.dequantize(raw, T.MXFP4).reshape(-1).astype(F32)}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests/data/quant"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for t in WEIGHT_TYPES:
        arrays = type_fixture(t)
        path = out / f"{t.name}.zqv"
        write_zqv(path, arrays)
        total += path.stat().st_size
        extra = ""
        if "act_simd" in arrays:
            extra = f", simd/ref act bytes differ at {int(np.sum(arrays['act_simd'] != arrays['act']))}"
        print(f"{t.name:6s} n={arrays['deq'].size:5d} {path.stat().st_size:6d} bytes{extra}")
    path = out / "act_edge.zqv"
    edge = edge_fixture()
    write_zqv(path, edge)
    total += path.stat().st_size
    path = out / "mxfp4_edge.zqv"
    write_zqv(path, mxfp4_edge_fixture())
    total += path.stat().st_size
    print(f"act_edge: q8_0 simd/ref differ at {int(np.sum(edge['q8_0_simd'] != edge['q8_0_ref']))} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    with np.errstate(over="ignore", invalid="ignore"):  # fp16 overflow to inf is part of the edge cases
        main()
