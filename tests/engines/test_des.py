"""The ``des`` engine: hand-computed cases for every cost formula, records, limits, invariants."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import simulate
from mimdsim.engines.des import simulate_des
from mimdsim.engines.result import RunResult
from mimdsim.errors import SimulationLimitError
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep, VertexBlock
from tests.engines.strategies import machine_and_program
from tests.invariants import check_run


def _machine(**kw: Any) -> MachineSpec:
    """A machine whose costs are all zero unless given (1 B/cycle links, 6 B/cycle host)."""
    spec: dict[str, Any] = {
        "name": "t",
        "n_ipus": 1,
        "tiles_per_ipu": 4,
        "memory_bytes_per_tile": 1 << 20,
        "tile_clock_hz": 1e9,
        "exchange_bytes_per_cycle": 4,
        "link_bytes_per_s": 1e9,
        "host_bytes_per_s": 6e9,
    }
    spec.update(kw)
    return MachineSpec(**spec)


def _run(steps: tuple[Step, ...], m: MachineSpec, **kw: Any) -> RunResult:
    program = Program("p", steps)
    r = simulate(program, m, "des", **kw)
    check_run(r, program, m)
    return r


def _sup(name: str, cycles: dict[int, int]) -> ComputeSet:
    """A compute set of supervisor vertices: ``cycles[t]`` tile cycles on tile ``t``."""
    return ComputeSet(name, tuple(VertexBlock("Sup", [t], supervisor_cycles=c) for t, c in cycles.items()))


def _workers(tiles: list[int], cycles: list[int], counts: list[int], supervisor: int = 0) -> ComputeSet:
    return ComputeSet("w", (VertexBlock("V", tiles, cycles, counts, supervisor),))


def _totals(r: RunResult) -> dict[str, list[int]]:
    return {
        c: getattr(r, f"tile_{c}_cycles").tolist()
        for c in ("compute", "compute_excl_idle", "exchange", "global_exchange", "host_exchange", "sync")
    }


# ---- compute: barrel scheduling -------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "incl", "excl"),
    [
        (48, 6 * 8 * 77, 48 * 77),  # 8 per context
        (47, 6 * 8 * 77, 47 * 77),  # one context runs 7, the busiest still 8
        (49, 6 * 9 * 77, 49 * 77),
        (6, 6 * 77, 6 * 77),
        (1, 6 * 77, 77),  # one busy context still costs n_ctx issue slots per cycle
    ],
)
def test_barrel_scheduling(count: int, incl: int, excl: int) -> None:
    r = _run((Superstep("s", compute=_workers([0, 1], [77], [count])),), _machine())
    assert r.tile_compute_cycles.tolist() == [incl, incl, 0, 0]
    assert r.tile_compute_excl_idle_cycles.tolist() == [excl, excl, 0, 0]
    assert r.total_cycles == incl
    assert r.tile_sync_cycles.tolist() == [0, 0, incl, incl]  # trailing wait of the idle tiles


def test_supervisor_overhead_and_tile_in_two_blocks() -> None:
    m = _machine(compute_set_overhead_cycles=10)
    cs = ComputeSet(
        "two",
        (
            VertexBlock("A", [0, 1], [100], [3], supervisor_cycles=50),
            VertexBlock("B", [0], [60], [6], supervisor_cycles=7),
        ),
    )
    # tile 0: A fills contexts 0-2 with 100; B's six 60s go to 3,4,5 then 3,4,5 again -> busiest 120
    r = _run((Superstep("s", compute=cs),), m)
    assert r.tile_compute_cycles.tolist() == [57 + 6 * 120 + 10, 50 + 6 * 100 + 10, 0, 0]
    assert r.tile_compute_excl_idle_cycles.tolist() == [57 + 300 + 360, 50 + 300, 0, 0]


def test_reduce_vertices_tut6() -> None:
    # 7 vertices of 9 thread cycles on 6 contexts: one context runs 2 -> 6 x 18 = 108
    r = _run((Superstep("s", compute=_workers([0], [9], [7])),), _machine())
    assert int(r.tile_compute_cycles[0]) == 108


# ---- on-chip exchange ---------------------------------------------------------------


def test_supertile_receive_at_double_rate() -> None:
    ex = Exchange.from_transfers("e", [(5, [0, 1], 40), (6, [0], 40)])
    m = _machine(tiles_per_ipu=8, exchange_overhead_cycles=100, exchange_transit_cycles=3)
    # tile 0 receives 40 B shared with its partner (8 B/cycle) and 40 B alone (4 B/cycle): 15 cycles
    r = _run((Superstep("s", exchange=ex),), m)
    assert r.total_cycles == 100 + 15 + 3
    assert r.tile_exchange_cycles.tolist() == [118] * 8
    off = _run((Superstep("s", exchange=ex),), m.model_copy(update={"supports_supertile_send_receive": False}))
    assert off.total_cycles == 100 + 20 + 3


def test_multicast_is_one_send() -> None:
    m = _machine(tiles_per_ipu=8)
    multicast = Exchange.from_transfers("m", [(0, [2, 4, 6], 400)])
    unicasts = Exchange.from_transfers("u", [(0, [2], 400), (0, [4], 400), (0, [6], 400)])
    assert _run((Superstep("s", exchange=multicast),), m).total_cycles == 100
    assert _run((Superstep("s", exchange=unicasts),), m).total_cycles == 300


def test_exchange_phase_is_per_ipu() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2)
    ex = Exchange.from_transfers("e", [(0, [1], 40), (2, [3], 400)])
    r = _run((Superstep("s", exchange=ex),), m)
    assert r.tile_exchange_cycles.tolist() == [10, 10, 100, 100]
    assert r.tile_sync_cycles.tolist() == [90, 90, 0, 0]
    assert r.supersteps[0].exchange_cycles == 100 and r.supersteps[0].critical_tile == 2


# ---- inter-IPU links ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("topology", "expected"),
    [
        ("ladder", 800 // 2 + 2 * 10),  # 0->2 and 1->2 (across the rung at row 0 first) share link 0 up
        ("torus2d", 800 // 2 + 2 * 10),  # 2x2 torus: 1->2 goes column first, then shares 0's row link
        ("all_to_all", 400 // 2 + 1 * 10),  # direct links, nothing shared
    ],
)
def test_link_sharing(topology: str, expected: int) -> None:
    m = _machine(n_ipus=4, tiles_per_ipu=2, link_topology=topology, link_bytes_per_s=2e9, link_latency_cycles=10)
    ex = Exchange.from_transfers("g", [(0, [4], 400), (2, [5], 400)])  # IPU 0 -> 2, IPU 1 -> 2
    r = _run((Superstep("s", "external", ex),), m)
    assert r.total_cycles == expected
    assert r.tile_global_exchange_cycles.tolist() == [expected] * 8
    assert r.tile_exchange_cycles.tolist() == [0] * 8  # no on-chip traffic
    rec = r.supersteps[0]
    assert (rec.global_exchange_cycles, rec.bound, rec.critical_tile) == (expected, "global_exchange", 0)


def test_inter_ipu_multicast_is_one_flow_and_tile_port_bound() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2, link_bytes_per_s=8e9, exchange_overhead_cycles=5)
    ex = Exchange.from_transfers("g", [(0, [2, 3], 400)])
    # one 400 B flow: link 400/8 = 50 cycles; the tile ports move 400/4 = 100 cycles
    r = _run((Superstep("s", "external", ex),), m)
    assert r.total_cycles == 5 + 100


def test_inter_ipu_transfer_needs_external_sync() -> None:
    from mimdsim.errors import ProgramError

    m = _machine(n_ipus=2, tiles_per_ipu=2)
    with pytest.raises(ProgramError, match="crosses IPUs"):
        _run((Superstep("s", "internal", Exchange.from_transfers("g", [(0, [2], 4)])),), m)


# ---- sync ----------------------------------------------------------------------------

_SYNC = {"min_ipu_sync_delay": 5, "max_ipu_sync_delay": 20, "global_sync_cycles": 100, "global_sync_hop_cycles": 7}


def test_internal_sync_lets_ipus_drift() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2, **_SYNC)
    r = _run((Superstep("a", compute=_sup("c", {0: 600})), Superstep("b")), m)
    # IPU 0: 25 + 600, then 25 -> 650; IPU 1: 25, 25 -> 50, then waits 600 at the end
    assert r.total_cycles == 650
    assert r.tile_sync_cycles.tolist() == [50, 650, 650, 650]
    assert [rec.cycles for rec in r.supersteps] == [625, 25]


def test_external_sync_aligns_ipus() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2, **_SYNC)
    s_ext = 25 + 100 + 2 * 1 * 7  # 2 IPUs: 1 hop
    r = _run((Superstep("a", compute=_sup("c", {0: 600})), Superstep("b", "external")), m)
    assert r.total_cycles == 625 + s_ext
    assert r.tile_sync_cycles.tolist() == [25 + s_ext, 625 + s_ext, 625 + s_ext, 625 + s_ext]
    assert r.supersteps[1].sync_cycles == s_ext and r.supersteps[1].bound == "sync"


def test_multi_ipu_drift_counts_only_the_tail_of_the_critical_ipu() -> None:
    # IPU 1 starts its second step 990 cycles behind IPU 0 but ends it 5 cycles ahead: the step moves the
    # end by 15 cycles, the last 15 of IPU 1's compute (the rest overlapped step a); no category is negative
    m = _machine(n_ipus=2, tiles_per_ipu=2, min_ipu_sync_delay=10)
    steps = (Superstep("a", compute=_sup("c", {0: 1000})), Superstep("b", compute=_sup("d", {3: 1005})))
    r = _run(steps, m)
    assert r.total_cycles == 1025
    a, b = r.supersteps
    assert (a.cycles, a.compute_cycles, a.sync_cycles, a.critical_tile) == (1010, 1000, 10, 0)
    assert (b.cycles, b.compute_cycles, b.sync_cycles, b.critical_tile) == (15, 15, 0, 3)
    assert r.tile_sync_cycles.tolist() == [25, 1025, 1025, 20]  # tile 2 idles, tile 3 is critical


# ---- host copy ----------------------------------------------------------------------


def test_host_copy() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2, host_overhead_cycles=10, **_SYNC)
    s_ext = 25 + 100 + 14
    hc = HostCopy("in", np.array([0, 1]), np.array([600, 600]))
    # IPU 0's host link moves 1200 B at 6 B/cycle (200) > a tile's 600 B at 4 B/cycle (150)
    r = _run((Superstep("a", compute=_sup("c", {2: 300})), hc), m)
    assert r.total_cycles == 25 + 300 + s_ext + 210
    assert r.tile_host_exchange_cycles.tolist() == [210] * 4
    rec = r.supersteps[1]
    assert (rec.kind, rec.host_exchange_cycles, rec.sync_cycles, rec.bound, rec.critical_tile) == (
        "host_copy",
        210,
        s_ext,
        "host_exchange",
        0,
    )
    assert r.tile_sync_cycles.tolist() == [325 + s_ext, 325 + s_ext, 25 + s_ext, 325 + s_ext]  # tile 2 computed


# ---- repeat, records ------------------------------------------------------------------


def test_repeat_runs_every_iteration() -> None:
    m = _machine(max_ipu_sync_delay=10)
    a = Superstep("a", compute=_workers([0], [77], [48]))
    b = Superstep("b", compute=_sup("c", {1: 5}))
    r = _run((Repeat(2, (Repeat(3, (a,)), b)), Repeat(0, (b,))), m)
    assert r.n_steps_executed == 8
    assert r.total_cycles == 6 * (10 + 3696) + 2 * (10 + 5)
    ra, rb, rz = r.supersteps
    assert (ra.n_executions, ra.cycles, ra.compute_cycles) == (6, 6 * 3706, 6 * 3696)
    assert (rb.n_executions, rb.cycles, rb.compute_cycles, rb.critical_tile) == (2, 30, 10, 1)
    assert (rz.n_executions, rz.cycles, rz.critical_tile, rz.bound) == (0, 0, -1, "none")
    assert r.tile_compute_cycles.tolist() == [6 * 3696, 10, 0, 0]


def test_record_takes_critical_tile_from_largest_increment() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2)
    x = Superstep("x", compute=_sup("cx", {0: 100}))
    y = Superstep("y", compute=_sup("cy", {2: 150}))
    r = _run((Repeat(2, (x, y)),), m)
    # x: +100 (tile 0), +50 (tile 0); y: +50 (tile 2), +100 (tile 2); total 300. Each increment is the tail
    # of the critical tile's compute
    rx, ry = r.supersteps
    assert r.total_cycles == 300
    assert (rx.cycles, rx.compute_cycles, rx.sync_cycles, rx.critical_tile) == (150, 150, 0, 0)
    assert (ry.cycles, ry.compute_cycles, ry.sync_cycles, ry.critical_tile) == (150, 150, 0, 2)


def test_record_first_of_equal_increments() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2)
    x = Superstep("x", compute=_sup("cx", {0: 100, 2: 100}))
    y = Superstep("y", compute=_sup("cy", {2: 50}))
    r = _run((Repeat(2, (x, y)),), m)
    # x adds 100 both times: first on tile 0 (both IPUs tie: lowest tile), then on tile 2
    assert r.supersteps[0].cycles == 200 and r.supersteps[0].critical_tile == 0


def test_critical_tile_is_lowest_of_the_slowest() -> None:
    r = _run((Superstep("s", compute=_sup("c", {3: 70, 1: 70, 2: 10})),), _machine())
    assert r.supersteps[0].critical_tile == 1


def test_bound_ties_go_to_compute_first() -> None:
    m = _machine(tiles_per_ipu=2, exchange_bytes_per_cycle=1)
    ex = Exchange.from_transfers("e", [(1, [0], 40)])
    r = _run((Superstep("s", exchange=ex, compute=_sup("c", {0: 40})),), m)
    rec = r.supersteps[0]
    assert (rec.compute_cycles, rec.exchange_cycles, rec.bound) == (40, 40, "compute")


def test_empty_program() -> None:
    r = _run((), _machine())
    assert r.total_cycles == 0 and r.supersteps == () and r.n_steps_executed == 0


# ---- limits, progress, pickling ------------------------------------------------------


def _repeat_program(n: int) -> Program:
    return Program("p", (Repeat(n, (Superstep("s", compute=_sup("c", {0: 10})),)),))


def test_max_steps() -> None:
    m = _machine()
    assert simulate(_repeat_program(10), m, "des", max_steps=10).n_steps_executed == 10
    with pytest.raises(SimulationLimitError, match="max_steps=9"):
        simulate(_repeat_program(10), m, "des", max_steps=9)


def test_max_events() -> None:
    m = _machine()
    mem = np.zeros(4, np.int64)
    r = simulate_des(_repeat_program(10), m, mem, max_steps=100)
    n_events = int(r.metadata["tile_events"])  # type: ignore[call-overload]
    assert n_events == 10 * (4 + 1)  # per step: 4 tiles released, tile 0's compute
    assert r.metadata["simpy_events"] == 1  # internal syncs only: the IPU's clock catches up once, at the end
    assert simulate_des(_repeat_program(10), m, mem, max_steps=100, max_events=n_events).total_cycles == 100
    with pytest.raises(SimulationLimitError, match="max_events=49"):
        simulate_des(_repeat_program(10), m, mem, max_steps=100, max_events=n_events - 1)


def test_progress_bar_does_not_change_result() -> None:
    m = _machine(max_ipu_sync_delay=3)
    a = simulate(_repeat_program(300), m, "des")
    b = simulate(_repeat_program(300), m, "des", progress=True)
    assert _totals(a) == _totals(b) and a.supersteps == b.supersteps


def test_result_is_picklable() -> None:
    m = _machine(n_ipus=2, tiles_per_ipu=2, **_SYNC)
    r = _run((Superstep("a", compute=_sup("c", {0: 600})), Superstep("b", "external")), m)
    back = pickle.loads(pickle.dumps(r))
    assert back.engine == "des" and back.total_cycles == r.total_cycles
    assert _totals(back) == _totals(r) and back.supersteps == r.supersteps and back.metadata == r.metadata


# ---- invariants on random programs -----------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(machine_and_program())
def test_invariants_on_random_programs(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    r = simulate(program, machine, "des")
    check_run(r, program, machine)
    assert r.engine == "des"
    assert int(r.metadata["tile_events"]) >= r.n_steps_executed * machine.n_tiles  # type: ignore[call-overload]


def test_repeat_of_nothing_is_skipped() -> None:
    a = Superstep("a", compute=_sup("c", {0: 10}))
    r = _run((Repeat(10**12, ()), Repeat(10**12, (Repeat(0, (a,)),)), a), _machine())
    assert r.total_cycles == 10 and [rec.n_executions for rec in r.supersteps] == [0, 1]
