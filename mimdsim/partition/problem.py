"""One k-way partitioning problem: units, nets, parts and their capacities; the capacity repair.

Every method sees a :class:`PartitionProblem` and returns the part of every unit; the
dispatcher (:func:`mimdsim.partition.partition`) then makes the result respect every part's
capacity with :func:`repair_capacity` and maps parts onto tiles.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mimdsim.errors import MappingError
from mimdsim.partition.graph import WorkloadGraph, clique_edges

__all__ = ["PartitionProblem", "repair_capacity", "integer_weights"]


def integer_weights(w: np.ndarray, scale: int = 1000) -> np.ndarray:
    """Positive float weights as integers ``1 .. scale`` (the partitioners' C interfaces take ints)."""
    w = np.asarray(w, float)
    if not w.size:
        return np.zeros(0, np.int64)
    top = float(w.max()) or 1.0
    return np.maximum(np.rint(w / top * scale), 1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class PartitionProblem:
    """Place ``unit_size.size`` units into ``n_parts`` parts of at most ``capacity_neurons``
    neurons and ``capacity_bytes`` bytes each, keeping nets within few parts."""

    unit_size: np.ndarray  # [U] neurons
    unit_memory_bytes: np.ndarray  # [U]
    unit_compute: np.ndarray  # [U]
    unit_layer: np.ndarray  # [U]
    net_ptr: np.ndarray  # partitioning nets (paths for dense layers), CSR
    net_pins: np.ndarray
    net_weight: np.ndarray
    n_parts: int
    capacity_neurons: int
    capacity_bytes: int
    seed: int = 0

    @classmethod
    def of_graph(
        cls,
        graph: WorkloadGraph,
        n_parts: int,
        capacity_neurons: int,
        capacity_bytes: int,
        seed: int = 0,
        *,
        layer_nets: bool = False,
    ) -> PartitionProblem:
        ptr, pins, w = graph.hypergraph(layer_nets=layer_nets)
        return cls(graph.unit_size, graph.unit_memory_bytes, graph.unit_compute, graph.unit_layer, ptr, pins, w, n_parts,
                   capacity_neurons, capacity_bytes, seed)  # fmt: skip

    @property
    def n_units(self) -> int:
        return int(self.unit_size.size)

    def check_fits(self) -> None:
        """Refuse a problem no placement solves (total neurons or bytes over the parts' room, or a unit over one part)."""
        need, room = int(self.unit_size.sum()), self.n_parts * self.capacity_neurons
        if need > room:
            raise MappingError(
                f"{need:,} neurons do not fit {self.n_parts} tiles of {self.capacity_neurons} neurons ({need - room:,} over)"
            )
        big = int(self.unit_memory_bytes.max(initial=0))
        if big > self.capacity_bytes:
            raise MappingError(
                f"a unit needs {big:,} B, more than a tile's {self.capacity_bytes:,} B ({big - self.capacity_bytes:,} over)"
            )
        if int(self.unit_size.max(initial=0)) > self.capacity_neurons:
            raise MappingError(f"a unit of {int(self.unit_size.max())} neurons is larger than a tile's {self.capacity_neurons}")
        need_b, room_b = int(self.unit_memory_bytes.sum()), self.n_parts * self.capacity_bytes
        if need_b > room_b:
            raise MappingError(
                f"the units need {need_b:,} B, {self.n_parts} tiles of {self.capacity_bytes:,} B hold {room_b:,} ({need_b - room_b:,} B over)"
            )

    @functools.cached_property
    def unit_pins(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR (ptr, positions in ``net_pins``) of the pins of every unit."""
        order = np.argsort(self.net_pins, kind="stable")
        ptr = np.zeros(self.n_units + 1, np.int64)
        np.cumsum(np.bincount(self.net_pins, minlength=self.n_units), out=ptr[1:])
        return ptr, order

    @functools.cached_property
    def unit_nets(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR (ptr, nets) of the nets of every unit."""
        ptr, order = self.unit_pins
        return ptr, np.repeat(np.arange(self.net_weight.size), np.diff(self.net_ptr))[order]

    def csr_graph(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xadj, adjncy, weights)`` of the clique/path graph view, both directions stored."""
        graph_u, graph_v, w = clique_edges(self.net_ptr, self.net_pins, self.net_weight, self.n_units)
        u = np.concatenate([graph_u, graph_v])
        v = np.concatenate([graph_v, graph_u])
        ww = np.concatenate([w, w])
        order = np.lexsort((v, u))
        xadj = np.zeros(self.n_units + 1, np.int64)
        np.cumsum(np.bincount(u, minlength=self.n_units), out=xadj[1:])
        return xadj, v[order], ww[order]

    def sub(self, units: np.ndarray, n_parts: int) -> PartitionProblem:
        """The problem restricted to ``units`` (renumbered 0..), into ``n_parts`` parts."""
        units = np.asarray(units, np.int64)
        new = np.full(self.n_units, -1, np.int64)
        new[units] = np.arange(units.size)
        pins = new[self.net_pins]
        net_of_pin = np.repeat(np.arange(self.net_weight.size), np.diff(self.net_ptr))
        keep = pins >= 0
        sizes = np.bincount(net_of_pin[keep], minlength=self.net_weight.size)
        ok = sizes >= 2
        pin_ok = keep & ok[net_of_pin]
        ptr = np.zeros(int(ok.sum()) + 1, np.int64)
        np.cumsum(sizes[ok], out=ptr[1:])
        return PartitionProblem(self.unit_size[units], self.unit_memory_bytes[units], self.unit_compute[units], self.unit_layer[units],
                                ptr, pins[pin_ok], self.net_weight[ok], n_parts, self.capacity_neurons, self.capacity_bytes,
                                self.seed)  # fmt: skip


def repair_capacity(p: PartitionProblem, parts: np.ndarray) -> np.ndarray:
    """``parts`` with every part within its neuron and byte capacity: units of an over-full part
    move (least connected to it first) to the part with room sharing most of their nets
    (the emptiest part with room when none shares one). Raises :class:`MappingError` when the
    units cannot all be placed."""
    parts = np.asarray(parts, np.int64).copy()
    if parts.shape != (p.n_units,) or (parts.size and (parts.min() < 0 or parts.max() >= p.n_parts)):
        raise MappingError(f"partitioner returned parts outside 0..{p.n_parts - 1} or of the wrong length")
    load = np.bincount(parts, weights=p.unit_size, minlength=p.n_parts).astype(np.int64)
    mem = np.bincount(parts, weights=p.unit_memory_bytes, minlength=p.n_parts).astype(np.int64)
    over = np.flatnonzero((load > p.capacity_neurons) | (mem > p.capacity_bytes))
    if not over.size:
        return parts
    uptr, unets = p.unit_nets
    pin_part = parts[p.net_pins]

    def shared(u: int) -> np.ndarray:
        nets = unets[uptr[u] : uptr[u + 1]]
        if not nets.size:
            return np.zeros(p.n_parts)
        idx = np.concatenate([np.arange(p.net_ptr[n], p.net_ptr[n + 1]) for n in nets.tolist()])
        w = np.repeat(p.net_weight[nets], np.diff(p.net_ptr)[nets])
        return np.bincount(pin_part[idx], weights=w, minlength=p.n_parts)

    for q in over.tolist():
        members = np.flatnonzero(parts == q)
        score = np.array([shared(u)[q] for u in members.tolist()])
        for u in members[np.argsort(score, kind="stable")].tolist():
            if load[q] <= p.capacity_neurons and mem[q] <= p.capacity_bytes:
                break
            room = (load + p.unit_size[u] <= p.capacity_neurons) & (mem + p.unit_memory_bytes[u] <= p.capacity_bytes)
            room[q] = False
            if not room.any():
                raise MappingError(
                    f"no tile has room for a unit of {int(p.unit_size[u])} neurons and {int(p.unit_memory_bytes[u]):,} B"
                )
            s = np.where(room, shared(u), -1.0)
            dest = int(np.argmax(s)) if s.max() > 0 else int(np.flatnonzero(room)[np.argmin(load[room])])
            parts[u] = dest
            pin_part[p.net_pins == u] = dest
            load[q] -= p.unit_size[u]
            load[dest] += p.unit_size[u]
            mem[q] -= p.unit_memory_bytes[u]
            mem[dest] += p.unit_memory_bytes[u]
    return parts
