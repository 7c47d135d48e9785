"""Timelines at a chosen level of detail: from the ``fast`` engine's step log, or any full timeline.

The ``fast`` engine logs, for each executed step, its static step, the row of its tables
and every IPU's clock before it (:func:`mimdsim.engines._kernels.run_steps`). That is
all the semantics of docs/concepts.md need to lay out the step's phases on each IPU, so
:func:`timeline_from_log` rebuilds exactly the intervals the ``des`` engine clocks
(tests/engines/test_timeline_engines.py checks it column for column), vectorised over
blocks of steps, with counter tracks besides (:class:`~mimdsim.engines.result.TimelineCounters`).

Level of detail: ``window`` (a boolean per executed step, from :func:`window_mask`)
keeps the intervals of the chosen steps; the steps outside it are summed up per IPU into
:class:`~mimdsim.engines.result.TimelineSegments` (:func:`apply_window` does the same to
a full ``des`` timeline). :func:`iteration_steps` turns iterations of the program's
top-level repeats (an SNN program's time steps) into executed-step ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.sync import sync_cycles
from mimdsim.engines.result import (
    COUNTER_NAMES,
    DEFAULT_MAX_TIMELINE_EVENTS,
    TIMELINE_PHASES,
    Timeline,
    TimelineCounters,
    TimelineSegments,
)
from mimdsim.errors import ConfigError, SimulationLimitError
from mimdsim.program.arrays import ProgramArrays
from mimdsim.program.ir import Program, Repeat

__all__ = ["TimelineRequest", "iteration_steps", "window_mask", "apply_window", "timeline_from_log"]


@dataclass(frozen=True)
class TimelineRequest:
    """What a timeline records (docs/timeline_format.md): the options of :func:`mimdsim.engines.simulate`'s timeline
    as one record, plus ``iterations`` (executed-step ranges of those iterations of the program's loops,
    :func:`iteration_steps`, added to ``steps``).

    ``detail``: ``True`` (every phase interval per IPU) or ``"tiles"`` (every tile's compute intervals too);
    ``tiles``: the tiles whose compute intervals to add; ``steps``: executed-step ranges ``(first, stop)`` whose
    intervals are kept (the others summed up per IPU); ``max_events``: the most intervals it may hold.

    >>> TimelineRequest.of(True) == TimelineRequest(), TimelineRequest.of(False)
    (True, None)
    """

    detail: bool | str = True
    tiles: Sequence[int] | None = None
    steps: Sequence[tuple[int, int]] | None = None
    iterations: tuple[int, int] | None = None
    max_events: int = DEFAULT_MAX_TIMELINE_EVENTS

    @classmethod
    def of(cls, timeline: TimelineRequest | bool | str | None) -> TimelineRequest | None:
        """A request from its short forms: ``False``/``None`` (none), ``True`` or ``"tiles"`` (that detail)."""
        if isinstance(timeline, TimelineRequest):
            return timeline
        if timeline is None or timeline is False:
            return None
        if timeline is True or timeline == "tiles":
            return cls(detail=timeline)
        raise ConfigError(f"timeline: expected True, False, 'tiles' or a TimelineRequest (got {timeline!r})")

    def executed_steps(self, program: Program) -> list[tuple[int, int]] | None:
        """``steps`` and the ranges of ``iterations`` in ``program``, or None (every step kept)."""
        steps = None if self.steps is None else list(self.steps)
        if self.iterations is not None:
            steps = (steps or []) + iteration_steps(program, *self.iterations)
        return steps


_N_PHASES = len(TIMELINE_PHASES)
_COMPUTE = TIMELINE_PHASES.index("compute")
_BUSY, _BYTES, _MEMORY = (COUNTER_NAMES.index(c) for c in ("busy_fraction", "bytes_received", "memory_bytes"))
_BLOCK_STEPS = 8192
"""Executed steps laid out at a time (bounds the working memory on large machines)."""


def iteration_steps(program: Program, first: int, stop: int) -> list[tuple[int, int]]:
    """Executed-step ranges of iterations ``first .. stop-1`` of every top-level repeat of ``program`` (a shorter loop
    gives those it has); ``stop`` past the longest loop is refused.

    >>> from mimdsim.program.ir import Superstep
    >>> s = Superstep("s")
    >>> iteration_steps(Program("p", (s, Repeat(4, (s, s)), Repeat(2, (s,)))), 1, 3)
    [(3, 7), (10, 11)]
    """
    if not 0 <= first < stop:
        raise ConfigError(f"timeline iterations {first}:{stop}: expected 0 <= first < stop")
    longest = max((item.count for item in program.body if isinstance(item, Repeat)), default=0)
    if stop > longest:
        raise ConfigError(f"timeline iterations {first}:{stop}: the program's loops run at most {longest} iterations")
    starts = program.top_level_starts()
    out = []
    for item, a, b in zip(program.body, starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        if isinstance(item, Repeat) and item.count and first < item.count:
            per = (b - a) // item.count
            out.append((a + first * per, a + min(stop, item.count) * per))
    return [r for r in out if r[1] > r[0]]


def window_mask(ranges: Sequence[tuple[int, int]], n_executed: int) -> np.ndarray:
    """A boolean per executed step: inside one of ``ranges`` (``[first, stop)`` each)."""
    mask = np.zeros(n_executed, bool)
    for r in ranges:
        if len(r) != 2 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in r):
            raise ConfigError(f"timeline_steps: expected (first, stop) pairs of integers (got {r!r})")
        a, b = int(r[0]), int(r[1])
        if not 0 <= a < b <= n_executed:
            raise ConfigError(
                f"timeline_steps: range {a}:{b} is not within the program's {n_executed:,} executed steps (0 <= first < stop)"
            )
        mask[a:b] = True
    return mask


class _Segments:
    """Sums, per (segment, IPU), of the phase intervals of steps outside the window."""

    def __init__(self, program: Program, window: np.ndarray, n_ipus: int, n_tiles: int = 0) -> None:
        starts = program.top_level_starts()
        k = np.arange(window.size)
        item = np.searchsorted(starts, k, side="right") - 1
        out = ~window
        new = out & np.concatenate(([True], window[:-1] | (item[1:] != item[:-1])))[: window.size]
        self.of_step = np.where(out, np.cumsum(new) - 1, -1)
        self.first = np.flatnonzero(new)
        last = np.zeros(self.first.size, np.int64)
        np.maximum.at(last, self.of_step[out], k[out])
        self.stop = last + 1
        self.name = tuple(program.body[i].name for i in item[self.first].tolist())
        n = self.first.size * n_ipus
        self.n_ipus = n_ipus
        self.phase = np.zeros((n, _N_PHASES), np.int64)
        self.start = np.full(n, np.iinfo(np.int64).max, np.int64)
        self.end = np.full(n, np.iinfo(np.int64).min, np.int64)
        self.busy = np.zeros(n, np.int64)  # tile-cycles computing (counters)
        self.bytes = np.zeros(n, np.int64)
        self.tile_busy = np.zeros((self.first.size, n_tiles), np.int64)
        self.tile_bytes = np.zeros((self.first.size, n_tiles), np.int64)

    def add(self, step: np.ndarray, ipu: np.ndarray, phase: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        seg = self.of_step[step]
        sel = seg >= 0
        key = seg[sel] * self.n_ipus + ipu[sel]
        np.add.at(self.phase, (key, phase[sel]), end[sel] - start[sel])
        np.minimum.at(self.start, key, start[sel])
        np.maximum.at(self.end, key, end[sel])

    def segments(self) -> TimelineSegments:
        keep = np.flatnonzero(self.end > np.iinfo(np.int64).min)
        seg = keep // self.n_ipus
        return TimelineSegments(
            name=tuple(self.name[s] for s in seg.tolist()), first_step=self.first[seg], stop_step=self.stop[seg],
            ipu=(keep % self.n_ipus).astype(np.int32), start_cycles=self.start[keep], end_cycles=self.end[keep],
            phase_cycles=self.phase[keep],
        )  # fmt: skip


def apply_window(timeline: Timeline, program: Program, window: np.ndarray) -> Timeline:
    """``timeline`` (every step recorded) with the intervals outside ``window`` summed up into segments."""
    seg = _Segments(program, window, max(int(timeline.ipu.max(initial=0)) + 1, 1))
    ipu_rows = timeline.tile < 0
    seg.add(timeline.step[ipu_rows], timeline.ipu[ipu_rows], timeline.phase[ipu_rows].astype(np.int64),
            timeline.start_cycles[ipu_rows], timeline.end_cycles[ipu_rows])  # fmt: skip
    keep = window[timeline.step]
    cols = {c: getattr(timeline, c)[keep] for c in ("step", "record", "ipu", "tile", "phase", "start_cycles", "end_cycles")}
    return replace(timeline, **cols, segments=seg.segments())


def _padded(a: Any, width: int | None) -> np.ndarray:
    """``a`` (rows of ``width`` entries, or scalars for None) with a zero row appended, so that index -1 (none) reads zeros."""
    a = np.asarray(a, np.int64)
    a = a.reshape(-1) if width is None else a if a.ndim == 2 else a.reshape(-1, width)
    return np.concatenate([a, np.zeros((1, *a.shape[1:]), np.int64)])


class _Tables:
    """Per-variant and per-exchange tables the layout reads: IPU and recorded-tile compute and bytes."""

    def __init__(self, arr: ProgramArrays, costs: dict[str, Any], machine: MachineSpec, tiles: np.ndarray) -> None:
        n_ipus, tpi = machine.n_ipus, machine.tiles_per_ipu
        self.var_max = _padded(costs["var_max"], n_ipus)
        self.ex_phase = _padded(costs["ex_phase"], n_ipus)
        self.ex_global = _padded(costs["ex_global"], None)
        self.host = _padded(costs["host"], None)
        self.var_ptr = np.asarray(costs["var_ptr"], np.int64)
        ipu_sum, tile_cyc = [], []
        for c in costs["compute"]:
            st = c.structure
            cyc = c.incl[:, st.tile_node]  # [rows, tiles with vertices]
            ipu_sum.append(np.stack([np.bincount(st.tiles // tpi, r, minlength=n_ipus) for r in cyc]).astype(np.int64))
            pos = np.minimum(np.searchsorted(st.tiles, tiles), max(st.tiles.size - 1, 0))
            hit = st.tiles[pos] == tiles if st.tiles.size else np.zeros(tiles.size, bool)
            t = np.zeros((cyc.shape[0], tiles.size), np.int64)
            t[:, hit] = cyc[:, pos[hit]]
            tile_cyc.append(t)
        self.ipu_sum = _padded(np.concatenate(ipu_sum) if ipu_sum else np.zeros((0, n_ipus)), n_ipus)
        self.tile_cyc = _padded(np.concatenate(tile_cyc) if tile_cyc else np.zeros((0, tiles.size)), tiles.size)
        recv = [ex.received_bytes(machine.n_tiles) for ex in arr.exchanges]
        self.ipu_recv = _padded([r.reshape(n_ipus, tpi).sum(1) for r in recv] if recv else np.zeros((0, n_ipus)), n_ipus)
        self.tile_recv = _padded([r[tiles] for r in recv] if recv else np.zeros((0, tiles.size)), tiles.size)


def timeline_from_log(
    program: Program, arr: ProgramArrays, costs: dict[str, Any], machine: MachineSpec, log: np.ndarray, final_clock: np.ndarray,
    tile_memory_bytes: np.ndarray, *, tiles: np.ndarray, window: np.ndarray | None, max_events: int,
) -> Timeline:  # fmt: skip
    """The timeline of a ``fast`` run from its step log (every executed step logged), with counters.

    ``tiles``: the tiles whose compute intervals and counters are recorded; ``window``:
    the executed steps laid out interval by interval (None: all), the others summed up
    into segments. More than ``max_events`` intervals raise ``SimulationLimitError``.
    """
    n_ipus, tpi = machine.n_ipus, machine.tiles_per_ipu
    s_int, s_ext = sync_cycles(machine, "internal"), sync_cycles(machine, "external")
    tb = _Tables(arr, costs, machine, tiles)
    n_exec = log.shape[0]
    windowed = window is not None
    window = np.ones(n_exec, bool) if window is None else window
    seg = _Segments(program, window, n_ipus, tiles.size)
    tile_ipu = tiles // tpi
    rows: list[np.ndarray] = []
    counters: list[np.ndarray] = []
    n_events = 0
    clocks = np.vstack([log[:, 2:], final_clock.reshape(1, -1)])
    for a in range(0, n_exec, _BLOCK_STEPS):
        b = min(a + _BLOCK_STEPS, n_exec)
        k = np.arange(a, b)
        s, r, c0, c1 = log[a:b, 0], log[a:b, 1], clocks[a:b], clocks[a + 1 : b + 1]
        kind, scope, cs, ex, host = (arr.step_table[s, j] for j in range(5))
        external = (kind == 1) | (scope == 1)
        old = c0.max(axis=1)
        var = np.where(cs >= 0, tb.var_ptr[np.maximum(cs, 0)] + r, -1)
        dur = np.zeros((b - a, n_ipus, _N_PHASES), np.int64)
        dur[:, :, 0] = np.where(external[:, None], old[:, None] - c0, 0)
        dur[:, :, 1] = np.where(external, s_ext, s_int)[:, None]
        dur[:, :, 2] = tb.ex_global[ex][:, None]  # a host copy has no exchange (ex = -1: the zero row)
        dur[:, :, 3] = tb.ex_phase[ex]
        dur[:, :, 4] = tb.var_max[var]
        dur[:, :, 5] = np.where(kind == 1, tb.host[host], 0)[:, None]
        end = c0[:, :, None] + np.cumsum(dur, axis=2)
        start = end - dur
        assert np.array_equal(end[:, :, -1], c1), "the layout ends where the engine's clock does"
        # IPU tracks: every non-empty phase, in (step, ipu, phase) order
        kk, ii, pp = np.nonzero(dur)
        st, en = start[kk, ii, pp], end[kk, ii, pp]
        seg.add(k[kk], ii, pp, st, en)
        # tile tracks and counters of the recorded tiles
        tcyc = tb.tile_cyc[var]  # [steps, recorded tiles]
        tstart = start[:, tile_ipu, _COMPUTE]
        span = c1 - c0
        busy = tb.ipu_sum[var]
        sg = seg.of_step[k]
        out = sg >= 0
        np.add.at(seg.busy, sg[out, None] * n_ipus + np.arange(n_ipus), busy[out])
        np.add.at(seg.bytes, sg[out, None] * n_ipus + np.arange(n_ipus), tb.ipu_recv[ex][out])
        np.add.at(seg.tile_busy, sg[out], tcyc[out])
        np.add.at(seg.tile_bytes, sg[out], tb.tile_recv[ex][out])
        win = window[k]
        keep = win[kk]
        tk, tj = np.nonzero(tcyc * win[:, None] > 0)
        block = [
            np.stack([k[kk[keep]], s[kk[keep]], ii[keep], np.full(keep.sum(), -1), pp[keep], st[keep], en[keep]], 1),
            np.stack(
                [
                    k[tk],
                    s[tk],
                    tile_ipu[tj],
                    tiles[tj],
                    np.full(tk.size, _COMPUTE),
                    tstart[tk, tj],
                    tstart[tk, tj] + tcyc[tk, tj],
                ],
                1,
            ),
        ]
        blk = np.concatenate(block)
        wk = np.flatnonzero(win)
        n_events += blk.shape[0] + 2 * wk.size * (n_ipus + tiles.size)
        if n_events > max_events:
            raise SimulationLimitError(
                f"fast: the timeline has more than max_timeline_events={max_events:,} intervals and counter samples (at step {b:,}; "
                "--max-timeline-events); "
                "raise max_timeline_events, choose a smaller window of steps or fewer timeline_tiles"
            )
        rows.append(blk[np.lexsort((blk[:, 4], blk[:, 3], blk[:, 2], blk[:, 0]))])
        with np.errstate(divide="ignore", invalid="ignore"):
            ib = np.where(span > 0, busy / (tpi * span), 0.0)[wk]
            tbz = np.where(span[:, tile_ipu] > 0, tcyc / span[:, tile_ipu], 0.0)[wk]
        ipu_grid = np.broadcast_to(np.arange(n_ipus), ib.shape)
        tile_grid = np.broadcast_to(np.arange(tiles.size), tbz.shape)
        counters += [
            _samples(_BUSY, ipu_grid, -1, c0[wk], ib),
            _samples(_BYTES, ipu_grid, -1, c0[wk], tb.ipu_recv[ex][wk]),
            _samples(_BUSY, tile_ipu[tile_grid], tiles[tile_grid], c0[wk][:, tile_ipu], tbz),
            _samples(_BYTES, tile_ipu[tile_grid], tiles[tile_grid], c0[wk][:, tile_ipu], tb.tile_recv[ex][wk]),
        ]
    segments = seg.segments()
    counters += _segment_counters(seg, segments, tiles, tile_ipu, tpi)
    mem_ipu = np.asarray(tile_memory_bytes, np.int64).reshape(n_ipus, tpi).sum(1)
    counters += [
        _samples(_MEMORY, np.arange(n_ipus), -1, np.zeros(n_ipus, np.int64), mem_ipu),
        _samples(_MEMORY, tile_ipu, tiles, np.zeros(tiles.size, np.int64), np.asarray(tile_memory_bytes)[tiles]),
    ]
    allr = np.concatenate(rows) if rows else np.zeros((0, 7), np.int64)
    cnt = np.concatenate(counters, axis=1)
    cnt = cnt[:, np.lexsort((cnt[3], cnt[0], cnt[2], cnt[1]))]
    return Timeline(
        step=allr[:, 0].copy(), record=allr[:, 1].astype(np.int32), ipu=allr[:, 2].astype(np.int32),
        tile=allr[:, 3].astype(np.int32), phase=allr[:, 4].astype(np.int8), start_cycles=allr[:, 5].copy(),
        end_cycles=allr[:, 6].copy(), names=arr.step_names, tiles=tuple(tiles.tolist()),
        segments=segments if windowed else None,
        counters=TimelineCounters(counter=cnt[0].astype(np.int8), ipu=cnt[1].astype(np.int32), tile=cnt[2].astype(np.int32),
                                  ts_cycles=cnt[3].astype(np.int64), value=cnt[4]),
    )  # fmt: skip


def _samples(counter: int, ipu: Any, tile: Any, ts: Any, value: Any) -> np.ndarray:
    """Counter samples as float64 rows ``(counter, ipu, tile, ts, value)`` (cycles stay exact below 2**53)."""
    ipu = np.asarray(ipu).reshape(-1)
    cols = [np.full(ipu.size, counter), ipu, np.broadcast_to(tile, np.shape(ts)).reshape(-1), np.asarray(ts).reshape(-1),
            np.asarray(value, np.float64).reshape(-1)]  # fmt: skip
    return np.stack([np.asarray(c, np.float64) for c in cols])


def _segment_counters(
    seg: _Segments, segments: TimelineSegments, tiles: np.ndarray, tile_ipu: np.ndarray, tpi: int
) -> list[np.ndarray]:
    """Busy fraction and bytes received per segment and IPU (and recorded tile), sampled at its start."""
    keep = np.flatnonzero(seg.end > np.iinfo(np.int64).min)
    span = (seg.end - seg.start)[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        busy = np.where(span > 0, seg.busy[keep] / (tpi * span), 0.0)
    out = [_samples(_BUSY, segments.ipu, -1, segments.start_cycles, busy),
           _samples(_BYTES, segments.ipu, -1, segments.start_cycles, seg.bytes[keep])]  # fmt: skip
    if tiles.size and keep.size:
        n_ipus = seg.n_ipus
        full = np.full((seg.first.size, n_ipus), -1, np.int64)
        full[keep // n_ipus, keep % n_ipus] = np.arange(keep.size)
        at = full[:, tile_ipu]  # [segments, tiles]: the row of the tile's IPU, -1 if it had none
        sg, tj = np.nonzero(at >= 0)
        row = at[sg, tj]
        with np.errstate(divide="ignore", invalid="ignore"):
            tb = np.where(span[row] > 0, seg.tile_busy[sg, tj] / span[row], 0.0)
        out += [_samples(_BUSY, tile_ipu[tj], tiles[tj], segments.start_cycles[row], tb),
                _samples(_BYTES, tile_ipu[tj], tiles[tj], segments.start_cycles[row], seg.tile_bytes[sg, tj])]  # fmt: skip
    return out
