"""The workload graph a partitioner places: placement units and the spike nets between them.

Pure arrays, no SNN code (:func:`mimdsim.snn.model.workload.workload_graph` builds one from a
model and its recorded activity):

* a **unit** is ``g`` consecutive neurons of one layer (the last unit of a layer may hold
  fewer), weighted by its neurons, its compute per step and its memory;
* a **net** is one presynaptic neuron (of the input or of a masked layer) and the units it
  feeds, weighted by its spike rate (spikes per time step and sample); a dense layer's
  inputs feed every unit of the layer and have no nets;
* a **layer net** joins all units of a layer, weighted by ``layer_input_words[l]``: what
  every tile holding some of the layer's neurons receives per time step and sample whatever
  it holds (the layer's input id vector in the authors' program), so each extra tile the
  layer spans costs that much. It only matters when layers may share tiles.

Two views: :meth:`WorkloadGraph.hypergraph` (CSR nets and weights) and
:meth:`WorkloadGraph.to_networkx` (a weighted ``networkx.Graph``; a net of ``p`` pins adds
``w / (p - 1)`` to each of its pin pairs; nets over :data:`CLIQUE_MAX_PINS` pins, layer nets
among them, become a path through their pins in unit order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mimdsim.errors import MappingError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["WorkloadGraph", "CLIQUE_MAX_PINS", "clique_edges"]

CLIQUE_MAX_PINS = 64
"""Nets with more pins than this become paths in the networkx view (a clique would cost p^2 edges)."""


@dataclass(frozen=True, eq=False)
class WorkloadGraph:
    """Units, their weights and the nets (see the module docstring)."""

    layer_sizes: tuple[int, ...]  # neurons of every placed layer (hidden and output)
    unit_neurons: int  # g: neurons per unit
    unit_layer: np.ndarray  # [U] layer of each unit
    unit_size: np.ndarray  # [U] neurons of each unit
    unit_compute: np.ndarray  # [U] float: input spikes summed per time step and sample, plus one per neuron
    unit_memory_bytes: np.ndarray  # [U] int: bytes the unit's neurons need on any tile (an upper bound)
    net_ptr: np.ndarray  # [n_nets + 1] CSR over net_units
    net_units: np.ndarray  # pins
    net_weight: np.ndarray  # [n_nets] float: spike rate of the presynaptic neuron
    net_tensor: np.ndarray  # [n_nets] spike tensor of the presynaptic neuron (0: the input)
    net_neuron: np.ndarray  # [n_nets] its neuron id in that tensor
    layer_input_words: tuple[float, ...] = ()  # per layer: words each of its tiles receives per time step and sample

    def __post_init__(self) -> None:
        u = self.unit_layer.size
        for name in ("unit_size", "unit_compute", "unit_memory_bytes"):
            if getattr(self, name).shape != (u,):
                raise MappingError(f"workload graph: {name} has shape {getattr(self, name).shape}, expected ({u},)")
        if self.net_ptr.size != self.net_weight.size + 1 or int(self.net_ptr[-1]) != self.net_units.size:
            raise MappingError("workload graph: net_ptr does not match net_units / net_weight")
        if self.net_units.size and (self.net_units.min() < 0 or self.net_units.max() >= u):
            raise MappingError(f"workload graph: a net pin is outside units 0..{u - 1}")

    @property
    def n_units(self) -> int:
        return int(self.unit_layer.size)

    @property
    def n_nets(self) -> int:
        return int(self.net_weight.size)

    def layer_first_unit(self) -> np.ndarray:
        """``[L + 1]``: units of layer ``l`` are ``first[l] .. first[l + 1] - 1``."""
        return np.searchsorted(self.unit_layer, np.arange(len(self.layer_sizes) + 1)).astype(np.int64)

    def unit_of_neuron(self, layer: int) -> np.ndarray:
        """Unit of every neuron of ``layer``."""
        return self.layer_first_unit()[layer] + np.arange(self.layer_sizes[layer], dtype=np.int64) // self.unit_neurons

    def neuron_tiles(self, unit_tile: np.ndarray) -> list[np.ndarray]:
        """Per layer, the tile of every neuron, from the tile of every unit."""
        return [np.asarray(unit_tile, np.int64)[self.unit_of_neuron(l)] for l in range(len(self.layer_sizes))]

    def hypergraph(self, *, layer_nets: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ptr, pins, weights)``: every net with two or more pins, and with ``layer_nets`` each layer's net."""
        sizes = np.diff(self.net_ptr)
        keep = np.flatnonzero(sizes >= 2)
        parts = [self.net_units[self.net_ptr[i] : self.net_ptr[i + 1]] for i in keep.tolist()]
        weights = self.net_weight[keep].tolist()
        if layer_nets:
            first = self.layer_first_unit()
            for l, words in enumerate(self.layer_input_words):
                if first[l + 1] - first[l] >= 2:
                    parts.append(np.arange(first[l], first[l + 1], dtype=np.int64))
                    weights.append(float(words))
        ptr = np.zeros(len(parts) + 1, np.int64)
        np.cumsum([p.size for p in parts], out=ptr[1:])
        pins = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return ptr, pins, np.asarray(weights, float)

    def edges(self, *, layer_nets: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(u, v, weight)`` with ``u < v``, duplicates summed: the graph view's edges."""
        return clique_edges(*self.hypergraph(layer_nets=layer_nets), self.n_units)

    def to_networkx(self, *, layer_nets: bool = False) -> nx.Graph:
        """The graph view: nodes are units (attributes ``layer``, ``neurons``, ``compute``, ``memory_bytes``), edges carry ``weight``."""
        import networkx as nx

        g = nx.Graph()
        for i in range(self.n_units):
            g.add_node(i, layer=int(self.unit_layer[i]), neurons=int(self.unit_size[i]), compute=float(self.unit_compute[i]),
                       memory_bytes=int(self.unit_memory_bytes[i]))  # fmt: skip
        u, v, w = self.edges(layer_nets=layer_nets)
        g.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w.tolist(), strict=True))
        return g


def clique_edges(
    ptr: np.ndarray, pins: np.ndarray, weights: np.ndarray, n_units: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph view of nets ``(ptr, pins, weights)``: ``(u, v, weight)`` with ``u < v``, duplicates
    summed; a net of ``p`` pins adds ``w / (p - 1)`` to each pin pair, or ``w`` along a path
    through its pins when ``p`` > :data:`CLIQUE_MAX_PINS`.

    >>> u, v, w = clique_edges(np.array([0, 3, 5]), np.array([0, 1, 2, 1, 2]), np.array([2.0, 1.0]), 3)
    >>> list(zip(u.tolist(), v.tolist(), w.tolist()))
    [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 2.0)]
    """
    us, vs, ws = [], [], []
    sizes = np.diff(ptr)
    for i in np.flatnonzero(sizes >= 2).tolist():
        p = np.unique(pins[ptr[i] : ptr[i + 1]])
        if p.size < 2:
            continue
        if p.size > CLIQUE_MAX_PINS:
            us.append(p[:-1])
            vs.append(p[1:])
            ws.append(np.full(p.size - 1, weights[i]))
        else:
            a, b = np.triu_indices(p.size, 1)
            us.append(p[a])
            vs.append(p[b])
            ws.append(np.full(a.size, weights[i] / (p.size - 1)))
    if not us:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    u, v, wt = np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    key = u * n_units + v
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq // n_units, uniq % n_units, np.bincount(inv.reshape(-1), weights=wt)
