"""Reusable validators of simulation results and programs (call them in every engine test).

Each ``check_*`` raises ``AssertionError`` with the offending tile, step or exchange.
:func:`check_run` applies every result check at once.
"""

from __future__ import annotations

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.sync import sync_cycles
from mimdsim.engines.result import CATEGORIES, RunResult
from mimdsim.program.ir import HostCopy, Program, Repeat, Step, Superstep

__all__ = [
    "check_run",
    "check_tile_categories_sum_to_total",
    "check_records_sum_to_total",
    "check_exchange_bytes_balanced",
    "check_every_tile_reaches_every_barrier",
    "check_times_non_decreasing",
    "check_memory_fits",
    "executed_sync_cycles",
]


TILE_ARRAYS = (
    "tile_compute_cycles",
    "tile_compute_excl_idle_cycles",
    "tile_exchange_cycles",
    "tile_global_exchange_cycles",
    "tile_host_exchange_cycles",
    "tile_sync_cycles",
    "tile_memory_bytes",
)
"""Every per-tile array of a RunResult; two runs agree when all of them are equal."""


def _tile_arrays(r: RunResult) -> dict[str, np.ndarray]:
    return {c: getattr(r, f"tile_{c}_cycles") for c in CATEGORIES}


def check_tile_categories_sum_to_total(r: RunResult) -> None:
    """Every tile's compute + exchange + global + host + sync equals the total."""
    arrays = _tile_arrays(r)
    for name, a in arrays.items():
        assert a.shape == (r.n_tiles,), f"tile_{name}_cycles has shape {a.shape}, not ({r.n_tiles},)"
        assert a.dtype.kind == "i", f"tile_{name}_cycles is {a.dtype}, not an integer array"
    total = sum(arrays.values())
    bad = np.flatnonzero(total != r.total_cycles)
    assert not bad.size, f"tile {bad[0]}: categories add up to {total[bad[0]]}, total is {r.total_cycles}"
    excess = np.flatnonzero(r.tile_compute_excl_idle_cycles > r.tile_compute_cycles)
    assert not excess.size, f"tile {excess[0]}: compute excl. idle exceeds compute incl. idle"


def check_records_sum_to_total(r: RunResult, program: Program | None = None) -> None:
    """Records add up to the total, each record's categories add up to its cycles, one per static step."""
    assert sum(rec.cycles for rec in r.supersteps) == r.total_cycles, "record cycles do not add up to the total"
    assert sum(r.critical_path_cycles().values()) == r.total_cycles
    assert sum(rec.n_executions for rec in r.supersteps) == r.n_steps_executed
    for k, rec in enumerate(r.supersteps):
        assert rec.index == k, f"record {k} has index {rec.index}"
        assert sum(rec.breakdown().values()) == rec.cycles, f"record {k} ({rec.name}): categories != cycles"
        assert min(rec.breakdown().values(), default=0) >= 0, f"record {k} ({rec.name}): a negative category {rec.breakdown()}"
        if rec.n_executions == 0:
            assert rec.cycles == 0 and rec.critical_tile == -1 and rec.bound == "none", f"record {k} never ran"
        else:
            assert 0 <= rec.critical_tile < r.n_tiles, f"record {k}: critical tile {rec.critical_tile}"
            assert rec.bound in CATEGORIES, f"record {k}: bound {rec.bound!r}"
    if program is not None:
        static = program.iter_static()
        assert len(r.supersteps) == len(static), "one record per static step"
        assert [rec.name for rec in r.supersteps] == [s.name for s in static]
        assert r.n_steps_executed == program.n_executed_steps()


def check_exchange_bytes_balanced(program: Program) -> None:
    """Per exchange: bytes sent (each copy to each destination, from the fan-out of each
    transfer) equal bytes received (from the per-transfer form)."""
    for s in program.iter_static():
        ex = s.exchange if isinstance(s, Superstep) else None
        if ex is None:
            continue
        sent = np.bincount(ex.src, weights=ex.nbytes * ex.fanout()).sum() if ex.n_transfers else 0
        flat = ex.expanded()
        received = np.bincount(flat.dst, weights=np.repeat(flat.nbytes, np.diff(flat.dst_ptr))).sum() if flat.dst.size else 0
        assert sent == received, f"exchange {ex.name!r}: {sent} B sent, {received} B received"


def _executed(steps: tuple[Step, ...], mult: int = 1) -> list[tuple[Step, int]]:
    out: list[tuple[Step, int]] = []
    for s in steps:
        if isinstance(s, Repeat):
            out += _executed(s.body, mult * s.count)
        else:
            out.append((s, mult))
    return out


def executed_sync_cycles(program: Program, machine: MachineSpec) -> int:
    """Sum of ``S(scope)`` over every executed sync (supersteps and host copies)."""
    total = 0
    for s, n in _executed(program.body):
        scope = "external" if isinstance(s, HostCopy) else s.sync
        total += n * sync_cycles(machine, scope)
    return total


def check_every_tile_reaches_every_barrier(r: RunResult, program: Program, machine: MachineSpec) -> None:
    """Every tile's sync holds at least the release cost of every executed sync, and no tile waits < 0."""
    floor = executed_sync_cycles(program, machine)
    short = np.flatnonzero(r.tile_sync_cycles < floor)
    assert not short.size, f"tile {short[0]}: sync {r.tile_sync_cycles[short[0]]} < {floor}, the syncs it must pass"
    for name, a in _tile_arrays(r).items():
        assert (a >= 0).all(), f"tile {int(np.argmin(a))}: negative {name} cycles"


def check_times_non_decreasing(r: RunResult) -> None:
    """No step moves the end of the slowest tile backwards (so records' cycles are >= 0)."""
    for rec in r.supersteps:
        assert rec.cycles >= 0, f"record {rec.index} ({rec.name}): {rec.cycles} cycles"
        for c in CATEGORIES[:-1]:  # sync can be < 0 on the critical path when IPUs drift apart
            assert rec.breakdown()[c] >= 0, f"record {rec.index}: negative {c}"


def check_memory_fits(r: RunResult, machine: MachineSpec) -> None:
    """One memory figure per tile, none over the tile's memory."""
    assert r.tile_memory_bytes.shape == (machine.n_tiles,)
    over = np.flatnonzero(r.tile_memory_bytes > machine.memory_bytes_per_tile)
    assert not over.size, f"tile {over[0]} holds {r.tile_memory_bytes[over[0]]} B > {machine.memory_bytes_per_tile}"


def check_run(r: RunResult, program: Program, machine: MachineSpec) -> None:
    """Every invariant of one run of ``program`` on ``machine``."""
    assert r.n_tiles == machine.n_tiles
    assert r.total_cycles >= 0
    check_tile_categories_sum_to_total(r)
    check_records_sum_to_total(r, program)
    check_exchange_bytes_balanced(program)
    check_every_tile_reaches_every_barrier(r, program, machine)
    check_times_non_decreasing(r)
    check_memory_fits(r, machine)
