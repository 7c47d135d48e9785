"""Neuron-to-tile mappings of a layered network, and their checks."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mimdsim.errors import MappingError
from mimdsim.program.frozen import frozen_array
from mimdsim.program.unique import unique_ints

__all__ = ["LayerPlacement", "NeuronMapping"]


def _tile_numbers(layer: int, values: object) -> np.ndarray:
    """The tile of each neuron of ``layer`` as a 1-D int64 array; a :class:`MappingError` if they are not integers
    (rather than truncating them)."""
    tiles = np.asarray(values).reshape(-1)
    if tiles.size and not np.issubdtype(tiles.dtype, np.integer):
        raise MappingError(f"layer {layer}: the neurons' tiles are {tiles.dtype} values; tile numbers are integers")
    return tiles.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class LayerPlacement:
    """Where one layer's neurons live: neuron ``n`` of the layer is on ``neuron_tile[n]``.

    ``tiles`` lists the layer's tiles in order and ``tile_neurons[j]`` the neurons of
    ``tiles[j]`` as a contiguous range ``[tile_start[j], tile_start[j] + tile_neurons[j])``
    in the contiguous case; other partitioners may give any ``neuron_tile``.
    """

    layer: int
    ipu: int
    neuron_tile: np.ndarray

    def __post_init__(self) -> None:
        tiles = _tile_numbers(self.layer, self.neuron_tile)
        object.__setattr__(self, "neuron_tile", frozen_array(tiles, np.int64))  # read-only: tiles is kept

    @functools.cached_property
    def tiles(self) -> np.ndarray:
        """The layer's tiles, ascending (read-only; made once: the lowering asks for it at every step)."""
        out = unique_ints(self.neuron_tile)
        out.flags.writeable = False
        return out

    @property
    def n_tiles(self) -> int:
        return int(self.tiles.size)

    def neurons_per_tile(self) -> np.ndarray:
        """Neuron count of each tile in :attr:`tiles`."""
        return np.bincount(np.searchsorted(self.tiles, self.neuron_tile), minlength=self.n_tiles)


@dataclass(frozen=True, eq=False)
class NeuronMapping:
    """A mapping of every layer (hidden and output) onto tiles of a machine."""

    layers: tuple[LayerPlacement, ...]
    neurons_per_tile: int
    n_tiles: int
    method: str
    tiles_per_ipu: int = 0
    """With it, :attr:`n_ipus_used` counts the IPUs of every neuron's tile (layers may span IPUs)."""

    @classmethod
    def from_neuron_tiles(
        cls, neuron_tiles: list[np.ndarray] | tuple[np.ndarray, ...], tiles_per_ipu: int, n_tiles: int, method: str
    ) -> NeuronMapping:
        """A mapping from the tile of every neuron of every layer (any placement: layers may span
        IPUs and share tiles). A layer's :attr:`LayerPlacement.ipu` -- where its spike generation
        and sequence buffers go -- is the IPU holding most of its neurons (the lowest on ties).

        >>> m = NeuronMapping.from_neuron_tiles([np.array([1, 1, 5]), np.array([5, 9])], 4, 16, "custom")
        >>> [lp.ipu for lp in m.layers], m.neurons_per_tile, m.n_ipus_used
        ([0, 1], 2, 3)
        """
        layers = []
        for li, given in enumerate(neuron_tiles):
            t = _tile_numbers(li, given)
            if t.size and (t.min() < 0 or t.max() >= n_tiles):
                raise MappingError(f"layer {li}: a neuron is placed on a tile outside 0..{n_tiles - 1}")
            home = int(np.argmax(np.bincount(t // tiles_per_ipu))) if t.size else 0
            layers.append(LayerPlacement(li, home, t))
        every = np.concatenate([lp.neuron_tile for lp in layers]) if layers else np.zeros(0, np.int64)
        per_tile = int(np.bincount(every).max()) if every.size else 0
        return cls(tuple(layers), per_tile, n_tiles, method, tiles_per_ipu)

    def check(self, layer_sizes: tuple[int, ...]) -> None:
        """Raise :class:`MappingError` unless every neuron has exactly one tile on the machine."""
        if len(layer_sizes) != len(self.layers):
            raise MappingError(f"mapping has {len(self.layers)} layers, the network {len(layer_sizes)}")
        for lp, n in zip(self.layers, layer_sizes, strict=True):
            if lp.neuron_tile.size != n:
                raise MappingError(f"layer {lp.layer}: mapping places {lp.neuron_tile.size} neurons, the layer has {n}")
            if lp.neuron_tile.size and (lp.neuron_tile.min() < 0 or lp.neuron_tile.max() >= self.n_tiles):
                raise MappingError(f"layer {lp.layer}: a neuron is placed on a tile outside 0..{self.n_tiles - 1}")

    @property
    def n_ipus_used(self) -> int:
        if self.tiles_per_ipu:
            return int(unique_ints(np.concatenate([lp.neuron_tile for lp in self.layers]) // self.tiles_per_ipu).size)
        return len({lp.ipu for lp in self.layers})

    def neuron_tiles(self) -> list[np.ndarray]:
        """The tile of every neuron, per layer."""
        return [lp.neuron_tile for lp in self.layers]
