#!/usr/bin/env python3
"""Golden outputs of llama.cpp's own CPU kernels (through llama-cpp-python's libggml-cpu.so).

For each weight type it runs ggml's from_float (the activation quantizer of the type's
vec_dot_type, as llama.cpp's matmul calls it) and vec_dot (the x86 dot-product kernel) on:
  - the weight rows and activations of tests/data/quant/<TYPE>.zqv (prefixes of 1, 3, 7 blocks),
  - a longer random row (gguf-quantized where gguf can, random valid blocks otherwise).
and writes tests/data/quant/ggml_<TYPE>.zqv (same container as quant_vectors.py) with
  act: from_float(x) of the 7-block row; dot: float32 vec_dot per prefix;
  long_raw, long_x, long_act, long_dot: the same for the long row.
It also records which SIMD features the library was built with, since the rounding of the
float accumulation depends on the kernel variant (AVX2 here).

Usage: python3 scripts/golden/ggml_cpu_vectors.py   (needs llama-cpp-python)
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quant_vectors as qv  # noqa: E402  (fixture container and random-block helpers)

DATA = Path(__file__).resolve().parents[2] / "tests/data/quant"
LONG_N = {"legacy": 1024, "k": 1536, "float": 517}

VecDot = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_void_p,
                          ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
FromFloat = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


class TraitsCpu(ctypes.Structure):
    _fields_ = [("from_float", ctypes.c_void_p), ("vec_dot", ctypes.c_void_p),
                ("vec_dot_type", ctypes.c_int), ("nrows", ctypes.c_int64)]


BASE: ctypes.CDLL | None = None


def ggml_sizes(t: T) -> tuple[int, int]:
    """Block size and bytes per block from ggml itself (gguf-py's table says 40 bytes for
    Q8_1, the layout before its scales became fp16)."""
    assert BASE is not None
    return int(BASE.ggml_blck_size(int(t))), int(BASE.ggml_type_size(int(t)))


def load_ggml_cpu() -> ctypes.CDLL:
    global BASE
    import llama_cpp
    lib_dir = Path(os.path.dirname(llama_cpp.__file__)) / "lib"
    BASE = ctypes.CDLL(str(lib_dir / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    BASE.ggml_blck_size.restype = ctypes.c_int64
    BASE.ggml_type_size.restype = ctypes.c_size_t
    cpu = ctypes.CDLL(str(lib_dir / "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)
    cpu.ggml_get_type_traits_cpu.restype = ctypes.POINTER(TraitsCpu)
    cpu.ggml_get_type_traits_cpu.argtypes = [ctypes.c_int]
    cpu.ggml_cpu_init()
    return cpu


def read_zqv(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    assert data[:4] == b"ZQV1"
    count = int.from_bytes(data[4:8], "little")
    pos, out = 8, {}
    dtypes = {0: np.uint8, 1: np.float32, 2: np.float64}
    for _ in range(count):
        nl = int.from_bytes(data[pos:pos + 4], "little"); pos += 4
        name = data[pos:pos + nl].decode(); pos += nl
        code = int.from_bytes(data[pos:pos + 4], "little"); pos += 4
        ln = int.from_bytes(data[pos:pos + 8], "little"); pos += 8
        out[name] = np.frombuffer(data[pos:pos + ln], dtype=dtypes[code]).copy(); pos += ln
    return out


class GgmlType:
    def __init__(self, cpu: ctypes.CDLL, t: T):
        tr = cpu.ggml_get_type_traits_cpu(int(t)).contents
        self.t = t
        self.vt = T(tr.vec_dot_type)
        assert self.vt == qv.VEC_DOT_TYPE[t], (t, self.vt)
        self.vec_dot = VecDot(tr.vec_dot)
        vtr = cpu.ggml_get_type_traits_cpu(int(self.vt)).contents
        self.from_float = FromFloat(vtr.from_float)

    def act(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        bs, ts = ggml_sizes(self.vt)
        out = np.zeros(x.size // bs * ts, np.uint8)
        self.from_float(x.ctypes.data, out.ctypes.data, x.size)
        return out

    def dot(self, n: int, raw: np.ndarray, act: np.ndarray) -> np.float32:
        s = ctypes.c_float(0)
        raw = np.ascontiguousarray(raw)
        act = np.ascontiguousarray(act)
        self.vec_dot(n, ctypes.byref(s), 0, raw.ctypes.data, 0, act.ctypes.data, 0, 1)
        return np.float32(s.value)


def long_row(t: T, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    bs, ts = GGML_QUANT_SIZES[t]
    kind = "k" if bs == 256 else ("float" if bs == 1 else "legacy")
    n = LONG_N[kind]
    if t in qv.QUANTIZABLE:
        raw = np.ascontiguousarray(quants.quantize((rng.standard_normal(n) * 0.05).astype(np.float32), t))
        raw = raw.view(np.uint8).reshape(-1)
    else:
        raw = rng.integers(0, 256, size=(n // bs, ts), dtype=np.uint8)
        for off in qv.K_SCALE_OFFSETS[t]:
            raw[:, off:off + 2] = qv.fp16_bytes(rng.uniform(0.0005, 0.02, size=n // bs).astype(np.float32))
        raw = raw.reshape(-1)
    x = rng.standard_normal(n).astype(np.float32)
    x[7] = 40.0  # an outlier, as activations have
    return raw, x


def main() -> None:
    cpu = load_ggml_cpu()
    feats = {f: getattr(cpu, f"ggml_cpu_has_{f}")() for f in ("avx2", "fma", "f16c", "avx512", "avx512_vnni")}
    print("libggml-cpu features:", feats)
    for t in qv.WEIGHT_TYPES:
        g = GgmlType(cpu, t)
        fx = read_zqv(DATA / f"{t.name}.zqv")
        raw, x = fx["raw"], fx["x"]
        bs, ts = ggml_sizes(t)
        assert (bs, ts) == GGML_QUANT_SIZES[t], t
        unit = bs if bs > 1 else 32
        act = g.act(x)
        dots = []
        for k in (1, 3, 7):
            n = k * unit
            dots.append(g.dot(n, raw[: n // bs * ts], g.act(x[:n])))
        rng = np.random.default_rng(31337 + int(t))
        lraw, lx = long_row(t, rng)
        lact = g.act(lx)
        ldot = g.dot(lx.size, lraw, lact)
        qv.write_zqv(DATA / f"ggml_{t.name}.zqv", {
            "act": act, "dot": np.array(dots, np.float32),
            "long_raw": lraw, "long_x": lx, "long_act": lact, "long_dot": np.array([ldot], np.float32),
            "features": np.array([feats[f] for f in ("avx2", "fma", "f16c", "avx512", "avx512_vnni")], np.uint8),
        })
        print(f"{t.name:6s} dots {[float(d) for d in dots]} long {float(ldot):.6g}")


if __name__ == "__main__":
    main()
