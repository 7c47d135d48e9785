"""Compiler passes (mimdsim.program.passes): hand-made programs whose result is worked out by hand, and
properties over random programs that every pass and pipeline keeps -- the bytes each tile sends and
receives (less the replicated offsets) and the work each tile runs are conserved, the program stays
valid, both engines agree on it, and on one IPU no pass makes a program slower."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim import load_machine, simulate
from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError
from mimdsim.program.builder import ProgramBuilder
from mimdsim.program.exchange import Exchange
from mimdsim.program.ir import Program, Repeat, Step, Superstep
from mimdsim.program.passes import PASSES, PIPELINES, apply_passes, passes_label, resolve_passes
from mimdsim.program.serialize import program_from_dict, program_to_dict
from mimdsim.program.traffic import exchange_totals
from mimdsim.program.unroll import unroll_tables
from mimdsim.program.validate import check_program
from tests.engines.strategies import machine_and_program
from tests.engines.test_equivalence import _SUPPRESS, assert_same_result

ALL = [*PIPELINES, *PASSES]


def _machine(**kw: object) -> MachineSpec:
    base = dict(
        tiles_per_ipu=8, exchange_overhead_cycles=100, exchange_message_cycles=0, max_ipu_sync_delay=50, min_ipu_sync_delay=0
    )
    return load_machine("bow", **{**base, **kw})  # type: ignore[arg-type]


def _copy_copy_compute() -> Program:
    """Two independent copies (tile 0 -> 1, tile 2 -> 3, 64 B each), a local multiply on tile 1, then a
    dynamic slice on tile 3 whose only transfer is the offset from tile 0."""
    b = ProgramBuilder("p")
    for name, (s, d) in (("copy a", (0, 1)), ("copy b", (2, 3))):
        ex = b.exchange(name)
        ex.send(s, d, 64)
        b.superstep(name, exchange=ex, op="copy")
    b.superstep("mul", compute=b.compute_set("mul").add("Mul", [1], cycles=10, count=6))
    off = b.exchange("slice")
    off.send(0, 3, 4, replicable=True)
    b.superstep("slice", exchange=off, compute=b.compute_set("slice").add("Slice", [3], supervisor_cycles=40))
    return b.build()


def test_the_poplar_pipeline_on_a_hand_made_program() -> None:
    """As issued: 4 supersteps, 4 syncs (50 each), 3 exchanges. Poplar: the copies share one sync and one
    exchange phase; the multiply and the slice (its offset replicated) join that step's compute phase."""
    p = _copy_copy_compute()
    m = _machine()
    out = apply_passes(p, "poplar")
    assert [s.name for s in out.body] == ["copy a + copy b + mul + slice"]
    step = out.body[0]
    assert isinstance(step, Superstep) and step.exchange is not None and step.compute is not None
    assert step.exchange.n_transfers == 2 and not step.exchange.replicable.any()
    assert [(blk.codelet, blk.segment) for blk in step.compute.blocks] == [("Mul", 0), ("Slice", 1)]
    issued, merged = simulate(p, m, "fast"), simulate(out, m, "fast")
    # as issued: sync 50 + (100 + 16) per copy; sync 50 + the 6 multiplies, one per context: 6 x 10 + 11
    # (launch); sync 50 + (100 + 1) + 40: 644
    e = 100 + 64 // m.exchange_bytes_per_cycle
    mul = 6 * 10 + m.worker_launch_cycles
    assert issued.total_cycles == 4 * 50 + 2 * e + mul + (100 + 1) + 40 == 644
    # poplar: one sync, one exchange of both copies (the tiles send and receive in parallel), then tile 1
    # multiplies while tile 3 slices: the slowest tile sets the phase
    assert merged.total_cycles == 50 + e + max(mul, 40) == 237
    assert_same_result(merged, simulate(out, m, "des"))


def test_a_pass_leaves_no_reference_cycle_behind() -> None:
    """What a pass merged and then dropped is freed by reference counting alone, not kept (with its arrays) until
    the garbage collector's next full pass: the passes make no reference cycles."""
    import gc
    import weakref

    p = _copy_copy_compute()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for passes in ("merge_copies", "poplar", "fused"):
            out = apply_passes(p, passes)
            merged = weakref.ref(out.body[0].compute or out.body[0].exchange)  # type: ignore[union-attr]
            del out
            assert merged() is None, passes
    finally:
        if enabled:
            gc.enable()


def test_segments_run_one_after_another_on_a_tile() -> None:
    """A tile in two segments runs the second after its part of the first; another tile does not wait."""
    b = ProgramBuilder("p")
    b.superstep("a", compute=b.compute_set("a").add("A", [0, 1], cycles=[100, 5]))
    b.superstep("b", compute=b.compute_set("b").add("B", [0, 1], cycles=[5, 100]))
    m = _machine(worker_launch_cycles=0, compute_set_overhead_cycles=7)
    out = apply_passes(b.build(), ["local_compute"])
    res = simulate(out, m, "fast")
    # tile 0: 6 x 100 + 7, then 6 x 5 + 7; tile 1: 6 x 5 + 7, then 6 x 100 + 7: both 644
    assert res.total_cycles == 50 + (600 + 7) + (30 + 7)
    assert_same_result(res, simulate(out, m, "des"))


def test_merge_copies_leaves_a_copy_after_a_compute_set_alone() -> None:
    b = ProgramBuilder("p")
    for name, op in (("c1", "copy"), ("mul", "execute"), ("c2", "copy"), ("c3", "copy")):
        ex = b.exchange(name)
        ex.send(0, 1, 8)
        b.superstep(name, exchange=ex, op=op)
    assert [s.name for s in apply_passes(b.build(), "merge_copies").body] == ["c1", "mul", "c2 + c3"]


def test_nothing_moves_across_a_loop_or_a_host_copy() -> None:
    b = ProgramBuilder("p")
    x = b.tensor("x", ([0], 8))
    b.superstep("before", compute=b.compute_set("c0").add("V", [0], cycles=1))
    with b.repeat(3):
        b.superstep("first", compute=b.compute_set("c1").add("V", [0], cycles=1))
        b.superstep("second", compute=b.compute_set("c2").add("V", [0], cycles=1))
    b.host_copy("in", x)
    b.superstep("after", compute=b.compute_set("c3").add("V", [0], cycles=1))
    out = apply_passes(b.build(), "fused")
    assert [getattr(s, "name", "") for s in out.body] == ["before", "repeat", "in", "after"]
    loop = out.body[1]
    assert isinstance(loop, Repeat) and [s.name for s in loop.body] == ["first + second"]


def test_hoisting_respects_read_after_write_at_tile_granularity() -> None:
    """b's exchange reads from tile 1, which computed in a: it stays; c's exchange reads from tile 5: it joins."""
    b = ProgramBuilder("p")
    b.superstep("a", compute=b.compute_set("a").add("A", [1], cycles=10))
    for name, src in (("b", 1), ("c", 5)):
        ex = b.exchange(name)
        ex.send(src, 6, 16)
        b.superstep(name, exchange=ex, compute=b.compute_set(name).add("B", [6], cycles=10))
    out = apply_passes(b.build(), "fused")
    assert [s.name for s in out.body] == ["a", "b + c"]


def test_passes_are_named_checked_and_recorded() -> None:
    assert resolve_passes("fused") == ("replicate_offsets", "merge_copies", "local_compute", "hoist_exchanges")
    assert passes_label("replicate_offsets,merge_copies,local_compute") == "poplar"
    with pytest.raises(
        ConfigError, match=r"'merge' is not a pipeline \(as-issued, poplar, fused\) or a pass \(replicate_offsets, "
    ):
        resolve_passes("merge")
    p = _copy_copy_compute()
    assert apply_passes(p, "as-issued").metadata["passes"] == "as-issued"
    assert apply_passes(p, "merge_copies").metadata["passes"] == "merge_copies"

    def drop_all(program: Program) -> Program:  # a user pass: any callable Program -> Program
        return Program(program.name, (), program.tensors, program.batch_size, dict(program.metadata))

    assert apply_passes(p, [drop_all]).body == ()
    with pytest.raises(ConfigError, match="returned int, not a Program"):
        apply_passes(p, [lambda program: 3])  # type: ignore[list-item,return-value]


def test_a_passed_program_saves_and_loads_with_its_segments_ops_and_flags() -> None:
    p = _copy_copy_compute()
    again = program_from_dict(program_to_dict(p))
    assert [s.op for s in again.body] == ["copy", "copy", "execute", "execute"]  # type: ignore[union-attr]
    assert again.body[3].exchange.replicable.tolist() == [True]  # type: ignore[union-attr]
    out = apply_passes(p, "poplar")
    m = _machine()
    loaded = program_from_dict(program_to_dict(out))
    assert [blk.segment for blk in loaded.body[0].compute.blocks] == [0, 1]  # type: ignore[union-attr]
    assert simulate(loaded, m, "fast").total_cycles == simulate(out, m, "fast").total_cycles


# ---- properties over random programs -----------------------------------------------------
def _executed(program: Program) -> list[tuple[Superstep, int]]:
    """Every superstep of ``program`` with how many times it runs."""
    out: list[tuple[Superstep, int]] = []

    def walk(steps: tuple[Step, ...], times: int) -> None:
        for s in steps:
            if isinstance(s, Repeat):
                walk(s.body, times * s.count)
            elif isinstance(s, Superstep):
                out.append((s, times))

    walk(program.body, 1)
    return out


def _work_per_tile(program: Program, n_tiles: int) -> tuple[np.ndarray, np.ndarray]:
    """Worker thread cycles and supervisor cycles each tile runs over the whole (unrolled) program."""
    thread = np.zeros(n_tiles, np.int64)
    sup = np.zeros(n_tiles, np.int64)
    for s, times in _executed(unroll_tables(program)):
        for blk in () if s.compute is None else s.compute.blocks:
            np.add.at(thread, blk.tiles, times * int((blk.worker_cycles * blk.worker_counts).sum()))
            np.add.at(sup, blk.tiles, times * int(blk.supervisor_cycles))
    return thread, sup


def _sent_per_tile(program: Program, n_tiles: int, *, replicable: bool | None = None) -> np.ndarray:
    """Bytes each tile sends over the program (a multicast once), only the (non-)replicable transfers if asked."""
    out = np.zeros(n_tiles, np.int64)
    for s, times in _executed(program):
        if s.exchange is not None:
            ex = s.exchange
            keep = np.ones(ex.n_transfers, bool) if replicable is None else ex.replicable == replicable
            np.add.at(out, ex.src[keep], times * ex.nbytes[keep])
    return out


def _without_replicable(program: Program) -> Program:
    """``program`` with its replicable transfers taken out, written independently of the pass."""

    def fix(steps: tuple[Step, ...]) -> tuple[Step, ...]:
        out: list[Step] = []
        for s in steps:
            if isinstance(s, Repeat):
                out.append(Repeat(s.count, fix(s.body), s.name))
            elif isinstance(s, Superstep) and s.exchange is not None:
                ex = s.exchange.expanded()
                keep = ~ex.replicable
                dsts = [ex.destinations(i) for i in np.flatnonzero(keep)]
                ptr = np.cumsum([0] + [d.size for d in dsts])
                dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
                new = Exchange(ex.name, ex.src[keep], ptr, dst, ex.nbytes[keep], ex.messages[keep])
                out.append(Superstep(s.name, s.sync, new, s.compute, s.op))
            else:
                out.append(s)
        return tuple(out)

    return Program(program.name, fix(program.body), program.tensors, program.batch_size)


@settings(max_examples=150, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program(), st.sampled_from(ALL))
def test_every_pass_conserves_traffic_and_work_and_both_engines_agree(mp: tuple[MachineSpec, Program], passes: str) -> None:
    machine, program = mp
    out = apply_passes(program, passes)
    check_program(out, machine)
    n, tpi = machine.n_tiles, machine.tiles_per_ipu
    replicated = "replicate_offsets" in resolve_passes(passes)
    reference = _without_replicable(program) if replicated else program
    np.testing.assert_array_equal(exchange_totals(out, n, tpi)[0], exchange_totals(reference, n, tpi)[0])
    np.testing.assert_array_equal(_sent_per_tile(out, n), _sent_per_tile(program, n, replicable=False if replicated else None))
    for a, b in zip(_work_per_tile(out, n), _work_per_tile(program, n), strict=True):
        np.testing.assert_array_equal(a, b)
    assert out.n_executed_steps() <= program.n_executed_steps()
    fast = simulate(out, machine, "fast", check_memory_fits=False)
    assert_same_result(fast, simulate(out, machine, "des", check_memory_fits=False))
    if machine.n_ipus == 1:  # one IPU: merging only removes syncs, exchange overheads and waits
        assert fast.total_cycles <= simulate(program, machine, "fast", check_memory_fits=False).total_cycles


@settings(max_examples=60, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program(max_ipus=1))
def test_pipelines_are_ordered_on_one_ipu(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    cycles = [
        simulate(apply_passes(program, p), machine, "fast", check_memory_fits=False).total_cycles
        for p in ("as-issued", "poplar", "fused")
    ]
    assert cycles[0] >= cycles[1] >= cycles[2]


@settings(max_examples=40, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program(), st.sampled_from(ALL))
def test_passes_are_idempotent(mp: tuple[MachineSpec, Program], passes: str) -> None:
    _, program = mp
    once = apply_passes(program, passes)
    twice = apply_passes(once, passes)
    assert [getattr(s, "name", "") for s in twice.iter_static()] == [getattr(s, "name", "") for s in once.iter_static()]
