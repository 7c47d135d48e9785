"""Partitioning methods from other packages: ``metis``, ``hypergraph``, ``kahip``, ``kernighan_lin``, ``spectral``.

* ``metis``: METIS (Karypis and Kumar 1998) through pymetis, on the graph view with unit
  neurons as vertex weights, by recursive bisection: for parts of a few units it cuts far
  better than METIS' k-way scheme (one 1536-neuron layer of the shuffled local model into
  192 tiles of 8: 13,646 distinct sources per tile summed against 35,210 with k-way,
  measured 2026-12-02) (``pip install mimdsim[partition]``);
* ``hypergraph``: Mt-KaHyPar (Gottesbüren et al.) on the nets themselves, connectivity
  (``km1``) objective, 3 % imbalance, one thread and a seed; the ``LARGE_K`` preset for 64
  parts or more (one layer of the random 5 % model into 184 tiles: 4.8 s against 32.6 s
  for ``DETERMINISTIC`` at a 0.5 % larger objective; the shuffled local layer into 192: the
  same objective, 1.2 s against 7.9 s; measured 2026-12-02), else ``DETERMINISTIC``;
* ``kahip``: KaHIP's ``kaffpa`` (Sanders and Schulz), ``FAST`` mode (``ECO`` took over 5 minutes
  on one layer of the random 5 % model, 467,792 edges into 184 parts, against 2.3 s; measured
  2026-12-02);
* ``kernighan_lin`` and ``spectral``: recursive bisection, each half getting parts in
  proportion to its units, by networkx's Kernighan-Lin bisection or by the Fiedler vector of
  each connected component (scipy sparse graphs; a dense LAPACK eigensolver up to
  :data:`DENSE_EIGEN_MAX` units, which made ``spectral`` on the 1,471 tiles of the random
  5 % model at k = 2 take 8.3 s instead of 31 s through networkx; measured 2026-12-02).

Each imports its package when called; a missing one is a :class:`MissingPackageError`
naming the extra that installs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from mimdsim.errors import MissingPackageError
from mimdsim.partition.problem import PartitionProblem, integer_weights

__all__ = ["metis", "hypergraph", "kahip", "kernighan_lin", "spectral", "require"]

IMBALANCE = 0.03
"""Allowed imbalance of the external partitioners (the dispatcher's repair enforces the hard capacity)."""


def require(module: str, method: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingPackageError` naming the ``partition`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(
            f"partition method {method!r} needs the Python package {module.split('.')[0]!r}: pip install 'mimdsim[partition]'"
        ) from None


def metis(p: PartitionProblem) -> np.ndarray:
    """METIS recursive bisection on the graph view."""
    pymetis = require("pymetis", "metis")
    if p.n_parts == 1:
        return np.zeros(p.n_units, np.int64)
    xadj, adj, w = p.csr_graph()
    opts = pymetis.Options(seed=p.seed, ufactor=int(IMBALANCE * 1000))
    res = pymetis.part_graph(p.n_parts, pymetis.CSRAdjacency(xadj, adj), vweights=p.unit_size.tolist(),
                             eweights=integer_weights(w).tolist(), options=opts, recursive=True)  # fmt: skip
    return np.asarray(res[1], np.int64)


_MTK: Any = None
LARGE_K_PARTS = 64
"""From this many parts ``hypergraph`` uses Mt-KaHyPar's ``LARGE_K`` preset (see the module docstring)."""


def hypergraph(p: PartitionProblem) -> np.ndarray:
    """Mt-KaHyPar, connectivity objective, on the nets."""
    mtk = require("mtkahypar", "hypergraph")
    global _MTK
    if p.n_parts == 1:
        return np.zeros(p.n_units, np.int64)
    if _MTK is None:
        _MTK = mtk.initialize(1, False)
    mtk.set_seed(p.seed)
    ctx = _MTK.context_from_preset(mtk.PresetType.LARGE_K if p.n_parts >= LARGE_K_PARTS else mtk.PresetType.DETERMINISTIC)
    ctx.set_partitioning_parameters(p.n_parts, IMBALANCE, mtk.Objective.KM1)
    ctx.logging = False
    nets = [p.net_pins[p.net_ptr[i] : p.net_ptr[i + 1]].tolist() for i in range(p.net_weight.size)]
    hg = _MTK.create_hypergraph(ctx, p.n_units, len(nets), nets, p.unit_size.tolist(), integer_weights(p.net_weight).tolist())
    part = hg.partition(ctx)
    return np.array([part.block_id(u) for u in range(p.n_units)], np.int64)


def kahip(p: PartitionProblem) -> np.ndarray:
    """KaHIP ``kaffpa`` (FAST) on the graph view."""
    kh = require("kahip", "kahip")
    if p.n_parts == 1:
        return np.zeros(p.n_units, np.int64)
    xadj, adj, w = p.csr_graph()
    _, parts = kh.kaffpa(p.unit_size.tolist(), xadj.tolist(), integer_weights(w).tolist(), adj.tolist(), p.n_parts, IMBALANCE,
                         True, p.seed, kh.FAST)  # fmt: skip
    return np.asarray(parts, np.int64)


def _bisect(p: PartitionProblem, split: Callable[[list[int], int], tuple[list[int], list[int]]]) -> np.ndarray:
    """Parts by recursive bisection: ``split(nodes, n_left)`` returns the two halves, the
    first of ``n_left`` nodes; parts split in proportion to the nodes."""
    parts = np.zeros(p.n_units, np.int64)
    stack: list[tuple[list[int], int, int]] = [(list(range(p.n_units)), 0, p.n_parts)]
    while stack:
        nodes, first, k = stack.pop()
        if k == 1 or len(nodes) <= 1:
            parts[nodes] = first
            continue
        k_left = k // 2
        left, right = split(nodes, round(len(nodes) * k_left / k))
        stack.append((left, first, k_left))
        stack.append((right, first + k_left, k - k_left))
    return parts


def kernighan_lin(p: PartitionProblem) -> np.ndarray:
    """Recursive Kernighan-Lin bisection (networkx)."""
    nx = require("networkx", "kernighan_lin")
    xadj, adj, w = p.csr_graph()
    g = nx.Graph()
    g.add_nodes_from(range(p.n_units))
    src = np.repeat(np.arange(p.n_units), np.diff(xadj))
    keep = src < adj
    g.add_weighted_edges_from(zip(src[keep].tolist(), adj[keep].tolist(), w[keep].tolist(), strict=True))

    def split(nodes: list[int], n_left: int) -> tuple[list[int], list[int]]:
        start = (set(nodes[:n_left]), set(nodes[n_left:]))
        a, b = nx.community.kernighan_lin_bisection(g.subgraph(nodes), partition=start, weight="weight", seed=p.seed)
        return sorted(a), sorted(b)

    return _bisect(p, split)


DENSE_EIGEN_MAX = 3000
"""Components up to this many units get their Fiedler vector from a dense eigensolver (LAPACK, deterministic)."""


def _fiedler_order(lap: Any, seed: int) -> np.ndarray:
    """Positions of a connected graph's nodes sorted by its Fiedler vector (sign fixed: first nonzero entry positive)."""
    n = lap.shape[0]
    if n <= DENSE_EIGEN_MAX:
        vec = np.linalg.eigh(lap.toarray())[1][:, 1]
    else:
        linalg = require("scipy.sparse.linalg", "spectral")
        vals, vecs = linalg.eigsh(lap.tocsc(), k=2, sigma=-1e-6, which="LM", v0=np.random.default_rng(seed).random(n))
        vec = vecs[:, int(np.argsort(vals)[1])]
    nz = np.flatnonzero(np.abs(vec) > 1e-12)
    if nz.size and vec[nz[0]] < 0:
        vec = -vec
    return np.argsort(np.round(vec, 12), kind="stable")


def spectral(p: PartitionProblem) -> np.ndarray:
    """Recursive spectral bisection by the Fiedler vector of each connected component (scipy)."""
    sp = require("scipy.sparse", "spectral")
    csgraph = require("scipy.sparse.csgraph", "spectral")
    xadj, adj, w = p.csr_graph()
    a = sp.csr_matrix((w, adj, xadj), shape=(p.n_units, p.n_units))

    def split(nodes: list[int], n_left: int) -> tuple[list[int], list[int]]:
        idx = np.asarray(nodes, np.int64)
        sub = a[idx][:, idx]
        _, label = csgraph.connected_components(sub, directed=False)
        order: list[int] = []
        for c in label[np.sort(np.unique(label, return_index=True)[1])].tolist():  # components by their first node
            members = np.flatnonzero(label == c)
            if members.size > 2:
                part = sub[members][:, members]
                members = members[_fiedler_order(sp.diags(np.asarray(part.sum(axis=1)).ravel()) - part, p.seed)]
            order += idx[members].tolist()
        return order[:n_left], order[n_left:]

    return _bisect(p, split)
