"""``refine``: simulator-in-the-loop local search over tile assignments.

Starts from any method's placement and proposes batches of unit swaps between tiles (a swap
keeps every tile's neuron count); a batch is kept only if ``cost`` -- the simulated step
time, given by the caller (the SNN side lowers and simulates each candidate) -- does not go
up, so the result is never worse than the start. A batch of equal cost is kept too (a
sideways move): every swap in it lowers the fan-in or the connectivity below, so the search
crosses the plateaus that a step time set by a few critical tiles has (on
``nmnist_sparse_local_shuffled`` from metis, the first five batches cost exactly the same and
the sixth is faster; with strict descent the search stopped at the start). Two kinds of
batch alternate:

* **fan-in**: the tile with the most distinct presynaptic sources sets the slowest vertex of
  the compute sets that read their inputs (the state update, weight and input gradients
  scale with the input spikes a tile's sources send); each swap moves a unit off the tile
  of highest fan-in to one of the lowest of the same layer, taking back the partner that
  lowers the larger of the two fan-ins most;
* **connectivity**: the swaps that most lower ``sum over nets of (lambda - 1)`` (the
  hypergraph objective, unweighted), each unit with its best partner on the tile it joins.

A kept batch doubles the next batch of its kind, a rejected one halves it; the search stops
after ``max_evaluations`` costings or when neither kind has a swap left. ``accepted`` counts
the batches that lowered the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from mimdsim.errors import MappingError
from mimdsim.partition.problem import PartitionProblem

__all__ = ["RefineResult", "refine", "DEFAULT_EVALUATIONS", "MAX_COUNT_CELLS"]

DEFAULT_EVALUATIONS = 16
MAX_COUNT_CELLS = 50_000_000
"""Largest nets x tiles pin-count table refine keeps (int32, 200 MB)."""


@dataclass(frozen=True)
class RefineResult:
    parts: np.ndarray
    start_cost: float
    cost: float
    evaluations: int
    accepted: int


class _Counts:
    """Pins of every net on every part, and each part's fan-in (nets with a pin there)."""

    def __init__(self, p: PartitionProblem, parts: np.ndarray) -> None:
        if p.net_weight.size * p.n_parts > MAX_COUNT_CELLS:
            raise MappingError(
                f"refine: {p.net_weight.size:,} nets x {p.n_parts:,} tiles is over {MAX_COUNT_CELLS:,} cells; use larger units"
            )
        self.p = p
        self.parts = parts.copy()
        self.net_of_pin = np.repeat(np.arange(p.net_weight.size), np.diff(p.net_ptr))
        self.c = np.zeros((p.net_weight.size, p.n_parts), np.int32)
        np.add.at(self.c, (self.net_of_pin, parts[p.net_pins]), 1)
        self.fanin = (self.c > 0).sum(axis=0)
        self._nets: dict[int, np.ndarray] = {}
        self.layer_parts: dict[int, np.ndarray] = {}
        self._mark = np.zeros(p.net_weight.size, np.int8)

    def nets(self, u: int) -> np.ndarray:
        """The distinct nets of unit ``u``."""
        got = self._nets.get(u)
        if got is None:
            uptr, unets = self.p.unit_nets
            got = self._nets[u] = np.unique(unets[uptr[u] : uptr[u + 1]])
        return got

    def leave_gain(self, u: int) -> int:
        """Fan-in its part loses if ``u`` leaves it."""
        return int((self.c[self.nets(u), self.parts[u]] == 1).sum())

    def move(self, u: int, b: int) -> None:
        a = int(self.parts[u])
        n = self.nets(u)
        before_a, before_b = self.c[n, a], self.c[n, b]
        self.c[n, a] = before_a - 1
        self.c[n, b] = before_b + 1
        self.fanin[a] -= int((before_a == 1).sum())
        self.fanin[b] += int((before_b == 0).sum())
        self.parts[u] = b

    def swap_fanins(self, u: int, v: int) -> tuple[int, int]:
        """Fan-ins of ``u``'s and ``v``'s parts if they swapped (nothing changes)."""
        a, b = int(self.parts[u]), int(self.parts[v])
        return _swap_fanins(self.c, self.nets(u), self.nets(v), a, b, int(self.fanin[a]), int(self.fanin[b]), self._mark)


@njit(cache=True)
def _swap_fanins(
    c: np.ndarray, nu: np.ndarray, nv: np.ndarray, a: int, b: int, fa: int, fb: int, mark: np.ndarray
) -> tuple[int, int]:
    """Fan-ins of parts ``a`` and ``b`` after swapping a unit of nets ``nu`` (on ``a``) with one of ``nets`` nv (on ``b``);
    ``mark`` is a zeroed scratch array, one entry per net, left zeroed."""
    for e in nu:
        mark[e] |= 1
    for e in nv:
        mark[e] |= 2
    for e in nu:
        if mark[e] == 1:  # a net of u only: leaves a, joins b (nets of both stay where they are)
            fa -= c[e, a] == 1
            fb += c[e, b] == 0
    for e in nv:
        if mark[e] == 2:
            fb -= c[e, b] == 1
            fa += c[e, a] == 0
    for e in nu:
        mark[e] = 0
    for e in nv:
        mark[e] = 0
    return fa, fb


def _partners(p: PartitionProblem, parts: np.ndarray, u: int, part: int, same_layer: bool) -> np.ndarray:
    """Units on ``part`` that can swap with ``u``: the same size (and layer, with ``same_layer``)."""
    ok = (parts == part) & (p.unit_size == p.unit_size[u])
    if same_layer:
        ok &= p.unit_layer == p.unit_layer[u]
    return np.flatnonzero(ok)


def _layer_parts(p: PartitionProblem, cnt: _Counts, u: int, same_layer: bool) -> np.ndarray:
    """The parts ``u`` may move to (those of its layer, with ``same_layer``; as at the start of the batch)."""
    if not same_layer:
        return np.arange(p.n_parts)
    layer = int(p.unit_layer[u])
    if layer not in cnt.layer_parts:
        cnt.layer_parts[layer] = np.unique(cnt.parts[p.unit_layer == layer])
    return cnt.layer_parts[layer]


def _fanin_swaps(p: PartitionProblem, cnt: _Counts, n: int, same_layer: bool, width: int = 6) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    done: set[int] = set()
    for a in np.argsort(-cnt.fanin, kind="stable").tolist():
        if len(out) >= n or cnt.fanin[a] == 0:
            break
        if a in done:
            continue
        units = np.flatnonzero(cnt.parts == a)
        if not units.size:
            continue
        best: tuple[int, int, int] | None = None  # (max fan-in after, u, v)
        leave = [(-cnt.leave_gain(u), u) for u in units.tolist()]
        for _, u in sorted(leave)[:width]:
            allowed = [b for b in _layer_parts(p, cnt, u, same_layer).tolist() if b != a and b not in done]
            for b in sorted(allowed, key=lambda t: cnt.fanin[t])[:width]:
                for v in _partners(p, cnt.parts, u, b, same_layer)[: 2 * width].tolist():
                    fa, fb = cnt.swap_fanins(u, v)
                    worst = max(fa, fb)
                    if worst < cnt.fanin[a] and (best is None or worst < best[0]):
                        best = (worst, u, v)
        if best is not None:
            _, u, v = best
            b = int(cnt.parts[v])
            cnt.move(u, b)
            cnt.move(v, a)
            done.update((a, b))
            out.append((u, v))
    return out


def _connectivity_swaps(p: PartitionProblem, cnt: _Counts, n: int, same_layer: bool) -> list[tuple[int, int]]:
    gains: list[tuple[int, int, int]] = []
    for u in range(p.n_units):
        nets = cnt.nets(u)
        if not nets.size:
            continue
        a = int(cnt.parts[u])
        allowed = _layer_parts(p, cnt, u, same_layer)
        shared = (cnt.c[np.ix_(nets, allowed)] > 0).sum(axis=0)
        own = int((cnt.c[nets, a] > 1).sum())  # nets that stay on a without u
        j = int(np.argmax(np.where(allowed == a, -1, shared)))
        if allowed[j] != a and shared[j] > own:
            gains.append((int(shared[j] - own), u, int(allowed[j])))
    gains.sort(reverse=True)
    out: list[tuple[int, int]] = []
    used: set[int] = set()
    for _, u, b in gains:
        if len(out) >= n:
            break
        if u in used or cnt.parts[u] == b:
            continue
        a = int(cnt.parts[u])
        cand = [v for v in _partners(p, cnt.parts, u, b, same_layer).tolist() if v not in used]
        if not cand:
            continue
        before = int(cnt.fanin[a] + cnt.fanin[b])
        scored = [(sum(cnt.swap_fanins(u, v)), v) for v in cand]
        total, v = min(scored)
        if total >= before:
            continue
        cnt.move(u, b)
        cnt.move(v, a)
        used.update((u, v))
        out.append((u, v))
    return out


def refine(
    p: PartitionProblem,
    start: np.ndarray,
    cost: Callable[[np.ndarray], float],
    *,
    same_layer: bool = True,
    max_evaluations: int = DEFAULT_EVALUATIONS,
) -> RefineResult:
    """Local search from ``start`` (see the module docstring); ``cost(parts)`` is the simulated step time.
    With ``same_layer`` only units of one layer swap (every layer keeps its tiles)."""
    parts = np.asarray(start, np.int64).copy()
    best = start_cost = float(cost(parts))
    evaluations, accepted = 1, 0
    size = {"fanin": 8, "connectivity": 32}
    kinds = [("fanin", _fanin_swaps), ("connectivity", _connectivity_swaps)]
    turn = 0
    while evaluations < max_evaluations and any(size.values()):
        name, gen = kinds[turn % 2]
        turn += 1
        if not size[name]:
            continue
        cnt = _Counts(p, parts)
        swaps = gen(p, cnt, size[name], same_layer)
        if not swaps:
            size[name] = 0
            continue
        c = float(cost(cnt.parts))
        evaluations += 1
        if c <= best:  # equal: a sideways move, the swaps lowered fan-in or connectivity
            parts, best, accepted = cnt.parts.copy(), c, accepted + (c < best)
            size[name] *= 2
        else:
            size[name] //= 2
    return RefineResult(parts, start_cost, best, evaluations, accepted)
