"""ProgramBuilder: what it builds, what it rejects at the call site, and its doctest."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mimdsim.program.builder as builder_module
from mimdsim.arch import load_machine
from mimdsim.errors import ProgramError
from mimdsim.program.builder import ExchangeBuilder, ProgramBuilder
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Repeat, Superstep


def test_module_doctest() -> None:
    res = doctest.testmod(builder_module)
    assert res.attempted > 0 and res.failed == 0


def test_tensor_placements() -> None:
    b = ProgramBuilder("p")
    t1 = b.tensor("a", {3: 10, 1: 20})
    t2 = b.tensor("b", ([0, 1, 2], 8), kind="code")
    t3 = b.tensor("c", (range(2), [5, 6]), kind="vertex_state")
    p = b.build()
    assert p.tensors == (t1, t2, t3)
    assert t1.tiles.tolist() == [3, 1] and t1.nbytes.tolist() == [10, 20]
    assert t2.nbytes.tolist() == [8, 8, 8] and t2.kind == "code"
    assert t3.tiles.tolist() == [0, 1] and t3.total_bytes == 11


@pytest.mark.parametrize(
    ("placement", "kind", "match"),
    [
        ({0: -1}, "tensor", "byte count -1 is negative"),
        (([0, 1], [1, 2, 3]), "tensor", "2 tiles but 3 byte counts"),
        (([-1], 4), "tensor", "tile -1 is negative"),
        (([0.5], 4), "tensor", "tiles must be integers"),
        ("tile 0", "tensor", "placement must be"),
        ({0: 4}, "weights", "kind 'weights' is not one of"),
    ],
)
def test_tensor_rejects(placement: object, kind: str, match: str) -> None:
    with pytest.raises(ProgramError, match=match):
        ProgramBuilder("p").tensor("t", placement, kind=kind)  # type: ignore[arg-type]


def test_compute_set_cycles_count_and_worker_list() -> None:
    b = ProgramBuilder("p")
    cs = b.compute_set("c")
    cs.add("Dot", range(4), cycles=77, count=[48, 47, 48, 47])
    cs.add("Red", [0, 1], worker_cycles=[9, 5], worker_counts=[2, 1], supervisor_cycles=3)
    cs.add("Sup", 2, supervisor_cycles=40)
    frozen = cs.freeze()
    assert isinstance(frozen, ComputeSet) and frozen.name == "c"
    blocks = frozen.blocks
    # tiles with equal (cycles, count) share one block, in order of first appearance
    assert [b.tiles.tolist() for b in blocks[:2]] == [[0, 2], [1, 3]]
    assert [b.worker_counts.tolist() for b in blocks[:2]] == [[48], [47]]
    assert blocks[2].worker_cycles.tolist() == [9, 5] and blocks[2].worker_counts.tolist() == [2, 1]
    assert blocks[2].supervisor_cycles == 3
    assert blocks[3].n_vertices_per_tile == 0 and blocks[3].supervisor_cycles == 40


def test_freeze_is_cached_until_modified() -> None:
    b = ProgramBuilder("p")
    cs = b.compute_set("c").add("V", [0], cycles=1)
    ex = b.exchange("e")
    ex.send(0, [1], 4)
    assert cs.freeze() is cs.freeze() and ex.freeze() is ex.freeze()
    first_cs, first_ex = cs.freeze(), ex.freeze()
    cs.add("V", [1], cycles=1)
    ex.send(1, 0, 4)
    assert cs.freeze() is not first_cs and len(cs.freeze().blocks) == 2 and len(first_cs.blocks) == 1
    assert ex.freeze().n_transfers == 2 and first_ex.n_transfers == 1


def test_superstep_freezes_phases_at_call_time() -> None:
    b = ProgramBuilder("p")
    cs = b.compute_set("c").add("V", [0], cycles=1)
    b.superstep("s1", compute=cs)
    cs.add("W", [1], cycles=2)
    b.superstep("s2", compute=cs)
    s1, s2 = b.build().body
    assert isinstance(s1, Superstep) and isinstance(s2, Superstep)
    assert len(s1.compute.blocks) == 1 and len(s2.compute.blocks) == 2  # type: ignore[union-attr]


def test_exchange_multicast_and_send_many() -> None:
    b = ProgramBuilder("p")
    ex = b.exchange("e")
    ex.send(0, [1, 2, 3], 40)
    ex.send_many([4, 5], [0, 0], [8, 12])
    ex.send_many(np.array([6]), np.array([7]), 16)
    e = ex.freeze()
    assert isinstance(e, Exchange)
    assert e.src.tolist() == [0, 4, 5, 6]
    assert e.dst_ptr.tolist() == [0, 3, 4, 5, 6]
    assert e.dst.tolist() == [1, 2, 3, 0, 0, 7]
    assert e.nbytes.tolist() == [40, 8, 12, 16]
    assert e.destinations(0).tolist() == [1, 2, 3]
    assert b.exchange("empty").freeze().n_transfers == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda ex: ex.send(0, [0, 1], 4), "tile 0 sends to itself"),
        (lambda ex: ex.send(0, [1, 1], 4), "destination tile appears twice"),
        (lambda ex: ex.send(0, [], 4), "no destination tile"),
        (lambda ex: ex.send(0, [1], -4), "nbytes -4 must be an integer >= 0"),
        (lambda ex: ex.send(-1, [1], 4), "source tile must be an integer >= 0"),
        (lambda ex: ex.send(0, [-2], 4), "destination tile -2 is negative"),
        (lambda ex: ex.send_many([0, 1], [1], 4), "2 sources but 1 destinations"),
        (lambda ex: ex.send_many([0, 1], [1, 1], 4), "tile 1 sends to itself"),
        (lambda ex: ex.send_many([0, 1], [1, 2], [4, 4, 4]), "nbytes has 3 values for 2 tiles"),
    ],
)
def test_exchange_rejects(call: object, match: str) -> None:
    with pytest.raises(ProgramError, match=match):
        call(ProgramBuilder("p").exchange("e"))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tiles": [0, 0], "cycles": 1}, "a tile appears twice"),
        ({"tiles": [0], "cycles": -1}, "cycles -1 is negative"),
        ({"tiles": [0], "cycles": 1, "count": -2}, "count -2 is negative"),
        ({"tiles": [0, 1], "cycles": [1, 2, 3]}, "cycles has 3 values for 2 tiles"),
        ({"tiles": [0], "cycles": 1, "worker_cycles": [1]}, "either cycles/count or worker_cycles"),
        ({"tiles": [0], "worker_cycles": [1, 2], "worker_counts": [1]}, "2 worker_cycles but 1 worker_counts"),
        ({"tiles": [0], "worker_counts": [1]}, "worker_counts needs worker_cycles"),
        ({"tiles": [0]}, "give cycles"),
        ({"tiles": [0], "cycles": 1, "supervisor_cycles": -5}, "supervisor_cycles -5 must be an integer >= 0"),
        ({"tiles": [0], "cycles": 1.5}, "cycles must be integers"),
    ],
)
def test_compute_set_rejects(kwargs: dict[str, object], match: str) -> None:
    tiles = kwargs.pop("tiles")
    with pytest.raises(ProgramError, match=match):
        ProgramBuilder("p").compute_set("c").add("V", tiles, **kwargs)  # type: ignore[arg-type]


def test_nested_repeats_and_host_copies() -> None:
    b = ProgramBuilder("p", batch_size=8, metadata={"k": 1})
    x = b.tensor("x", ([0, 1], 16))
    b.host_copy("in", x)
    with b.repeat(3, name="outer"):
        b.superstep("a", sync="external")
        with b.repeat(2):
            b.superstep("b")
        with b.repeat(0, name="never"):
            b.superstep("c")
    b.host_copy("out", {1: 4}, direction="from_device")
    p = b.build()
    assert p.batch_size == 8 and p.metadata == {"k": 1}
    h_in, outer, h_out = p.body
    assert isinstance(h_in, HostCopy) and h_in.nbytes.tolist() == [16, 16] and h_in.direction == "to_device"
    assert isinstance(h_out, HostCopy) and h_out.direction == "from_device" and h_out.tiles.tolist() == [1]
    assert isinstance(outer, Repeat) and outer.count == 3 and outer.name == "outer"
    a, inner, never = outer.body
    assert isinstance(a, Superstep) and a.sync == "external" and a.exchange is None and a.compute is None
    assert isinstance(inner, Repeat) and inner.count == 2 and inner.name == "repeat"
    assert isinstance(never, Repeat) and never.count == 0
    assert p.n_executed_steps() == 2 + 3 * (1 + 2)
    assert [s.name for s in p.iter_static()] == ["in", "a", "b", "c", "out"]


def test_exception_inside_repeat_discards_its_steps() -> None:
    b = ProgramBuilder("p")
    with pytest.raises(RuntimeError), b.repeat(2):  # noqa: PT012 - the raise must happen inside the repeat block
        b.superstep("lost")
        raise RuntimeError("boom")
    b.superstep("kept")
    assert [s.name for s in b.build().body] == ["kept"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda b: b.superstep("s", sync="global"), "sync 'global' is not"),
        (lambda b: b.superstep("s", exchange="e"), "exchange must come from"),
        (lambda b: b.superstep("s", compute=3), "compute must come from"),
        (lambda b: b.host_copy("h", {0: 4}, direction="sideways"), "direction 'sideways'"),
        (lambda b: b.repeat(-1).__enter__(), "count -1 must be an integer >= 0"),
        (lambda b: b.repeat(2.0).__enter__(), "count 2.0 must be an integer"),
        (lambda b: ProgramBuilder("q", batch_size=0), "batch_size 0 must be a positive integer"),
    ],
)
def test_step_rejects(call: object, match: str) -> None:
    with pytest.raises(ProgramError, match=match):
        call(ProgramBuilder("p"))  # type: ignore[operator]


def test_build_inside_repeat_is_an_error() -> None:
    b = ProgramBuilder("p")
    with b.repeat(2), pytest.raises(ProgramError, match="inside 'with b.repeat"):
        b.build()


def test_build_with_machine_validates() -> None:
    b = ProgramBuilder("p")
    b.superstep("s", compute=b.compute_set("c").add("V", [5000], cycles=1))
    b.build()  # no machine: tile ranges are not known yet
    with pytest.raises(ProgramError, match="tile 5000 does not exist"):
        b.build(load_machine("mk2"))


def test_program_is_independent_of_later_builder_changes() -> None:
    b = ProgramBuilder("p")
    b.superstep("s1")
    p1 = b.build()
    b.superstep("s2")
    b.tensor("t", {0: 1})
    assert len(p1.body) == 1 and p1.tensors == ()
    assert len(b.build().body) == 2
    assert not p1.body[0].name.startswith("s2")  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="read-only"):
        b.build().tensors[0].nbytes[0] = 5


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_a_frozen_exchange_is_what_the_checked_constructor_makes(data: st.DataObject) -> None:
    """The builder freezes its parts without conversions (``Exchange.of_frozen``): every array read-only, contiguous,
    1-D, of the field's dtype, and equal to what ``Exchange(...)`` makes of the same fields; flags per part kept."""
    ex = ExchangeBuilder("e")
    tiles = st.lists(st.integers(0, 7), min_size=1, max_size=5)
    want_per_dst: list[bool] = []
    want_replicable: list[bool] = []
    for _ in range(data.draw(st.integers(0, 4))):
        form = data.draw(st.sampled_from(["multicast", "scatter", "unicast", "send_many"]))
        before, replicable = ex.n_transfers, data.draw(st.booleans())
        src = np.array(data.draw(tiles), np.int64)
        nbytes = np.array(data.draw(st.lists(st.integers(0, 64), min_size=src.size, max_size=src.size)), np.int64)
        if form == "multicast":
            ex.multicast_many(src, nbytes, np.array(data.draw(tiles)), replicable=replicable)
        elif form == "scatter":
            ex.scatter_many(src, nbytes, np.ones(src.size, np.int64), np.array(sorted(set(data.draw(tiles)))))
        elif form == "unicast":
            ex.unicast(src, np.array(data.draw(st.lists(st.integers(0, 7), min_size=src.size, max_size=src.size))), nbytes)
        else:
            dst = [(s + 1) % 8 for s in src.tolist()]
            ex.send_many(src.tolist(), dst, nbytes.tolist())
        added = ex.n_transfers - before
        want_per_dst += [form == "scatter"] * added
        want_replicable += [form == "multicast" and replicable] * added
    frozen = ex.freeze()
    assert frozen.per_destination.tolist() == want_per_dst and frozen.replicable.tolist() == want_replicable
    fields = ("src", "dst_ptr", "dst", "nbytes", "messages", "dst_list", "per_destination", "replicable")
    checked = Exchange(frozen.name, *(getattr(frozen, f).copy() if getattr(frozen, f) is not None else None for f in fields[:5]),
                       dst_list=None if frozen.dst_list is None else frozen.dst_list.copy(),
                       per_destination=frozen.per_destination.copy(), replicable=frozen.replicable.copy())  # fmt: skip
    for f in fields:
        a, b = getattr(frozen, f), getattr(checked, f)
        if a is None:
            assert b is None
            continue
        assert a.dtype == b.dtype and a.ndim == 1 and a.flags.c_contiguous and not a.flags.writeable
        assert a.tolist() == b.tolist()
