"""The ``fast`` engine: its kernels on hand-made arrays, the program arrays, and the wrapper."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.compute import compute_costs, compute_structure, tile_compute_cycles
from mimdsim.engines import _kernels as K
from mimdsim.engines import fast
from mimdsim.engines.fast import simulate_fast
from mimdsim.engines.result import RunResult
from mimdsim.errors import SimulationLimitError
from mimdsim.program.arrays import OP_BEGIN, OP_END, OP_STEP, to_arrays
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Superstep, VertexBlock
from tests.invariants import check_run

# ---- program arrays ------------------------------------------------------------------


def _cs(name: str, tiles: list[int], cycles: list[int], counts: list[int], sup: int = 0) -> ComputeSet:
    return ComputeSet(name, (VertexBlock("V", tiles, cycles, counts, sup),))


def test_to_arrays_layout_nested_repeats_and_sharing() -> None:
    a = _cs("a", [0, 1], [10], [3])
    b = ComputeSet("b", (VertexBlock("V", [1], [5], [1], 7), VertexBlock("W", [0, 1], [2, 3], [6, 1])))
    ex = Exchange.from_transfers("x", [(0, [1], 8)])
    hc = HostCopy("h", [0], [16])
    prog = Program(
        "p",
        (
            hc,
            Repeat(3, (Superstep("s1", compute=a, exchange=ex), Repeat(2, (Superstep("s2", compute=b),)))),
            Superstep("s3", "external", exchange=ex, compute=a),
        ),
    )
    arr = to_arrays(prog)
    assert arr.step_names == ("h", "s1", "s2", "s3")
    assert (arr.n_static, arr.n_compute_sets, arr.n_exchanges, arr.n_host_copies) == (4, 2, 1, 1)
    assert arr.n_executed == prog.n_executed_steps() == 1 + 3 * (1 + 2) + 1
    assert arr.step_table.tolist() == [[1, 1, -1, -1, 0, 1], [0, 0, 0, 0, -1, 1], [0, 0, 1, -1, -1, 1], [0, 1, 0, 0, -1, 1]]
    assert arr.ops[:, 0].tolist() == [OP_STEP, OP_BEGIN, OP_STEP, OP_BEGIN, OP_STEP, OP_END, OP_END, OP_STEP]
    outer, inner = arr.ops[1], arr.ops[3]
    assert (outer[1], outer[2], outer[3], outer[4]) == (3, 6, 1, 3)  # count, end op, static steps 1:3
    assert (inner[1], inner[2], inner[3], inner[4]) == (2, 5, 2, 3)
    assert arr.ops[5, 2] == 3 and arr.ops[6, 2] == 1  # each end links to its begin
    assert (inner[5], outer[5], arr.n_snapshot) == (0, 1, 3)  # disjoint slices: [0:1] and [1:3]
    assert arr.max_depth == 2
    assert arr.compute_sets == (a, b)
    assert arr.ops[:, 6].tolist() == [0] * 8  # no cycle tables: every repeat may be extrapolated
    assert len(arr.exchanges) == 1 and arr.exchanges[0].dst.tolist() == [1]


def test_to_arrays_empty_program() -> None:
    arr = to_arrays(Program("empty", ()))
    assert (arr.n_static, arr.n_executed, arr.ops.shape) == (0, 0, (0, 7))
    assert arr.compute_sets == () and arr.exchanges == ()


def test_to_arrays_marks_repeats_whose_body_runs_cycle_tables() -> None:
    table = ComputeSet("t", (VertexBlock("V", [0], [[1], [2], [3]]),))
    static = _cs("s", [0], [5], [1])
    inner = Repeat(3, (Superstep("a", compute=table),))
    p = Program("p", (Repeat(2, (Superstep("b", compute=static), inner)),))
    arr = to_arrays(p)
    assert arr.step_table[:, 5].tolist() == [1, 3]
    begins = arr.ops[arr.ops[:, 0] == OP_BEGIN]
    assert begins[:, 6].tolist() == [0, 1]  # the outer body's own steps are static: it may be extrapolated


# ---- compute classes ------------------------------------------------------------------


def test_critical_tile_counts_tiles_without_vertices_as_zero() -> None:
    # 2 IPUs of 4 tiles; per compute set: touched tiles and their C_t (one worker vertex each, 1 context)
    sets = [
        ([2, 1], [5, 5]),  # IPU 0: max 5 at the lower tile 1; IPU 1: no vertices -> 0 at tile 4
        ([0, 1, 2, 3, 5], [0, 3, 3, 1, 0]),  # IPU 0 full: 3 at tile 1; IPU 1: 0, untouched tile 4 < 5
        ([5, 4, 6, 7], [0, 0, 0, 0]),  # IPU 1 full of zeros: tile 4; IPU 0: tile 0
        ([1], [0]),  # IPU 0: C = 0 on tile 1, untouched tile 0 is lower
    ]
    got_max, got_crit = [], []
    for tiles, cycles in sets:
        cs = ComputeSet("c", tuple(VertexBlock("V", [t], [c]) for t, c in zip(tiles, cycles, strict=True)))
        cc = compute_costs(cs, compute_structure(cs, 8, 4), 1)
        got_max.append(cc.ipu_max[0].tolist())
        got_crit.append(cc.ipu_crit[0].tolist())
    assert got_max == [[5, 0], [3, 0], [0, 0], [0, 0]]
    assert got_crit == [[1, 4], [1, 4], [0, 4], [0, 4]]


def test_tile_classes_follow_block_membership_per_ipu() -> None:
    # tiles 0, 1 in A; tile 1 also in B; tile 4 (IPU 1) in A and B; tile 5 in B only
    cs = ComputeSet("c", (VertexBlock("A", [0, 1, 4], [10], [6]), VertexBlock("B", [1, 4, 5], [7], [1], 3)))
    st = compute_structure(cs, 8, 4)
    assert st.tiles.tolist() == [0, 1, 4, 5]
    # nodes: 2 roots, A@0, A@1, A+B@0, A+B@1, B@1
    assert st.n_nodes == 7 and len(set(st.tile_node.tolist())) == 4
    assert st.idle_tile.tolist() == [2, 6]
    cc = compute_costs(cs, st, 6)
    tiles, incl, excl = cc.tile_cycles()
    # A: 6 x 10 thread cycles -> 60 tile cycles on each context; +B on context 0: 60 + 42; +3 supervisor
    assert incl.tolist() == [60, 105, 105, 45] and excl.tolist() == [60, 70, 70, 10]
    assert (tiles.tolist(), cc.ipu_max[0].tolist(), cc.ipu_crit[0].tolist()) == ([0, 1, 4, 5], [105, 105], [1, 4])


def test_cycle_tables_cost_every_row() -> None:
    cs = ComputeSet("c", (VertexBlock("V", [0, 1], [[10], [20], [30]], [[6], [6], [7]], [0, 5, 0]),))
    cc = compute_costs(cs, compute_structure(cs, 2, 2), 6)
    assert cc.incl[:, 1].tolist() == [60, 125, 360]  # row 2: 7 vertices, one context runs two
    for r in range(3):
        np.testing.assert_array_equal(tile_compute_cycles(cs.row(r), 2)[1], cc.tile_cycles(r)[1])


def test_worker_launch_cycles_occupy_the_vertex_context() -> None:
    cs = _cs("c", [0], [10], [7])
    # 7 vertices on 6 contexts: context 0 runs two, each 6 x 10 + 4 tile cycles
    assert tile_compute_cycles(cs, 1, launch_cycles=4)[1].tolist() == [128]
    assert tile_compute_cycles(cs, 1)[2].tolist() == [70]  # excl. idle: the vertices' thread cycles only


# ---- run_steps -----------------------------------------------------------------------

# 2 IPUs of 2 tiles. Static steps: 0 internal with compute set 0; 1 external with
# exchange 0; 2 a host copy of 5 cycles. S(internal) = 1, S(external) = 2.
_TABLE = np.array([[0, 0, 0, -1, -1, 1], [0, 1, -1, 0, -1, 1], [1, 1, -1, -1, 0, 1]], np.int64)
_VAR_PTR = np.array([0, 1], np.int64)
_CS_MAX = np.array([[10, 3]], np.int64)
_CS_CRIT = np.array([[1, 2]], np.int64)
_EX_PHASE = np.array([[4, 6]], np.int64)
_EX_GLOBAL = np.array([7], np.int64)
_HOST = np.array([5], np.int64)


def _ops(*ops: tuple[int, int, int, int, int, int]) -> np.ndarray:
    return np.hstack([np.array(ops, np.int64).reshape(-1, 6), np.zeros((len(ops), 1), np.int64)])


def _run(ops: np.ndarray, *, extrapolate: bool = True, budget: int = 1 << 62) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(records, clocks, total, steps run) of ``ops`` over the hand-made static steps."""
    clock = np.zeros(2, np.int64)
    state = np.zeros(K.N_STATE, np.int64)
    rec = np.zeros((K.N_REC_FIELDS, 3), np.int64)
    stack = np.zeros((2, 2), np.int64)
    snap_clock = np.zeros((2, 2), np.int64)
    snap_rec = np.zeros((K.N_REC_SUMS, 6), np.int64)
    done = 0
    while state[K.ST_PC] < ops.shape[0]:
        done += K.run_steps(
            ops, _TABLE, _VAR_PTR, _CS_MAX, _CS_CRIT, _EX_PHASE, _EX_GLOBAL, _HOST, 1, 2, 2, extrapolate,
            clock, state, stack, snap_clock, snap_rec, rec, np.zeros((0, 4), np.int64), budget,
        )  # fmt: skip
    return rec, clock, int(state[K.ST_MAX]), done


def test_run_steps_one_of_each_step() -> None:
    rec, clock, total, done = _run(_ops((0, 0, -1, 0, 0, -1), (0, 1, -1, 0, 0, -1), (0, 2, -1, 0, 0, -1)))
    # s0: clocks [0+1+10, 0+1+3] = [11, 4]; s1: b = 11 -> [11+2+7+4, 11+2+7+6] = [24, 26]; s2: 26+2+5
    assert (total, clock.tolist(), done) == (33, [33, 33], 3)
    rows = [K.REC_N, K.REC_CYCLES, K.REC_COMPUTE, K.REC_EXCHANGE, K.REC_GLOBAL, K.REC_HOST, K.REC_SYNC]
    assert rec[rows].T.tolist() == [[1, 11, 10, 0, 0, 0, 1], [1, 15, 0, 6, 7, 0, 2], [1, 7, 0, 0, 0, 5, 2]]
    assert rec[K.REC_CRITICAL].tolist() == [1, 2, 0]  # s1: IPU 1 is later; no compute -> its first tile
    assert rec[K.REC_BOUND].tolist() == [0, 2, 3]  # compute, global_exchange, host_exchange


def _repeat(count: int, body: list[tuple[int, int, int, int, int, int]], lo: int, hi: int) -> np.ndarray:
    end = 1 + len(body)
    return _ops((1, count, end, lo, hi, 0), *body, (2, 0, 0, lo, hi, -1))


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7])
def test_run_steps_repeat_extrapolation_is_exact(count: int) -> None:
    # the external step and the host copy realign the IPUs every iteration: extrapolated
    ops = _repeat(count, [(0, 0, -1, 0, 0, -1), (0, 1, -1, 0, 0, -1), (0, 2, -1, 0, 0, -1)], 0, 3)
    literal = _run(ops, extrapolate=False)
    for extrapolated in (_run(ops), _run(ops, budget=1)):
        np.testing.assert_array_equal(extrapolated[0], literal[0])
        np.testing.assert_array_equal(extrapolated[1], literal[1])
        assert extrapolated[2:] == literal[2:]
    rec, _, total, done = literal
    assert (total, done) == (33 * count, 3 * count)
    assert rec[K.REC_N].tolist() == [count] * 3


def test_run_steps_drifting_ipus_are_simulated() -> None:
    # internal syncs only: IPU 0 gains 11 cycles per iteration, IPU 1 only 4
    ops = _repeat(6, [(0, 0, -1, 0, 0, -1)], 0, 1)
    for extrapolate in (True, False):
        rec, clock, total, done = _run(ops, extrapolate=extrapolate)
        assert (clock.tolist(), total, done) == ([66, 24], 66, 6)
        assert rec[K.REC_CYCLES, 0] == 66 and rec[K.REC_SYNC, 0] == 6


def test_run_steps_resumes_in_chunks() -> None:
    ops = _repeat(5, [(0, 0, -1, 0, 0, -1), (0, 1, -1, 0, 0, -1)], 0, 2)
    whole = _run(ops, extrapolate=False)
    chunked = _run(ops, extrapolate=False, budget=3)
    np.testing.assert_array_equal(whole[0], chunked[0])
    assert whole[2:] == chunked[2:]


# ---- tile_totals ----------------------------------------------------------------------


def test_tile_totals_sums_static_costs_and_closes_on_sync() -> None:
    rec_n = np.array([4, 2, 3], np.int64)
    compute = np.array([0, 40, 12, 0], np.int64)
    excl = np.array([0, 32, 12, 0], np.int64)
    out = K.tile_totals(_TABLE, rec_n, compute, excl, _EX_PHASE, _EX_GLOBAL, _HOST, 1000, 4, 2)
    assert out[0].tolist() == [0, 40, 12, 0]
    assert out[1].tolist() == [0, 32, 12, 0]
    assert out[2].tolist() == [8, 8, 12, 12]  # 2 x E_i
    assert out[3].tolist() == [14] * 4 and out[4].tolist() == [15] * 4
    assert (out[[0, 2, 3, 4, 5]].sum(axis=0) == 1000).all()


# ---- simulate_fast ----------------------------------------------------------------------


def _machine(**kw: object) -> MachineSpec:
    base: dict[str, object] = dict(
        name="t", n_ipus=2, tiles_per_ipu=4, memory_bytes_per_tile=1 << 16, tile_clock_hz=1e9, max_ipu_sync_delay=3
    )
    return MachineSpec(**(base | kw))  # type: ignore[arg-type]


def _sim(program: Program, machine: MachineSpec, **kw: object) -> RunResult:
    r = simulate_fast(program, machine, np.zeros(machine.n_tiles, np.int64), **({"max_steps": 10**18} | kw))  # type: ignore[arg-type]
    check_run(r, program, machine)
    return r


def test_max_steps_is_checked_before_running() -> None:
    m = _machine()
    p = Program("big", (Repeat(10**6, (Repeat(10**6, (Superstep("s"),)),)),))
    with pytest.raises(SimulationLimitError, match="1,000,000,000,000 steps.*max_steps=999"):
        _sim(p, m, max_steps=999)
    assert _sim(Program("ok", (Repeat(999, (Superstep("s"),)),)), m, max_steps=999).n_steps_executed == 999


def test_huge_repeat_is_extrapolated() -> None:
    m = _machine(n_ipus=1)
    cs = _cs("c", [0, 1], [77], [48])
    r = _sim(Program("p", (Repeat(10**12, (Superstep("s", compute=cs),)),)), m)
    assert r.total_cycles == 10**12 * (3 + 3696)
    assert r.tile_compute_cycles.tolist() == [10**12 * 3696] * 2 + [0, 0]
    assert r.tile_sync_cycles.tolist() == [10**12 * 3] * 2 + [10**12 * 3699] * 2
    rec = r.supersteps[0]
    assert (rec.n_executions, rec.cycles, rec.critical_tile, rec.bound) == (10**12, r.total_cycles, 0, "compute")


def test_step_that_never_runs_has_an_empty_record() -> None:
    r = _sim(Program("p", (Superstep("a"), Repeat(0, (HostCopy("h", [1], [8]),)))), _machine())
    rec = r.supersteps[1]
    assert (rec.kind, rec.n_executions, rec.cycles, rec.critical_tile, rec.bound) == ("host_copy", 0, 0, -1, "none")
    assert r.supersteps[0].kind == "superstep" and r.total_cycles == 3


def test_progress_bar_chunks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    m = _machine()
    cs = _cs("c", [1, 5], [7], [5])
    p = Program("p", (Repeat(50, (Superstep("a", compute=cs), Superstep("b", "external"))),))
    plain = _sim(p, m)
    monkeypatch.setattr(fast, "PROGRESS_MIN_STEPS", 10)
    monkeypatch.setattr(fast, "_CHUNK_STEPS", 7)
    chunked = _sim(p, m, progress=True, extrapolate=False)
    assert chunked.total_cycles == plain.total_cycles
    assert chunked.supersteps == plain.supersteps
    np.testing.assert_array_equal(chunked.tile_sync_cycles, plain.tile_sync_cycles)


def test_kernel_codes_match_the_program_arrays() -> None:
    # the kernels keep literal copies (a numba cache would freeze imported globals)
    from mimdsim.program import arrays as A

    assert (K._STEP_HOST_COPY, K._SCOPE_EXTERNAL) == (A.STEP_HOST_COPY, A.SCOPE_EXTERNAL)
    assert (K._OP_STEP, K._OP_BEGIN) == (A.OP_STEP, A.OP_BEGIN)


def test_cycle_tables_run_row_i_in_iteration_i() -> None:
    m = _machine(n_ipus=1)
    cs = ComputeSet("c", (VertexBlock("V", [0], [[10], [20], [30]], [6]),))
    p = Program("p", (Repeat(2, (Repeat(3, (Superstep("s", compute=cs),)),)),))
    r = _sim(p, m)
    assert r.total_cycles == 2 * (3 * 3 + 6 * (10 + 20 + 30))
    assert r.tile_compute_cycles[0] == 2 * 6 * 60 and r.supersteps[0].n_executions == 6
    assert r.supersteps[0].compute_cycles == 720
