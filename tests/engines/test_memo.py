"""Costs kept with a program (mimdsim.program.memo) never leak between machines: re-costing a
program on a second machine gives what a fresh copy of the program gives there."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimdsim.arch import load_machine
from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import simulate
from mimdsim.program import memo
from mimdsim.program.ir import ComputeSet, Exchange, Program, Superstep, VertexBlock
from mimdsim.program.serialize import program_from_dict, program_to_dict
from tests.engines.strategies import machine_and_program, machines


@st.composite
def program_and_two_machines(draw: st.DrawFn) -> tuple[Program, MachineSpec, MachineSpec]:
    first, program = draw(machine_and_program())
    other = draw(machines())
    shape = {
        f: getattr(first, f) for f in ("n_ipus", "tiles_per_ipu", "tiles_per_supertile", "memory_bytes_per_tile", "link_topology")
    }
    return program, first, MachineSpec.model_validate({**other.model_dump(), **shape})  # validated: a copy could skip the rules


def _figures(r: object) -> tuple[object, ...]:
    return (r.total_cycles, r.tile_compute_cycles.tolist(), r.tile_compute_excl_idle_cycles.tolist(),  # type: ignore[attr-defined]
            r.tile_exchange_cycles.tolist(), r.tile_sync_cycles.tolist(), r.supersteps)  # type: ignore[attr-defined]  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program_and_two_machines(), st.sampled_from(["fast", "des"]))
def test_recosting_on_another_machine_equals_a_fresh_program(case: tuple[Program, MachineSpec, MachineSpec], engine: str) -> None:
    program, first, second = case
    simulate(program, first, engine)
    warm = simulate(program, second, engine)
    fresh = simulate(program_from_dict(program_to_dict(program)), second, engine)
    assert _figures(warm) == _figures(fresh)


def _small_program() -> Program:
    cs = ComputeSet("c", (VertexBlock("V", [0, 1, 5], [40, 7], [3, 1]),))
    ex = Exchange.from_transfers("e", [(0, [1, 5], 64), (5, [0], 24)])
    return Program("p", (Superstep("s", exchange=ex, compute=cs),))


def test_a_long_what_if_keeps_only_the_last_machines_costs() -> None:
    """Re-costing one program on many machine descriptions keeps the costs of the last MACHINE_VARIANTS of them per
    family, and a machine whose costs were dropped gets the same figures again."""
    program = _small_program()
    rates = [
        load_machine("mk2", tiles_per_ipu=8, exchange_bytes_per_cycle=b, worker_launch_cycles=1 + b % 3) for b in range(1, 41)
    ]
    first = _figures(simulate(program, rates[0], "fast"))
    for m in rates[1:]:
        simulate(program, m, "fast")
    families = {k: v for k, v in memo._STORE[program].items() if isinstance(k, tuple) and k[0] == "per_machine"}
    assert {k[1] for k in families} == {"fast.compute", "fast.exchange", "fast.host", "fast.tile_compute"}
    assert all(len(v) <= memo.MACHINE_VARIANTS for v in families.values())
    assert len(families[("per_machine", "fast.exchange")]) == memo.MACHINE_VARIANTS
    assert _figures(simulate(program, rates[0], "fast")) == first


def test_machines_costed_from_several_threads_at_once_give_each_its_figures() -> None:
    """Threads (an executor's) re-costing one program on more machines than are kept: no lost or crossed entries."""
    shared = _small_program()
    rates = [
        load_machine("mk2", tiles_per_ipu=8, exchange_bytes_per_cycle=b, worker_launch_cycles=1 + b % 5)
        for b in range(1, 3 * memo.MACHINE_VARIANTS)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        warm = list(pool.map(lambda m: _figures(simulate(shared, m, "fast")), rates * 3))
    assert warm == [_figures(simulate(_small_program(), m, "fast")) for m in rates] * 3
