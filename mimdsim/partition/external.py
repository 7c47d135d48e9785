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
* ``kernighan_lin`` and ``spectral``: recursive bisection with networkx's
  Kernighan-Lin bisection and the Fiedler vector (networkx + scipy): each half gets parts
  in proportion to its units.

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
            f"partition method {method!r} needs the Python package {module!r}: pip install 'mimdsim[partition]'"
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


def _recursive_bisection(p: PartitionProblem, split: Callable[[Any, list[int], int, int], tuple[list[int], list[int]]]) -> np.ndarray:
    """Parts by recursive bisection: ``split(graph, nodes, n_left, seed)`` returns the two halves,
    the first of ``n_left`` nodes; parts split in proportion."""
    nx = require("networkx", "kernighan_lin")
    xadj, adj, w = p.csr_graph()
    g = nx.Graph()
    g.add_nodes_from(range(p.n_units))
    src = np.repeat(np.arange(p.n_units), np.diff(xadj))
    keep = src < adj
    g.add_weighted_edges_from(zip(src[keep].tolist(), adj[keep].tolist(), w[keep].tolist(), strict=True))
    parts = np.zeros(p.n_units, np.int64)
    stack: list[tuple[list[int], int, int]] = [(list(range(p.n_units)), 0, p.n_parts)]
    while stack:
        nodes, first, k = stack.pop()
        if k == 1 or len(nodes) <= 1:
            parts[nodes] = first
            continue
        k_left = k // 2
        n_left = round(len(nodes) * k_left / k)
        left, right = split(g.subgraph(nodes), nodes, n_left, p.seed)
        stack.append((left, first, k_left))
        stack.append((right, first + k_left, k - k_left))
    return parts


def _kl_split(g: Any, nodes: list[int], n_left: int, seed: int) -> tuple[list[int], list[int]]:
    nx = require("networkx", "kernighan_lin")
    start = (set(nodes[:n_left]), set(nodes[n_left:]))
    a, b = nx.community.kernighan_lin_bisection(g, partition=start, weight="weight", seed=seed)
    return sorted(a), sorted(b)


DENSE_EIGEN_MAX = 3000
"""Components up to this many units get their Fiedler vector from a dense eigensolver (LAPACK, deterministic)."""


def _fiedler(g: Any, nodes: list[int], seed: int) -> np.ndarray:
    """The Fiedler vector of the connected subgraph on ``nodes``, its sign fixed (first nonzero entry positive)."""
    nx = require("networkx", "spectral")
    sp = require("scipy.sparse", "spectral")
    lap = nx.laplacian_matrix(g.subgraph(nodes), nodelist=nodes, weight="weight").astype(float)
    if len(nodes) <= DENSE_EIGEN_MAX:
        vec = np.linalg.eigh(lap.toarray())[1][:, 1]
    else:
        linalg = require("scipy.sparse.linalg", "spectral")
        v0 = np.random.default_rng(seed).random(len(nodes))
        vals, vecs = linalg.eigsh(sp.csr_matrix(lap), k=2, sigma=-1e-6, which="LM", v0=v0)
        vec = vecs[:, int(np.argsort(vals)[1])]
    nz = np.flatnonzero(np.abs(vec) > 1e-12)
    return -vec if nz.size and vec[nz[0]] < 0 else vec


def _spectral_split(g: Any, nodes: list[int], n_left: int, seed: int) -> tuple[list[int], list[int]]:
    nx = require("networkx", "spectral")
    require("scipy", "spectral")
    order: list[int] = []
    for comp in sorted(nx.connected_components(g), key=lambda c: min(c)):
        comp_nodes = sorted(comp)
        if len(comp_nodes) <= 2:
            order += comp_nodes
            continue
        f = np.round(_fiedler(g, comp_nodes, seed), 12)
        order += [comp_nodes[i] for i in np.argsort(f, kind="stable").tolist()]
    return order[:n_left], order[n_left:]


def kernighan_lin(p: PartitionProblem) -> np.ndarray:
    """Recursive Kernighan-Lin bisection (networkx)."""
    return _recursive_bisection(p, _kl_split)


def spectral(p: PartitionProblem) -> np.ndarray:
    """Recursive spectral bisection by the Fiedler vector (networkx, scipy)."""
    return _recursive_bisection(p, _spectral_split)
