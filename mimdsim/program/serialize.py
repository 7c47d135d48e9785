"""Program files: save and load a :class:`~mimdsim.program.ir.Program` as versioned JSON.

The format is described in ``docs/program_format.md``. In short: one JSON object with
``"format": "mimdsim-program"``, ``"version": 2``, the program's name, batch size,
metadata and tensors, a table of exchanges and a table of compute sets, and a ``body``
of steps that name their exchange and compute set by index in those tables (so an
exchange used by many supersteps is stored once). Arrays are JSON lists of integers; a
block's cycle table (version 2) is a list of rows. Version 1 files (no cycle tables) are
still read. A path ending in ``.gz`` is gzip-compressed.

Every problem with a file raises :class:`~mimdsim.errors.ProgramFormatError` naming the
file, the JSON path of the field (``body[3].exchange.nbytes``), the value found and what
is allowed (the reading, the format's validator, is :mod:`mimdsim.program.program_reader`;
its two functions import from here too). Writes are atomic: the file is written under a temporary name and renamed,
so an interrupted save never leaves a half-written program.

Examples
--------
>>> import tempfile, os
>>> from mimdsim.program.builder import ProgramBuilder
>>> b = ProgramBuilder("tiny")
>>> b.superstep("s", compute=b.compute_set("c").add("V", [0, 1], cycles=10))
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.json")
>>> save_program(b.build(), path)
>>> load_program(path).iter_static()[0].compute.blocks[0].tiles.tolist()
[0, 1]
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from mimdsim.errors import ProgramFormatError
from mimdsim.files import write_bytes
from mimdsim.program.ir import (
    FORMAT_VERSION,
    ComputeSet,
    Exchange,
    HostCopy,
    Program,
    Repeat,
    Step,
    Superstep,
)
from mimdsim.program.program_reader import FORMAT_NAME, READ_VERSIONS, load_program, program_from_dict

__all__ = ["FORMAT_NAME", "READ_VERSIONS", "save_program", "load_program", "program_to_dict", "program_from_dict"]


# ---- writing --------------------------------------------------------------------
def _ints(arr: np.ndarray) -> Any:
    return arr.tolist()


def _compute_to_dict(cs: ComputeSet) -> dict[str, Any]:
    return {
        "name": cs.name,
        "blocks": [
            {
                "codelet": b.codelet,
                "tiles": _ints(b.tiles),
                "worker_cycles": _ints(b.worker_cycles),
                "worker_counts": _ints(b.worker_counts),  # an array after __post_init__
                "supervisor_cycles": _ints(b.supervisor_cycles)
                if isinstance(b.supervisor_cycles, np.ndarray)
                else b.supervisor_cycles,
                **({"segment": b.segment} if b.segment else {}),
            }
            for b in cs.blocks
        ],
    }


def _exchange_to_dict(ex: Exchange) -> dict[str, Any]:
    out = {"name": ex.name, "src": _ints(ex.src), "dst_ptr": _ints(ex.dst_ptr), "dst": _ints(ex.dst), "nbytes": _ints(ex.nbytes)}
    if ex.messages is not None and ex.messages.size and int(ex.messages.max()) != 1:
        out["messages"] = _ints(ex.messages)
    if ex.dst_list is not None:
        out["dst_list"] = _ints(ex.dst_list)
    if ex.per_destination.any():
        out["per_destination"] = _ints(ex.per_destination.astype(np.int64))
    if ex.replicable.any():
        out["replicable"] = _ints(ex.replicable.astype(np.int64))
    return out


def program_to_dict(program: Program) -> dict[str, Any]:
    """The JSON-ready form of ``program`` (exchanges and compute sets shared by identity)."""
    w = _Writer(program.name)
    body = [w.step(s) for s in program.body]
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": program.name,
        "batch_size": program.batch_size,
        "metadata": program.metadata,
        "tensors": [
            {"name": t.name, "kind": t.kind, "tiles": _ints(t.tiles), "nbytes": _ints(t.nbytes)} for t in program.tensors
        ],
        "exchanges": w.ex_list,
        "compute_sets": w.cs_list,
        "body": body,
    }


class _Writer:
    """The steps of one program as dicts, its exchanges and compute sets listed once each (by identity)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.exchanges: dict[int, int] = {}
        self.computes: dict[int, int] = {}
        self.ex_list: list[dict[str, Any]] = []
        self.cs_list: list[dict[str, Any]] = []

    @staticmethod
    def _index(obj: Any, seen: dict[int, int], table: list[dict[str, Any]], to_dict: Any) -> int | None:
        if obj is None:
            return None
        if id(obj) not in seen:
            seen[id(obj)] = len(table)
            table.append(to_dict(obj))
        return seen[id(obj)]

    def step(self, s: Step) -> dict[str, Any]:
        if isinstance(s, Superstep):
            return {
                "type": "superstep",
                "name": s.name,
                "sync": s.sync,
                "exchange": self._index(s.exchange, self.exchanges, self.ex_list, _exchange_to_dict),
                "compute": self._index(s.compute, self.computes, self.cs_list, _compute_to_dict),
                **({"op": s.op} if s.op != "execute" else {}),
            }
        if isinstance(s, HostCopy):
            return {
                "type": "host_copy",
                "name": s.name,
                "direction": s.direction,
                "tiles": _ints(s.tiles),
                "nbytes": _ints(s.nbytes),
            }
        if isinstance(s, Repeat):
            return {"type": "repeat", "name": s.name, "count": int(s.count), "body": [self.step(x) for x in s.body]}
        raise ProgramFormatError(f"program {self.name!r}: cannot save a step of type {type(s).__name__}")


def _dumps(data: dict[str, Any]) -> str:
    """JSON with one line per top-level key and per table entry: diffable, still compact."""
    lines = ["{"]
    keys = list(data)
    for k, key in enumerate(keys):
        value = data[key]
        comma = "," if k < len(keys) - 1 else ""
        head = json.dumps(key) + ": "
        if isinstance(value, list) and value:
            items = ",\n  ".join(json.dumps(v, separators=(", ", ": "), allow_nan=False) for v in value)
            lines.append(f" {head}[\n  {items}\n ]{comma}")
        else:
            lines.append(f" {head}{json.dumps(value, allow_nan=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_program(program: Program, path: str | os.PathLike[str]) -> None:
    """Write ``program`` to ``path`` (gzip-compressed iff the name ends in ``.gz``), atomically
    (:func:`mimdsim.files.write_bytes`).

    Raises
    ------
    ProgramFormatError
        The program holds something the format cannot store (non-JSON metadata).
    OutputPathError
        The path cannot be written (empty, a folder, a missing or read-only folder).
    """
    try:
        text = _dumps(program_to_dict(program))
    except (TypeError, ValueError) as err:
        raise ProgramFormatError(f"program {program.name!r}: cannot be saved as JSON: {err}") from err
    write_bytes(path, text.encode("utf-8"), what="program file")
