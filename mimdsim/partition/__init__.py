"""Partitioners: place a network's neurons on tiles, behind one dispatcher."""

from __future__ import annotations

from collections.abc import Callable

from mimdsim.errors import ConfigError
from mimdsim.partition.contiguous import contiguous_mapping, smallest_fitting_k
from mimdsim.partition.mapping import LayerPlacement, NeuronMapping

__all__ = ["partition_layers", "PARTITIONERS", "DEFAULT_PARTITIONER", "NeuronMapping", "LayerPlacement", "smallest_fitting_k"]

DEFAULT_PARTITIONER = "contiguous"
PARTITIONERS: dict[str, Callable[..., NeuronMapping]] = {"contiguous": contiguous_mapping}


def partition_layers(
    layer_sizes: tuple[int, ...],
    tiles_per_ipu: int,
    n_ipus: int,
    *,
    method: str = DEFAULT_PARTITIONER,
    neurons_per_tile: int | None = None,
) -> NeuronMapping:
    """Map layers (hidden and output) onto tiles with the partitioner ``method``."""
    if method not in PARTITIONERS:
        raise ConfigError(f"partitioner: {method!r} is not one of {', '.join(sorted(PARTITIONERS))}")
    mapping = PARTITIONERS[method](layer_sizes, tiles_per_ipu, n_ipus, neurons_per_tile=neurons_per_tile)
    mapping.check(layer_sizes)
    return mapping
