"""Identities of inputs: canonical JSON and the hashes that key records, stores, caches and traces.

A hash is the SHA-256 (16 hex characters) of the canonical JSON (sorted keys, no spaces) of what it identifies,
with the record schema version: the same inputs always give the same key, in any process.

>>> canonical_json({"b": (1, 2), "a": 0.5})
'{"a":0.5,"b":[1,2]}'
>>> import numpy as np
>>> canonical_json({"k": np.int64(3), "f": np.bool_(True)}) == canonical_json({"k": 3, "f": True})
True
>>> input_hash({"x": 1}) == input_hash({"x": 1}) != input_hash({"x": 2})
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["SCHEMA_VERSION", "canonical_json", "input_hash", "input_value"]

SCHEMA_VERSION = 1
"""Version of the result record's fields (:class:`mimdsim.studies.record.SNNRecord`), part of every hash; a store of
another version is refused."""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_jsonable)


def _jsonable(o: Any) -> Any:
    if isinstance(o, tuple):
        return list(o)
    if isinstance(o, np.generic):  # a numpy integer or boolean: as the Python value it equals (the same hash)
        return o.item()
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def input_hash(inputs: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 16 characters) of the canonical JSON of ``inputs`` and the schema version."""
    text = canonical_json({"schema_version": SCHEMA_VERSION, **inputs})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def input_value(v: Any) -> Any:
    """A run option as hashable JSON: files by their content, arrays by their bytes, specs by their fields."""
    if isinstance(v, os.PathLike) or (isinstance(v, str) and v.endswith((".npz", ".h5", ".hdf5", ".npy", ".toml"))):
        try:
            with open(v, "rb") as f:
                return {"file_sha256": hashlib.file_digest(f, "sha256").hexdigest()}
        except OSError:
            return str(v)  # the estimate reports the missing file itself
    if hasattr(v, "true_counts"):  # a SpikeActivity
        h = hashlib.sha256()
        for a in (*v.true_counts, *v.valid_counts):
            h.update(np.ascontiguousarray(a).tobytes())
        return {"activity_sha256": h.hexdigest()}
    if hasattr(v, "model_dump"):
        return v.model_dump(mode="json")
    if isinstance(v, np.ndarray):
        return {"array_sha256": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest(), "dtype": str(v.dtype)}
    if isinstance(v, tuple | list):
        return [input_value(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):  # an activity source, lowering options, ...
        return {"type": type(v).__name__, **{f.name: input_value(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    return v
