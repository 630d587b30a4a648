"""Validates zinfer protocol frames (msgpack bytes) against schemas/*.schema.json.

    python3 clients/python/zinfer_schema.py worker frame1.msgpack frame2.msgpack ...
    python3 clients/python/zinfer_schema.py client submit.msgpack

Used by tests/service/python/test_schemas.py on frames from the C++ encoder, and meant for
frames captured from a live worker. A msgpack map maps 1:1 to a JSON object; the only
translation is that integer map keys (allowed in logit_bias) become decimal strings, which is
how a JSON client writes them.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
from typing import Any, Dict, Optional

import jsonschema
import msgpack
import referencing

SCHEMAS_DIR = pathlib.Path(__file__).resolve().parents[2] / "schemas"

# message "type" → schema file stem, per direction (health/stats exist in both).
CLIENT_SCHEMAS = {"submit": "submit", "cancel": "cancel", "health": "health_request", "stats": "stats_request"}
WORKER_SCHEMAS = {"accepted": "accepted", "token": "token", "done": "done", "error": "error", "health": "health",
                  "stats": "stats"}


def to_json_value(obj: Any, path: str = "$") -> Any:
    """msgpack-decoded value → JSON value; rejects what JSON cannot carry (bytes, NaN/Inf)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise ValueError(f"{path}: map key {k!r} is neither a string nor an integer")
            key = str(k)
            if key in out:
                raise ValueError(f"{path}: duplicate key {key!r}")
            out[key] = to_json_value(v, f"{path}.{key}")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_json_value(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{path}: non-finite number {obj!r}")
    if isinstance(obj, (bytes, bytearray, msgpack.ExtType)):
        raise ValueError(f"{path}: bin/ext values are not part of the protocol")
    return obj


class FrameValidator:
    def __init__(self, schemas_dir: Optional[pathlib.Path] = None):
        self.schemas_dir = pathlib.Path(schemas_dir or SCHEMAS_DIR)
        self.schemas: Dict[str, Dict[str, Any]] = {}
        resources = []
        for path in sorted(self.schemas_dir.glob("*.schema.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.Draft202012Validator.check_schema(schema)
            self.schemas[path.name[: -len(".schema.json")]] = schema
            resources.append((schema["$id"], referencing.Resource.from_contents(schema)))
        self.registry = referencing.Registry().with_resources(resources)

    def validator(self, stem: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(self.schemas[stem], registry=self.registry)

    def schema_for(self, msg: Dict[str, Any], direction: str) -> str:
        table = CLIENT_SCHEMAS if direction == "client" else WORKER_SCHEMAS
        kind = msg.get("type")
        if kind not in table:
            raise ValueError(f"type {kind!r} is not a {direction} message type")
        return table[kind]

    def validate(self, frame: bytes, direction: str) -> Dict[str, Any]:
        """Decodes one frame and validates it; returns the JSON value. Raises
        jsonschema.ValidationError or ValueError."""
        if direction not in ("client", "worker"):
            raise ValueError(f"direction must be client or worker, got {direction!r}")
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(frame)
        values = list(unpacker)
        if len(values) != 1:
            raise ValueError(f"a frame holds exactly one msgpack value, got {len(values)}")
        msg = to_json_value(values[0])
        if not isinstance(msg, dict):
            raise ValueError("top level must be a map")
        self.validator(self.schema_for(msg, direction)).validate(msg)
        return msg


def main(argv: list) -> int:
    if len(argv) < 3 or argv[1] not in ("client", "worker"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    v = FrameValidator()
    failed = 0
    for name in argv[2:]:
        try:
            msg = v.validate(pathlib.Path(name).read_bytes(), argv[1])
            print(f"ok   {name}: {msg['type']}")
        except (jsonschema.ValidationError, ValueError, OSError) as e:
            failed += 1
            print(f"FAIL {name}: {getattr(e, 'message', e)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
