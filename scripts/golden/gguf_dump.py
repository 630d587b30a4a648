#!/usr/bin/env python3
"""Dump a GGUF file's header, metadata and tensor table as JSON, read by the `gguf`
Python package (the reference our C++ reader is checked against).

Usage: scripts/golden/gguf_dump.py MODEL.gguf > tests/data/gguf/smollm2_tensors.json

Long arrays are summarised (element type, length, first and last elements) to keep the
fixture small; short and nested ones are dumped whole. Each tensor carries the hex of its
first 16 data bytes so the test can check that data pointers land where the reference says.

Fixtures: tests/data/gguf/smollm2_tensors.json (the real model) and
tests/data/gguf/corpus_ref/<seed>.json (one per file in tests/data/gguf/corpus/).
"""
import importlib.metadata
import json
import os
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType

ARRAY_HEAD = 4   # elements kept from the start of a long array
ARRAY_FULL = 16  # arrays up to this length (and nested ones) are dumped whole


def scalar(field_type, part):
    if field_type == GGUFValueType.STRING:
        return bytes(part).decode("utf-8")
    v = part[0]
    if field_type == GGUFValueType.BOOL:
        return bool(v)
    if field_type in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(v)
    return int(v)


def decode(parts, vtype):
    """Decodes one value from an iterator over a field's raw parts (recursing into arrays).
    Arrays become {"elem_type_id", "items"} so nested element types are kept."""
    if vtype == GGUFValueType.STRING:
        next(parts)  # length
        return scalar(vtype, next(parts))
    if vtype == GGUFValueType.ARRAY:
        elem = GGUFValueType(int(next(parts)[0]))
        n = int(next(parts)[0])
        return {"elem_type_id": int(elem), "items": [decode(parts, elem) for _ in range(n)]}
    return scalar(vtype, next(parts))


def dump_field(field):
    t0 = field.types[0]
    if t0 != GGUFValueType.ARRAY:
        return {"type": t0.name.lower(), "type_id": int(t0),
                "value": scalar(t0, field.parts[field.data[0]])}
    # parts: key length, key, value type, element type, count, elements...
    elem = GGUFValueType(int(field.parts[3][0]))
    n = int(field.parts[4][0])  # field.data flattens nested arrays, so read the count itself
    out = {"type": "array", "type_id": int(GGUFValueType.ARRAY), "elem_type": elem.name.lower(),
           "elem_type_id": int(elem), "len": n}
    if n <= ARRAY_FULL or elem == GGUFValueType.ARRAY:
        out["value"] = decode(iter(field.parts[2 + 1:]), GGUFValueType.ARRAY)
    else:
        out["head"] = [scalar(elem, field.parts[field.data[i]]) for i in range(ARRAY_HEAD)]
        out["last"] = scalar(elem, field.parts[field.data[n - 1]])
    return out


def main():
    path = sys.argv[1]
    r = GGUFReader(path, "r")
    fields = r.fields
    doc = {
        "source": f"gguf-py {importlib.metadata.version('gguf')} reading {os.path.basename(path)}",
        "file_size": os.path.getsize(path),
        "version": int(fields["GGUF.version"].parts[0][0]),
        "tensor_count": int(fields["GGUF.tensor_count"].parts[0][0]),
        "kv_count": int(fields["GGUF.kv_count"].parts[0][0]),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "metadata": {k: dump_field(f) for k, f in fields.items() if not k.startswith("GGUF.")},
        "tensors": [],
    }
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    for t in r.tensors:
        start = int(t.data_offset)
        doc["tensors"].append({
            "name": t.name,
            "type_id": int(t.tensor_type),
            "type": t.tensor_type.name,
            "ne": [int(x) for x in t.shape],  # ggml order: ne[0] is the contiguous dim
            "offset": start - int(r.data_offset),  # relative to the data section
            "n_bytes": int(t.n_bytes),
            "n_elements": int(t.n_elements),
            "head_hex": bytes(raw[start:start + min(16, int(t.n_bytes))]).hex(),
        })
    # One tensor per line keeps the fixture short and its diffs readable.
    tensors = doc.pop("tensors")
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    rows = ",\n".join("  " + json.dumps(t, ensure_ascii=False) for t in tensors)
    sys.stdout.write(text[:-2] + ',\n "tensors": [\n' + rows + "\n ]\n}\n")


if __name__ == "__main__":
    main()
