"""Placing an SNN's neurons with any partitioning method, the simulated step time as ``refine``'s cost.

:func:`place` builds the workload graph (:mod:`mimdsim.snn.model.workload`) from the activity and
calls :func:`mimdsim.partition.partition`; ``refine`` gets :func:`step_seconds` -- the
lowered program simulated by the fast engine -- as its cost, so the search optimises the
simulator's own figure. Kept here, on the SNN side, so that ``partition/`` stays below the
engines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import simulate
from mimdsim.errors import ConfigError
from mimdsim.partition import DEFAULT_STARTS, Method, NeuronMapping, WorkloadGraph, check_method, partition
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.snn.model.workload import workload_graph

__all__ = ["place", "step_seconds", "mapping_of_tiles"]


def step_seconds(spec: SNNSpec, machine: MachineSpec, mapping: NeuronMapping, act: SpikeActivity,
                 options: LoweringOptions | None = None) -> float:  # fmt: skip
    """Device seconds of one training step with ``mapping`` (fast engine)."""
    return simulate(lower_snn(spec, machine, mapping, act, options), machine, "fast", check_memory_fits=False).seconds


def mapping_of_tiles(spec: SNNSpec, machine: MachineSpec, neuron_tiles: Sequence[np.ndarray] | NeuronMapping) -> NeuronMapping:
    """A user's mapping: a :class:`NeuronMapping` or the tile of every neuron per layer, checked against ``spec``."""
    if isinstance(neuron_tiles, NeuronMapping):
        mapping = neuron_tiles
    else:
        mapping = NeuronMapping.from_neuron_tiles(list(neuron_tiles), machine.tiles_per_ipu, machine.n_tiles, "custom")
    check_mapping_machine(mapping, machine)
    mapping.check(spec.layer_sizes[1:])
    return mapping


def check_mapping_machine(mapping: NeuronMapping, machine: MachineSpec, source: str = "mapping") -> None:
    """Refuse a mapping made for another machine shape (its tiles per IPU, or more tiles than ``machine`` has), naming
    ``source`` (the file) and both shapes."""
    if mapping.tiles_per_ipu != machine.tiles_per_ipu or mapping.n_tiles > machine.n_tiles:
        made = f"{mapping.n_tiles // mapping.tiles_per_ipu} IPU(s) x {mapping.tiles_per_ipu} tiles"
        raise ConfigError(
            f"{source}: made for a machine of {made}; {machine.name} has {machine.n_ipus} IPU(s) x {machine.tiles_per_ipu} "
            "tiles: place the network again on this machine (mimdsim partition --save-mapping), or use the machine it was made for"
        )


def place(
    spec: SNNSpec,
    machine: MachineSpec,
    act: SpikeActivity,
    *,
    method: str | Method = "contiguous",
    seed: int = 0,
    neurons_per_tile: int | None = None,
    unit_neurons: int = 1,
    options: LoweringOptions | None = None,
    start: str | Method | Sequence[str | Method] = DEFAULT_STARTS,
    max_evaluations: int | None = None,
    mix_layers: bool = False,
    graph: WorkloadGraph | None = None,
) -> NeuronMapping:
    """The mapping of ``spec``'s neurons by ``method`` (a name of :data:`mimdsim.partition.METHODS` or a callable);
    ``graph`` is ``workload_graph(spec, act, unit_neurons=...)`` when the caller has built it already."""
    check_method(method)
    if graph is None:
        graph = workload_graph(spec, act, unit_neurons=unit_neurons, n_workers=machine.num_worker_contexts)
    code = (options or LoweringOptions()).code_bytes_per_tile
    cost: Callable[[NeuronMapping], float] = lambda m: step_seconds(spec, machine, m, act, options)  # noqa: E731
    extra = {} if max_evaluations is None else {"max_evaluations": max_evaluations}
    return partition(graph, machine, method=method, seed=seed, neurons_per_tile=neurons_per_tile,
                     capacity_bytes=machine.memory_bytes_per_tile - code, cost=cost, start=start, mix_layers=mix_layers, **extra)  # fmt: skip
