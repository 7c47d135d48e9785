"""PopLibs' layouts and cycle estimators against the worked values of the PopLibs sources
(GSNN PC (tensor layouts), PL cycle estimators), hand-computed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimdsim.poplibs import estimators as pl
from mimdsim.poplibs.layout import linear_layout, sliceable_columns, sliceable_layout, unplanned_hash

IPU0 = np.arange(1, 1472)  # the op's virtual graph on IPU 0


@pytest.mark.parametrize(
    ("shape", "first", "last", "n_tiles"),
    [
        ((100, 48, 32), 518, 1285, 768),  # input ids: 2 columns per tile
        ((100, 48, 1), 1234, 1281, 48),
        ((100, 48, 14), 194, 865, 672),
        ((100, 48, 2), 281, 376, 96),
    ],
)
def test_sliceable_tensors_land_on_the_hashed_tiles(shape: tuple[int, ...], first: int, last: int, n_tiles: int) -> None:
    cols = sliceable_columns(shape, IPU0)
    assert (int(cols.min()), int(cols.max()), np.unique(cols).size) == (first, last, n_tiles)
    # one contiguous block per tile: every row holds the same columns
    lay = sliceable_layout(shape, IPU0)
    assert lay.size == int(np.prod(shape)) and np.array_equal(lay[: cols.size], cols) and np.array_equal(lay[-cols.size :], cols)


def test_the_hash_wraps_around_the_virtual_graph() -> None:
    """L = 6's hidden ids [100, 48, 4]: 192 tiles from 1458, wrapping to 1-178 (GSNN PC `createSliceableTensor` layouts)."""
    assert unplanned_hash((100, 48, 4)) % 1471 + 1 == 1458
    t = np.unique(sliceable_columns((100, 48, 4), IPU0))
    assert t.size == 192 and t.min() == 1 and t.max() == 1471 and set(range(1458, 1472)) <= set(t.tolist())
    assert t[t < 1458].max() == 178


def test_same_shape_same_tiles() -> None:
    a, b = sliceable_columns((100, 48, 14), IPU0), sliceable_columns((100, 48, 14), IPU0)
    assert np.array_equal(a, b)
    assert not np.array_equal(np.unique(a), np.unique(sliceable_columns((100, 48, 15), IPU0)))


def test_linear_mapping_keeps_128_bytes_per_tile_from_the_offset() -> None:
    lay = linear_layout(48 * 14, IPU0)  # GSNN PC (per-step buffers): 21 tiles x 32 words, physical 1-21
    tiles, counts = np.unique(lay, return_counts=True)
    assert tiles.tolist() == list(range(1, 22)) and set(counts.tolist()) == {32}
    shifted = linear_layout(48 * 14, IPU0, offset=1)  # the backward pass's re-allocation: 2-22
    assert np.unique(shifted).tolist() == list(range(2, 23))
    # the reference reads [48, 1] as one tile; PopLibs' rule (>= 32 words per tile) splits it 32 + 16
    assert np.unique(linear_layout(48, IPU0), return_counts=True)[1].tolist() == [32, 16]


@given(st.integers(1, 200_000), st.integers(1, 1500), st.integers(0, 40))
def test_linear_mapping_is_consecutive_and_balanced(n: int, n_tiles: int, offset: int) -> None:
    tiles = np.arange(n_tiles)
    lay = linear_layout(n, tiles, offset=offset)
    assert lay.size == n
    changes = np.flatnonzero(np.diff(lay)) + 1
    runs = np.diff(np.concatenate([[0], changes, [n]]))
    assert (runs[:-1] % 2 == 0).all()  # whole grains of two 4-byte elements
    grains = -(-n // 2)
    assert runs.max() <= max(-(-grains // n_tiles) * 2, 32)


def test_estimators_worked_values() -> None:
    """PL cycle estimators at the paper's 2-hidden sizes."""
    assert pl.dynamic_slice_1d_tile_cycles(2) == 25 + 6 * 59 == 379
    assert pl.dynamic_slice_1d_tile_cycles(1) == 379
    assert pl.dynamic_slice_1d_tile_cycles(96) == 25 + 6 * 75 == 475
    assert pl.broadcast_scalar_1d_tile_cycles(1) == 6 * (20 + 6) + 11 == 167
    assert pl.binary_op_1d_tile_cycles(96, in_place=True) == 6 * (58 + 8 * 3) + 11 == 503
    assert pl.binary_op_1d_tile_cycles(2, in_place=False) == 6 * (29 + 3) + 11 == 203
    assert pl.binary_op_1d_tile_cycles(2, in_place=True) == 377
    # the general form: 11 + 6 x (worker_overhead + ceil(ceil(n/6)/2) x (cycles_per_vector + loop_overhead))
    assert pl.elementwise_1d_tile_cycles(96) == 11 + 6 * (29 + 8 * 3) == 329
    assert pl.elementwise_1d_tile_cycles(1) == 11 + 6 * (29 + 3)
    assert pl.elementwise_1d_tile_cycles(96, worker_overhead=58) == pl.binary_op_1d_tile_cycles(96, in_place=True)
    # IPU TensorFlow's Adam: 8 one-cycle elementwise ops + SQRT and DIVIDE (10 per vector + 5 loop); nothing without weights
    assert pl.tf_adam_update_tile_cycles(12) == 8 * (11 + 6 * 32) + 2 * (11 + 6 * (29 + 15)) == 2174
    assert pl.tf_adam_update_tile_cycles(0) == 0
    assert pl.cast_1d_tile_cycles(200) == 12 + 6 * (19 + 68 + 18) == 642
    assert (pl.cast_1d_tile_cycles(100), pl.cast_1d_tile_cycles(32)) == (438, 306)
    assert pl.scaled_subtract_supervisor_tile_cycles(4624) == 64 + 6 * 1177 == 7126
    assert pl.scaled_subtract_supervisor_tile_cycles(2932) == 4588
    assert pl.reduce_strided_cycles(771, 6) == 16 + 386 * 16 == 6192
    assert pl.reduce_strided_cycles(489, 6) == 16 + 245 * 16 == 3936
    assert pl.reduce_strided_cycles(32, 30) == 656 and pl.reduce_strided_cycles(6, 30) == 136
    assert pl.poprand_uniform_int_tile_cycles(24) == 4 + 132 + 72 == 208
    assert pl.poprand_uniform_int_tile_cycles(6) == 154
    assert pl.on_tile_copy_tile_cycles(384, 8) == 288 + 48 and pl.on_tile_copy_tile_cycles(0, 8) == 0


@given(st.integers(1, 5000), st.sampled_from([1, 2, 3, 6, 8]))
def test_estimators_grow_with_size_and_scale_with_workers(n: int, w: int) -> None:
    for f in (
        lambda k: pl.dynamic_slice_1d_tile_cycles(k, 1, w),
        lambda k: pl.broadcast_scalar_1d_tile_cycles(k, n_workers=w),
        lambda k: pl.binary_op_1d_tile_cycles(k, in_place=True, n_workers=w),
        lambda k: pl.cast_1d_tile_cycles(k, w),
        lambda k: pl.poprand_uniform_int_tile_cycles(k, w),
    ):
        assert 0 < f(n) <= f(n + 1)
    # ScaledSubtract charges a remainder element extra: an odd n can cost more than n + 1, never more than n + 2
    assert pl.scaled_subtract_supervisor_tile_cycles(2 * n, w) <= pl.scaled_subtract_supervisor_tile_cycles(2 * n + 2, w)
