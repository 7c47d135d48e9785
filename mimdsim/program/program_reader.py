"""Reading program files (:func:`load_program`, :func:`program_from_dict`): the validator of the program format
(docs/program_format.md). :mod:`mimdsim.program.serialize` writes the files and is where callers import both from.

Every problem with a file raises :class:`~mimdsim.errors.ProgramFormatError` naming the file, the JSON path of the
field (``body[3].exchange.nbytes``), the value found and what is allowed. Versions 1 to 3 are read; a
gzip-compressed file is recognised by its content.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mimdsim.errors import ProgramFormatError
from mimdsim.program.ir import (
    PROGRAM_OPS,
    TENSOR_KINDS,
    ComputeSet,
    Exchange,
    HostCopy,
    Program,
    Repeat,
    Step,
    Superstep,
    Tensor,
    VertexBlock,
)

__all__ = ["FORMAT_NAME", "READ_VERSIONS", "load_program", "program_from_dict"]

FORMAT_NAME = "mimdsim-program"
"""Value of the ``"format"`` key of every program file."""
READ_VERSIONS = (1, 2, 3)
"""Program format versions :func:`load_program` reads (it writes :data:`~mimdsim.program.ir.FORMAT_VERSION`)."""

_SYNCS = ("internal", "external")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TOP_KEYS = ("format", "version", "name", "batch_size", "metadata", "tensors", "exchanges", "compute_sets", "body")
_STEP_KEYS = {
    "superstep": ("type", "name", "sync", "exchange", "compute"),
    "host_copy": ("type", "name", "direction", "tiles", "nbytes"),
    "repeat": ("type", "name", "count", "body"),
}
_DIRECTIONS = ("to_device", "from_device")


class _Reader:
    """Type-checked access to a parsed file; every error names the file and JSON path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str, value: Any = None, *, show_value: bool = True) -> ProgramFormatError:
        got = f" (got {_short(value)})" if show_value else ""
        return ProgramFormatError(f"{self.source}: {where or '<root>'}: {message}{got}")

    def obj(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "expected a JSON object", value)
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.fail(_join(where, unknown[0]), f"unknown field (allowed: {', '.join(allowed)})", show_value=False)
        return value

    def field(self, obj: dict[str, Any], key: str, where: str) -> Any:
        if key not in obj:
            raise self.fail(_join(where, key), "missing required field", show_value=False)
        return obj[key]

    def string(self, obj: dict[str, Any], key: str, where: str, default: str | None = None, allowed: tuple[str, ...] = ()) -> str:
        w = _join(where, key)
        value = obj.get(key, default) if default is not None else self.field(obj, key, where)
        if not isinstance(value, str):
            raise self.fail(w, "expected a string", value)
        if allowed and value not in allowed:
            raise self.fail(w, f"expected one of {', '.join(repr(a) for a in allowed)}", value)
        return value

    def integer(self, value: Any, where: str, minimum: int | None = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(where, "expected an integer" + (f" >= {minimum}" if minimum is not None else ""), value)
        if minimum is not None and value < minimum:
            raise self.fail(where, f"expected an integer >= {minimum}", value)
        return value

    def table(self, obj: dict[str, Any], key: str, where: str, allow_table: bool) -> np.ndarray:
        """A list of integers >= 0, or (``allow_table``) a non-empty list of equally long such lists."""
        value = self.field(obj, key, where)
        if not (allow_table and isinstance(value, list) and value and all(isinstance(v, list) for v in value)):
            return self.array(obj, key, where)
        w = _join(where, key)
        rows = [self.array({key: v}, key, f"{w}[{k}]", key_path=False) for k, v in enumerate(value)]
        if len({r.size for r in rows}) > 1:
            raise self.fail(w, "the rows of a cycle table must have equal lengths", [r.size for r in rows])
        out = np.stack(rows)
        out.flags.writeable = False
        return out

    def array(self, obj: dict[str, Any], key: str, where: str, minimum: int = 0, *, key_path: bool = True) -> np.ndarray:
        w = _join(where, key) if key_path else where
        value = self.field(obj, key, where)
        if not isinstance(value, list):
            raise self.fail(w, f"expected a list of integers >= {minimum}", value)
        bad = next((i for i, v in enumerate(value) if type(v) is not int or not _INT64_MIN <= v <= _INT64_MAX), None)
        if bad is not None:
            raise self.fail(f"{w}[{bad}]", f"expected an integer >= {minimum}", value[bad])
        arr = np.array(value, dtype=np.int64) if value else np.zeros(0, np.int64)
        if arr.size and arr.min() < minimum:
            bad = int(np.argmax(arr < minimum))
            raise self.fail(f"{w}[{bad}]", f"expected an integer >= {minimum}", int(arr[bad]))
        arr.flags.writeable = False
        return arr

    def array_of(self, obj: dict[str, Any], key: str, where: str, n: int, per: str, minimum: int = 0) -> np.ndarray:
        """:meth:`array` that must hold one entry per ``per`` (``n`` of them)."""
        arr = self.array(obj, key, where, minimum)
        if arr.size != n:
            raise self.fail(_join(where, key), f"has {arr.size} entries, expected one per {per} ({n})", show_value=False)
        return arr


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | type(None)) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _read_tensor(r: _Reader, value: Any, where: str) -> Tensor:
    o = r.obj(value, where, ("name", "kind", "tiles", "nbytes"))
    tiles = r.array(o, "tiles", where)
    nbytes = r.array_of(o, "nbytes", where, tiles.size, "tile")
    kind = r.string(o, "kind", where, default="tensor", allowed=TENSOR_KINDS)
    return Tensor(r.string(o, "name", where), tiles, nbytes, kind)  # type: ignore[arg-type]


def _read_exchange(r: _Reader, value: Any, where: str, version: int) -> Exchange:
    fields = ("name", "src", "dst_ptr", "dst", "nbytes")
    optional = ("messages", "dst_list", "per_destination") + (("replicable",) if version >= 3 else ())
    o = r.obj(value, where, (*fields, *optional) if version >= 2 else fields)
    src = r.array(o, "src", where)
    dst_ptr = r.array(o, "dst_ptr", where)
    dst = r.array(o, "dst", where)
    nbytes = r.array_of(o, "nbytes", where, src.size, "transfer")
    dst_list: np.ndarray | None = None
    if "dst_list" in o:
        dst_list = r.array_of(o, "dst_list", where, src.size, "transfer")
    n_lists = src.size if dst_list is None else dst_ptr.size - 1
    unit = "transfer" if dst_list is None else "destination list"
    if dst_ptr.size != n_lists + 1 or dst_ptr[0] != 0 or dst_ptr[-1] != dst.size or np.any(np.diff(dst_ptr) < 1):
        raise r.fail(
            _join(where, "dst_ptr"),
            f"expected {n_lists + 1} increasing offsets from 0 to len(dst) = {dst.size}, each {unit} with >= 1 destination",
            dst_ptr.tolist(),
        )
    if dst_list is not None and dst_list.size and int(dst_list.max()) >= n_lists:
        raise r.fail(
            _join(where, "dst_list"), f"names list {int(dst_list.max())}; dst_ptr holds lists 0..{n_lists - 1}", show_value=False
        )
    messages: np.ndarray | None = None
    if "messages" in o:
        messages = r.array_of(o, "messages", where, src.size, "transfer", minimum=1)
    per_destination: np.ndarray | None = None
    if "per_destination" in o:
        per_destination = r.array(o, "per_destination", where)
        if per_destination.size != src.size or (per_destination.size and per_destination.max() > 1):
            raise r.fail(_join(where, "per_destination"), f"expected one 0 or 1 per transfer ({src.size})", show_value=False)
    replicable: np.ndarray | None = None
    if "replicable" in o:
        replicable = r.array(o, "replicable", where)
        if replicable.size != src.size or (replicable.size and (replicable.max() > 1 or replicable.min() < 0)):
            raise r.fail(_join(where, "replicable"), f"expected one 0 or 1 per transfer ({src.size})", show_value=False)
    return Exchange(r.string(o, "name", where), src, dst_ptr, dst, nbytes, messages, dst_list, per_destination, replicable)  # type: ignore[arg-type]  # None -> ones


def _read_compute(r: _Reader, value: Any, where: str, version: int) -> ComputeSet:
    o = r.obj(value, where, ("name", "blocks"))
    blocks_val = r.field(o, "blocks", where)
    if not isinstance(blocks_val, list):
        raise r.fail(_join(where, "blocks"), "expected a list of vertex blocks", blocks_val)
    tables = version >= 2
    blocks: list[VertexBlock] = []
    for k, bv in enumerate(blocks_val):
        w = f"{where}.blocks[{k}]"
        b = r.obj(
            bv,
            w,
            ("codelet", "tiles", "worker_cycles", "worker_counts", "supervisor_cycles") + (("segment",) if version >= 3 else ()),
        )
        cycles = r.table(b, "worker_cycles", w, tables)
        counts = r.table(b, "worker_counts", w, tables) if "worker_counts" in b else np.ones(cycles.shape[-1], np.int64)
        if counts.shape[-1] != cycles.shape[-1]:
            raise r.fail(
                _join(w, "worker_counts"),
                f"has {counts.shape[-1]} entries, expected one per worker_cycles entry ({cycles.shape[-1]})",
                show_value=False,
            )
        sup_val = b.get("supervisor_cycles", 0)
        w_sup = _join(w, "supervisor_cycles")
        sup: int | np.ndarray
        if tables and isinstance(sup_val, list):
            sup = r.array(b, "supervisor_cycles", w)
            if sup.size == 0:
                raise r.fail(w_sup, "a table of supervisor cycles needs at least one row", sup_val)
        else:
            sup = r.integer(sup_val, w_sup)
        rows = {a.shape[0] for a in (cycles, counts) if a.ndim == 2} | ({sup.size} if isinstance(sup, np.ndarray) else set())
        if len(rows) > 1:
            raise r.fail(
                w, f"its cycle tables have different numbers of rows ({', '.join(map(str, sorted(rows)))})", show_value=False
            )
        segment = r.integer(b.get("segment", 0), _join(w, "segment"))
        if segment < 0 or (blocks and segment < blocks[-1].segment):
            raise r.fail(_join(w, "segment"), "segments start at 0 and never decrease from one block to the next", segment)
        blocks.append(VertexBlock(r.string(b, "codelet", w), r.array(b, "tiles", w), cycles, counts, sup, segment))
    return ComputeSet(r.string(o, "name", where), tuple(blocks))


def _read_phase(r: _Reader, o: dict[str, Any], key: str, where: str, table: list[Any], read: Any, what: str) -> Any:
    """A step's exchange or compute set: null, an index into its table, or an inline object."""
    value = o.get(key)
    w = _join(where, key)
    if value is None:
        return None
    if isinstance(value, dict):
        return read(value, w)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(table):
        return table[value]
    raise r.fail(w, f"expected null, an index into {what} (0..{len(table) - 1}) or an inline object", value)


def _read_steps(
    r: _Reader, value: Any, where: str, exchanges: list[Exchange], computes: list[ComputeSet], version: int, depth: int = 0
) -> tuple[Step, ...]:
    if not isinstance(value, list):
        raise r.fail(where, "expected a list of steps", value)
    if depth > 64:
        raise r.fail(where, "repeats nested deeper than 64 levels", show_value=False)
    steps: list[Step] = []
    for k, sv in enumerate(value):
        w = f"{where}[{k}]"
        if not isinstance(sv, dict):
            raise r.fail(w, "expected a JSON object", sv)
        kind = r.string(sv, "type", w, allowed=tuple(_STEP_KEYS))
        s = r.obj(sv, w, _STEP_KEYS[kind] + (("op",) if kind == "superstep" and version >= 3 else ()))
        if kind == "superstep":
            ex = _read_phase(r, s, "exchange", w, exchanges, lambda v, ww: _read_exchange(r, v, ww, version), "exchanges")
            cs = _read_phase(r, s, "compute", w, computes, lambda v, ww: _read_compute(r, v, ww, version), "compute_sets")
            op = r.string(s, "op", w, default="execute", allowed=PROGRAM_OPS)
            sync = r.string(s, "sync", w, default="internal", allowed=_SYNCS)
            steps.append(Superstep(r.string(s, "name", w), sync, ex, cs, op))  # type: ignore[arg-type]
        elif kind == "host_copy":
            tiles = r.array(s, "tiles", w)
            nbytes = r.array_of(s, "nbytes", w, tiles.size, "tile")
            direction = r.string(s, "direction", w, default="to_device", allowed=_DIRECTIONS)
            steps.append(HostCopy(r.string(s, "name", w), tiles, nbytes, direction))  # type: ignore[arg-type]
        else:
            count = r.integer(r.field(s, "count", w), _join(w, "count"))
            body = _read_steps(r, r.field(s, "body", w), _join(w, "body"), exchanges, computes, version, depth + 1)
            steps.append(Repeat(count, body, r.string(s, "name", w, default="repeat")))
    return tuple(steps)


def program_from_dict(data: Any, source: str = "<dict>") -> Program:
    """Build a :class:`Program` from the parsed JSON of a program file.

    ``source`` names the input in error messages. Raises :class:`ProgramFormatError`.
    """
    r = _Reader(source)
    o = r.obj(data, "", _TOP_KEYS)
    fmt = r.field(o, "format", "")
    if fmt != FORMAT_NAME:
        raise r.fail("format", f"expected {FORMAT_NAME!r} (not a mimdsim program file)", fmt)
    version = r.field(o, "version", "")
    if version not in READ_VERSIONS or isinstance(version, bool):
        allowed = " or ".join(map(str, READ_VERSIONS))
        raise r.fail("version", f"expected {allowed} (the program format versions this mimdsim reads)", version)
    name = r.string(o, "name", "")
    batch = o.get("batch_size")
    if batch is not None:
        r.integer(batch, "batch_size", minimum=1)
    metadata = o.get("metadata", {})
    if not isinstance(metadata, dict):
        raise r.fail("metadata", "expected a JSON object", metadata)
    tables = {}
    for key in ("tensors", "exchanges", "compute_sets"):
        tables[key] = o.get(key, [])
        if not isinstance(tables[key], list):
            raise r.fail(key, "expected a list", tables[key])
    tensors = tuple(_read_tensor(r, v, f"tensors[{k}]") for k, v in enumerate(tables["tensors"]))
    exchanges = [_read_exchange(r, v, f"exchanges[{k}]", version) for k, v in enumerate(tables["exchanges"])]
    computes = [_read_compute(r, v, f"compute_sets[{k}]", version) for k, v in enumerate(tables["compute_sets"])]
    body = _read_steps(r, r.field(o, "body", ""), "body", exchanges, computes, version)
    return Program(name, body, tensors, batch, dict(metadata))


def load_program(path: str | os.PathLike[str]) -> Program:
    """Read a program file written by :func:`save_program` (or by hand, see docs/program_format.md).

    gzip-compressed files are recognised by their content, whatever their name.

    Raises
    ------
    ProgramFormatError
        Missing, unreadable, truncated or non-JSON file; wrong format or version; a
        missing or wrongly typed field (the message gives the file, the JSON path of the
        field, the value and what is allowed).
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as err:
        raise ProgramFormatError(f"{source}: file not found") from err
    except OSError as err:
        raise ProgramFormatError(f"{source}: cannot read: {err.strerror or err}") from err
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise ProgramFormatError(f"{source}: truncated or corrupt gzip data ({err})") from err
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as err:
        raise ProgramFormatError(f"{source}: not a JSON program file (not UTF-8 text)") from err
    except json.JSONDecodeError as err:
        truncated = err.pos >= len(raw.rstrip()) or err.msg.startswith("Unterminated")
        what = "truncated JSON" if truncated else "not valid JSON"
        raise ProgramFormatError(f"{source}: {what}: {err.msg} (line {err.lineno}, column {err.colno})") from err
    except RecursionError as err:
        raise ProgramFormatError(f"{source}: JSON nested too deeply") from err
    return program_from_dict(data, source)
