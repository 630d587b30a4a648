#!/usr/bin/env python3
"""Reference GGUF for the C++ writer test: tests/data/synthetic/writer_all_types.gguf.

Written by the `gguf` package's GGUFWriter (the reference implementation), with one
metadata key of every value type, typed and nested arrays, a custom alignment of 64 and
tensors of three types. tests/engine/gguf/gguf_writer_test.cpp writes the same content
with zinfer::gguf::GgufWriter and requires the identical bytes.
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "synthetic",
                                                              "writer_all_types.gguf")
    w = GGUFWriter(out, arch="testarch")  # writes general.architecture first
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 3.25)
    w.add_uint64("t.u64", (1 << 63) + 5)
    w.add_int64("t.i64", -(1 << 62))
    w.add_float64("t.f64", 2.5e-300)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "h\u00e9llo \u2713")
    w.add_key_value("t.arr_u8", [1, 2, 255], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
    w.add_key_value("t.arr_i16", [-1, 300], GGUFValueType.ARRAY, sub_type=GGUFValueType.INT16)
    w.add_key_value("t.arr_u64", [7, 1 << 40], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT64)
    w.add_key_value("t.arr_f64", [0.125, -8.0], GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT64)
    w.add_array("t.arr_f32", [0.5, -1.5])
    w.add_array("t.arr_i32", [-7, 0, 7])
    w.add_array("t.arr_bool", [True, False])
    w.add_array("t.arr_str", ["a", "", "\u00df"])
    w.add_array("t.arr_nested", [[1, 2], [3]])
    w.add_tensor("a", np.array([1.0, -2.0, 3.5], dtype=np.float32))
    w.add_tensor("b", np.arange(8, dtype=np.float16).reshape(2, 4))
    q8 = np.zeros((2, 34), dtype=np.uint8)
    q8[:, 0:2] = [0x00, 0x3C]  # d = 1.0 (fp16)
    q8[:, 2:] = np.arange(32, dtype=np.uint8)
    w.add_tensor("c", q8, raw_dtype=GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out, os.path.getsize(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
