"""What the ``des`` engine records while it runs: each static step's record (:class:`StepRecorder`) and the
timeline's intervals (:class:`TimelineRecorder`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines._kernels import split_increment
from mimdsim.engines.des_costs import ComputeSetCosts
from mimdsim.engines.result import (
    CATEGORIES,
    TIMELINE_PHASES,
    SuperstepRecord,
    Timeline,
)
from mimdsim.errors import SimulationLimitError
from mimdsim.program.ir import Step, Superstep

__all__ = [
    "StepRecorder",
    "TimelineRecorder",
    "PHASE_WAIT",
    "PHASE_SYNC",
    "PHASE_GLOBAL",
    "PHASE_EXCHANGE",
    "PHASE_COMPUTE",
    "PHASE_HOST",
]

_NO_EXECUTION_TILE = -1
"""``critical_tile`` of a step that never ran (inside a ``Repeat(0)``), as in the fast engine."""
_NO_EXECUTION_BOUND = "none"


# ---- records ---------------------------------------------------------------------


class StepRecorder:
    """Turns each IPU's end-of-step report into per-static-step critical-path records.

    An execution is complete once every IPU has reported it; IPUs report their own
    executions in order, so executions complete in order.
    """

    def __init__(self, n_static: int, n_ipus: int, on_done: Callable[[], None]) -> None:
        self.n_ipus = n_ipus
        self.max_ready = 0
        self.n_done = 0
        self._on_done = on_done
        self._pending: dict[int, list[int]] = {}
        self.sums = [[0] * (2 + len(CATEGORIES)) for _ in range(n_static)]  # n, cycles, categories
        self.best_increment = [-1] * n_static
        self.crit_tile = [_NO_EXECUTION_TILE] * n_static
        self.bound = [_NO_EXECUTION_BOUND] * n_static

    def report(self, k: int, rec: int, ready: int, tile: int, compute: int, exchange: int, glob: int, host: int) -> None:
        """IPU's execution ``k`` of static step ``rec`` ended at ``ready``; ``tile`` is its critical tile."""
        mine = [1, ready, tile, compute, exchange, glob, host]
        if self.n_ipus > 1:
            cur = self._pending.get(k)
            if cur is None:
                self._pending[k] = mine
                return
            cur[0] += 1
            if ready > cur[1] or (ready == cur[1] and tile < cur[2]):
                cur[1:] = mine[1:]
            if cur[0] < self.n_ipus:
                return
            mine = self._pending.pop(k)
        self._finish(rec, *mine[1:])

    def _finish(self, rec: int, new: int, tile: int, compute: int, exchange: int, glob: int, host: int) -> None:
        increment = new - self.max_ready
        self.max_ready = new
        parts = tuple(int(x) for x in split_increment(increment, compute, exchange, glob, host))
        row = self.sums[rec]
        row[0] += 1
        row[1] += increment
        for j, part in enumerate(parts, 2):
            row[j] += part
        if increment > self.best_increment[rec]:
            self.best_increment[rec] = increment
            self.crit_tile[rec] = tile
            self.bound[rec] = CATEGORIES[parts.index(max(parts))]  # first of equals: CATEGORIES order
        self.n_done += 1
        self._on_done()

    def records(self, static: list[Step]) -> tuple[SuperstepRecord, ...]:
        out = []
        for r, s in enumerate(static):
            n, cycles, *parts = self.sums[r]
            out.append(
                SuperstepRecord(
                    index=r,
                    name=s.name,
                    kind="superstep" if isinstance(s, Superstep) else "host_copy",
                    n_executions=n,
                    cycles=cycles,
                    **{f"{c}_cycles": v for c, v in zip(CATEGORIES, parts, strict=True)},
                    critical_tile=self.crit_tile[r],
                    bound=self.bound[r],
                )
            )
        return tuple(out)


# ---- timeline -------------------------------------------------------------------

PHASE_WAIT, PHASE_SYNC, PHASE_GLOBAL, PHASE_EXCHANGE, PHASE_COMPUTE, PHASE_HOST = range(len(TIMELINE_PHASES))
_TIMELINE_COLUMNS = 7  # step, record, ipu, tile, phase, start, end
_TIMELINE_CHUNK = 1 << 16
"""Events buffered as Python ints before they are packed into an int64 block."""


class TimelineRecorder:
    """Collects phase intervals; raises ``SimulationLimitError`` past ``max_events``."""

    def __init__(self, machine: MachineSpec, tiles: np.ndarray, max_events: int) -> None:
        tpi = machine.tiles_per_ipu
        self.max_events = max_events
        self.n = 0
        self.tiles = np.unique(np.asarray(tiles, np.int64))
        self.tiles_by_ipu = [self.tiles[(self.tiles >= i * tpi) & (self.tiles < (i + 1) * tpi)] for i in range(machine.n_ipus)]
        self._rows: list[float] = []
        self._blocks: list[np.ndarray] = []

    def add(self, k: int, rec: int, ipu: int, tile: int, phase: int, start: float, end: float) -> None:
        """One interval; ``start``/``end`` are SimPy times, integers in this model."""
        self.n += 1
        if self.n > self.max_events:
            raise SimulationLimitError(
                f"des: the timeline has more than max_timeline_events={self.max_events:,} intervals (at step {k:,}; --max-timeline-events); "
                "raise max_timeline_events, record fewer timeline_tiles or simulate a shorter program"
            )
        rows = self._rows
        rows += (k, rec, ipu, tile, phase, start, end)
        if len(rows) >= _TIMELINE_COLUMNS * _TIMELINE_CHUNK:
            self._flush()

    def tile_computes(self, k: int, rec: int, ipu: int, start: float, costs: ComputeSetCosts, row: int) -> None:
        """``[start, start + C_t]`` for each recorded tile of ``ipu`` with ``C_t > 0``."""
        sel = self.tiles_by_ipu[ipu]
        if not sel.size:
            return
        cycles = costs.tile_cycles(row, sel)
        for t, c in zip(sel.tolist(), cycles.tolist(), strict=True):
            if c > 0:
                self.add(k, rec, ipu, t, PHASE_COMPUTE, start, start + c)

    def _flush(self) -> None:
        if self._rows:
            self._blocks.append(np.array(self._rows, np.int64).reshape(-1, _TIMELINE_COLUMNS))
            self._rows = []

    def timeline(self, names: tuple[str, ...]) -> Timeline:
        self._flush()
        rows = np.concatenate(self._blocks) if self._blocks else np.zeros((0, _TIMELINE_COLUMNS), np.int64)
        rows = rows[np.lexsort((rows[:, 4], rows[:, 3], rows[:, 2], rows[:, 0]))]
        return Timeline(
            step=rows[:, 0].copy(),
            record=rows[:, 1].astype(np.int32),
            ipu=rows[:, 2].astype(np.int32),
            tile=rows[:, 3].astype(np.int32),
            phase=rows[:, 4].astype(np.int8),
            start_cycles=rows[:, 5].copy(),
            end_cycles=rows[:, 6].copy(),
            names=names,
            tiles=tuple(self.tiles.tolist()),
        )
