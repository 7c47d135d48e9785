"""Codelet cycle estimators (mimdsim/snn/lowering/codelets.py): hand-computed values of every
formula and monotonicity in the spike counts (GSNN PC/PF/CC: work is linear in the
actual counts)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.poplibs import estimators as pl
from mimdsim.snn.lowering import codelets as est

counts = st.integers(0, 2000)
ks = st.integers(1, 64)


# ---------------------------------------------------------------- hand-computed values
def test_state_update() -> None:
    # 20 + ceil(k/2) x (5 n_in + 10)
    assert est.state_update_cycles(np.array([0, 14, 32]), 2).tolist() == [30, 100, 190]
    assert est.state_update_cycles(np.array([10]), 4).tolist() == [20 + 2 * 60]
    assert est.state_update_cycles(np.array([1]), 3).tolist() == [20 + 2 * 15]  # odd k: a tail pair


def test_dense_flags() -> None:
    assert est.dense_flags_cycles() == 20 + 6


def test_dense_to_sparse() -> None:
    # 20 + 3 x slice + 2 x hits
    assert est.dense_to_sparse_cycles(62, np.array([3])).tolist() == [20 + 186 + 6]
    assert est.dense_to_sparse_cycles(np.array([61, 62]), np.array([0, 62])).tolist() == [203, 20 + 186 + 124]


def test_tile_combine() -> None:
    # 20 + 5 x lists + 3 x ids
    assert est.tile_combine_cycles(6, np.array([14])).tolist() == [20 + 30 + 42]
    assert est.tile_combine_cycles(1, np.array([0])).tolist() == [25]


def test_final_combine() -> None:
    # 20 + 2 x 5 x lists + 3 x valid + 4; the true count only splits the valid ids
    assert est.final_combine_cycles(4, np.array([5]), np.array([14])).tolist() == [20 + 40 + 42 + 4]
    assert est.final_combine_cycles(4, np.array([0]), np.array([14])).tolist() == [106]


def test_state_grad() -> None:
    # 20 + 4 x valid + ceil((12 + 726) x hits): scan every slot, SuperSpike (soft double) on the tile's hits
    assert est.state_grad_cycles(np.array([14]), np.array([1])).tolist() == [20 + 56 + 738]
    assert est.state_grad_cycles(np.array([14]), np.array([0.5])).tolist() == [20 + 56 + 369]
    assert est.state_grad_cycles(np.array([14]), np.array([0.01])).tolist() == [20 + 56 + 8]  # 7.38 rounded up
    assert est.state_grad_cycles(np.array([14]), np.array([1]), soft_double_cycles=440).tolist() == [20 + 56 + 452]
    assert est.state_grad_cycles(np.array([0]), np.array([0.0])).tolist() == [20]


def test_soft_double_surrogate_adds_up_its_routines() -> None:
    """Per slot 3 extensions, 2 multiplies, 1 divide, 1 add, 1 truncation (GSNN CC@2b0fe90:865-891)."""
    ops = est.SOFT_DOUBLE_OPS
    for which, want in (("low", 440), ("typical", 726), ("high", 1150)):
        got = 3 * getattr(ops["extend"], which) + 2 * getattr(ops["mul"], which) + getattr(ops["div"], which)
        got += getattr(ops["add"], which) + getattr(ops["trunc"], which)
        assert got == want == est.soft_double_surrogate_cycles(which)
    assert all(o.low <= o.typical <= o.high for o in ops.values())
    # LIFStateOutGrad: 20 + valid x (13 + soft double); 0 valid slots cost the overhead only
    assert est.state_out_grad_cycles(np.array([0, 1, 14])).tolist() == [20, 20 + 739, 20 + 14 * 739]
    assert est.state_out_grad_cycles(np.array([2]), soft_double_cycles=0).tolist() == [20 + 26]


def test_weight_grad() -> None:
    # one worker over its B/6 samples: 20 + sum_b (5 + ceil(k/2) x 6 x n_true[b])
    assert est.weight_grad_cycles(np.array([3, 5]), 2) == 20 + 23 + 35
    assert est.weight_grad_cycles(np.array([3, 5]), 4) == 20 + 41 + 65
    assert est.weight_grad_cycles(np.array([], np.int64), 2) == 20
    assert isinstance(est.weight_grad_cycles(np.array([1]), 2), np.integer)


def test_input_grad() -> None:
    # 20 + valid x (4 + 3 ceil(k/2))
    assert est.input_grad_cycles(np.array([14]), 2).tolist() == [20 + 14 * 7]
    assert est.input_grad_cycles(np.array([14, 0]), 4).tolist() == [20 + 14 * 10, 20]


def test_reduce_stage1() -> None:
    # active: 20 + 2 g; skipped slot: 20 + 3
    assert est.reduce_stage1_cycles(24, True) == 68
    assert est.reduce_stage1_cycles(37, True) == 94
    assert est.reduce_stage1_cycles(24, False) == est.reduce_stage1_cycles(0, False) == 23


def test_paper_k2_forward_work_per_tile() -> None:
    """GSNN PC/PF/CC: per time step and tile (k = 2) the forward state update is about B x S_in float2 adds."""
    B, s_in = 48, 32
    per_tile = int(est.state_update_cycles(np.full(B, s_in), 2).sum())
    assert per_tile == B * (20 + 5 * s_in + 10)
    assert 5 * B * s_in / per_tile > 0.8  # the id loop dominates


# ---------------------------------------------------------------- monotonicity
@settings(max_examples=200, deadline=None)
@given(a=counts, b=counts, k=ks)
def test_non_decreasing_in_spike_counts(a: int, b: int, k: int) -> None:
    lo, hi = min(a, b), max(a, b)
    x = np.array([lo])
    y = np.array([hi])
    assert est.state_update_cycles(x, k)[0] <= est.state_update_cycles(y, k)[0]
    assert est.dense_to_sparse_cycles(64, x)[0] <= est.dense_to_sparse_cycles(64, y)[0]
    assert est.tile_combine_cycles(6, x)[0] <= est.tile_combine_cycles(6, y)[0]
    assert est.final_combine_cycles(4, x, x)[0] <= est.final_combine_cycles(4, y, y)[0]
    assert est.state_grad_cycles(x, x * k / 2000)[0] <= est.state_grad_cycles(y, y * k / 2000)[0]
    assert est.input_grad_cycles(x, k)[0] <= est.input_grad_cycles(y, k)[0]
    assert est.weight_grad_cycles(np.array([lo, 3]), k) <= est.weight_grad_cycles(np.array([hi, 3]), k)
    assert est.reduce_stage1_cycles(lo, True) <= est.reduce_stage1_cycles(hi, True)
    # more neurons per tile never costs less
    assert est.state_update_cycles(y, k)[0] <= est.state_update_cycles(y, k + 1)[0]
    assert est.input_grad_cycles(y, k)[0] <= est.input_grad_cycles(y, k + 1)[0]
    assert est.weight_grad_cycles(y, k) <= est.weight_grad_cycles(y, k + 1)


@settings(max_examples=100, deadline=None)
@given(a=st.integers(0, 200_000), b=st.integers(0, 200_000))
def test_tile_cycle_estimators_non_decreasing_in_size(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    for f in (
        pl.elementwise_1d_tile_cycles,
        pl.tf_adam_update_tile_cycles,
    ):
        assert f(lo) <= f(hi)


@pytest.mark.parametrize("k", [2, 4, 16])
def test_linear_in_counts(k: int) -> None:
    """Costs are affine in the counts (GSNN PC/PF/CC: linear in the actual spike counts, bounded by S)."""
    n = np.arange(0, 50)
    for cyc in (est.state_update_cycles(n, k), est.input_grad_cycles(n, k), est.dense_to_sparse_cycles(64, n)):
        assert len(set(np.diff(cyc).tolist())) == 1
