"""How good a placement is: graph metrics of the mapping and the simulated step's figures.

For a mapping of an SNN (docs/partitioning.md defines each):

* ``edge_cut``: weight of the graph view's edges (:meth:`WorkloadGraph.edges`, what METIS
  minimises) between units on different tiles;
* ``fanin_total`` / ``fanin_max``: per tile, the distinct presynaptic neurons its neurons
  are connected to (summed over the layers on the tile): the sum and the largest;
* ``comm_volume_bytes``: the bytes a router that delivers each spike id once to every tile
  needing it would move in one step (4 B per spike per tile reached; recorded per-neuron
  spike counts, else the mean rate);
* ``max_tile_receive_bytes`` / ``inter_ipu_bytes``: what the simulated program's exchanges
  deliver in one training step to its busiest tile, and send over IPU links (a transfer
  once per destination IPU);
* ``compute_imbalance``: the simulated compute cycles (excluding idle) of the busiest neuron
  tile over their mean;
* ``min_memory_headroom_bytes``: tile memory less the fullest tile's bytes (negative: over);
* ``ms_per_step`` and its ``breakdown_cycles``, and the partitioner's wall time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from mimdsim.partition.graph import WorkloadGraph
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.traffic import exchange_totals
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering.common import WORD_BYTES
from mimdsim.snn.lowering.layout import tile_incidence
from mimdsim.snn.model.connectivity import connection_mask
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.snn.model.workload import neuron_rates

if TYPE_CHECKING:
    from mimdsim.studies.step_estimate import SNNEstimate

__all__ = ["PlacementMetrics", "graph_metrics", "placement_metrics"]


@dataclass(frozen=True)
class PlacementMetrics:
    """One row of a partitioning study (``mimdsim partition --json``)."""

    method: str
    ms_per_step: float
    breakdown_cycles: dict[str, int]
    edge_cut: float
    fanin_total: int
    fanin_max: int
    comm_volume_bytes: int
    max_tile_receive_bytes: int
    inter_ipu_bytes: int
    compute_imbalance: float
    min_memory_headroom_bytes: int
    partition_seconds: float
    n_tiles_used: int
    n_ipus_used: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def graph_metrics(spec: SNNSpec, graph: WorkloadGraph, mapping: NeuronMapping, act: SpikeActivity) -> dict[str, float | int]:
    """``edge_cut``, ``fanin_total``, ``fanin_max`` and ``comm_volume_bytes`` of ``mapping`` (no simulation).

    >>> from mimdsim.snn.model.spec import LayerSpec, SNNSpec
    >>> from mimdsim.snn.activity.counts import parametric_activity
    >>> from mimdsim.snn.model.workload import workload_graph
    >>> spec = SNNSpec(n_inputs=4, input_sparse_size=4, batch_size=6, n_timesteps=1, layers=[LayerSpec(n_neurons=2, sparse_size=2)])
    >>> act = parametric_activity(spec, 0.5, seed=0)
    >>> m = NeuronMapping.from_neuron_tiles([np.array([1, 2])], 8, 8, "two tiles")
    >>> graph_metrics(spec, workload_graph(spec, act), m, act)["fanin_total"]   # both tiles see all 4 inputs
    8
    """
    fanin = np.zeros(mapping.n_tiles, np.int64)
    rates = neuron_rates(spec, act)
    steps = spec.n_timesteps * spec.batch_size
    volume = 0.0
    for l, lp in enumerate(mapping.layers):
        mask = connection_mask(spec, l)
        tiles = np.unique(lp.neuron_tile)
        if mask is None:
            fanin[tiles] += spec.layer_sizes[l]
            volume += float(rates[l].sum()) * steps * tiles.size
            continue
        tiles, inc = tile_incidence(mask, lp.neuron_tile)
        fanin[tiles] += inc.sum(axis=0)
        volume += float(rates[l] @ inc.sum(axis=1)) * steps
    unit_tile = np.empty(graph.n_units, np.int64)
    for l, lp in enumerate(mapping.layers):
        unit_tile[graph.unit_of_neuron(l)] = lp.neuron_tile  # a unit split over tiles counts as on its last neuron's tile
    u, v, w = graph.edges()
    return {
        "edge_cut": float(w[unit_tile[u] != unit_tile[v]].sum()),
        "fanin_total": int(fanin.sum()),
        "fanin_max": int(fanin.max(initial=0)),
        "comm_volume_bytes": round(volume * WORD_BYTES),
    }


def placement_metrics(
    spec: SNNSpec, graph: WorkloadGraph, est: SNNEstimate, act: SpikeActivity, partition_seconds: float
) -> PlacementMetrics:
    """Every metric of the estimate ``est`` of a mapping."""
    mapping, machine, ledger = est.mapping, est.machine, est.ledger
    assert est.program is not None
    received, cross = exchange_totals(est.program, machine.n_tiles, machine.tiles_per_ipu)
    neuron_tiles = np.unique(np.concatenate(mapping.neuron_tiles()))
    busy = est.result.tile_compute_excl_idle_cycles[neuron_tiles].astype(float)
    g = graph_metrics(spec, graph, mapping, act)
    return PlacementMetrics(
        method=mapping.method,
        ms_per_step=float(est.ms_per_step),
        breakdown_cycles=dict(est.breakdown_cycles),
        edge_cut=float(g["edge_cut"]),
        fanin_total=int(g["fanin_total"]),
        fanin_max=int(g["fanin_max"]),
        comm_volume_bytes=int(g["comm_volume_bytes"]),
        max_tile_receive_bytes=int(received.max(initial=0)),
        inter_ipu_bytes=int(cross),
        compute_imbalance=float(busy.max() / busy.mean()) if busy.size and busy.mean() > 0 else 1.0,
        min_memory_headroom_bytes=int(ledger.capacity_bytes - ledger.max_tile_bytes),
        partition_seconds=float(partition_seconds),
        n_tiles_used=int(neuron_tiles.size),
        n_ipus_used=int(mapping.n_ipus_used),
    )
