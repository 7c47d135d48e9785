"""Simulation results: named, picklable records whose field names carry their units."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CATEGORIES",
    "TIMELINE_PHASES",
    "COUNTER_NAMES",
    "DEFAULT_MAX_TIMELINE_EVENTS",
    "SuperstepRecord",
    "RunResult",
    "Timeline",
    "TimelineSegments",
    "TimelineCounters",
    "step_family",
]

CATEGORIES: tuple[str, ...] = ("compute", "exchange", "global_exchange", "host_exchange", "sync")
"""Critical-path categories; with ``compute_excl_idle`` they are the Poplar profile's lines."""

TIMELINE_PHASES: tuple[str, ...] = ("wait", "sync", "global_exchange", "exchange", "compute", "host_exchange")
"""Phase codes of :attr:`Timeline.phase`, in the order the phases of one step follow each other."""

COUNTER_NAMES: tuple[str, ...] = ("busy_fraction", "bytes_received", "memory_bytes")
"""Counter codes of :attr:`TimelineCounters.counter`."""

DEFAULT_MAX_TIMELINE_EVENTS = 5_000_000
"""Default cap on the intervals a timeline may hold (about 0.5 GB of Chrome trace JSON)."""


def step_family(name: str) -> str:
    """A step's name without a trailing ``[...]`` qualifier: the family records are grouped by.

    >>> step_family("fwd.update.ids[l=2]"), step_family("bwd.state_grad")
    ('fwd.update.ids', 'bwd.state_grad')
    """
    return name[: name.index("[")] if name.endswith("]") and "[" in name else name


@dataclass(frozen=True)
class SuperstepRecord:
    """One static step of the program (a Superstep or HostCopy), over all its executions.

    ``cycles`` is the sum over executions of how far the step moved the end of the
    slowest tile; ``*_cycles`` split it along the critical tile's path (they add up to
    ``cycles``). ``critical_tile`` and ``bound`` come from the execution that took longest
    (the first of equals).
    """

    index: int
    name: str
    kind: str
    n_executions: int
    cycles: int
    compute_cycles: int
    exchange_cycles: int
    global_exchange_cycles: int
    host_exchange_cycles: int
    sync_cycles: int
    critical_tile: int
    bound: str

    def breakdown(self) -> dict[str, int]:
        return {c: getattr(self, f"{c}_cycles") for c in CATEGORIES}


@dataclass(frozen=True, eq=False)
class Timeline:
    """Phase intervals of every executed step, as the ``des`` engine clocked them (integer cycles).

    One row per interval; the columns are arrays of equal length, sorted by ``(step, ipu,
    tile, phase)``:

    * ``step`` (int64): executed step index, 0-based in program order, repeats expanded;
    * ``record`` (int32): the static step (index into ``RunResult.supersteps`` and
      :attr:`names`), so ``names[record]`` names the interval;
    * ``ipu`` (int32), ``tile`` (int32): the track; ``tile == -1`` is the IPU's phase
      track, a tile ``t >= 0`` is that tile's own compute track;
    * ``phase`` (int8): index into :data:`TIMELINE_PHASES`;
    * ``start_cycles``, ``end_cycles`` (int64): the interval, ``end > start``
      (zero-length phases are not recorded).

    On an IPU track, a step's intervals are ``wait`` (an external barrier: from the IPU's
    own ready max to the machine-wide barrier), ``sync`` (the sync latency ``S``),
    ``global_exchange`` (``G``), ``exchange`` (``E_i``) then ``compute`` (to the end of
    the IPU's slowest tile, ``max C_t``), or ``wait``, ``sync``, ``host_exchange`` for a
    host copy. They follow each other without gaps, and each step starts where the IPU's
    previous one ended, so an IPU's track covers ``[0, its last ready max]``. A tile track
    holds one ``compute`` interval ``[compute start, compute start + C_t]`` per step in
    which the tile computes (``C_t > 0``); ``tiles`` lists the tiles that were recorded.

    Level of detail: a timeline recorded for a window of executed steps holds the
    intervals of those steps only, and ``segments`` sums up the steps outside it
    (:class:`TimelineSegments`); ``counters`` holds counter tracks when the engine
    recorded them (:class:`TimelineCounters`, the ``fast`` engine).
    """

    step: np.ndarray
    record: np.ndarray
    ipu: np.ndarray
    tile: np.ndarray
    phase: np.ndarray
    start_cycles: np.ndarray
    end_cycles: np.ndarray
    names: tuple[str, ...]
    tiles: tuple[int, ...] = ()
    segments: TimelineSegments | None = None
    counters: TimelineCounters | None = None

    def __len__(self) -> int:
        return int(self.step.size)

    @property
    def n_events(self) -> int:
        return int(self.step.size)

    @property
    def duration_cycles(self) -> np.ndarray:
        return self.end_cycles - self.start_cycles


@dataclass(frozen=True, eq=False)
class TimelineSegments:
    """The executed steps outside a timeline's window, summed up per IPU.

    One row per (segment, IPU): a segment is a maximal run of executed steps
    ``[first_step, stop_step)`` outside the window within one top-level item of the
    program (``name``: the item's name); ``start_cycles`` / ``end_cycles`` span the IPU's
    intervals in it and ``phase_cycles[:, p]`` sums the IPU's cycles in phase
    ``TIMELINE_PHASES[p]`` (they add up to ``end - start``: an IPU's intervals leave no gap).
    """

    name: tuple[str, ...]
    first_step: np.ndarray
    stop_step: np.ndarray
    ipu: np.ndarray
    start_cycles: np.ndarray
    end_cycles: np.ndarray
    phase_cycles: np.ndarray

    def __len__(self) -> int:
        return int(self.ipu.size)


@dataclass(frozen=True, eq=False)
class TimelineCounters:
    """Counter samples: ``value`` of counter ``COUNTER_NAMES[counter]`` on an IPU (``tile == -1``) or tile from ``ts_cycles`` on.

    ``busy_fraction``: the share of the IPU's tile-cycles (or the tile's cycles) spent
    computing over each executed step of the window, and over each segment outside it;
    ``bytes_received``: bytes the IPU's tiles (the tile) received in that step's or
    segment's exchanges; ``memory_bytes``: bytes held (the IPU's total, the tile's), which
    the static memory plan keeps constant over the run. Sorted by ``(ipu, tile, counter,
    ts_cycles)``.
    """

    counter: np.ndarray
    ipu: np.ndarray
    tile: np.ndarray
    ts_cycles: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return int(self.ipu.size)


@dataclass(frozen=True, eq=False)
class RunResult:
    """What one simulation of a program on a machine produced.

    Per-tile arrays (length ``n_tiles``): each tile's cycles in every category; for
    every tile ``compute + exchange + global_exchange + host_exchange + sync == total``,
    where ``sync`` includes waiting for slower tiles (as in a Poplar profile).
    ``timeline`` holds the phase intervals when the run recorded them
    (``simulate(..., engine="des", timeline=True)``), else None.
    """

    program: str
    machine: str
    engine: str
    total_cycles: int
    tile_clock_hz: float
    batch_size: int | None
    tile_compute_cycles: np.ndarray
    tile_compute_excl_idle_cycles: np.ndarray
    tile_exchange_cycles: np.ndarray
    tile_global_exchange_cycles: np.ndarray
    tile_host_exchange_cycles: np.ndarray
    tile_sync_cycles: np.ndarray
    tile_memory_bytes: np.ndarray
    supersteps: tuple[SuperstepRecord, ...]
    n_steps_executed: int
    metadata: dict[str, object] = field(default_factory=dict)
    timeline: Timeline | None = None

    # ---- derived figures ------------------------------------------------------
    @property
    def n_tiles(self) -> int:
        return int(self.tile_compute_cycles.size)

    @property
    def seconds(self) -> float:
        return self.total_cycles / self.tile_clock_hz

    @property
    def samples_per_s(self) -> float | None:
        if not self.batch_size or self.total_cycles == 0:
            return None
        return self.batch_size / self.seconds

    @property
    def tile_busy_cycles(self) -> np.ndarray:
        """Cycles each tile spent computing (incl. idle worker slots)."""
        return self.tile_compute_cycles

    @property
    def tile_idle_cycles(self) -> np.ndarray:
        """Cycles each tile did not compute: exchange, sync and waiting."""
        return self.total_cycles - self.tile_compute_cycles

    @property
    def max_tile_memory_bytes(self) -> int:
        return int(self.tile_memory_bytes.max()) if self.tile_memory_bytes.size else 0

    def breakdown_cycles(self) -> dict[str, float]:
        """Deprecated name of :meth:`tile_mean_cycles` (an SNN estimate's ``breakdown_cycles`` is the critical-path split)."""
        warnings.warn("RunResult.breakdown_cycles() is renamed tile_mean_cycles()", DeprecationWarning, stacklevel=2)
        return self.tile_mean_cycles()

    def tile_mean_cycles(self) -> dict[str, float]:
        """Poplar-profile lines: per-tile averages (compute, compute_excl_idle, ..., sync)."""
        return {
            "compute": float(self.tile_compute_cycles.mean()),
            "compute_excl_idle": float(self.tile_compute_excl_idle_cycles.mean()),
            "exchange": float(self.tile_exchange_cycles.mean()),
            "global_exchange": float(self.tile_global_exchange_cycles.mean()),
            "host_exchange": float(self.tile_host_exchange_cycles.mean()),
            "sync": float(self.tile_sync_cycles.mean()),
        }

    def critical_path_cycles(self) -> dict[str, int]:
        """Total cycles split along the critical path of every step (adds up to the total)."""
        out = dict.fromkeys(CATEGORIES, 0)
        for rec in self.supersteps:
            for c in CATEGORIES:
                out[c] += getattr(rec, f"{c}_cycles")
        return out

    def top_supersteps(self, n: int = 5) -> list[SuperstepRecord]:
        """The ``n`` static steps that cost most cycles, most expensive first."""
        return sorted(self.supersteps, key=lambda r: (-r.cycles, r.index))[:n]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (per-tile arrays reduced to max/mean)."""
        return {
            "program": self.program,
            "machine": self.machine,
            "engine": self.engine,
            "total_cycles": self.total_cycles,
            "seconds": self.seconds,
            "samples_per_s": self.samples_per_s,
            "tile_mean_cycles": self.tile_mean_cycles(),
            # the same figures under this version's deprecated name (read it as tile_mean_cycles; it goes next version)
            "breakdown_cycles": self.tile_mean_cycles(),
            "critical_path_cycles": self.critical_path_cycles(),
            "max_tile_memory_bytes": self.max_tile_memory_bytes,
            "n_steps_executed": self.n_steps_executed,
            "n_tiles": self.n_tiles,
            "supersteps": [rec.__dict__ for rec in self.supersteps],
            "metadata": self.metadata,
        }
