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
    with pytest.raises(MappingError, match="layer 2: neuron_tile holds float64 values"):
        LayerPlacement(2, 0, np.array([1.5, 2.0]))
    assert LayerPlacement(0, 0, np.zeros(0)).tiles.size == 0  # an empty layer has no dtype to check
