"""The reference engine: a SimPy discrete-event model of the BSP machine (docs/concepts.md).

Model
-----
* **One SimPy process per IPU** drives that IPU's tiles through every executed step, in
  program order, with every ``Repeat`` iteration simulated literally. IPUs run on their
  own timelines and drift apart under internal syncs; they meet only at external syncs
  and host copies.
* **Barriers.** An internal sync of IPU ``i`` is reached when its last tile has finished
  computing (the IPU's clock *is* ``b_i = max(ready)`` over its tiles); an external sync
  or host copy is a machine-wide barrier event that the last IPU to arrive triggers.
* **Phases.** After the barrier each IPU runs timed phases: sync release ``S(scope)``,
  the global (IPU-link) exchange ``G``, its on-chip exchange ``E_i`` (or the host copy
  ``H``). The exchange is compiler-scheduled, so the per-phase durations computed by
  :func:`mimdsim.cost.exchange.exchange_kernel` (per-tile exchange ports, supertile
  receive, link sharing) are the truth; they are computed once per distinct exchange.
* **Compute.** Each tile's compute set time ``C_t`` (barrel-scheduled worker contexts)
  comes from :func:`mimdsim.cost.compute.compute_costs`, once per tile class of each
  distinct compute set and row of its cycle tables (a step inside a repeat runs row
  ``i`` of its tables in iteration ``i``). Tile ``t`` is ready at ``start + C_t``; the
  IPU's process reaches its next barrier when its slowest tile is (one SimPy timeout).
* **Per-tile accounting, batched.** A tile's clock is ``ready[t] = base_i + C_t`` (the
  start of its IPU's last compute phase plus its own time), so its sync wait at each
  release is the IPU's ``release + S - base_i`` less its ``C_t``: the model keeps those
  per IPU and counts how often each row of each compute set ran on each IPU; each
  tile's compute (and, by subtraction, sync) total is added up from the counts and the
  class costs when the compute set has run for the last time. Exchange and host phases
  are per IPU. Per step, the work is a handful of scalars per IPU, not per tile.

What an "event" is
------------------
``metadata["tile_events"]`` counts *tile-events*: what a process-per-tile DES would
process. Every step of every tile has a barrier release (each tile resumes), then one
event per non-zero phase (S, G, E_i or H), then, for a tile with ``C_t > 0``, its compute
completion. The model batches them: a barrier release and a phase of IPU ``i`` are one
SimPy event for its ``tiles_per_ipu`` tiles (an internal barrier needs none: the IPU's
process is there when its last tile finishes), and so is its compute phase. Nothing
outside an IPU can happen between two machine-wide barriers, so each IPU's process keeps
its own clock there: its steps and phases are laid end to end, and it advances SimPy's
clock once, when it reaches the next barrier (or its end). So one internal superstep on
an IPU of ``n`` tiles, all with non-zero sync, exchange and compute, is ``4 n``
tile-events and no SimPy event of its own; an external sync or host copy is two (the
catch-up and the barrier; ``metadata["simpy_events"]``).
``max_events`` limits tile-events. Batching never skips semantics: every tile's clock
and accumulators are exactly those of a per-tile model (``tests/engines``: the ``des``
and ``fast`` engines agree integer for integer).

Timeline
--------
With ``timeline=True`` the model also records every phase interval of every executed
step on every IPU (and, for ``timeline_tiles``, those tiles' compute intervals) from the
SimPy clock into a :class:`~mimdsim.engines.result.Timeline`; without it, the only cost
is one ``is None`` test per step and IPU.

Costs are cached by the identity of the (immutable) compute set, exchange or host copy
and dropped after their last use, so a program of many distinct steps holds only the
costs of the steps in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from tqdm.auto import tqdm

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.compute import ComputeCosts, compute_costs, compute_structure
from mimdsim.cost.exchange import ExchangeParams, ExchangeWorkspace, exchange_costs
from mimdsim.cost.host import host_copy_cycles
from mimdsim.cost.sync import sync_cycles
from mimdsim.engines._kernels import split_increment
from mimdsim.engines.result import (
    CATEGORIES,
    DEFAULT_MAX_TIMELINE_EVENTS,
    TIMELINE_PHASES,
    RunResult,
    SuperstepRecord,
    Timeline,
)
from mimdsim.errors import SimulationLimitError
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep

__all__ = ["simulate_des"]

_PROGRESS_DELAY_S = 1.0
"""The progress bar appears only once a run has lasted this long."""
_PROGRESS_EVERY_STEPS = 256
_NO_EXECUTION_TILE = -1
"""``critical_tile`` of a step that never ran (inside a ``Repeat(0)``), as in the fast engine."""
_NO_EXECUTION_BOUND = "none"

SimGen = Generator[simpy.Event, Any, None]


# ---- static costs ---------------------------------------------------------------


class _ComputeSetCosts:
    """A compute set's class costs (:class:`~mimdsim.cost.compute.ComputeCosts`), per IPU and row,
    and how many times each row ran on each IPU (the tiles' compute totals follow from those
    counts once the compute set has run for the last time: :meth:`add_tile_totals`)."""

    def __init__(self, costs: ComputeCosts, tiles_per_ipu: int) -> None:
        st = costs.structure
        self.costs = costs
        self.tpi = tiles_per_ipu
        n_ipus = st.idle_tile.size
        self.node_tiles = np.bincount(st.tile_node, minlength=st.n_nodes)
        final_ipu = st.node_ipu[st.final]
        self.final_by_ipu = [st.final[final_ipu == i] for i in range(n_ipus)]
        self.has_vertices = [f.size > 0 for f in self.final_by_ipu]
        self.runs = np.zeros((costs.incl.shape[0], n_ipus), np.int64)
        # per row and IPU: tiles with C_t > 0, the critical tile and its C_t, as Python ints
        n_timed = np.zeros((costs.incl.shape[0], n_ipus), np.int64)
        for i, final in enumerate(self.final_by_ipu):
            if final.size:
                n_timed[:, i] = (costs.incl[:, final] > 0) @ self.node_tiles[final]
        self._timing = [
            list(zip(a, b, c, strict=True))
            for a, b, c in zip(n_timed.tolist(), costs.ipu_crit.tolist(), costs.ipu_max.tolist(), strict=True)
        ]

    def timing(self, row: int, i: int) -> tuple[int, int, int]:
        """IPU ``i`` in ``row``: (tiles with ``C_t > 0``, critical tile, its ``C_t``)."""
        return self._timing[row][i]

    def tile_cycles(self, row: int, tiles: np.ndarray) -> np.ndarray:
        """``C_t`` of ``tiles`` in ``row`` (0 for a tile without vertices)."""
        st = self.costs.structure
        out = np.zeros(tiles.size, np.int64)
        if st.tiles.size:
            pos = np.minimum(np.searchsorted(st.tiles, tiles), st.tiles.size - 1)
            hit = st.tiles[pos] == tiles
            out[hit] = self.costs.incl[row, st.tile_node[pos[hit]]]
        return out

    def add_tile_totals(self, compute: np.ndarray, compute_excl: np.ndarray) -> None:
        """Add every tile's cycles over the counted runs (``runs[row, ipu]``) to the accumulators."""
        st = self.costs.structure
        if not st.tiles.size or not self.runs.any():
            return
        ipu_of_tile = st.tiles // self.tpi
        for r in np.flatnonzero(self.runs.any(axis=1)).tolist():
            runs = self.runs[r, ipu_of_tile]  # each tile runs row r as often as its IPU did
            compute[st.tiles] += runs * self.costs.incl[r, st.tile_node]
            compute_excl[st.tiles] += runs * self.costs.excl[r, st.tile_node]


@dataclass(frozen=True, eq=False)
class _ExchangeCosts:
    ipu_cycles: tuple[int, ...]
    global_cycles: int


class _CostModel:
    """Cost of every distinct compute set / exchange / host copy, from :mod:`mimdsim.cost`."""

    def __init__(self, machine: MachineSpec) -> None:
        self.machine = machine
        self.tpi = machine.tiles_per_ipu
        self.n_ctx = machine.num_worker_contexts
        self.overhead_cycles = machine.compute_set_overhead_cycles
        self._ex_params = ExchangeParams(machine).as_tuple()
        self._ex_ws = ExchangeWorkspace(machine).as_tuple()
        self._ex_out = np.zeros(machine.n_ipus, np.int64)

    def compute(self, cs: ComputeSet) -> _ComputeSetCosts:
        """Every tile class of ``cs`` costed in every row of its tables."""
        m = self.machine
        st = compute_structure(cs, m.n_tiles, self.tpi)
        costs = compute_costs(cs, st, self.n_ctx, launch_cycles=m.worker_launch_cycles, overhead_cycles=self.overhead_cycles)
        return _ComputeSetCosts(costs, self.tpi)

    def exchange(self, ex: Exchange) -> _ExchangeCosts:
        g = exchange_costs(ex, self._ex_params, self._ex_ws, self._ex_out)
        return _ExchangeCosts(tuple(int(c) for c in self._ex_out), g)

    def host(self, hc: HostCopy) -> int:
        return host_copy_cycles(self.machine, hc.tiles, hc.nbytes)


class _UseCountedCache:
    """Values computed on first use and dropped after their last expected use."""

    def __init__(self, uses: dict[int, int]) -> None:
        self._uses_left = dict(uses)
        self._values: dict[int, object] = {}
        self._last: list[tuple[Any, Callable[[Any], None] | None]] = []

    def get(self, obj: object, make: Callable[[Any], Any], on_last_use: Callable[[Any], None] | None = None) -> Any:
        """The value of ``obj``; ``on_last_use(value)`` runs once its last expected use has been taken
        (so the caller must be done with the value's state by then: see :meth:`_DesModel._superstep`)."""
        key = id(obj)
        try:
            value = self._values[key]
        except KeyError:
            value = self._values[key] = make(obj)
        left = self._uses_left[key] - 1
        if left:
            self._uses_left[key] = left
        else:
            del self._values[key], self._uses_left[key]
            self._last.append((value, on_last_use))
        return value

    def finish_last_uses(self) -> None:
        """Run the ``on_last_use`` of every value whose last use has been taken."""
        for value, hook in self._last:
            if hook is not None:
                hook(value)
        self._last.clear()


# ---- program walk ------------------------------------------------------------------


def _compile(program: Program) -> tuple[tuple[Any, ...], list[Step], dict[int, int]]:
    """The program as nested ``(record index, step)`` / ``(count, body)`` tuples.

    Also returns the static steps (record order, as :meth:`Program.iter_static`) and how
    many times each distinct cost object (compute set, exchange, host copy) is used.
    """
    static: list[Step] = []
    uses: dict[int, int] = {}

    def count_use(obj: object, n: int) -> None:
        if obj is not None and n:
            uses[id(obj)] = uses.get(id(obj), 0) + n

    def walk(steps: tuple[Step, ...], mult: int) -> tuple[Any, ...]:
        out: list[Any] = []
        for s in steps:
            if isinstance(s, Repeat):
                body = walk(s.body, mult * s.count)
                if s.count and body:  # a repeat that runs no step (even 10**12 times) is dropped
                    out.append(("repeat", s.count, body))
                continue
            out.append(("step", len(static), s))
            static.append(s)
            if isinstance(s, Superstep):
                count_use(s.compute, mult)
                count_use(s.exchange, mult)
            else:
                count_use(s, mult)
        return tuple(out)

    return walk(program.body, 1), static, uses


# ---- records ---------------------------------------------------------------------


class _Recorder:
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

_WAIT, _SYNC, _GLOBAL, _EXCHANGE, _COMPUTE, _HOST = range(len(TIMELINE_PHASES))
_TIMELINE_COLUMNS = 7  # step, record, ipu, tile, phase, start, end
_TIMELINE_CHUNK = 1 << 16
"""Events buffered as Python ints before they are packed into an int64 block."""


class _TimelineRecorder:
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

    def tile_computes(self, k: int, rec: int, ipu: int, start: float, costs: _ComputeSetCosts, row: int) -> None:
        """``[start, start + C_t]`` for each recorded tile of ``ipu`` with ``C_t > 0``."""
        sel = self.tiles_by_ipu[ipu]
        if not sel.size:
            return
        cycles = costs.tile_cycles(row, sel)
        for t, c in zip(sel.tolist(), cycles.tolist(), strict=True):
            if c > 0:
                self.add(k, rec, ipu, t, _COMPUTE, start, start + c)

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


# ---- the model -------------------------------------------------------------------


class _MachineBarrier:
    """A machine-wide barrier: the last IPU to arrive releases every IPU."""

    def __init__(self, env: simpy.Environment, n_ipus: int) -> None:
        self.env = env
        self.n_ipus = n_ipus
        self._arrived = 0
        self._event = env.event()

    def arrive(self) -> simpy.Event:
        event = self._event
        self._arrived += 1
        if self._arrived == self.n_ipus:
            self._arrived = 0
            self._event = self.env.event()
            event.succeed()
        return event


class _DesModel:
    """State of one simulation: tile clocks and accumulators, processes, counters."""

    def __init__(
        self,
        program: Program,
        machine: MachineSpec,
        max_events: int,
        recorder_done: Callable[[], None],
        timeline: _TimelineRecorder | None = None,
    ) -> None:
        self.machine = machine
        self.timeline = timeline
        self.tpi = machine.tiles_per_ipu
        self.max_events = max_events
        self.sync_cycles = {"internal": sync_cycles(machine, "internal"), "external": sync_cycles(machine, "external")}
        self.tree, self.static, uses = _compile(program)
        self.costs = _CostModel(machine)
        self.cache = _UseCountedCache({k: v * machine.n_ipus for k, v in uses.items()})
        n = machine.n_tiles
        # Per tile: ready[t] = base[ipu] + C_t of the IPU's last compute phase (0 after a step
        # without compute). The per-tile parts are added up per compute set and row when the
        # compute set is done (its runs times its class costs); everything else is per IPU.
        self.base = [0] * machine.n_ipus
        self.last_end = [0] * machine.n_ipus  # base + the IPU's slowest C_t of that phase
        self.acc = {name: np.zeros(n, np.int64) for name in ("compute", "compute_excl_idle")}
        self.ipu_acc = {name: [0] * machine.n_ipus for name in CATEGORIES[1:]}  # each of the IPU's tiles
        self.tile_events = 0
        self.simpy_events = 0
        self.env = simpy.Environment()
        self.barrier = _MachineBarrier(self.env, machine.n_ipus)
        self.recorder = _Recorder(len(self.static), machine.n_ipus, recorder_done)

    def run(self) -> None:
        for i in range(self.machine.n_ipus):
            self.env.process(self._ipu_process(i))
        self.env.run()

    def _count(self, tile_events: int) -> None:
        self.tile_events += tile_events
        if self.tile_events > self.max_events:
            raise SimulationLimitError(
                f"des: more than max_events={self.max_events:,} tile-events after {self.recorder.n_done:,} steps "
                f"(simulated cycle {max(self.last_end):,}); raise max_events (--max-events) or use engine='fast'"
            )

    def _ipu_process(self, i: int) -> SimGen:
        yield from self._walk(i, self.tree, [0], 0)
        yield from self._catch_up(i)

    def _catch_up(self, i: int) -> SimGen:
        """Advance the SimPy clock to the IPU's own: its steps since the last barrier are one event."""
        ahead = self.last_end[i] - int(self.env.now)
        if ahead > 0:
            self.simpy_events += 1
            yield self.env.timeout(ahead)

    def _walk(self, i: int, nodes: tuple[Any, ...], k: list[int], it: int) -> SimGen:
        """Run ``nodes``; ``it`` is the iteration of the innermost repeat around them (the row of their tables)."""
        for kind, a, b in nodes:
            if kind == "repeat":
                for j in range(a):
                    yield from self._walk(i, b, k, j)
            elif isinstance(b, Superstep):
                yield from self._superstep(i, k[0], a, b, it)
                k[0] += 1
            else:
                yield from self._host_copy(i, k[0], a, b)
                k[0] += 1

    def _release(self, i: int, external: bool, k: int, rec: int) -> Generator[simpy.Event, Any, int]:
        """Barrier, then sync release: ``sync[t] += b_i - ready[t] + S`` for the IPU's tiles
        (``ready[t] = base + C_t``: the ``C_t`` parts are subtracted with the compute totals).
        Returns the time the release ends; the caller's phases follow it."""
        arrived = self.last_end[i]
        if external:
            yield from self._catch_up(i)
            yield self.barrier.arrive()
            self.simpy_events += 1
            now = int(self.env.now)  # every timeout is an integer number of cycles
        else:
            now = arrived  # the IPU's own barrier: reached when its last tile is done
        s = self.sync_cycles["external" if external else "internal"]
        self.ipu_acc["sync"][i] += (now + s) - self.base[i]
        tl = self.timeline
        if tl is not None:
            if now > arrived:
                tl.add(k, rec, i, -1, _WAIT, arrived, now)
            if s:
                tl.add(k, rec, i, -1, _SYNC, now, now + s)
        return now + s

    def _superstep(self, i: int, k: int, rec: int, step: Superstep, it: int) -> SimGen:
        """Release, global exchange, on-chip exchange, compute, laid end to end on the IPU's clock."""
        tpi = self.tpi
        external = step.sync == "external"
        t = yield from self._release(i, external, k, rec)
        n_phases = 1 + (self.sync_cycles[step.sync] > 0)
        glob = exch = 0
        tl = self.timeline
        if step.exchange is not None:
            ex: _ExchangeCosts = self.cache.get(step.exchange, self.costs.exchange)
            glob, exch = ex.global_cycles, ex.ipu_cycles[i]
            if glob:
                self.ipu_acc["global_exchange"][i] += glob
                if tl is not None:
                    tl.add(k, rec, i, -1, _GLOBAL, t, t + glob)
                t += glob
            if exch:
                self.ipu_acc["exchange"][i] += exch
                if tl is not None:
                    tl.add(k, rec, i, -1, _EXCHANGE, t, t + exch)
                t += exch
            n_phases += (glob > 0) + (exch > 0)
        start = t
        self.base[i] = start
        cc: _ComputeSetCosts | None = None
        if step.compute is not None:
            cc = self.cache.get(step.compute, self.costs.compute, self._add_tile_totals)
        crit = n_timed = 0
        crit_tile = i * tpi
        if cc is not None and cc.has_vertices[i]:
            row = it if cc.runs.shape[0] > 1 else 0
            cc.runs[row, i] += 1
            n_timed, crit_tile, crit = cc.timing(row, i)
            if tl is not None:
                if crit:
                    tl.add(k, rec, i, -1, _COMPUTE, start, start + crit)
                tl.tile_computes(k, rec, i, start, cc, row)
        self.cache.finish_last_uses()
        self.last_end[i] = start + crit
        self._count(n_phases * tpi + n_timed)
        self.recorder.report(k, rec, start + crit, crit_tile, crit, exch, glob, 0)

    def _add_tile_totals(self, cc: _ComputeSetCosts) -> None:
        cc.add_tile_totals(self.acc["compute"], self.acc["compute_excl_idle"])

    def _host_copy(self, i: int, k: int, rec: int, step: HostCopy) -> SimGen:
        t = yield from self._release(i, True, k, rec)
        host: int = self.cache.get(step, self.costs.host)
        if host:
            self.ipu_acc["host_exchange"][i] += host
            if self.timeline is not None:
                self.timeline.add(k, rec, i, -1, _HOST, t, t + host)
            t += host
        self.base[i] = self.last_end[i] = t
        n_phases = 1 + (self.sync_cycles["external"] > 0) + (host > 0)
        self._count(n_phases * self.tpi)
        self.recorder.report(k, rec, t, i * self.tpi, 0, 0, 0, host)

    def tile_totals(self, total: int) -> dict[str, np.ndarray]:
        """Every tile's accumulators at the end of a run of ``total`` cycles (the trailing wait is sync)."""
        tpi = self.tpi
        out = dict(self.acc)
        for name, per_ipu in self.ipu_acc.items():
            out[name] = np.repeat(np.asarray(per_ipu, np.int64), tpi)
        # sync: sum over releases of (release - base) plus (total - base) at the end, less every C_t
        out["sync"] = out["sync"] + np.repeat(total - np.asarray(self.base, np.int64), tpi) - out["compute"]
        return out


# ---- entry point -----------------------------------------------------------------


def simulate_des(
    program: Program,
    machine: MachineSpec,
    tile_memory_bytes: np.ndarray,
    *,
    max_steps: int,
    progress: bool = False,
    max_events: int = 200_000_000,
    timeline: bool = False,
    timeline_tiles: Sequence[int] | np.ndarray | None = None,
    max_timeline_events: int = DEFAULT_MAX_TIMELINE_EVENTS,
) -> RunResult:
    """Simulate ``program`` on ``machine`` with the SimPy reference engine.

    The program is assumed valid (:func:`mimdsim.engines.simulate` checks it first).

    Parameters
    ----------
    program, machine
        What to run, and on what.
    tile_memory_bytes
        Bytes held by each tile (from the memory ledger), copied into the result.
    max_steps
        Most supersteps and host copies the run may execute (repeats expanded).
    progress
        Show a tqdm progress bar (only once the run has lasted about a second).
    max_events
        Most tile-events the run may process (see the module docstring).
    timeline
        Record every phase interval of every executed step per IPU
        (:class:`~mimdsim.engines.result.Timeline`, in ``RunResult.timeline``).
    timeline_tiles
        With ``timeline``, also record these tiles' compute intervals (tile tracks).
    max_timeline_events
        Most intervals the timeline may hold.

    Returns
    -------
    RunResult
        With ``engine="des"``; ``metadata`` holds ``tile_events`` and ``simpy_events``;
        ``timeline`` is set when ``timeline`` is true.

    Raises
    ------
    SimulationLimitError
        If the program executes more than ``max_steps`` steps (checked before the run),
        the run exceeds ``max_events`` tile-events or the timeline ``max_timeline_events``.

    Examples
    --------
    >>> from mimdsim.arch import load_machine
    >>> from mimdsim.program.ir import ComputeSet, Program, Repeat, Superstep, VertexBlock
    >>> m = load_machine("mk2", tiles_per_ipu=4, max_ipu_sync_delay=10)
    >>> cs = ComputeSet("mul", (VertexBlock("Dot", [0, 1], [77], [48]),))
    >>> r = simulate_des(Program("p", (Repeat(3, (Superstep("s", compute=cs),)),)), m, np.zeros(4, np.int64), max_steps=10)
    >>> r.total_cycles, r.tile_compute_cycles.tolist(), r.tile_sync_cycles.tolist()   # 3 x (8 x (6 x 77 + 11))
    (11382, [11352, 11352, 0, 0], [30, 30, 11382, 11382])
    """
    n_exec = program.n_executed_steps()
    if n_exec > max_steps:
        raise SimulationLimitError(
            f"program {program.name!r} executes {n_exec:,} steps, more than max_steps={max_steps:,}; raise max_steps (--max-steps)"
        )
    with tqdm(total=n_exec, desc=f"des {program.name}", unit="step", disable=not progress, delay=_PROGRESS_DELAY_S) as bar:
        model: _DesModel

        def on_step_done() -> None:
            if model.recorder.n_done % _PROGRESS_EVERY_STEPS == 0:
                bar.update(_PROGRESS_EVERY_STEPS)

        recorder = None
        if timeline:
            tiles = np.zeros(0, np.int64) if timeline_tiles is None else np.asarray(timeline_tiles, np.int64)
            recorder = _TimelineRecorder(machine, tiles, max_timeline_events)
        model = _DesModel(program, machine, max_events, on_step_done, recorder)
        try:
            model.run()
        except SimulationLimitError as err:  # SimPy re-raises a copy; give the caller the original
            raise (err.__cause__ if isinstance(err.__cause__, SimulationLimitError) else err) from None
        bar.update(n_exec - bar.n)
    return _result(program, machine, model, np.asarray(tile_memory_bytes, np.int64).copy())


def _result(program: Program, machine: MachineSpec, model: _DesModel, memory_bytes: np.ndarray) -> RunResult:
    """Add every tile's trailing wait to its sync and package the result."""
    assert model.recorder.n_done == program.n_executed_steps(), "every executed step reports once per IPU"
    total = model.recorder.max_ready
    assert total == max(model.last_end, default=0)
    acc = model.tile_totals(total)
    return RunResult(
        program=program.name,
        machine=machine.name,
        engine="des",
        total_cycles=total,
        tile_clock_hz=machine.tile_clock_hz,
        batch_size=program.batch_size,
        tile_compute_cycles=acc["compute"],
        tile_compute_excl_idle_cycles=acc["compute_excl_idle"],
        tile_exchange_cycles=acc["exchange"],
        tile_global_exchange_cycles=acc["global_exchange"],
        tile_host_exchange_cycles=acc["host_exchange"],
        tile_sync_cycles=acc["sync"],
        tile_memory_bytes=memory_bytes,
        supersteps=model.recorder.records(model.static),
        n_steps_executed=model.recorder.n_done,
        metadata={"tile_events": model.tile_events, "simpy_events": model.simpy_events},
        timeline=None if model.timeline is None else model.timeline.timeline(tuple(s.name for s in model.static)),
    )
