"""Tile compute time of a compute set: the barrel-scheduled worker contexts.

Model (GC-PG, POPLIBS; T6 codelets and profiles):

* Worker vertices are launched in program order; each goes to the worker context that
  becomes free first (greedy list scheduling; ties go to the lowest context index).
  ``n_ctx`` contexts share one pipeline in a barrel, each issuing once every ``n_ctx``
  tile cycles, so a vertex of ``c`` thread cycles keeps its context busy for
  ``n_ctx * c`` tile cycles, plus ``worker_launch_cycles``: the supervisor launches each
  worker vertex in the issue slot the vertex then runs in (the supervisor owns the slots
  and hands one to a worker with ``run``), so the launch is paid in that context.
* Supervisor vertices cost tile cycles and run on the supervisor, before the workers.
* ``compute incl. idle`` (tile cycles) = supervisor + the busiest context
  + ``compute_set_overhead_cycles`` on a tile that has any vertex.
* ``compute excl. idle`` = supervisor + the sum of worker thread cycles (what the Poplar
  IPU Model reports: the sum of the vertices' estimates).
* A compute phase may run several compute sets one after another without a sync between
  them (block ``segment`` s, :class:`~mimdsim.program.ir.VertexBlock`): on each tile the
  supervisor waits for every worker of one compute set before it launches the next, so a
  tile's time is the sum over its segments of (busiest context + overhead), plus its
  supervisor cycles.

Tiles in the same blocks cost the same, so a compute set is costed per **tile class**,
not per tile: :func:`compute_structure` groups the tiles of one IPU by the ordered list of
blocks they are in (a trie over blocks, built once per compute set), and
:func:`compute_costs` costs every class once per row of the compute set's cycle tables
(docs/concepts.md). A tile in several blocks runs their vertex lists concatenated in block
order, which is the class's path in the trie.

Example (tut6, Mk2): 48 dot vertices of 77 thread cycles on 6 contexts -> 8 each ->
6 x 8 x 77 = 3,696 tile cycles; 7 reduce vertices of 9 -> one context runs 2 -> 108.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from mimdsim.cost.compute_kernels import (
    first_idle_kernel,
    ipu_critical_kernel,
    row_classes,
    row_costs_kernel,
    schedule_worker_vertices,
    structure_kernel,
)
from mimdsim.program.flat_blocks import flat_blocks
from mimdsim.program.ir import ComputeSet
from mimdsim.program.memo import derived
from mimdsim.program.unique import unique_ints

__all__ = [
    "schedule_worker_vertices",
    "ComputeStructure",
    "ComputeCosts",
    "compute_structure",
    "compute_costs",
    "tile_compute_cycles",
]


@dataclass(frozen=True, eq=False)
class ComputeStructure:
    """The tile classes of one compute set on one machine (no costs).

    Trie node ``k`` (``n_nodes`` in all) is the class of the tiles of IPU ``node_ipu[k]``
    whose block list is ``node_parent[k]``'s followed by block ``node_block[k]``; nodes
    ``0 .. n_ipus-1`` are the empty roots. ``tiles`` (ascending) are the tiles with
    vertices and ``tile_node`` their classes; ``final`` the nodes some tile ends at, with
    ``node_min_tile`` (their lowest tile; -1 for other nodes); ``idle_tile[i]`` the lowest
    tile of IPU ``i`` outside every block (-1 if none).
    """

    n_rows: int
    node_parent: np.ndarray
    node_block: np.ndarray
    node_ipu: np.ndarray
    node_min_tile: np.ndarray
    tiles: np.ndarray
    tile_node: np.ndarray
    final: np.ndarray
    idle_tile: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.node_parent.size)


@dataclass(frozen=True, eq=False)
class ComputeCosts:
    """Costs of every class of one compute set in every row of its cycle tables.

    ``incl[r, k]`` / ``excl[r, k]``: compute cycles incl./excl. idle threads of a tile of
    class ``k`` in row ``r``; ``ipu_max[r, i]`` the largest tile compute time on IPU ``i``
    (0 when no tile computes) and ``ipu_crit[r, i]`` the lowest tile reaching it.
    """

    structure: ComputeStructure
    incl: np.ndarray
    excl: np.ndarray
    ipu_max: np.ndarray
    ipu_crit: np.ndarray

    def tile_cycles(self, row: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tiles, incl, excl)`` of the tiles with vertices in ``row``, tiles ascending."""
        st = self.structure
        return st.tiles, self.incl[row, st.tile_node], self.excl[row, st.tile_node]


_WORKSPACE = threading.local()


def _workspace(n_tiles: int) -> np.ndarray:
    """The kernel's per-tile scratch (all -1, restored by the kernel), one per thread and size."""
    cache: dict[int, np.ndarray] = getattr(_WORKSPACE, "by_size", None) or {}
    _WORKSPACE.by_size = cache
    if n_tiles not in cache:
        cache[n_tiles] = np.full(n_tiles, -1, np.int64)
    return cache[n_tiles]


def compute_structure(cs: ComputeSet, n_tiles: int, tiles_per_ipu: int) -> ComputeStructure:
    """Group the tiles of ``cs`` into classes of equal block lists (see the module docstring)."""
    n_ipus = n_tiles // tiles_per_ipu
    flat = flat_blocks(cs)
    ptr, tiles_cat = flat.tile_ptr, flat.tiles
    parent, block, ipu, tiles, tile_node = structure_kernel(ptr, tiles_cat, tiles_per_ipu, n_ipus, _workspace(n_tiles))
    order = np.argsort(tiles, kind="stable")
    tiles, tile_node = tiles[order], tile_node[order]
    min_tile = np.full(parent.size, -1, np.int64)
    final, first = unique_ints(tile_node, return_index=True)  # tiles ascending: first = lowest tile
    min_tile[final] = tiles[first]
    idle = first_idle_kernel(tiles, tiles_per_ipu, n_ipus)
    arrays = (parent, block, ipu, min_tile, tiles, tile_node, final, idle)
    for a in arrays:
        a.flags.writeable = False
    return ComputeStructure(cs.n_rows, *arrays)


def compute_costs(
    cs: ComputeSet,
    structure: ComputeStructure,
    n_ctx: int,
    *,
    launch_cycles: int = 0,
    overhead_cycles: int = 0,
) -> ComputeCosts:
    """Cost every tile class of ``cs`` in every row (``structure`` from :func:`compute_structure`)."""
    st = structure
    n_rows = st.n_rows
    incl = np.zeros((n_rows, st.n_nodes), np.int64)
    excl = np.zeros((n_rows, st.n_nodes), np.int64)
    tables = flat_blocks(cs).cost_tables()
    row_class, n_classes = derived(cs, ("row_classes", n_rows), lambda: row_classes(*tables[:7], *tables[8:], n_rows))
    row_costs_kernel(
        st.node_parent, st.node_block, *tables, n_rows, n_ctx, launch_cycles, overhead_cycles, row_class, n_classes, incl, excl
    )
    n_ipus = st.idle_tile.size
    ipu_max = np.zeros((n_rows, n_ipus), np.int64)
    ipu_crit = np.zeros((n_rows, n_ipus), np.int64)
    ipu_critical_kernel(incl, st.final, st.node_ipu, st.node_min_tile, st.idle_tile, ipu_max, ipu_crit)
    return ComputeCosts(st, incl, excl, ipu_max, ipu_crit)


def tile_compute_cycles(
    cs: ComputeSet, n_tiles: int, n_ctx: int = 6, overhead_cycles: int = 0, *, row: int = 0, launch_cycles: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiles that run vertices in ``cs`` (ascending), with their compute cycles incl. and excl. idle threads.

    Examples
    --------
    >>> from mimdsim.program.ir import ComputeSet, VertexBlock
    >>> cs = ComputeSet("mul", (VertexBlock("Dot", [0, 1], [77], [48]),))
    >>> tiles, incl, excl = tile_compute_cycles(cs, n_tiles=2)
    >>> incl.tolist(), excl.tolist()
    ([3696, 3696], [3696, 3696])
    """
    st = compute_structure(cs, n_tiles, n_tiles)
    return compute_costs(cs, st, n_ctx, launch_cycles=launch_cycles, overhead_cycles=overhead_cycles).tile_cycles(row)
