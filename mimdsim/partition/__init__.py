"""Partitioners: place a network's neurons on tiles, behind one dispatcher.

:func:`partition` (:mod:`mimdsim.partition.dispatch`) places the units of a
:class:`WorkloadGraph` with any method of :data:`METHODS` or a callable;
:func:`partition_layers` is the graph-free form of the paper's ``contiguous`` mapping.
"""

from __future__ import annotations

from collections.abc import Callable

from mimdsim.errors import ConfigError
from mimdsim.partition.contiguous import contiguous_mapping, smallest_fitting_k
from mimdsim.partition.dispatch import DEFAULT_STARTS, METHODS, Method, check_method, partition
from mimdsim.partition.graph import WorkloadGraph
from mimdsim.partition.mapping import LayerPlacement, NeuronMapping
from mimdsim.partition.problem import PartitionProblem

__all__ = [
    "partition", "check_method", "METHODS", "DEFAULT_STARTS", "Method", "WorkloadGraph", "PartitionProblem", "partition_layers", "PARTITIONERS", "DEFAULT_PARTITIONER",
    "NeuronMapping", "LayerPlacement", "smallest_fitting_k",
]  # fmt: skip

DEFAULT_PARTITIONER = "contiguous"
PARTITIONERS: dict[str, Callable[..., NeuronMapping]] = {"contiguous": contiguous_mapping}
"""Methods that need no graph (:func:`partition_layers`)."""


def partition_layers(
    layer_sizes: tuple[int, ...],
    tiles_per_ipu: int,
    n_ipus: int,
    *,
    method: str = DEFAULT_PARTITIONER,
    neurons_per_tile: int | None = None,
) -> NeuronMapping:
    """Map layers (hidden and output) onto tiles with the graph-free partitioner ``method``."""
    if method not in PARTITIONERS:
        hint = (
            " (graph methods: mimdsim.partition.partition or estimate_training_step(partitioner=...))"
            if method in METHODS
            else ""
        )
        raise ConfigError(f"partitioner: {method!r} is not one of {', '.join(sorted(PARTITIONERS))}{hint}")
    mapping = PARTITIONERS[method](layer_sizes, tiles_per_ipu, n_ipus, neurons_per_tile=neurons_per_tile)
    mapping.check(layer_sizes)
    return mapping
