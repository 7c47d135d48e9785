"""Placement of spike generation, sequence buffers and the input-gradient reduction
(GSNN PC `Build` (forward time step) step 5, §1.6 step 6, §2.3, and the tile-mapping printouts of FB24 (results))."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim import load_machine
from mimdsim.partition import partition_layers
from mimdsim.snn.lowering.layout import build_layout, spread_factor
from mimdsim.snn.model.spec import snn_from_sizes


@pytest.fixture(scope="module")
def paper():
    """The 2-hidden NMNIST net of family (a) at activity 0.1: S = (32, 146, 146, 2)."""
    spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.1, input_sparse_size=32, batch_size=48, n_timesteps=1)
    machine = load_machine("bow")
    mapping = partition_layers(spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus)
    return spec, machine, build_layout(spec, machine, mapping)


@pytest.mark.parametrize(
    ("n", "f"),
    [
        # w = N // 64 + [N mod 64 > 32]; f = max(w // 6 + [w mod 6 >= 2], 1)  (GSNN PC `Build` (forward time step) step 5)
        (
            1466,
            4,
        ),  # w = 22 + 1 = 23 -> 3 + 1          (GSNN PC `determine_layerwise_tile_spread_factor`, `determine_tile_mapping`: f = 4 for N = 1466)
        (
            10,
            1,
        ),  # w = 0 -> max(0, 1)                 (GSNN PC `determine_layerwise_tile_spread_factor`, `determine_tile_mapping`: f = 1 for N = 10)
        (64, 1),  # w = 1 -> 0 + 0 -> 1
        (97, 1),  # w = 1 + 1 = 2 -> 0 + 1
        (735, 2),  # w = 11 + 0 -> 1 + 1
        (978, 3),  # w = 15 + 0 -> 2 + 1
        (588, 2),  # w = 9 + 0 -> 1 + 1
        (416, 1),  # w = 6 + [32 > 32] = 6 -> 1 + 0
        (480, 1),  # w = 7 + 0 = 7 -> 1 + [1 >= 2] = 1
        (481, 2),  # w = 7 + [33 > 32] = 8 -> 1 + 1
    ],
)
def test_spread_factor(n: int, f: int) -> None:
    assert spread_factor(n) == f


def test_paper_slices_slots_and_combine_tiles(paper) -> None:
    _spec, _machine, lay = paper
    assert [l.spread for l in lay.layers] == [4, 4, 1]  # FB24 (results) printout: spread factors {4, 4, 1}
    for l in lay.layers[:2]:
        lens = np.diff(l.slice_bounds)
        assert lens.size == 24 and set(lens.tolist()) == {61, 62}  # 24 workers of 61-62 neurons (FB24 (results))
        assert lens.sum() == 1466 and l.slice_bounds[0] == 0
        assert [l.slot_slices(j) for j in range(4)] == [(0, 6), (6, 12), (12, 18), (18, 24)]
    out = lay.layers[2]
    assert np.diff(out.slice_bounds).tolist() == [1, 2, 2, 1, 2, 2]  # min(6 f, N) = 6 slices of 10 neurons
    # B x 2 x f slots per layer: 384 + 384 + 96 = 864, slot i on tile floor(i x 1472 / 864)
    slots = np.concatenate([l.slot_tiles.reshape(-1) for l in lay.layers])
    assert [l.slot_tiles.shape for l in lay.layers] == [(48, 2, 4), (48, 2, 4), (48, 2, 1)]
    assert slots.size == 864
    np.testing.assert_array_equal(slots, (np.arange(864) * 1472) // 864)
    gaps = np.diff(slots)
    assert set(gaps.tolist()) == {1, 2} and gaps.mean() == pytest.approx(1472 / 864, abs=2e-3)  # about 1.7 tiles apart
    assert (
        slots[0] == 0
    )  # slots spread over all 1472 tiles, tile 0 included (GSNN PC `determine_layerwise_tile_spread_factor`, `determine_tile_mapping`)
    for l in lay.layers:  # the final combine of (layer, b) is on b's first slot tile
        np.testing.assert_array_equal(l.combine_tiles, l.slot_tiles[:, 0, 0])


def test_paper_stage1_groups_and_budgets(paper) -> None:
    spec, _machine, lay = paper
    first, second, out = lay.layers
    assert first.group_of_tile is None and first.stage1_tile is None  # layer 0 has no input gradient
    # the 733-tile layer: g = min(B/2, P) = 24, 30 groups, the last with 37 tiles (FB24 (results))
    sizes = np.bincount(second.group_of_tile)
    assert second.n_groups == 30 and sizes[:-1].tolist() == [24] * 29 and sizes[-1] == 37
    # the output layer: 5 tiles, one group
    assert out.n_groups == 1 and np.bincount(out.group_of_tile).tolist() == [5]
    # budgets proportional to P^0.8 x S_in x B: 1444 and 26 tiles (FB24 (results)), from tile 1
    s2, s3 = second.stage1_tile, out.stage1_tile
    assert s2.shape == (30, 48, spec.sparse_sizes[1]) and s3.shape == (1, 48, spec.sparse_sizes[2])
    assert (int(s2.min()), int(s2.max())) == (1, 1444)
    assert (int(s3.min()), int(s3.max())) == (1445, 1470)
    assert np.unique(s2).size == 1444 and np.unique(s3).size == 26
    # vertices in (group, b, slot) order, spread evenly over the budget
    assert np.all(np.diff(s2.reshape(-1)) >= 0)
    np.testing.assert_array_equal(second.stage2_tiles, s2[0, :, 0])


def test_paper_budgets_follow_the_activity() -> None:
    """The 1444/26 split needs equal S_in for both layers; it is printed for act 0.01 (S = 14)."""
    spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=48, n_timesteps=1)
    machine = load_machine("bow")
    lay = build_layout(spec, machine, partition_layers(spec.layer_sizes[1:], 1472, 1))
    assert spec.sparse_sizes == (32, 14, 14, 2)
    assert np.unique(lay.layers[1].stage1_tile).size == 1444 and np.unique(lay.layers[2].stage1_tile).size == 26


def test_sequence_rows_skip_tile_zero_and_stay_whole() -> None:
    spec = snn_from_sizes([40, 12, 8, 4], max_activity=0.5, input_sparse_size=6, batch_size=6, n_timesteps=3)
    machine = load_machine("bow", tiles_per_ipu=32)
    lay = build_layout(spec, machine, partition_layers(spec.layer_sizes[1:], 32, 1))
    # rows: input (B), every layer's output (L x B), loss gradient (B) = 30 rows over tiles 1..31
    rows = np.concatenate([lay.input_seq_tiles, *(l.seq_tiles for l in lay.layers), lay.loss_tiles])
    np.testing.assert_array_equal(rows, 1 + (np.arange(30) * 31) // 30)
    assert rows.min() >= 1 and lay.counter_tile == 0
    assert [l.input_sparse_size for l in lay.layers] == [6, 6, 4]
    assert [l.sparse_size for l in lay.layers] == [6, 4, 2]
    assert all(l.dense for l in lay.layers)


def test_layers_on_two_ipus_keep_their_work_on_their_ipu() -> None:
    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=2)
    machine = load_machine("bow", n_ipus=2, tiles_per_ipu=16)
    mapping = partition_layers(spec.layer_sizes[1:], 16, 2)
    lay = build_layout(spec, machine, mapping)
    assert [l.ipu for l in lay.layers] == [0, 1, 1]
    for l in lay.layers:
        for arr in (l.tiles, l.slot_tiles, l.combine_tiles, l.seq_tiles):
            assert set((np.asarray(arr).reshape(-1) // 16).tolist()) == {l.ipu}
        if l.stage1_tile is not None:
            assert set((l.stage1_tile.reshape(-1) // 16).tolist()) == {l.ipu}
    assert set((lay.input_seq_tiles // 16).tolist()) == {0} and set((lay.loss_tiles // 16).tolist()) == {1}
    # IPU 1 has no free tile 0: its slots start at its tile 0 (global 16)
    assert lay.layers[1].slot_tiles.min() == 16
