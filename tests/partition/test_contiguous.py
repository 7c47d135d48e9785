"""The paper's contiguous neuron-to-tile mapping (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ConfigError, MappingError
from mimdsim.partition import partition_layers
from mimdsim.partition.contiguous import contiguous_mapping, smallest_fitting_k


def _ranges(m):
    """``(ipu, first global tile, last global tile)`` of every layer."""
    return [(lp.ipu, int(lp.tiles[0]), int(lp.tiles[-1])) for lp in m.layers]


def _reference_fits(sizes, k, tpi, n_ipus):
    """GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous` written out independently: pack ceil(N/k)-tile layers in order, a layer that
    does not fit the rest of the current IPU starts at tile 0 of the next; tile 0 of IPU 0 is free."""
    ipu, offset = 0, 1
    for n in sizes:
        need = -(-n // k)
        if offset + need > tpi:
            ipu, offset = ipu + 1, 0
        if ipu >= n_ipus or offset + need > tpi:
            return False
        offset += need
    return True


# ---------------------------------------------------------------- the paper's example
def test_paper_two_hidden_example() -> None:
    """[2312, 1466, 1466, 10] on one 1472-tile IPU: tiles 1-733, 734-1466, 1467-1471, k = 2 (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`)."""
    m = partition_layers((1466, 1466, 10), 1472, 1)
    assert m.neurons_per_tile == 2 and m.method == "contiguous"
    assert _ranges(m) == [(0, 1, 733), (0, 734, 1466), (0, 1467, 1471)]
    # the run printed start tiles {1, 734, 1467} and end tiles {734, 1467, 1472} (exclusive ends)
    assert [int(lp.tiles[0]) for lp in m.layers] == [1, 734, 1467]
    assert [int(lp.tiles[-1]) + 1 for lp in m.layers] == [734, 1467, 1472]
    np.testing.assert_array_equal(m.layers[0].neurons_per_tile(), np.full(733, 2))
    np.testing.assert_array_equal(m.layers[2].neurons_per_tile(), np.full(5, 2))
    assert 0 not in np.concatenate([lp.neuron_tile for lp in m.layers])


def test_tile_zero_of_ipu_zero_is_free_but_not_on_other_ipus() -> None:
    m = contiguous_mapping((6, 8, 8), 4, 3, neurons_per_tile=2)
    assert _ranges(m) == [(0, 1, 3), (1, 4, 7), (2, 8, 11)]
    all_tiles = np.concatenate([lp.neuron_tile for lp in m.layers])
    assert 0 not in all_tiles and 4 in all_tiles and 8 in all_tiles  # tile 0 of IPUs 1 and 2 used


def test_layers_never_span_ipus() -> None:
    # tiles 5-7 are left on IPU 0 but the second layer needs 4: it starts at tile 0 of IPU 1
    m = contiguous_mapping((8, 8, 4), 8, 2, neurons_per_tile=2)
    assert _ranges(m) == [(0, 1, 4), (1, 8, 11), (1, 12, 13)]
    for lp in m.layers:
        assert set((lp.tiles // 8).tolist()) == {lp.ipu}


def test_a_layer_as_wide_as_an_ipu_moves_to_the_next_ipu() -> None:
    """A first layer needing all tiles of an IPU does not fit IPU 0 (tile 0 is free), so it
    starts at tile 0 of IPU 1 (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`) rather than forcing a larger k."""
    m = contiguous_mapping((8, 4), 4, 3, neurons_per_tile=2)
    assert _ranges(m) == [(1, 4, 7), (2, 8, 9)]
    assert smallest_fitting_k((8, 4), 4, 3) == 2
    with pytest.raises(MappingError):
        contiguous_mapping((8, 4), 4, 2, neurons_per_tile=2)


def test_k_is_raised_in_steps_of_two_until_it_fits() -> None:
    # 16 tiles, 15 usable on IPU 0; layers of 20 + 20 neurons
    # k=2: 10+10 tiles > 15; k=4: 5+5 = 10 tiles fit
    assert smallest_fitting_k((20, 20), 16, 1) == 4
    # k=2: 10 + 10 > 15, k=4: 5 + 5 + 1 fits
    m = partition_layers((20, 20, 3), 16, 1)
    assert m.neurons_per_tile == 4
    assert [lp.n_tiles for lp in m.layers] == [5, 5, 1]
    # odd k are never chosen: 45 neurons on 15 usable tiles fit k=3 but the paper steps 2, 4, 6
    assert smallest_fitting_k((45,), 16, 1) == 4
    assert partition_layers((45,), 16, 1).layers[0].neurons_per_tile().max() == 4


def test_forced_neurons_per_tile_is_used_as_given() -> None:
    m = partition_layers((10, 9), 64, 1, neurons_per_tile=4)
    assert m.neurons_per_tile == 4
    # ceil(N / tiles) per tile, the remainder on the last tile (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`)
    assert m.layers[0].neurons_per_tile().tolist() == [4, 4, 2]
    assert m.layers[1].neurons_per_tile().tolist() == [3, 3, 3]


def test_mapping_that_cannot_fit_raises_a_clear_error() -> None:
    with pytest.raises(
        MappingError, match=r"neurons_per_tile=2: layers \[40, 40\] need 40 tiles, more than fit 1 IPU\(s\) of 16 tiles"
    ):
        partition_layers((40, 40), 16, 1, neurons_per_tile=2)
    # more layers than usable tiles: no k helps
    with pytest.raises(MappingError, match=r"do not fit 1 IPU\(s\) of 4 tiles with up to 4096 neurons per tile"):
        partition_layers((5, 5, 5, 5), 4, 1)
    with pytest.raises(MappingError, match="must be >= 1"):
        contiguous_mapping((4,), 8, 1, neurons_per_tile=0)
    with pytest.raises(ConfigError, match="partitioner"):
        partition_layers((4,), 8, 1, method="metis")


def test_mapping_check_catches_inconsistent_mappings() -> None:
    m = contiguous_mapping((6, 4), 8, 1, neurons_per_tile=2)
    with pytest.raises(MappingError, match="mapping has 2 layers, the network 3"):
        m.check((6, 4, 2))
    with pytest.raises(MappingError, match="places 6 neurons, the layer has 7"):
        m.check((7, 4))


# ---------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=6),
    tpi=st.integers(4, 64),
    n_ipus=st.integers(1, 3),
    forced=st.one_of(st.none(), st.integers(1, 40)),
)
def test_every_neuron_on_one_tile_contiguous_and_at_most_k(sizes, tpi, n_ipus, forced) -> None:
    sizes = tuple(sizes)
    try:
        m = partition_layers(sizes, tpi, n_ipus, neurons_per_tile=forced)
    except MappingError:
        k = forced
        if k is None:  # no even k up to 4096 fits: every layer needs >= 1 tile
            assert not _reference_fits(sizes, 4096, tpi, n_ipus)
        else:
            assert not _reference_fits(sizes, k, tpi, n_ipus)
        return
    k = m.neurons_per_tile
    assert _reference_fits(sizes, k, tpi, n_ipus)
    if forced is None:
        assert k % 2 == 0 and (k == 2 or not _reference_fits(sizes, k - 2, tpi, n_ipus))
    else:
        assert k == forced
    used: set[int] = set()
    for lp, n in zip(m.layers, sizes, strict=True):
        nt = lp.neuron_tile
        assert nt.size == n  # every neuron on exactly one tile
        assert np.all(np.diff(nt) >= 0)  # contiguous: neuron order follows tile order
        assert np.array_equal(lp.tiles, np.arange(lp.tiles[0], lp.tiles[-1] + 1))  # consecutive tiles
        assert lp.n_tiles == -(-n // k)
        counts = lp.neurons_per_tile()
        assert counts.max() <= k and counts.min() >= 1
        assert np.all(counts[:-1] == counts[0])  # equal shares, the remainder on the last tile
        assert set((lp.tiles // tpi).tolist()) == {lp.ipu}  # never spans IPUs
        assert not used & set(lp.tiles.tolist())  # layers do not share tiles
        used |= set(lp.tiles.tolist())
    assert 0 not in used
    ipus = [lp.ipu for lp in m.layers]
    assert ipus == sorted(ipus)  # packed in order
