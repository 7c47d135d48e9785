"""What a warm process (and the disk) keeps between estimates of the same network.

* **Functional activity**, keyed by the model (every field of the :class:`SNNSpec`), the
  seed and the input: in memory, and on disk as ``.npz`` traces
  (:func:`~mimdsim.snn.activity.trace_v1.save_activity`) under :func:`cache_dir`, so re-costing
  a network on other machines, or in the next process, skips the functional model. The
  disk key also holds a digest of the functional model's source files, so a changed
  model never reads an old trace. Runs on a dataset (``input_data``) are kept in memory
  only.
* **Lowered programs**, in memory, keyed by the spec, the activity object, the mapping
  options, the lowering options and the machine fields the lowering reads
  (:data:`LOWERING_MACHINE_FIELDS`): a what-if on any other field (clock, exchange, sync,
  links, host) re-costs the same program, whose per-machine costs are kept with it
  (:mod:`mimdsim.program.memo`).

``MIMDSIM_CACHE_DIR`` sets the disk folder (default ``$XDG_CACHE_HOME/mimdsim`` or
``~/.cache/mimdsim``); ``MIMDSIM_CACHE_DIR=off`` turns the disk cache off. :func:`clear`
empties the in-memory caches.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import OutputPathError, TraceFormatError
from mimdsim.snn.activity.counts import SpikeActivity, functional_activity
from mimdsim.snn.activity.trace_v1 import load_activity, save_activity
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["LOWERING_MACHINE_FIELDS", "cache_dir", "cached_functional_activity", "cached", "clear", "lowering_key"]

LOWERING_MACHINE_FIELDS = ("n_ipus", "tiles_per_ipu", "tiles_per_supertile", "num_worker_contexts", "memcpy_bytes_per_cycle")
"""The machine fields the partitioner and the SNN lowerings read (tests/snn/test_cache.py
checks that two machines agreeing on these give the same program)."""

_FUNCTIONAL_SOURCES = (
    "reference/functional.py", "reference/lif_kernels.py", "reference/weights.py", "reference/data.py", "reference/shd.py", "activity/counts.py",
    "model/spec.py",
)  # fmt: skip
"""The files (below ``mimdsim/snn/``) whose code the functional counts come from: the disk cache's key hashes them."""
_OFF = ("", "off", "0", "none", "false")

T = TypeVar("T")


class _LRU:
    """A small least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()


_ACTIVITY = _LRU(16)
_PROGRAMS = _LRU(2)


def clear() -> None:
    """Empty the in-memory caches (the disk cache stays), the lowering's kept exchanges included."""
    from mimdsim.snn.lowering import kept

    _ACTIVITY.clear()
    _PROGRAMS.clear()
    kept.clear()


def cache_dir() -> Path | None:
    """The folder of the disk cache, or None when it is off."""
    env = os.environ.get("MIMDSIM_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mimdsim"


@functools.cache
def _code_digest() -> str:
    """A digest of the functional model's sources, read once per process."""
    here = Path(__file__).parents[1]  # mimdsim/snn
    h = hashlib.sha256()
    for name in _FUNCTIONAL_SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _disk_path(spec: SNNSpec, seed: int, input_rate: float | None) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = json.dumps(
        {"spec": spec.model_dump(mode="json"), "seed": seed, "input_rate": input_rate, "code": _code_digest()}, sort_keys=True
    )
    return folder / "activity" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"


def _read(path: Path, spec: SNNSpec) -> SpikeActivity | None:
    try:
        act = load_activity(path)
        act.check_against(spec)
        return act
    except (TraceFormatError, OSError):
        return None  # unreadable or stale: recompute (and overwrite)


def _write(path: Path, act: SpikeActivity) -> None:
    """Write the trace (atomically: :func:`~mimdsim.snn.activity.trace_v1.save_activity`); a read-only cache is skipped.
    Not deflated: a sweep reads one back at every design point, and inflating took half of the read (measured on the
    family (a) 3-hidden step, 285 kB deflated, 576 kB not: 6.4 ms against 3.4 ms)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # the cache's own folder
        save_activity(path, act, compress=False)
    except (OSError, OutputPathError):
        pass


def cached_functional_activity(
    spec: SNNSpec, seed: int = 0, *, input_rate: float | None = None, input_data: str | os.PathLike[str] | None = None
) -> SpikeActivity:
    """:func:`~mimdsim.snn.activity.counts.functional_activity`, from memory or disk when it was computed before."""
    kw: dict[str, Any] = {} if input_rate is None else {"input_rate": input_rate}
    if input_data is not None:
        p = Path(input_data).resolve()
        stamp = p.stat().st_mtime_ns if p.exists() else None
        return _ACTIVITY.get(
            (spec, seed, input_rate, str(p), stamp), lambda: functional_activity(spec, seed, input_data=input_data, **kw)
        )

    def make() -> SpikeActivity:
        path = _disk_path(spec, seed, input_rate)
        act = _read(path, spec) if path is not None and path.exists() else None
        if act is None:
            act = functional_activity(spec, seed, **kw)
            if path is not None:
                _write(path, act)
        return act

    return _ACTIVITY.get((spec, seed, input_rate), make)


def lowering_key(machine: MachineSpec) -> tuple[Any, ...]:
    """The values of :data:`LOWERING_MACHINE_FIELDS` on ``machine``."""
    return tuple(getattr(machine, f) for f in LOWERING_MACHINE_FIELDS)


def cached(key: Hashable, make: Callable[[], T]) -> T:
    """A lowered program (or anything built for it) under ``key``, kept for the last two keys."""
    return _PROGRAMS.get(key, make)
