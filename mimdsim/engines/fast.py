"""The ``fast`` engine: docs/concepts.md in numba kernels over the program's arrays.

Pipeline: :func:`~mimdsim.program.arrays.to_arrays` flattens the program (each distinct
compute set, exchange and host copy once); the costs of every distinct object are
computed once with :mod:`mimdsim.cost` (``compute_structure`` + ``compute_costs``: every
tile class of a compute set in every row of its cycle tables; ``exchange_costs``;
``host_copy_cycles``); :func:`~mimdsim.engines._kernels.run_steps` runs the control flow
with one clock per IPU and repeat extrapolation; the per-tile accumulators follow from
each variant's executions and the tile classes (:func:`~mimdsim.engines._kernels.tile_totals`).
The results are identical, integer for integer, to the ``des`` engine's; see the kernels'
docstrings for why each shortcut is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.compute import ComputeCosts, compute_costs, compute_structure
from mimdsim.cost.exchange import ExchangeParams, ExchangeWorkspace, exchange_costs
from mimdsim.cost.host import host_copy_cycles
from mimdsim.cost.sync import sync_cycles
from mimdsim.engines import _kernels as K
from mimdsim.engines.result import CATEGORIES, DEFAULT_MAX_TIMELINE_EVENTS, RunResult, SuperstepRecord
from mimdsim.engines.timeline_detail import timeline_from_log
from mimdsim.errors import SimulationLimitError
from mimdsim.program.arrays import STEP_HOST_COPY, ProgramArrays, to_arrays
from mimdsim.program.ir import Program
from mimdsim.program.memo import derived

__all__ = ["simulate_fast", "PROGRESS_MIN_STEPS"]

PROGRESS_MIN_STEPS = 2_000_000
"""Runs of fewer executed steps never show a progress bar."""

_CHUNK_STEPS = 500_000
_PROGRESS_DELAY_S = 1.0
"""The progress bar appears only once a run has lasted this long."""
_NO_EXECUTION_TILE = -1
"""``critical_tile`` of a step that never ran (inside a ``Repeat(0)``)."""
_NO_EXECUTION_BOUND = "none"
_MAX_LOG_BYTES = 2 << 30
"""Largest step log a timeline may need (executed steps x (2 + IPUs) x 8 bytes)."""


def _compute_costs(arr: ProgramArrays, machine: MachineSpec) -> list[ComputeCosts]:
    """Costs of every distinct compute set on ``machine``, every row of its tables."""
    n_tiles, tpi, n_ctx = machine.n_tiles, machine.tiles_per_ipu, machine.num_worker_contexts
    return [
        compute_costs(
            cs, compute_structure(cs, n_tiles, tpi), n_ctx,
            launch_cycles=machine.worker_launch_cycles, overhead_cycles=machine.compute_set_overhead_cycles,
        )
        for cs in arr.compute_sets
    ]  # fmt: skip


def _variant_tables(cc: list[ComputeCosts], n_ipus: int) -> dict[str, Any]:
    """Every compute set's variants (rows) in one table: ``var_ptr``, IPU maxima, critical tiles."""
    var_ptr = np.zeros(len(cc) + 1, np.int64)
    if cc:
        np.cumsum([c.incl.shape[0] for c in cc], out=var_ptr[1:])
    var_max = np.concatenate([c.ipu_max for c in cc]) if cc else np.zeros((0, n_ipus), np.int64)
    var_crit = np.concatenate([c.ipu_crit for c in cc]) if cc else np.zeros((0, n_ipus), np.int64)
    return {
        "compute": cc,
        "var_ptr": var_ptr,
        "var_max": np.ascontiguousarray(var_max),
        "var_crit": np.ascontiguousarray(var_crit),
    }


def _exchange_costs(arr: ProgramArrays, machine: MachineSpec) -> dict[str, np.ndarray]:
    params = ExchangeParams(machine).as_tuple()
    ws = ExchangeWorkspace(machine).as_tuple()
    ex_phase = np.zeros((arr.n_exchanges, machine.n_ipus), np.int64)
    ex_global = np.zeros(arr.n_exchanges, np.int64)
    for e, ex in enumerate(arr.exchanges):
        ex_global[e] = exchange_costs(ex, params, ws, ex_phase[e])
    return {"ex_phase": ex_phase, "ex_global": ex_global}


def _host_costs(arr: ProgramArrays, machine: MachineSpec) -> np.ndarray:
    hp = arr.host_ptr
    return np.array(
        [
            host_copy_cycles(machine, arr.host_tiles[hp[k] : hp[k + 1]], arr.host_nbytes[hp[k] : hp[k + 1]])
            for k in range(arr.n_host_copies)
        ],
        np.int64,
    ).reshape(-1)


def _compute_fields(m: MachineSpec) -> tuple[int, ...]:
    """The machine fields the compute costs read."""
    return m.n_tiles, m.tiles_per_ipu, m.num_worker_contexts, m.worker_launch_cycles, m.compute_set_overhead_cycles


def _static_costs(program: Program, arr: ProgramArrays, machine: MachineSpec) -> dict[str, Any]:
    """Costs of every distinct compute set, exchange and host copy.

    The :mod:`mimdsim.cost` kernels are called from here, once per distinct object, not
    from the engine's kernels (see the NOTE in :mod:`mimdsim.engines._kernels`). Each
    group of costs is kept with the program (:mod:`mimdsim.program.memo`) under the
    machine fields it depends on, so re-costing the program on a machine that differs
    elsewhere (a clock, a link) reuses it.
    """
    m = machine
    compute_key = ("fast.compute", *_compute_fields(m))
    exchange_key = ("fast.exchange", m.n_tiles, m.tiles_per_supertile, *ExchangeParams(m).as_tuple())
    host_key = (
        "fast.host",
        m.n_tiles,
        m.tiles_per_ipu,
        m.host_bytes_per_cycle,
        m.exchange_bytes_per_cycle,
        m.host_overhead_cycles,
    )
    out: dict[str, Any] = {}
    out.update(derived(program, compute_key, lambda: _variant_tables(_compute_costs(arr, m), m.n_ipus), per_machine=True))
    out.update(derived(program, exchange_key, lambda: _exchange_costs(arr, m), per_machine=True))
    out["host"] = derived(program, host_key, lambda: _host_costs(arr, m), per_machine=True)
    return out


def _tile_compute(arr: ProgramArrays, costs: dict[str, Any], rec_n: np.ndarray, n_tiles: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-tile compute cycles incl./excl. idle threads: each variant's executions x its class costs.

    A step whose compute set has ``R`` rows of tables sits directly in a repeat of ``R``
    iterations, so each of its ``rec_n`` executions covers the rows evenly: every row runs
    ``rec_n / R`` times.
    """
    cc: list[ComputeCosts] = costs["compute"]
    runs = [np.zeros(c.incl.shape[0], np.int64) for c in cc]
    for s, (cs, rows) in enumerate(arr.step_table[:, [2, 5]].tolist()):
        if cs >= 0 and rec_n[s]:
            runs[cs] += rec_n[s] // rows
    incl = np.zeros(n_tiles, np.int64)
    excl = np.zeros(n_tiles, np.int64)
    for c, n in zip(cc, runs, strict=True):
        if not n.any():
            continue
        st = c.structure
        incl[st.tiles] += (n @ c.incl)[st.tile_node]
        excl[st.tiles] += (n @ c.excl)[st.tile_node]
    return incl, excl


def _run(
    arr: ProgramArrays, costs: dict[str, Any], machine: MachineSpec, *, extrapolate: bool, progress: bool, log: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray]:
    """The record table ``rec[field, static_step]``, the total cycles and the final IPU clocks;
    the first ``len(log)`` executed steps are logged into ``log``."""
    clock = np.zeros(machine.n_ipus, np.int64)
    state = np.zeros(K.N_STATE, np.int64)
    depth = max(arr.max_depth, 1)
    stack = np.zeros((depth, 2), np.int64)
    snap_clock = np.zeros((depth, machine.n_ipus), np.int64)
    snap_rec = np.zeros((K.N_REC_SUMS, max(arr.n_snapshot, 1)), np.int64)
    rec = np.zeros((K.N_REC_FIELDS, arr.n_static), np.int64)
    args = (
        arr.ops,
        arr.step_table,
        costs["var_ptr"],
        costs["var_max"],
        costs["var_crit"],
        costs["ex_phase"],
        costs["ex_global"],
        costs["host"],
        sync_cycles(machine, "internal"),
        sync_cycles(machine, "external"),
        machine.tiles_per_ipu,
        extrapolate,
        clock,
        state,
        stack,
        snap_clock,
        snap_rec,
        rec,
        log,
    )
    n_ops = arr.ops.shape[0]
    if not progress or arr.n_executed < PROGRESS_MIN_STEPS:
        K.run_steps(*args, np.iinfo(np.int64).max)
    else:
        from tqdm import tqdm

        with tqdm(total=arr.n_executed, unit="step", desc=f"fast {arr.name}", delay=_PROGRESS_DELAY_S) as bar:
            while state[K.ST_PC] < n_ops:
                bar.update(int(K.run_steps(*args, _CHUNK_STEPS)))
    return rec, int(state[K.ST_MAX]), clock


def _records(arr: ProgramArrays, rec: np.ndarray) -> tuple[SuperstepRecord, ...]:
    kind_names = ("superstep", "host_copy")
    kinds = [kind_names[k == STEP_HOST_COPY] for k in arr.step_table[:, 0].tolist()]
    cols = rec.tolist()
    n, cycles, comp, exch = cols[K.REC_N], cols[K.REC_CYCLES], cols[K.REC_COMPUTE], cols[K.REC_EXCHANGE]
    glob, host, sync = cols[K.REC_GLOBAL], cols[K.REC_HOST], cols[K.REC_SYNC]
    crit, bound = cols[K.REC_CRITICAL], cols[K.REC_BOUND]
    return tuple(
        SuperstepRecord(
            s, name, kind, n[s], cycles[s], comp[s], exch[s], glob[s], host[s], sync[s],
            crit[s] if n[s] else _NO_EXECUTION_TILE,
            CATEGORIES[bound[s]] if n[s] else _NO_EXECUTION_BOUND,
        )
        for s, (name, kind) in enumerate(zip(arr.step_names, kinds, strict=True))
    )  # fmt: skip


def simulate_fast(
    program: Program,
    machine: MachineSpec,
    tile_memory_bytes: np.ndarray,
    *,
    max_steps: int,
    progress: bool = False,
    extrapolate: bool = True,
    timeline: bool = False,
    timeline_tiles: np.ndarray | None = None,
    timeline_window: np.ndarray | None = None,
    max_timeline_events: int = DEFAULT_MAX_TIMELINE_EVENTS,
) -> RunResult:
    """Simulate a validated ``program`` on ``machine`` with the numba kernels.

    ``tile_memory_bytes`` (from the memory ledger) is passed through to the result.
    ``extrapolate=False`` simulates every repeat iteration (same result, slower; for
    tests and benchmarks). Use :func:`mimdsim.engines.simulate`, which validates the
    program and checks its memory first.

    With ``timeline`` every executed step is logged (no repeat is extrapolated, which
    changes no figure) and laid out into ``RunResult.timeline``, with counter tracks, by
    :func:`mimdsim.engines.timeline_detail.timeline_from_log`: the intervals of the steps in
    ``timeline_window`` (a boolean per executed step; None: all), the compute intervals
    of ``timeline_tiles``, segments summing up the other steps.

    Raises
    ------
    SimulationLimitError
        If the program executes more than ``max_steps`` supersteps and host copies
        (counted before anything runs, repeats expanded).

    Examples
    --------
    >>> from mimdsim.arch import load_machine
    >>> from mimdsim.program.ir import ComputeSet, Program, Repeat, Superstep, VertexBlock
    >>> m = load_machine("mk2", n_ipus=1)
    >>> cs = ComputeSet("mul", (VertexBlock("Dot", [0, 1], [77], [48]),))
    >>> p = Program("p", (Repeat(1000, (Superstep("s", compute=cs),)),))
    >>> r = simulate_fast(p, m, np.zeros(m.n_tiles, np.int64), max_steps=10_000)
    >>> r.total_cycles, int(r.tile_compute_cycles[0]), r.supersteps[0].n_executions   # 8 x (6 x 77 + 11) per step
    (3910000, 3784000, 1000)
    """
    arr = derived(program, "arrays", lambda: to_arrays(program))
    if arr.n_executed > max_steps:
        raise SimulationLimitError(
            f"program {program.name!r}: {arr.n_executed:,} steps to execute exceed max_steps={max_steps:,}; raise max_steps (--max-steps)"
        )
    costs = _static_costs(program, arr, machine)
    n_log = arr.n_executed if timeline else 0
    log_bytes = n_log * (K.LOG_CLOCK + machine.n_ipus) * 8
    if log_bytes > _MAX_LOG_BYTES:
        raise SimulationLimitError(
            f"fast: a timeline of {arr.n_executed:,} steps on {machine.n_ipus} IPUs needs a {log_bytes / 2**30:.1f} GiB step log "
            f"(more than {_MAX_LOG_BYTES / 2**30:.0f} GiB): simulate a shorter program"
        )
    log = np.zeros((n_log, K.LOG_CLOCK + machine.n_ipus), np.int64)
    rec, total, clock = _run(
        arr, costs, machine, extrapolate=extrapolate, progress=progress, log=log
    )  # no logged step is extrapolated
    rec_n = np.ascontiguousarray(rec[K.REC_N])
    tiles = K.tile_totals(
        arr.step_table,
        rec_n,
        *derived(  # the same on every machine with these compute fields (a what-if on exchange or sync re-runs only the steps)
            program,
            ("fast.tile_compute", *_compute_fields(machine), rec_n.tobytes()),
            lambda: _tile_compute(arr, costs, rec_n, machine.n_tiles),
            per_machine=True,
        ),
        costs["ex_phase"],
        costs["ex_global"],
        costs["host"],
        total,
        machine.n_tiles,
        machine.tiles_per_ipu,
    )
    return RunResult(
        program=program.name,
        machine=machine.name,
        engine="fast",
        total_cycles=total,
        tile_clock_hz=machine.tile_clock_hz,
        batch_size=program.batch_size,
        tile_compute_cycles=tiles[0],
        tile_compute_excl_idle_cycles=tiles[1],
        tile_exchange_cycles=tiles[2],
        tile_global_exchange_cycles=tiles[3],
        tile_host_exchange_cycles=tiles[4],
        tile_sync_cycles=tiles[5],
        tile_memory_bytes=np.asarray(tile_memory_bytes, np.int64).copy(),
        supersteps=_records(arr, rec),
        n_steps_executed=arr.n_executed,
        metadata={},
        timeline=None if not timeline else timeline_from_log(
            program, arr, costs, machine, log, clock, tile_memory_bytes,
            tiles=np.zeros(0, np.int64) if timeline_tiles is None else np.asarray(timeline_tiles, np.int64),
            window=timeline_window, max_events=max_timeline_events,
        ),
    )  # fmt: skip
