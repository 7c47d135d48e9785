"""What the cost layer derives once and shares: a compute set's flat blocks, the classes of equal table rows (over
all its blocks), an exchange's traffic. Each gives what costing without it gives, for any input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mimdsim.cost.exchange as xc
import mimdsim.program.flat_blocks as flat_module
from mimdsim.arch import load_machine
from mimdsim.cost.compute import compute_costs, compute_structure
from mimdsim.cost.compute_kernels import row_classes
from mimdsim.program.compute_builder import ComputeSetBuilder
from mimdsim.program.exchange import Exchange
from mimdsim.program.flat_blocks import flat_blocks
from mimdsim.program.ir import ComputeSet, VertexBlock
from mimdsim.program.memo import kept
from mimdsim.snn.lowering.common import equal_rows

N_TILES = 12


@st.composite
def table_sets(draw: st.DrawFn) -> ComputeSet:
    """Compute sets of 1-5 blocks on 12 tiles in 1-2 segments; tables of few distinct rows, drawn from few values so
    that rows repeat within a block and across blocks; tiles in several blocks."""
    rows = draw(st.integers(1, 6))
    blocks = []
    segment = 0
    for _ in range(draw(st.integers(1, 5))):
        tiles = draw(st.lists(st.integers(0, N_TILES - 1), min_size=1, max_size=5, unique=True))
        n = draw(st.integers(1, 2))
        palette = draw(st.lists(st.lists(st.integers(0, 3), min_size=n, max_size=n), min_size=1, max_size=3))
        counts = np.array([palette[draw(st.integers(0, len(palette) - 1))] for _ in range(rows)], np.int64)
        cycles = np.array(draw(st.lists(st.sampled_from([1, 4, 50]), min_size=n, max_size=n)), np.int64)
        table = draw(st.booleans())
        sup = np.array(draw(st.lists(st.sampled_from([0, 7]), min_size=rows, max_size=rows)), np.int64) if table else 3
        segment += draw(st.integers(0, 1))
        blocks.append(VertexBlock("V", tiles, cycles, counts if table or rows == 1 else counts[0], sup, segment))
    return ComputeSet("c", tuple(blocks))


@settings(max_examples=60, deadline=None)
@given(table_sets(), st.integers(1, 6))
def test_rows_cost_what_each_row_alone_costs(cs: ComputeSet, n_ctx: int) -> None:
    """Copying a leaf's cost from an equal row (of its block or another) gives what costing every row on its own gives."""
    costs = compute_costs(cs, compute_structure(cs, N_TILES, N_TILES), n_ctx, launch_cycles=2, overhead_cycles=5)
    for r in range(cs.n_rows):
        alone = cs.row(r)
        one = compute_costs(alone, compute_structure(alone, N_TILES, N_TILES), n_ctx, launch_cycles=2, overhead_cycles=5)
        assert costs.tile_cycles(r)[0].tolist() == one.tile_cycles(0)[0].tolist()
        assert [a.tolist() for a in costs.tile_cycles(r)[1:]] == [a.tolist() for a in one.tile_cycles(0)[1:]]


@settings(max_examples=100, deadline=None)
@given(table_sets())
def test_row_classes_are_the_distinct_rows_of_the_tables(cs: ComputeSet) -> None:
    """Two table rows share a class exactly when their cycles, counts and supervisor cycles are equal, in one block
    or in two; classes are numbered in order of first appearance; blocks without a table (or of one row) have none."""
    tables = flat_blocks(cs).cost_tables()
    cls, n = row_classes(*tables[:7], *tables[8:], cs.n_rows)
    content = {}
    seen: list[int] = []
    for k, b in enumerate(cs.blocks):
        if not b.is_table or cs.n_rows == 1:
            assert (cls[k] == -1).all()
            continue
        one = b.row  # the block's row r as a block without a table
        for r in range(cs.n_rows):
            row = one(r)
            key = (row.worker_cycles.tolist(), row.worker_counts.tolist(), int(row.supervisor_cycles))
            content.setdefault(int(cls[k, r]), key)
            assert content[int(cls[k, r])] == key
            if int(cls[k, r]) not in seen:
                seen.append(int(cls[k, r]))
    assert seen == list(range(n)) and len({repr(v) for v in content.values()}) == n


@settings(max_examples=60, deadline=None)
@given(table_sets())
def test_flat_blocks_are_the_blocks(cs: ComputeSet) -> None:
    f = flat_blocks(cs)
    assert flat_blocks(cs) is f  # made once
    for k, b in enumerate(cs.blocks):
        assert f.tiles[f.tile_ptr[k] : f.tile_ptr[k + 1]].tolist() == b.tiles.tolist()
        nvtx, cyc_ptr, cyc_rows, cnt_ptr, cnt_rows, sup_ptr, sup_rows, seg, cyc, cnt, sup = f.cost_tables()
        assert cyc[cyc_ptr[k] : cyc_ptr[k] + nvtx[k] * cyc_rows[k]].tolist() == b.worker_cycles.reshape(-1).tolist()
        assert cnt[cnt_ptr[k] : cnt_ptr[k] + nvtx[k] * cnt_rows[k]].tolist() == b.worker_counts.reshape(-1).tolist()
        assert sup[sup_ptr[k] : sup_ptr[k] + sup_rows[k]].tolist() == np.atleast_1d(b.supervisor_cycles).tolist()
        assert seg[k] == b.segment


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2), min_size=3, max_size=3), min_size=1, max_size=12))
def test_equal_rows_groups_exactly_the_equal_rows(values: list[list[int]]) -> None:
    rows = np.array(values, np.int64)
    first, order, bounds = equal_rows(rows)
    group = np.empty(len(values), np.int64)
    for g in range(first.size):
        members = order[bounds[g] : bounds[g + 1]]
        assert members.tolist() == sorted(members.tolist()) and members[0] == first[g]
        group[members] = g
    assert first.tolist() == sorted(first.tolist())  # groups in the order of their first row
    for i in range(len(values)):
        for j in range(len(values)):
            assert (group[i] == group[j]) == (values[i] == values[j])


def test_a_kept_traffic_is_re_priced_per_machine() -> None:
    """A rate what-if re-prices the kept traffic: the same phases as costing from scratch, on one IPU and across IPUs."""
    ex = Exchange.from_transfers("e", [(0, [1, 2, 9], 40), (3, [4], 8), (9, [0, 8], 24)])
    shapes = [dict(n_ipus=2, tiles_per_ipu=8), dict(n_ipus=4, tiles_per_ipu=4)]
    for shape in shapes:
        for over in (
            {},
            {"exchange_bytes_per_cycle": 2},
            {"exchange_message_cycles": 9},
            {"link_bytes_per_s": 3e9},
            {"link_message_cycles": 40},
        ):
            m = load_machine("mk2", **shape, **over)
            kept = xc.exchange_phase_cycles(ex, m)
            fresh_ex = Exchange.from_transfers("e", [(0, [1, 2, 9], 40), (3, [4], 8), (9, [0, 8], 24)])
            old = xc.TRAFFIC_KEPT_TILES
            try:
                xc.TRAFFIC_KEPT_TILES = 0  # nothing kept: the traffic is accumulated for this machine
                fresh = xc.exchange_phase_cycles(fresh_ex, m)
            finally:
                xc.TRAFFIC_KEPT_TILES = old
            assert kept[0].tolist() == fresh[0].tolist() and kept[1] == fresh[1]
            assert xc.exchange_tile_cycles(ex, m).tolist() == xc.exchange_tile_cycles(fresh_ex, m).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), min_size=0, max_size=4, unique=True), min_size=1, max_size=6), st.data())
def test_fan_out_and_source_in_list_count_the_members(lists: list[list[int]], data: st.DataObject) -> None:
    """Kept fan-outs: a transfer reaches every member of its list but its own source (lists of one tile included)."""
    n = data.draw(st.integers(1, 12))
    src = data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    which = data.draw(st.lists(st.integers(0, len(lists) - 1), min_size=n, max_size=n))
    ptr = np.r_[0, np.cumsum([len(x) for x in lists])]
    dst = np.array([t for x in lists for t in sorted(x)], np.int64)
    ex = Exchange("e", src, ptr, dst, np.ones(n, np.int64), dst_list=which)
    own = [s in lists[g] for s, g in zip(src, which, strict=True)]
    assert ex.source_in_list().tolist() == own
    assert ex.fanout().tolist() == [len(lists[g]) - o for g, o in zip(which, own, strict=True)]
    assert ex.fanout() is ex.fanout()  # kept


def test_row_classes_past_the_first_table_size() -> None:
    """1,500 distinct rows (the lookup table grows past 1,024 slots) in one block, the same rows reversed in another
    and a third block with a row of each: every class found again, in order of first appearance."""
    rows = 1500
    counts = np.stack([np.arange(rows), np.arange(rows) % 7], axis=1).astype(np.int64)
    cs = ComputeSet(
        "c",
        (
            VertexBlock("V", [0], [3, 5], counts),
            VertexBlock("V", [1], [3, 5], counts[::-1].copy()),
            VertexBlock("V", [2], [3, 5], [2, 9], np.arange(rows) % 2),
        ),
    )
    tables = flat_blocks(cs).cost_tables()
    cls, n = row_classes(*tables[:7], *tables[8:], rows)
    assert n == rows + 2
    assert cls[0].tolist() == list(range(rows)) and cls[1].tolist() == list(range(rows))[::-1]
    assert cls[2].tolist() == [rows + (r % 2) for r in range(rows)]


@st.composite
def table_group_calls(draw: st.DrawFn) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """1-3 ``add_table_groups`` calls of one compute set: tables of 1-4 rows, groups of the tiles, count tables
    (3-D, or 2-D: a vertex list per group), vertex lists of 1-3 cycles, count lists sometimes one longer."""
    rows, calls = draw(st.integers(1, 4)), []
    for _ in range(draw(st.integers(1, 3))):
        n_tiles = draw(st.integers(1, N_TILES))
        tiles = np.array(draw(st.permutations(range(N_TILES)))[:n_tiles], np.int64)
        cuts = sorted(set(draw(st.lists(st.integers(1, n_tiles - 1), max_size=3)))) if n_tiles > 1 else []
        bounds = np.array([0, *cuts, n_tiles], np.int64)
        nv = draw(st.integers(1, 3))
        n_tables = draw(st.integers(1, 4))
        width = nv + draw(st.sampled_from([0, 0, 0, 1]))  # sometimes malformed (validation refuses it): kept as it is
        shape = (n_tables, rows, width) if draw(st.booleans()) else (n_tables, width)
        counts = np.array(draw(st.lists(st.integers(0, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
        firsts = np.array(draw(st.lists(st.integers(0, n_tables - 1), min_size=bounds.size - 1, max_size=bounds.size - 1)))
        cycles = np.array(draw(st.lists(st.integers(1, 50), min_size=nv, max_size=nv)), np.int64)
        calls.append((tiles, bounds, cycles, counts.reshape(shape), firsts))
    return calls


@settings(max_examples=100, deadline=None)
@given(table_group_calls(), st.booleans())
def test_flat_blocks_of_table_groups_are_those_of_their_blocks(calls: list, other_block: bool) -> None:
    """The flat arrays ``add_table_groups`` hands to the compute set it freezes are what the blocks give, field by
    field; a block added any other way (or a 2-D count list) leaves them to be made from the blocks."""
    b = ComputeSetBuilder("c")
    for tiles, bounds, cycles, counts, firsts in calls:
        b.add_table_groups("V", tiles, bounds, cycles, counts, firsts)
    if other_block:
        b.add_table("W", np.array([0]), [3])
    cs = b.freeze()
    handed = kept(cs, ("flat_blocks",))
    assert (handed is not None) == (not other_block and all(c[3].ndim == 3 for c in calls))
    seeded = flat_blocks(cs)
    assert handed is None or seeded is handed
    made = flat_module._make(cs)
    for f in flat_module._FIELDS:
        assert getattr(seeded, f).tolist() == getattr(made, f).tolist(), f
        assert getattr(seeded, f).dtype == getattr(made, f).dtype, f
