"""The workload graph of an SNN training step (:class:`mimdsim.partition.graph.WorkloadGraph`).

* Units: ``unit_neurons`` consecutive neuron ids of one layer (hidden or output).
* Spike rates: spikes per time step and sample of every neuron, from the activity's
  per-neuron counts (functional run or recorded trace); an activity without them (parametric)
  gives every neuron of a tensor its mean rate.
* Nets: one per presynaptic neuron of a masked layer (:mod:`mimdsim.snn.model.connectivity`) over
  the units it feeds, weighted by its rate (at least 1 % of the mean rate: a silent
  neuron's weights still tie its units); a dense layer has none. Each layer's net weighs
  its input id vector, ``S_{l-1} + 1`` words (ids and count), which every one of its tiles
  receives in the authors' program (see the graph module).
* Unit compute: input spikes reaching the unit's neurons per time step and sample, plus one
  per neuron (the state update touches every neuron).
* Unit memory, an upper bound of what its neurons need on a tile (GSNN PC (tile mapping)):
  per neuron a ``[T, B]`` state history and 6 ``[B]`` state vectors, and per neuron and
  connected input of the unit a weight, one gradient replica per worker context and, with
  Adam, two moments, 4 bytes each.
"""

from __future__ import annotations

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.partition.graph import WorkloadGraph
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering.neuron_bytes import neuron_tensor_bytes
from mimdsim.snn.model.connectivity import connection_mask
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["workload_graph", "neuron_rates"]


def neuron_rates(spec: SNNSpec, act: SpikeActivity) -> list[np.ndarray]:
    """Spikes per time step and sample of every neuron of every spike tensor (input first)."""
    steps = spec.n_timesteps * spec.batch_size
    if act.neuron_counts is not None:
        return [np.asarray(c, float) / steps for c in act.neuron_counts]
    return [np.full(n, float(np.sum(t)) / (steps * n)) for t, n in zip(act.true_counts, spec.layer_sizes, strict=True)]


def workload_graph(spec: SNNSpec, act: SpikeActivity, *, unit_neurons: int = 1, n_workers: int = 6) -> WorkloadGraph:
    """The graph of ``spec`` with the rates of ``act`` (see the module docstring).

    >>> from mimdsim.snn.model.spec import LayerSpec, SNNSpec
    >>> from mimdsim.snn.activity.counts import parametric_activity
    >>> spec = SNNSpec(n_inputs=8, input_sparse_size=4, batch_size=6, n_timesteps=2, layers=[
    ...     LayerSpec(n_neurons=4, sparse_size=2, connection_density=0.5, connection_seed=1), LayerSpec(n_neurons=2, sparse_size=2)])
    >>> g = workload_graph(spec, parametric_activity(spec, 0.5, seed=0), unit_neurons=2)
    >>> g.n_units, g.unit_layer.tolist(), g.layer_input_words
    (3, [0, 0, 1], (5.0, 3.0))
    """
    if unit_neurons < 1:
        raise ConfigError(f"unit_neurons: {unit_neurons} must be >= 1")
    act.check_against(spec)
    rates = neuron_rates(spec, act)
    positive = np.concatenate(rates)
    floor = (
        0.01 * float(positive[positive > 0].mean()) if (positive > 0).any() else 1.0
    )  # a silent neuron's net still ties its weights
    unit_layer, unit_size, unit_compute, unit_mem = [], [], [], []
    nets_ptr: list[np.ndarray] = []
    nets_units: list[np.ndarray] = []
    nets_w: list[np.ndarray] = []
    nets_tensor: list[np.ndarray] = []
    nets_neuron: list[np.ndarray] = []
    input_words = []
    first_unit = 0
    for l, lay in enumerate(spec.layers):
        n, n_in = lay.n_neurons, spec.layer_sizes[l]
        starts = np.arange(0, n, unit_neurons, dtype=np.int64)
        sizes = np.diff(np.append(starts, n))
        mask = connection_mask(spec, l)
        if mask is None:
            fanin_u = np.full(starts.size, n_in)
            compute = sizes * (1.0 + rates[l].sum())
        else:
            inc = np.logical_or.reduceat(mask, starts, axis=1)  # [n_in, units]
            fanin_u = inc.sum(axis=0)
            compute = np.add.reduceat(1.0 + rates[l] @ mask, starts)
            src, unit = np.nonzero(inc)  # sorted by source neuron
            counts = np.bincount(src, minlength=n_in)
            has = np.flatnonzero(counts)
            ptr = np.zeros(has.size + 1, np.int64)
            np.cumsum(counts[has], out=ptr[1:])
            nets_ptr.append(ptr)
            nets_units.append(unit + first_unit)
            nets_w.append(np.maximum(rates[l][has], floor))
            nets_tensor.append(np.full(has.size, l, np.int64))
            nets_neuron.append(has.astype(np.int64))
        input_words.append(float(spec.sparse_sizes[l] + 1))  # the input ids and their count (GSNN PC `Build`)
        unit_layer.append(np.full(starts.size, l, np.int64))
        unit_size.append(sizes)
        unit_compute.append(np.asarray(compute, float))
        unit_mem.append(sum(neuron_tensor_bytes(spec, sizes, fanin_u, n_workers, index_list=mask is not None).values()))
        first_unit += starts.size
    ptr = np.zeros(1, np.int64)
    for part in nets_ptr:
        ptr = np.concatenate([ptr, ptr[-1] + part[1:]])

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return WorkloadGraph(
        layer_sizes=tuple(lay.n_neurons for lay in spec.layers),
        unit_neurons=unit_neurons,
        unit_layer=cat(unit_layer, np.int64),
        unit_size=cat(unit_size, np.int64),
        unit_compute=cat(unit_compute, float),
        unit_memory_bytes=cat(unit_mem, np.int64),
        net_ptr=ptr,
        net_units=cat(nets_units, np.int64),
        net_weight=cat(nets_w, float),
        net_tensor=cat(nets_tensor, np.int64),
        net_neuron=cat(nets_neuron, np.int64),
        layer_input_words=tuple(input_words),
    )
