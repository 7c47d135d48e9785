"""The reference engine: a SimPy discrete-event model of the BSP machine (docs/concepts.md).

Model
-----
* **One SimPy process per IPU** drives that IPU's tiles through every executed step, in
  program order, with every ``Repeat`` iteration simulated literally. IPUs run on their
  own timelines and drift apart under internal syncs; they meet only at external syncs
  and host copies.
* **Barriers.** An internal sync of IPU ``i`` is reached when its last tile group has
  finished computing (so ``env.now`` *is* ``b_i = max(ready)`` over its tiles); an
  external sync or host copy is a machine-wide barrier event that the last IPU to arrive
  triggers.
* **Phases.** After the barrier each IPU runs timed phases: sync release ``S(scope)``,
  the global (IPU-link) exchange ``G``, its on-chip exchange ``E_i`` (or the host copy
  ``H``). The exchange is compiler-scheduled, so the per-phase durations computed by
  :func:`mimdsim.cost.exchange.exchange_kernel` (per-tile exchange ports, supertile
  receive, link sharing) are the truth; they are computed once per distinct exchange.
* **Compute.** Each tile's compute set time ``C_t`` (barrel-scheduled worker contexts)
  comes from :func:`mimdsim.cost.compute.compute_costs`, once per tile class of each
  distinct compute set and row of its cycle tables (a step inside a repeat runs row
  ``i`` of its tables in iteration ``i``). Tiles of an IPU with equal ``C_t`` share one
  timeline in that step, so they finish as **one** SimPy event (a *tile group*); each
  tile's clock ``ready[t]`` is set from the simulated time of its group's event.

What an "event" is
------------------
``metadata["tile_events"]`` counts *tile-events*: what a process-per-tile DES would
process. Every step of every tile has a barrier release (each tile resumes), then one
event per non-zero phase (S, G, E_i or H), then, for a tile with ``C_t > 0``, its compute
completion. The model batches them: a barrier release and a phase of IPU ``i`` are one
SimPy event for its ``tiles_per_ipu`` tiles (an internal barrier needs none: the IPU's
process is there when its last group finishes), and a tile group's completion is one
SimPy event for the tiles in the group. So one internal superstep on an IPU of ``n``
tiles, all with non-zero sync, exchange and compute, is ``4 n`` tile-events and
``2 +`` (number of distinct ``C_t``) SimPy events (``metadata["simpy_events"]``).
``max_events`` limits tile-events. Batching never skips semantics: every tile's
accumulators and clock are updated at every executed step.

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
from mimdsim.cost.exchange import NO_TILE_OUTPUT, ExchangeParams, ExchangeWorkspace, exchange_kernel
from mimdsim.cost.sync import host_copy_cycles, sync_cycles
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


@dataclass(frozen=True, eq=False)
class _IpuCompute:
    """One compute set in one row on one IPU: its tiles' cycles and how they group by finish time.

    ``incl_cycles``/``excl_cycles``: every tile of the IPU (0 without vertices);
    ``group_delays[g]``: group ``g`` of equal ``C_t > 0`` finishes that many cycles after
    the previous group; ``n_timed``: the tiles with ``C_t > 0``; ``crit_tile``: the
    lowest tile with the IPU's largest ``C_t`` (``crit_cycles``).
    """

    incl_cycles: np.ndarray
    excl_cycles: np.ndarray
    group_delays: tuple[int, ...]
    n_timed: int
    crit_tile: int
    crit_cycles: int


class _ComputeSetCosts:
    """A compute set's class costs (:class:`~mimdsim.cost.compute.ComputeCosts`), viewed per IPU and row."""

    def __init__(self, costs: ComputeCosts, tiles_per_ipu: int) -> None:
        st = costs.structure
        self.costs = costs
        self.tpi = tiles_per_ipu
        n_ipus = st.idle_tile.size
        zero = st.n_nodes  # index of an extra zero-cost class for tiles without vertices
        self.node_of_tile = np.full(n_ipus * tiles_per_ipu, zero, np.int64)
        self.node_of_tile[st.tiles] = st.tile_node
        self.node_tiles = np.bincount(st.tile_node, minlength=st.n_nodes)
        self.has_vertices = np.zeros(n_ipus, bool)
        self.has_vertices[st.node_ipu[st.final]] = True
        self.final_by_ipu = [st.final[st.node_ipu[st.final] == i] for i in range(n_ipus)]

    def ipu(self, row: int, i: int) -> _IpuCompute | None:
        """IPU ``i`` in ``row`` (None: no tile of the IPU has vertices)."""
        if not self.has_vertices[i]:
            return None
        c = self.costs
        lo, hi = i * self.tpi, (i + 1) * self.tpi
        nodes = self.node_of_tile[lo:hi]
        incl = np.append(c.incl[row], 0)[nodes]
        excl = np.append(c.excl[row], 0)[nodes]
        final = self.final_by_ipu[i]
        values = c.incl[row, final]
        timed = values > 0
        delays = tuple(np.diff(np.unique(values[timed]), prepend=0).tolist())
        n_timed = int(self.node_tiles[final[timed]].sum())
        return _IpuCompute(incl, excl, delays, n_timed, int(c.ipu_crit[row, i]), int(c.ipu_max[row, i]))


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
        g = exchange_kernel(ex.src, ex.dst_ptr, ex.dst, ex.nbytes, ex.messages, *self._ex_params, *self._ex_ws, self._ex_out, NO_TILE_OUTPUT)
        return _ExchangeCosts(tuple(int(c) for c in self._ex_out), int(g))

    def host(self, hc: HostCopy) -> int:
        return host_copy_cycles(self.machine, hc.tiles, hc.nbytes)


class _UseCountedCache:
    """Values computed on first use and dropped after their last expected use."""

    def __init__(self, uses: dict[int, int]) -> None:
        self._uses_left = dict(uses)
        self._values: dict[int, object] = {}

    def get(self, obj: object, make: Callable[[Any], Any]) -> Any:
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
        return value


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
        parts = (compute, exchange, glob, host, increment - compute - exchange - glob - host)
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
                f"des: the timeline has more than max_timeline_events={self.max_events:,} intervals (at step {k:,}); "
                "raise max_timeline_events, record fewer timeline_tiles or simulate a shorter program"
            )
        rows = self._rows
        rows += (k, rec, ipu, tile, phase, start, end)
        if len(rows) >= _TIMELINE_COLUMNS * _TIMELINE_CHUNK:
            self._flush()

    def tile_computes(self, k: int, rec: int, ipu: int, start: float, comp: _IpuCompute, first_tile: int) -> None:
        """``[start, start + C_t]`` for each recorded tile of ``ipu`` with ``C_t > 0``."""
        sel = self.tiles_by_ipu[ipu]
        if not sel.size:
            return
        cycles = comp.incl_cycles[sel - first_tile]
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
        self.ready = np.zeros(n, np.int64)
        self.acc = {name: np.zeros(n, np.int64) for name in ("compute", "compute_excl_idle", *CATEGORIES[1:])}
        self.tile_events = 0
        self.simpy_events = 0
        self.env = simpy.Environment()
        self.barrier = _MachineBarrier(self.env, machine.n_ipus)
        self.recorder = _Recorder(len(self.static), machine.n_ipus, recorder_done)

    def run(self) -> None:
        for i in range(self.machine.n_ipus):
            self.env.process(self._ipu_process(i))
        self.env.run()

    def _count(self, tile_events: int, simpy_events: int) -> None:
        self.tile_events += tile_events
        self.simpy_events += simpy_events
        if self.tile_events > self.max_events:
            raise SimulationLimitError(
                f"des: more than max_events={self.max_events:,} tile-events after {self.recorder.n_done:,} steps "
                f"(simulated cycle {self.env.now:,}); raise max_events or use engine='fast'"
            )

    def _ipu_process(self, i: int) -> SimGen:
        yield from self._walk(i, self.tree, [0], 0)

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

    def _release(self, i: int, lo: int, hi: int, external: bool, k: int, rec: int) -> SimGen:
        """Barrier, then sync release: ``sync[t] += b_i - ready[t] + S`` for the IPU's tiles."""
        arrived = self.env.now
        if external:
            yield self.barrier.arrive()
        s = self.sync_cycles["external" if external else "internal"]
        now = int(self.env.now)  # every timeout is an integer number of cycles
        self.acc["sync"][lo:hi] += (now + s) - self.ready[lo:hi]
        tl = self.timeline
        if tl is not None:
            if now > arrived:
                tl.add(k, rec, i, -1, _WAIT, arrived, now)
            if s:
                tl.add(k, rec, i, -1, _SYNC, now, now + s)
        if s:
            yield self.env.timeout(s)

    def _superstep(self, i: int, k: int, rec: int, step: Superstep, it: int) -> SimGen:
        env, tpi = self.env, self.tpi
        lo, hi = i * tpi, (i + 1) * tpi
        external = step.sync == "external"
        yield from self._release(i, lo, hi, external, k, rec)
        n_phases = 1 + (self.sync_cycles[step.sync] > 0)
        glob = exch = 0
        tl = self.timeline
        if step.exchange is not None:
            ex: _ExchangeCosts = self.cache.get(step.exchange, self.costs.exchange)
            glob, exch = ex.global_cycles, ex.ipu_cycles[i]
            if glob:
                self.acc["global_exchange"][lo:hi] += glob
                if tl is not None:
                    tl.add(k, rec, i, -1, _GLOBAL, env.now, env.now + glob)
                yield env.timeout(glob)
            if exch:
                self.acc["exchange"][lo:hi] += exch
                if tl is not None:
                    tl.add(k, rec, i, -1, _EXCHANGE, env.now, env.now + exch)
                yield env.timeout(exch)
            n_phases += (glob > 0) + (exch > 0)
        start = int(env.now)
        comp = None
        if step.compute is not None:
            row = it if step.compute.n_rows > 1 else 0
            comp = self.cache.get(step.compute, self.costs.compute).ipu(row, i)
        if comp is None:
            self.ready[lo:hi] = start
            self._count(n_phases * tpi, n_phases - 1 + external)
            self.recorder.report(k, rec, start, lo, 0, exch, glob, 0)
            return
        self.acc["compute"][lo:hi] += comp.incl_cycles
        self.acc["compute_excl_idle"][lo:hi] += comp.excl_cycles
        self.ready[lo:hi] = start + comp.incl_cycles
        if tl is not None:
            if comp.crit_cycles:
                tl.add(k, rec, i, -1, _COMPUTE, start, start + comp.crit_cycles)
            tl.tile_computes(k, rec, i, start, comp, lo)
        for delay in comp.group_delays:  # one event per group of tiles finishing together
            yield env.timeout(delay)
        assert env.now == start + comp.crit_cycles
        self._count(n_phases * tpi + comp.n_timed, n_phases - 1 + external + len(comp.group_delays))
        self.recorder.report(k, rec, int(env.now), comp.crit_tile, comp.crit_cycles, exch, glob, 0)

    def _host_copy(self, i: int, k: int, rec: int, step: HostCopy) -> SimGen:
        lo, hi = i * self.tpi, (i + 1) * self.tpi
        yield from self._release(i, lo, hi, True, k, rec)
        host: int = self.cache.get(step, self.costs.host)
        if host:
            self.acc["host_exchange"][lo:hi] += host
            if self.timeline is not None:
                self.timeline.add(k, rec, i, -1, _HOST, self.env.now, self.env.now + host)
            yield self.env.timeout(host)
        self.ready[lo:hi] = self.env.now
        n_phases = 1 + (self.sync_cycles["external"] > 0) + (host > 0)
        self._count(n_phases * self.tpi, n_phases)  # the barrier is a SimPy event here
        self.recorder.report(k, rec, int(self.env.now), lo, 0, 0, 0, host)


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
            f"program {program.name!r} executes {n_exec:,} steps, more than max_steps={max_steps:,}; raise max_steps"
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
    total = int(model.ready.max()) if model.ready.size else 0
    assert total == model.recorder.max_ready
    acc = model.acc
    acc["sync"] += total - model.ready
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
