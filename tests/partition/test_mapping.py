"""A layer's placement: its tiles made once from a read-only copy of the caller's array; tile numbers are integers."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim.errors import MappingError
from mimdsim.partition.mapping import LayerPlacement


def test_tiles_are_kept_and_the_callers_array_stays_theirs() -> None:
    given = np.array([3, 1, 1, 7])
    lp = LayerPlacement(0, 0, given)
    assert lp.tiles.tolist() == [1, 3, 7] and lp.tiles is lp.tiles
    assert not lp.neuron_tile.flags.writeable and not lp.tiles.flags.writeable
    given[0] = 5  # the placement copied it
    assert lp.neuron_tile.tolist() == [3, 1, 1, 7] and lp.neurons_per_tile().tolist() == [2, 1, 1]


def test_a_non_integer_tile_is_refused() -> None:
    with pytest.raises(MappingError, match="layer 2: the neurons' tiles are float64 values"):
        LayerPlacement(2, 0, np.array([1.5, 2.0]))
    assert LayerPlacement(0, 0, np.zeros(0)).tiles.size == 0  # an empty layer has no dtype to check


def test_a_mapping_of_non_integer_tiles_is_refused_not_truncated() -> None:
    from mimdsim.partition.mapping import NeuronMapping

    with pytest.raises(MappingError, match=r"layer 1: the neurons' tiles are float64 values"):
        NeuronMapping.from_neuron_tiles([np.array([0, 1]), np.array([2.7, 3.0])], 4, 8, "custom")
    m = NeuronMapping.from_neuron_tiles([[0, 1], np.array([2, 3], np.int32)], 4, 8, "custom")  # lists and int32 are fine
    assert [lp.neuron_tile.tolist() for lp in m.layers] == [[0, 1], [2, 3]]
