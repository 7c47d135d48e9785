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
  :func:`mimdsim.cost.exchange.exchange_costs` (per-tile exchange ports, supertile
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

import itertools
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import simpy
from tqdm.auto import tqdm

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.sync import sync_cycles
from mimdsim.engines.des_costs import ComputeSetCosts, CostModel, ExchangeCosts, UseCountedCache
from mimdsim.engines.des_records import (
    PHASE_COMPUTE,
    PHASE_EXCHANGE,
    PHASE_GLOBAL,
    PHASE_HOST,
    PHASE_SYNC,
    PHASE_WAIT,
    StepRecorder,
    TimelineRecorder,
)
from mimdsim.engines.result import (
    CATEGORIES,
    DEFAULT_MAX_TIMELINE_EVENTS,
    RunResult,
)
from mimdsim.errors import SimulationLimitError
from mimdsim.program.ir import HostCopy, Program, Repeat, Step, Superstep

__all__ = ["simulate_des"]

_PROGRESS_DELAY_S = 1.0
"""The progress bar appears only once a run has lasted this long."""
_PROGRESS_EVERY_STEPS = 256

SimGen = Generator[simpy.Event, Any, None]


# ---- program walk ------------------------------------------------------------------


def _compile(program: Program) -> tuple[tuple[Any, ...], list[Step], dict[int, int]]:
    """The program as nested ``(record index, step)`` / ``(count, body)`` tuples.

    Also returns the static steps (record order, as :meth:`Program.iter_static`) and how
    many times each distinct cost object (compute set, exchange, host copy) is used.
    """
    static: list[Step] = []
    uses = {k: n for k, (_, n) in program.use_counts().items()}
    return _compile_steps(program.body, static), static, uses


def _compile_steps(steps: tuple[Step, ...], static: list[Step]) -> tuple[Any, ...]:
    """:func:`_compile`'s tree of ``steps``, appending them to ``static`` (a module function: a closure that calls
    itself is a reference cycle, which would keep the steps alive until the collector's next pass)."""
    out: list[Any] = []
    for s in steps:
        if isinstance(s, Repeat):
            body = _compile_steps(s.body, static)
            if s.count and body:  # a repeat that runs no step (even 10**12 times) is dropped
                out.append(("repeat", s.count, body))
            continue
        out.append(("step", len(static), s))
        static.append(s)
    return tuple(out)


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
        timeline: TimelineRecorder | None = None,
    ) -> None:
        self.machine = machine
        self.timeline = timeline
        self.tpi = machine.tiles_per_ipu
        self.max_events = max_events
        self.sync_cycles = {"internal": sync_cycles(machine, "internal"), "external": sync_cycles(machine, "external")}
        self.tree, self.static, uses = _compile(program)
        self.costs = CostModel(machine)
        self.cache = UseCountedCache({k: v * machine.n_ipus for k, v in uses.items()})
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
        self.recorder = StepRecorder(len(self.static), machine.n_ipus, recorder_done)

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
                tl.add(k, rec, i, -1, PHASE_WAIT, arrived, now)
            if s:
                tl.add(k, rec, i, -1, PHASE_SYNC, now, now + s)
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
            ex: ExchangeCosts = self.cache.get(step.exchange, self.costs.exchange)
            glob, exch = ex.global_cycles, ex.ipu_cycles[i]
            if glob:
                self.ipu_acc["global_exchange"][i] += glob
                if tl is not None:
                    tl.add(k, rec, i, -1, PHASE_GLOBAL, t, t + glob)
                t += glob
            if exch:
                self.ipu_acc["exchange"][i] += exch
                if tl is not None:
                    tl.add(k, rec, i, -1, PHASE_EXCHANGE, t, t + exch)
                t += exch
            n_phases += (glob > 0) + (exch > 0)
        start = t
        self.base[i] = start
        cc: ComputeSetCosts | None = None
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
                    tl.add(k, rec, i, -1, PHASE_COMPUTE, start, start + crit)
                tl.tile_computes(k, rec, i, start, cc, row)
        self.cache.finish_last_uses()
        self.last_end[i] = start + crit
        self._count(n_phases * tpi + n_timed)
        self.recorder.report(k, rec, start + crit, crit_tile, crit, exch, glob, 0)

    def _add_tile_totals(self, cc: ComputeSetCosts) -> None:
        cc.add_tile_totals(self.acc["compute"], self.acc["compute_excl_idle"])

    def _host_copy(self, i: int, k: int, rec: int, step: HostCopy) -> SimGen:
        t = yield from self._release(i, True, k, rec)
        host: int = self.cache.get(step, self.costs.host)
        if host:
            self.ipu_acc["host_exchange"][i] += host
            if self.timeline is not None:
                self.timeline.add(k, rec, i, -1, PHASE_HOST, t, t + host)
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
        done = itertools.count(1)  # its own count, not the model's: a callback the model holds must not refer back to it

        def on_step_done() -> None:
            if next(done) % _PROGRESS_EVERY_STEPS == 0:
                bar.update(_PROGRESS_EVERY_STEPS)

        recorder = None
        if timeline:
            tiles = np.zeros(0, np.int64) if timeline_tiles is None else np.asarray(timeline_tiles, np.int64)
            recorder = TimelineRecorder(machine, tiles, max_timeline_events)
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
