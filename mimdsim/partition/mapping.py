"""Neuron-to-tile mappings of a layered network, and their checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimdsim.errors import MappingError

__all__ = ["LayerPlacement", "NeuronMapping"]


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

    @property
    def tiles(self) -> np.ndarray:
        """The layer's tiles, ascending."""
        return np.unique(self.neuron_tile)

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
        return len({lp.ipu for lp in self.layers})
