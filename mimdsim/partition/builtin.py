"""Partitioning methods that need no extra package: ``round_robin``, ``random`` and ``greedy``.

Each is a pure function ``(PartitionProblem) -> part of every unit``; the dispatcher repairs
capacities afterwards, so a method may overfill a part slightly.

``greedy`` is linear deterministic greedy streaming (Stanton and Kliot, "Streaming graph
partitioning for large distributed graphs", KDD 2012) over the nets: units are visited in
breadth-first order of the net graph (from the lowest-numbered unvisited unit) and each
goes to the part maximising ``(rate of its nets already there) x (1 - load / capacity)``,
the emptiest part on ties.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mimdsim.partition.problem import PartitionProblem

__all__ = ["round_robin", "random_parts", "greedy", "bfs_order"]


def round_robin(p: PartitionProblem) -> np.ndarray:
    """Unit ``i`` on part ``i mod n_parts``.

    >>> from mimdsim.partition.problem import PartitionProblem
    >>> z = np.zeros(0, np.int64)
    >>> prob = PartitionProblem(np.ones(5, np.int64), np.ones(5, np.int64), np.ones(5), np.zeros(5, np.int64),
    ...                         np.zeros(1, np.int64), z, np.zeros(0), 2, 3, 10)
    >>> round_robin(prob).tolist()
    [0, 1, 0, 1, 0]
    """
    return np.arange(p.n_units, dtype=np.int64) % p.n_parts


def random_parts(p: PartitionProblem) -> np.ndarray:
    """A uniformly random balanced placement: the units shuffled (``default_rng(seed)``), then dealt round robin."""
    order = np.random.default_rng(p.seed).permutation(p.n_units)
    parts = np.empty(p.n_units, np.int64)
    parts[order] = np.arange(p.n_units) % p.n_parts
    return parts


def bfs_order(p: PartitionProblem) -> np.ndarray:
    """Units in breadth-first order over shared nets, each component from its lowest unit."""
    uptr, unets = p.unit_nets
    seen = np.zeros(p.n_units, bool)
    net_done = np.zeros(p.net_weight.size, bool)
    order: list[int] = []
    for start in range(p.n_units):
        if seen[start]:
            continue
        seen[start] = True
        queue = deque([start])
        while queue:
            u = queue.popleft()
            order.append(u)
            for n in unets[uptr[u] : uptr[u + 1]].tolist():
                if net_done[n]:
                    continue
                net_done[n] = True
                pins = p.net_pins[p.net_ptr[n] : p.net_ptr[n + 1]]
                new = pins[~seen[pins]]
                seen[new] = True
                queue.extend(np.unique(new).tolist())
    return np.asarray(order, np.int64)


def greedy(p: PartitionProblem) -> np.ndarray:
    """Linear deterministic greedy streaming (see the module docstring)."""
    uptr, unets = p.unit_nets
    parts = np.full(p.n_units, -1, np.int64)
    load = np.zeros(p.n_parts)
    cap = float(p.capacity_neurons)
    # the part of every pin placed so far (-1: not yet)
    pin_part = np.full(p.net_pins.size, -1, np.int64)
    pin_of_unit_ptr, pin_of_unit = p.unit_pins
    net_sizes = np.diff(p.net_ptr)
    for u in bfs_order(p).tolist():
        nets = unets[uptr[u] : uptr[u + 1]]
        free = load + p.unit_size[u] <= cap
        score = np.zeros(p.n_parts)
        if nets.size:
            idx = np.concatenate([np.arange(p.net_ptr[n], p.net_ptr[n] + net_sizes[n]) for n in nets.tolist()])
            w = np.repeat(p.net_weight[nets], net_sizes[nets])
            placed = pin_part[idx] >= 0
            score = np.bincount(pin_part[idx][placed], weights=w[placed], minlength=p.n_parts).astype(float)
        score = score * (1.0 - load / cap)
        score[~free] = -np.inf
        if not free.any():
            best = int(np.argmin(load))
        elif score.max() > 0:
            best = int(np.argmax(score))
        else:
            cand = np.flatnonzero(free)
            best = int(cand[np.argmin(load[cand])])
        parts[u] = best
        load[best] += p.unit_size[u]
        pin_part[pin_of_unit[pin_of_unit_ptr[u] : pin_of_unit_ptr[u + 1]]] = best
    return parts
