#!/usr/bin/env python3
"""Write the seed corpus for tests/fuzz/gguf_fuzzer.cpp: a few small valid GGUF files
(each < 4 KB) made with the `gguf` Python package's writer, covering every metadata value
type, nested arrays, several tensor types, a custom alignment and both format versions.

Usage: scripts/gguf_fuzz_seeds.py [OUT_DIR]   (default tests/data/gguf/corpus)
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V
from gguf import GGUFWriter


def write(path, arch, fill, version=3):
    w = GGUFWriter(path, arch)
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if version == 2:  # v2 and v3 share the layout; only the version field differs
        with open(path, "r+b") as f:
            f.seek(4)
            f.write((2).to_bytes(4, "little"))
    assert os.path.getsize(path) < 4096, path


def all_value_types(w):
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.15625)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo")
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", -2.5e-300)
    w.add_array("t.strs", ["a", "bc", ""])
    w.add_array("t.i32s", [-1, 7, 1 << 30])
    w.add_array("t.f32s", [1.5, -0.25])
    w.add_array("t.nested", [[1, 2], [3]])
    w.add_array("t.deep", [[[[True]]]])


def small_llama(w):
    w.add_uint32("llama.block_count", 1)
    w.add_uint32("llama.embedding_length", 32)
    w.add_uint32("llama.attention.head_count", 2)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "ab"])
    w.add_array("tokenizer.ggml.merges", ["a b"])
    rng = np.random.default_rng(0)
    # Quantized tensors are given as raw bytes [rows, bytes_per_row]; the writer derives ne.
    w.add_tensor("token_embd.weight", rng.standard_normal((3, 32), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.integers(0, 255, (2, 34), dtype=np.uint8), raw_dtype=Q.Q8_0)
    w.add_tensor("blk.0.ffn_up.weight", rng.integers(0, 255, (1, 20), dtype=np.uint8), raw_dtype=Q.Q4_1)
    w.add_tensor("blk.0.ffn_down.weight", rng.integers(0, 255, (1, 144), dtype=np.uint8), raw_dtype=Q.Q4_K)
    w.add_tensor("blk.0.f16", np.arange(8, dtype=np.float16).reshape(2, 2, 2))


def aligned_64(w):
    w.add_custom_alignment(64)
    w.add_tensor("a", np.arange(4, dtype=np.float32))
    w.add_tensor("b", np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/gguf/corpus"
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "metadata_only_v3.gguf"), "gpt2", lambda w: w.add_string("general.name", "seed"))
    write(os.path.join(out, "all_value_types_v3.gguf"), "llama", all_value_types)
    write(os.path.join(out, "small_llama_v3.gguf"), "llama", small_llama)
    write(os.path.join(out, "aligned_64_v2.gguf"), "qwen2", aligned_64, version=2)


if __name__ == "__main__":
    main()
