"""The stage-1 reduce's vertex table kernel against the array form it replaced (the definition in its docstring)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.snn.lowering.kernels import copy_runs, row_hashes, rows_equal_their_first, stage1_table


def _as_arrays(
    n_valid_in: np.ndarray, b: np.ndarray, s_lo: np.ndarray, span: np.ndarray, starts: np.ndarray, run_tile: np.ndarray,
    run_kind: np.ndarray, slots: np.ndarray, n_tiles: int, kinds: int,
) -> np.ndarray:  # fmt: skip
    rows = n_valid_in.shape[0]
    active = np.clip(n_valid_in[:, b] - s_lo, 0, span)  # [rows, segments]
    table = np.zeros((n_tiles, rows, kinds), np.int64)
    if b.size:
        table[run_tile, :, run_kind] = np.add.reduceat(active, starts, axis=1).T
    table[:, :, -1] = slots[:, None] - table[:, :, :-1].sum(axis=2)
    return table


@st.composite
def _segments(draw: st.DrawFn) -> tuple[object, ...]:
    rows, batch = draw(st.integers(0, 6)), draw(st.integers(1, 5))
    n_tiles, kinds = draw(st.integers(1, 5)), draw(st.integers(2, 4))
    n_seg = draw(st.integers(0, 24))
    tile = np.array(draw(st.lists(st.integers(0, n_tiles - 1), min_size=n_seg, max_size=n_seg)), np.int64)
    kind = np.array(draw(st.lists(st.integers(0, kinds - 2), min_size=n_seg, max_size=n_seg)), np.int64)
    b = np.array(draw(st.lists(st.integers(0, batch - 1), min_size=n_seg, max_size=n_seg)), np.int64)
    s_lo = np.array(draw(st.lists(st.integers(0, 9), min_size=n_seg, max_size=n_seg)), np.int64)
    span = np.array(draw(st.lists(st.integers(1, 6), min_size=n_seg, max_size=n_seg)), np.int64)
    counts = np.array(draw(st.lists(st.integers(0, 20), min_size=rows * batch, max_size=rows * batch)), np.int64)
    order = np.lexsort((tile, kind))  # (kind, tile) order, as LoweringBase.stage1_runs
    key = kind[order] * n_tiles + tile[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if n_seg else np.zeros(0, np.int64)
    slots = np.bincount(tile, weights=span, minlength=n_tiles).astype(np.int64)
    return (counts.reshape(rows, batch), b[order], s_lo[order], span[order], starts, tile[order][starts],
            kind[order][starts], slots, n_tiles, kinds)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(_segments())
def test_the_kernel_is_the_array_form(args: tuple[object, ...]) -> None:
    got = stage1_table(*args)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, _as_arrays(*args))  # type: ignore[arg-type]


def test_a_hand_computed_table() -> None:
    """Tile 0 runs two kind-0 segments (batch 0 from slot 0, 2 slots; batch 1 from slot 1, 3 slots) and tile 1 one
    kind-1 segment (batch 0 from slot 2, 2 slots). Row 0 counts 3 and 2, row 1 counts 0 and 5: in row 0 tile 0 has
    min(3, 2) + min(2 - 1, 3) = 3 active of 5 slots, tile 1 min(3 - 2, 2) = 1 of 2; in row 1, 0 + 3 and 0."""
    counts = np.array([[3, 2], [0, 5]], np.int64)
    one = np.array
    table = stage1_table(
        counts, one([0, 1, 0]), one([0, 1, 2]), one([2, 3, 2]), one([0, 2]), one([0, 1]), one([0, 1]), one([5, 2]), 2, 3
    )
    assert table[:, 0].tolist() == [[3, 0, 2], [0, 1, 1]]
    assert table[:, 1].tolist() == [[3, 0, 2], [0, 0, 2]]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 8), st.integers(1, 6), st.integers(0, 2**31))
def test_row_hashes_are_the_wrapping_product(n: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.integers(-(2**62), 2**62, (n, w), dtype=np.int64)  # products and sums that wrap
    weights = rng.integers(1, 2**62, w, dtype=np.int64) | 1
    with np.errstate(over="ignore"):
        assert np.array_equal(row_hashes(rows, weights), rows @ weights)


def test_rows_equal_their_first_finds_any_differing_entry() -> None:
    rows = np.array([[1, 2], [3, 4], [1, 2], [3, 5]], np.int64)
    first, group = np.array([0, 1]), np.array([0, 1, 0, 1])
    assert not rows_equal_their_first(rows, first, group)  # row 3 differs from row 1 in its last entry
    assert rows_equal_their_first(rows[:3], first, group[:3])
    assert rows_equal_their_first(np.zeros((0, 2), np.int64), first, np.zeros(0, np.int64))


@st.composite
def _copies(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(0, 30))
    ints = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    src, dst = np.array(draw(ints), np.int64), np.array(draw(ints), np.int64)
    steps = st.lists(st.integers(0, 2), min_size=n, max_size=n)  # mostly consecutive indices: long runs
    return src, dst, np.cumsum(draw(steps)).astype(np.int64), np.cumsum(draw(steps)).astype(np.int64)


@settings(max_examples=200, deadline=None)
@given(_copies())
def test_copy_runs_are_the_masked_runs(copy: tuple[np.ndarray, ...]) -> None:
    """The runs are where the array form (one mask over all elements) starts them, split into remote and local."""
    src, dst, si, di = copy
    start = np.ones(src.size, bool)
    if src.size:
        start[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1]) | (si[1:] != si[:-1] + 1) | (di[1:] != di[:-1] + 1)
    starts = np.flatnonzero(start)
    lengths = np.diff(np.append(starts, src.size))
    local = src[starts] == dst[starts]
    r_src, r_dst, r_len, l_tile, l_len = copy_runs(src, dst, si, di)
    assert r_src.tolist() == src[starts][~local].tolist() and r_dst.tolist() == dst[starts][~local].tolist()
    assert r_len.tolist() == lengths[~local].tolist()
    assert l_tile.tolist() == src[starts][local].tolist() and l_len.tolist() == lengths[local].tolist()
    assert int(r_len.sum() + l_len.sum()) == src.size


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9)), min_size=1, max_size=30))
def test_tile_groups_are_the_sorted_distinct_pairs(pairs: list[tuple[int, int]]) -> None:
    """Tiles grouped by (neurons, sources): groups in the order of the sorted pairs, as ``np.unique(axis=0)`` gives."""
    from types import SimpleNamespace

    from mimdsim.snn.lowering.common import tile_groups

    k, src = (np.array(c, np.int64) for c in zip(*pairs, strict=True))
    lay = SimpleNamespace(tile_neurons=k, tile_sources=src, tiles=np.arange(10, 10 + k.size, dtype=np.int64))
    uniq, inv = np.unique(np.stack([k, src], axis=1), axis=0, return_inverse=True)
    want = [(lay.tiles[inv.reshape(-1) == g].tolist(), int(a), int(b)) for g, (a, b) in enumerate(uniq)]
    assert [(t.tolist(), a, b) for t, a, b in tile_groups(lay)] == want  # type: ignore[arg-type]
