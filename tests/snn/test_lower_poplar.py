"""The lowering: the authors' Poplar program call by call (GSNN PC), checked as issued against the
reference's program sequence, tile layouts and PopLibs' worked cycle estimates on the paper's
2-hidden (L = 3) and 5-hidden (L = 6) family (a) nets, and the program each pipeline of passes makes
of it, per time step, checked by hand."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mimdsim import load_machine, simulate
from mimdsim.partition import partition_layers
from mimdsim.program.ir import Program, Repeat, Superstep
from mimdsim.snn.activity.counts import parametric_activity
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.model.spec import load_snn_model, snn_from_sizes
from mimdsim.studies.estimate import estimate_training_step
from tests.engines.test_equivalence import assert_same_result

REPO = __import__("pathlib").Path(__file__).parents[2]


def _program(name: str, passes: str = "as-issued") -> tuple[Program, object]:
    spec, _ = load_snn_model(REPO / "models" / "snn" / f"{name}.toml")
    machine = load_machine("bow")
    mapping = partition_layers(spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus)
    return lower_snn(spec, machine, mapping, parametric_activity(spec, 0.005, 0), LoweringOptions(passes=passes)), spec


@pytest.fixture(scope="module")
def two_hidden() -> tuple[Program, object]:
    return _program("nmnist_a_2hidden")


@pytest.fixture(scope="module")
def five_hidden() -> tuple[Program, object]:
    return _program("nmnist_a_5hidden")


def _loops(program: Program) -> dict[str, Repeat]:
    return {s.name: s for s in program.body if isinstance(s, Repeat)}


def _t0_body(program: Program) -> list[Superstep]:
    """The backward t = 0 body: the supersteps between the backward loop and the replica reduction."""
    body = list(program.body)
    start = next(i for i, s in enumerate(body) if isinstance(s, Repeat) and s.name == "bwd.time_loop") + 1
    end = next(i for i, s in enumerate(body) if getattr(s, "name", "") == "bwd.reduce_replicas")
    return body[start:end]  # type: ignore[return-value]


_COPY_WORDS = (".handoff.", ".replicate.", ".scale.copy", ".reduce_stage2.copy")


def _kinds(steps: list[Superstep]) -> Counter[str]:
    """Poplar programs by kind: Copy, the output exchange of a compute set (``.out``), and compute sets;
    the lowering marks each superstep's program (``op``), which agrees with its name."""
    c: Counter[str] = Counter()
    for s in steps:
        assert (s.op == "copy") == any(w in s.name for w in _COPY_WORDS), s.name
        if s.name.endswith(".out"):
            c["out"] += 1
        else:
            c["copy" if s.op == "copy" else "cs"] += 1
    return c


def _fwd_names(L: int) -> list[str]:
    """GSNN PC `Build` loop body, F1-F11, for L layers."""
    names = ["fwd.slice.input_ids", "fwd.slice.input_counts"]
    for li in range(1, L):
        names += [f"fwd.handoff.ids[l={li}]", f"fwd.handoff.counts[l={li}]"]
    names += ["fwd.state_update", "fwd.dense_flags", *[f"fwd.poprand[l={li}]" for li in range(L)]]
    names += ["fwd.dense_to_sparse", "fwd.tile_combine", "fwd.final_combine", "fwd.final_combine.out"]
    for li in range(L):
        names += [f"fwd.update.state[l={li}]", f"fwd.update.ids[l={li}]", f"fwd.update.counts[l={li}]"]
    return [*names, "fwd.loop.increment"]


def _bwd_names(L: int, t0: bool) -> list[str]:
    """GSNN PC `Build_grad` loop bodies, B1-B11 (t >= 1) or the t = 0 body, for L layers."""
    names = ["bwd.itime.decrement", "bwd.itime_minus_one", "bwd.slice.input_ids", "bwd.slice.input_counts"]
    if not t0:
        for li in range(L - 1):
            names += [f"bwd.slice.prev_ids[l={li}]", f"bwd.slice.prev_counts[l={li}]"]
    names.append("bwd.slice.output_grad")
    for li in range(L):
        names += [f"bwd.slice.ids[l={li}]", f"bwd.slice.counts[l={li}]", f"bwd.slice.state[l={li}]"]
    names += [f"bwd.alpha_mul[l={li}]" for li in range(L)]
    names.append("bwd.state_grad")
    for li in range(L):
        names += [f"bwd.scale.copy[l={li}]", f"bwd.scale.mul[l={li}]"]
    for li in range(L):
        names += [f"bwd.replicate.ids[l={li}]", f"bwd.replicate.counts[l={li}]"]
    names.append("bwd.weight_grad")
    if not t0:  # the output layer's one-group reduction is a Copy, sorted first (Reduction.cpp:986)
        names += ["bwd.input_grad", "bwd.reduce_stage1", f"bwd.reduce_stage2.copy[l={L - 1}]", "bwd.reduce_stage2"]
    return names


@pytest.mark.parametrize(("fixture", "L"), [("two_hidden", 3), ("five_hidden", 6)])
def test_program_per_time_step_is_the_authors(fixture: str, L: int, request: pytest.FixtureRequest) -> None:
    program, spec = request.getfixturevalue(fixture)
    loops = _loops(program)
    fwd, bwd = loops["fwd.time_loop"], loops["bwd.time_loop"]
    assert (fwd.count, bwd.count) == (spec.n_timesteps, spec.n_timesteps - 1)
    assert [s.name for s in fwd.body] == _fwd_names(L)
    assert [s.name for s in bwd.body] == _bwd_names(L, t0=False)
    assert [s.name for s in _t0_body(program)] == _bwd_names(L, t0=True)
    # GSNN PC (program steps per time step): forward 4L + 8 CS and 2(L-1) copies; backward 7L + 8 and 3L + 1; t = 0: 5L + 7 and 3L
    assert _kinds(list(fwd.body)) == Counter(cs=4 * L + 8, copy=2 * (L - 1), out=1)
    assert _kinds(list(bwd.body)) == Counter(cs=7 * L + 8, copy=3 * L + 1)
    assert _kinds(_t0_body(program)) == Counter(cs=5 * L + 7, copy=3 * L)
    # L = 3: forward 20 CS + 4 copies, backward 29 + 10, t = 0 22 + 9; L = 6: 32 + 10, 50 + 19, 37 + 18
    assert {3: (20, 4, 29, 10, 22, 9), 6: (32, 10, 50, 19, 37, 18)}[L] == (
        4 * L + 8, 2 * (L - 1), 7 * L + 8, 3 * L + 1, 5 * L + 7, 3 * L,
    )  # fmt: skip


def _step(program: Program, name: str) -> Superstep:
    return next(s for s in program.iter_static() if isinstance(s, Superstep) and s.name == name)


def _tiles(step: Superstep) -> np.ndarray:
    assert step.compute is not None
    return np.unique(np.concatenate([b.tiles for b in step.compute.blocks]))


def test_sequence_tensors_sit_where_createsliceabletensor_puts_them(two_hidden) -> None:  # type: ignore[no-untyped-def]
    """GSNN PC `createSliceableTensor` layouts: input ids on tiles 518-1285 (2 columns each), counts on 1234-1281, hidden
    ids on 194-865, counts [T,B,2] and the output layer's ids on 281-376."""
    program, _ = two_hidden
    expect = {
        "fwd.slice.input_ids": (518, 1285, 768),
        "fwd.slice.input_counts": (1234, 1281, 48),
        "fwd.update.ids[l=0]": (194, 865, 672),
        "fwd.update.ids[l=1]": (194, 865, 672),
        "fwd.update.counts[l=0]": (281, 376, 96),
        "fwd.update.ids[l=2]": (281, 376, 96),
    }
    for name, (lo, hi, n) in expect.items():
        t = _tiles(_step(program, name))
        assert (int(t.min()), int(t.max()), t.size) == (lo, hi, n), name


def test_poplibs_vertices_cost_what_poplibs_estimates(two_hidden) -> None:  # type: ignore[no-untyped-def]
    """The worked values of PL cycle estimators: slices 379 / 475, loop counter 167, multiplies 503,
    1-alpha 203 / 377, casts 642 / 438 / 306, poprand 208 / 154."""
    program, _ = two_hidden

    def sup(name: str) -> set[int]:
        return {int(b.supervisor_cycles) for b in _step(program, name).compute.blocks}  # type: ignore[union-attr,arg-type]

    assert sup("fwd.slice.input_ids") == {379} and sup("fwd.update.ids[l=0]") == {379}
    assert sup("fwd.update.state[l=0]") == {475} and sup("bwd.slice.state[l=1]") == {475}
    assert sup("fwd.update.state[l=2]") == {475}  # 5 tiles of 2 neurons: region B k = 96
    assert sup("fwd.loop.increment") == sup("bwd.itime.decrement") == sup("bwd.itime_minus_one") == {167}
    assert sup("bwd.alpha_mul[l=0]") == sup("bwd.scale.mul[l=1]") == {503}
    assert sup("fwd.one_minus_decay[l=0]") == {203} and sup("fwd.scale_decay[l=0]") == {377}
    assert sup("fwd.cast.input_ids[l=0]") == {642} and sup("fwd.cast.output_ids[l=0]") == {438}
    assert sup("fwd.cast.input_ids[l=1]") == {306}  # [48, 14] floats on 21 tiles x 32
    assert sup("fwd.poprand[l=0]") == {208} and sup("fwd.poprand[l=2]") == {154}
    assert _tiles(_step(program, "fwd.poprand[l=0]")).size == 96


def test_the_input_hand_off_gathers_from_every_slice_tile(two_hidden) -> None:  # type: ignore[no-untyped-def]
    """F4: every tile of layer 0 receives the input ids [48, 32] from the 768 tiles that hold them and the
    counts from 48: 816 messages, 6,336 B; layer l >= 1 from the 21 + 1 (or 2) buffer tiles."""
    program, spec = two_hidden
    ex = _step(program, "fwd.state_update").exchange
    assert ex is not None
    ex = ex.expanded()
    per_dst = np.repeat(ex.nbytes, np.diff(ex.dst_ptr))
    msgs = np.repeat(ex.messages, np.diff(ex.dst_ptr))
    recv = np.bincount(ex.dst, weights=per_dst, minlength=1472)
    n_msgs = np.bincount(ex.dst, weights=msgs, minlength=1472)
    l0 = np.arange(1, 734)
    outside = l0[(l0 < 518) | (l0 > 1285)]  # tiles that hold none of the ids themselves (and no count)
    outside = outside[(outside < 1234) | (outside > 1281)]
    assert set(recv[outside].tolist()) == {4 * spec.batch_size * (32 + 1)} == {6336}
    assert set(n_msgs[outside].tolist()) == {768 + 48}
    l1 = np.arange(734, 1467)
    assert set(recv[l1].tolist()) == {4 * 48 * (14 + 1)} and set(n_msgs[l1].tolist()) == {21 + 2}


def test_both_engines_agree_on_the_call_by_call_program() -> None:
    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    machine = load_machine("bow", tiles_per_ipu=64)
    mapping = partition_layers(spec.layer_sizes[1:], 64, 1)
    program = lower_snn(spec, machine, mapping, parametric_activity(spec, 0.2, 1))
    assert_same_result(simulate(program, machine, "fast"), simulate(program, machine, "des"))


def test_pipelines_are_ordered_and_consistent() -> None:
    """as-issued runs every program the op issues with its own sync and exchange; poplar and fused merge
    them: fewer syncs and cycles, the same codelets, every pass keeping the step's vertices."""
    spec = snn_from_sizes([256, 96, 96, 10], max_activity=0.1, input_sparse_size=24, batch_size=12, n_timesteps=6)
    machine = load_machine("bow", tiles_per_ipu=128)
    est = {
        p: estimate_training_step(spec, machine, activity_source="saturated", options=LoweringOptions(passes=p))
        for p in ("as-issued", "poplar", "fused")
    }
    assert {p: e.program.metadata["passes"] for p, e in est.items()} == {p: p for p in est}  # type: ignore[union-attr]
    assert est["as-issued"].cycles_per_step > est["poplar"].cycles_per_step >= est["fused"].cycles_per_step
    assert (
        est["as-issued"].breakdown_cycles["sync"]
        > est["poplar"].breakdown_cycles["sync"]
        >= est["fused"].breakdown_cycles["sync"]
    )
    for e in est.values():
        assert sum(k.cycles for k in e.step_kinds()) == e.cycles_per_step
    wgrad = [k for k in est["poplar"].step_kinds() if "bwd.weight_grad" in k.name]
    assert sorted(k.n_executions for k in wgrad) == [1, spec.n_timesteps - 1]  # in the loop body and the t = 0 body


def _shape(program: Program, loop: str) -> list[tuple[str, bool, int]]:
    """Per superstep of a loop body: its name, whether it has an exchange, its compute sets."""
    return [
        (s.name, s.exchange is not None, 0 if s.compute is None else s.compute.n_segments)
        for s in _loops(program)[loop].body  # type: ignore[union-attr]
    ]


def _with_compute(program: Program, loop: str, prefixes: tuple[str, ...]) -> int:
    """As-issued supersteps of a loop body named with one of ``prefixes`` that run a compute set (a copy
    whose elements partly stay on their tile runs an on-tile copy)."""
    return sum(1 for s in _loops(program)[loop].body if s.name.startswith(prefixes) and s.compute is not None)  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "L"), [("nmnist_a_2hidden", 3), ("nmnist_a_5hidden", 6)])
def test_the_poplar_pipeline_per_time_step(name: str, L: int) -> None:
    """By hand from the as-issued sequence: the slices and the counter update are local (their offset
    replicated), so they and every local compute set join the compute phase before them; the 2(L-1)
    hand-off copies merge into one; the 2L replication copies merge, and the weight and input gradients
    join them. Forward: 6 supersteps (4L + 8 compute sets, 2(L-1) copies and one output exchange as
    issued); backward: 6 (7L + 8 compute sets and 3L + 1 copies as issued)."""
    program, _ = _program(name, "poplar")
    issued, _ = _program(name)
    local = 2 + (5 * L + 1) + L  # B1, B2, the B3 slices, the B4 multiplies: 6L + 3 compute sets
    # copies with an on-tile part (layouts of reference sec. 1.2-1.3): L = 3: no hand-off (ids on 194-865, buffers
    # on 1-21); the replication of layer 0's ids (518-1285 onto 1-733) and layer 1's (194-865 onto 734-1466).
    # L = 6: each of the five id hand-offs keeps one element on tile 1 (hidden ids on 1458-1471 and 1-178,
    # buffers on 1-6); the replication of layer 0's counts (281-376 onto 295-587) and of the ids of layers 3
    # and 4 (1458-1471 onto 1174-1466 and 1467-1471)
    handoff = _with_compute(issued, "fwd.time_loop", ("fwd.handoff.",))
    replicate = _with_compute(issued, "bwd.time_loop", ("bwd.replicate.",))
    assert (handoff, replicate) == {3: (0, 2), 6: (5, 3)}[L]
    assert _shape(program, "fwd.time_loop") == [
        ("fwd.slice.input_ids + fwd.slice.input_counts", False, 2),
        ("fwd.handoff.ids + fwd.handoff.counts", True, handoff),
        ("fwd.state_update + fwd.dense_flags + fwd.poprand", True, 2 + L),
        ("fwd.dense_to_sparse + fwd.tile_combine", True, 2),
        ("fwd.final_combine", True, 1),
        ("fwd.final_combine.out + fwd.update.state + fwd.update.ids + fwd.update.counts + fwd.loop.increment", True, 3 * L + 1),
    ]
    assert _shape(program, "bwd.time_loop") == [
        ("bwd.itime.decrement + bwd.itime_minus_one + bwd.slice.input_ids + bwd.slice.input_counts + bwd.slice.prev_ids"
         " + bwd.slice.prev_counts + bwd.slice.output_grad + bwd.slice.ids + bwd.slice.counts + bwd.slice.state + bwd.alpha_mul", False, local),
        ("bwd.state_grad + bwd.scale.copy + bwd.scale.mul", True, 1 + 2 * L),
        ("bwd.replicate.ids + bwd.replicate.counts + bwd.weight_grad + bwd.input_grad", True, replicate + 2),
        ("bwd.reduce_stage1", True, 1),
        (f"bwd.reduce_stage2.copy[l={L - 1}]", True, 0),
        ("bwd.reduce_stage2", True, 1),
    ]  # fmt: skip


def test_the_fused_pipeline_hoists_independent_exchanges() -> None:
    """5-hidden: the hand-off copies read the sequence tiles of the previous step, which the slices of
    this step do not touch, so their exchange joins the slices' step; everything else keeps poplar's shape."""
    poplar, _ = _program("nmnist_a_5hidden", "poplar")
    fused, _ = _program("nmnist_a_5hidden", "fused")
    pf, ff = _shape(poplar, "fwd.time_loop"), _shape(fused, "fwd.time_loop")
    assert ff[0] == (
        "fwd.slice.input_ids + fwd.slice.input_counts + fwd.handoff.ids + fwd.handoff.counts",
        True,
        pf[0][2] + pf[1][2],
    )
    assert ff[1:] == pf[2:]
    assert _shape(fused, "bwd.time_loop") == _shape(poplar, "bwd.time_loop")


@pytest.mark.parametrize("workers", [1, 2, 3, 6])
def test_worker_count_comes_from_the_machine(workers: int) -> None:
    """Replicas, the batch split and every PopLibs formula follow num_worker_contexts: the program
    is consistent for any count that divides the batch, and refused otherwise."""
    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=2)
    machine = load_machine("bow", tiles_per_ipu=64, num_worker_contexts=workers)
    est = estimate_training_step(spec, machine, activity_source="saturated", options=LoweringOptions(passes="as-issued"))
    wgrad = next(s for s in est.program.iter_static() if s.name == "bwd.weight_grad")  # type: ignore[union-attr]
    assert {b.n_vertex_kinds for b in wgrad.compute.blocks} == {workers}  # one vertex per replica
    replicas = dict(est.ledger.items_on(int(est.mapping.layers[0].tiles[0])))["weight_grad_replicas"]
    assert replicas == workers * 4 * 64 * 2


def test_a_worker_count_that_does_not_divide_the_batch_is_refused() -> None:
    from mimdsim.errors import ConfigError

    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=2)
    with pytest.raises(ConfigError, match="not a multiple of num_worker_contexts = 4"):
        estimate_training_step(spec, load_machine("bow", tiles_per_ipu=64, num_worker_contexts=4))
