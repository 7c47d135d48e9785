"""The ``fast`` engine gives exactly the ``des`` engine's results on random programs.

Exactness is the contract (docs/concepts.md): total cycles, every per-tile array and
every field of every record must be equal integers, with and without the fast engine's
repeat extrapolation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import simulate
from mimdsim.engines.fast import simulate_fast
from mimdsim.engines.result import RunResult
from mimdsim.memory.ledger import memory_ledger
from mimdsim.program.ir import Program, Repeat
from mimdsim.program.unroll import unroll_tables
from tests.engines.strategies import machine_and_program, machines, programs
from tests.invariants import TILE_ARRAYS, check_run

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]


def assert_same_result(a: RunResult, b: RunResult) -> None:
    """Every figure of two results is equal (engine name and metadata aside)."""
    assert a.total_cycles == b.total_cycles
    assert a.n_steps_executed == b.n_steps_executed
    assert (a.program, a.machine, a.batch_size, a.tile_clock_hz) == (b.program, b.machine, b.batch_size, b.tile_clock_hz)
    for name in TILE_ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.int64, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert len(a.supersteps) == len(b.supersteps)
    for ra, rb in zip(a.supersteps, b.supersteps, strict=True):
        assert dataclasses.asdict(ra) == dataclasses.asdict(rb)


def _fast(program: Program, machine: MachineSpec, *, extrapolate: bool) -> RunResult:
    tile_bytes = memory_ledger(program, machine).tile_bytes
    return simulate_fast(program, machine, tile_bytes, max_steps=10**9, extrapolate=extrapolate)


@settings(max_examples=250, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program())
def test_fast_equals_des(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    des = simulate(program, machine, "des")
    fast = simulate(program, machine, "fast")
    assert (des.engine, fast.engine) == ("des", "fast")
    check_run(fast, program, machine)
    assert_same_result(des, fast)
    assert_same_result(fast, _fast(program, machine, extrapolate=False))


@st.composite
def _long_repeat(draw: st.DrawFn) -> tuple[MachineSpec, Program]:
    """A random program inside a repeat of 3-40 iterations (extrapolated by the fast engine)."""
    machine = draw(machines(max_ipus=3, max_tiles_per_ipu=8))
    inner = draw(programs(machine, max_depth=1, max_len=4))
    body = (Repeat(draw(st.integers(3, 40)), inner.body, "loop"),)
    if draw(st.booleans()):
        body = (*draw(programs(machine, max_depth=0, max_len=2)).body, *body)
    return machine, dataclasses.replace(inner, body=body)


@settings(max_examples=120, deadline=None, suppress_health_check=_SUPPRESS)
@given(_long_repeat())
def test_fast_equals_des_long_repeats(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    des = simulate(program, machine, "des")
    fast = simulate(program, machine, "fast")
    check_run(fast, program, machine)
    assert_same_result(des, fast)
    assert_same_result(des, _fast(program, machine, extrapolate=False))


def _by_name(r: RunResult) -> dict[str, tuple[int, ...]]:
    """Records summed over the static steps of each name (an unrolled table is many steps of one name)."""
    out: dict[str, tuple[int, ...]] = {}
    for rec in r.supersteps:
        mine = (rec.n_executions, rec.cycles, *rec.breakdown().values())
        prev = out.get(rec.name, (0,) * len(mine))
        out[rec.name] = tuple(a + b for a, b in zip(prev, mine, strict=True))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program())
def test_cycle_tables_equal_their_unrolled_program(mp: tuple[MachineSpec, Program]) -> None:
    """Keeping a loop whose costs change per iteration as a loop changes no figure (both engines)."""
    machine, program = mp
    flat = unroll_tables(program)
    assert not any(s.compute is not None and s.compute.n_rows > 1 for s in flat.iter_static() if hasattr(s, "compute"))
    for engine in ("fast", "des"):
        rolled, unrolled = simulate(program, machine, engine), simulate(flat, machine, engine)
        assert rolled.total_cycles == unrolled.total_cycles
        assert rolled.n_steps_executed == unrolled.n_steps_executed
        for name in TILE_ARRAYS:
            np.testing.assert_array_equal(getattr(rolled, name), getattr(unrolled, name), err_msg=name)
        assert _by_name(rolled) == _by_name(unrolled)
        assert rolled.critical_path_cycles() == unrolled.critical_path_cycles()
