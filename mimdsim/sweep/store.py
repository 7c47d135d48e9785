"""The result store of a sweep: JSON lines, appended as points finish, resumed by input hash.

File format (docs/sweeps.md): the first line is a header
``{"mimdsim_store": 1, "schema_version": .., "spec_name": .., "spec_hash": .., "n_points": ..}``;
every other line is one finished point
``{"i": index, "input_hash": .., "point": {..}, "record": {..SNNRecord..}, "wall_s": ..}``
(a failed point has ``record.error`` set). Each line is written with one ``write`` of the
whole line and flushed to disk, so a sweep killed at any moment leaves whole lines and at
most a torn last line, which the next open cuts off (that point runs again). A store whose
header names another spec is refused and left as it is.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from mimdsim.errors import ConfigError, OutputPathError

__all__ = ["STORE_VERSION", "ResultStore", "StoreLine", "read_store", "store_lock"]

STORE_VERSION = 1


def _header(spec_name: str, spec_hash: str, n_points: int) -> dict[str, Any]:
    from mimdsim.hashing import SCHEMA_VERSION

    return {"mimdsim_store": STORE_VERSION, "schema_version": SCHEMA_VERSION, "spec_name": spec_name, "spec_hash": spec_hash,
            "n_points": n_points}  # fmt: skip


@contextlib.contextmanager
def store_lock(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Hold an exclusive OS lock (``flock``) on the store file while a sweep reads and writes it: a second sweep
    on the same store waits (saying so on stderr) and then finds the points the first stored, so each point
    is computed and stored once. No-op without a path, or where ``fcntl`` does not exist."""
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux
        yield
        return
    p = Path(path)
    if not p.parent.is_dir():
        raise ConfigError(f"{p}: folder {p.parent} does not exist")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{p}: another sweep is writing this store; waiting for it", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_store(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(header, entries)`` of a store file; a torn last line (no newline) is ignored.

    Raises
    ------
    ConfigError
        Not a store (no header), another store version, or a line that is not one JSON
        object (the file and the line number).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the result store ({err.strerror or err})") from None
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is empty or a torn line
    if not complete:
        raise ConfigError(f"{p}: empty or torn result store (no header line)")
    entries = []
    for n, raw in enumerate(complete, start=1):
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError(f"{p}:{n}: not a JSON line of a result store") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{p}:{n}: expected a JSON object")
        if n == 1:
            if obj.get("mimdsim_store") != STORE_VERSION:
                raise ConfigError(f"{p}:1: not a mimdsim result store of version {STORE_VERSION} (header {obj!r:.120})")
            header = obj
            continue
        entries.append(_valid_line(obj, f"{p}:{n}"))
    return header, entries


class StoreLine(BaseModel):
    """One result line of a store: the point's index, the hash its record is kept by, the point and its record
    (:class:`~mimdsim.studies.record.SNNRecord`'s fields, checked by type), and the seconds it took."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    i: Annotated[StrictInt, Field(ge=0)]
    input_hash: Annotated[StrictStr, Field(min_length=1)]
    point: dict[str, Any] = Field(default_factory=dict)
    record: dict[str, Any]
    wall_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


def _valid_line(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """``obj`` if it is a result line (:class:`StoreLine`) whose record is a valid record; else a ConfigError
    naming ``where`` (file:line), the field and the value."""
    from mimdsim.arch.load import format_validation_error
    from mimdsim.studies.record import SNNRecord

    try:
        StoreLine.model_validate(obj)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where).split("\n")[0]) from None
    try:
        SNNRecord.from_dict(obj["record"])
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return obj


class ResultStore:
    """An open store: the hashes it holds, and :meth:`append` for each finished point.

    ``ResultStore(path, spec_name, spec_hash, n_points)`` creates the file (with its header)
    or opens an existing one of the same spec, cutting off a torn last line.

    Raises
    ------
    ConfigError
        The file exists and was written by another spec or record schema (left untouched);
        its folder does not exist.
    """

    def __init__(self, path: str | os.PathLike[str], spec_name: str, spec_hash: str, n_points: int) -> None:
        self.path = Path(path)
        head = _header(spec_name, spec_hash, n_points)
        if self.path.exists() and self.path.stat().st_size > 0:
            header, entries = read_store(self.path)
            for key in ("spec_hash", "schema_version"):
                if header.get(key) != head[key]:
                    raise ConfigError(
                        f"{self.path}: written by another sweep spec ({key} {header.get(key)!r}, spec "
                        f"{header.get('spec_name')!r}; this one {head[key]!r}, spec {spec_name!r}): left untouched; "
                        "use another --out or delete it"
                    )
            self._cut_torn_tail()
        else:
            if not self.path.parent.is_dir():
                raise ConfigError(f"{self.path}: folder {self.path.parent} does not exist")
            entries = []
            self._write_line(head)
        self._entries = {str(e["input_hash"]): e for e in entries}

    def _cut_torn_tail(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(end)

    def _write_line(self, obj: Mapping[str, Any]) -> None:
        from mimdsim.hashing import canonical_json  # a point's spec objects are written as their fields

        line = (canonical_json(obj) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if os.write(fd, line) != len(line):  # one write of the whole line: O_APPEND keeps it whole
                    raise OSError(errno.ENOSPC, "the line was written in part")  # a torn last line: the next run cuts it off
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:  # a full disk, a store made read-only: the store and why, the points stored so far kept
            raise OutputPathError(f"result store {self.path}: cannot append a point ({err.strerror or err}); "
                                  "the points stored so far are kept, run again to finish") from None  # fmt: skip

    def __contains__(self, input_hash: object) -> bool:
        return input_hash in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> Iterator[dict[str, Any]]:
        """The stored lines, in the order they were written."""
        return iter(self._entries.values())

    def append(self, i: int, point: Mapping[str, Any], record: Mapping[str, Any], wall_s: float) -> None:
        """Store one finished point (a point already held is not written again)."""
        h = str(record["input_hash"])
        if h in self._entries:
            return
        entry = {"i": i, "input_hash": h, "point": dict(point), "record": dict(record), "wall_s": wall_s}
        self._write_line(entry)
        self._entries[h] = entry
