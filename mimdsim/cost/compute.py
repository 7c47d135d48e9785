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
from numba import njit

from mimdsim.program.flat_blocks import flat_blocks
from mimdsim.program.ir import ComputeSet
from mimdsim.program.memo import derived

__all__ = [
    "schedule_worker_vertices",
    "ComputeStructure",
    "ComputeCosts",
    "compute_structure",
    "compute_costs",
    "tile_compute_cycles",
]


@njit(cache=True)
def schedule_worker_vertices(loads: np.ndarray, cycles: np.ndarray, counts: np.ndarray, n_ctx: int, launch: int) -> None:
    """Add vertices (``counts[j]`` copies of ``cycles[j]`` thread cycles) to context ``loads`` (tile cycles) in place.

    Each vertex occupies the least-loaded context (the lowest on ties) for
    ``n_ctx * cycles[j] + launch`` tile cycles.
    """
    for j in range(cycles.shape[0]):
        c = n_ctx * cycles[j] + launch
        n = counts[j]
        # NOTE: whole rounds are added at once when the loads differ by less than one
        # vertex (max - min < c): the greedy rule then gives every context exactly one
        # vertex per round (each context's next load exceeds every other's current one),
        # which keeps the spread, so the rounds repeat until fewer than n_ctx are left.
        while n > 0:
            k = 0
            lo = loads[0]
            hi = loads[0]
            for q in range(1, n_ctx):
                v = loads[q]
                if v < lo:
                    lo = v
                    k = q  # the lowest least-loaded context
                elif v > hi:
                    hi = v
            if n >= n_ctx and (hi - lo < c or lo == hi):
                rounds = n // n_ctx
                for q in range(n_ctx):
                    loads[q] += rounds * c
                n -= rounds * n_ctx
                continue
            loads[k] += c
            n -= 1


@njit(cache=True)
def _structure_kernel(
    block_tile_ptr: np.ndarray, block_tiles: np.ndarray, tiles_per_ipu: int, n_ipus: int, cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trie of tile classes: node ``k`` extends ``parent[k]`` by block ``block[k]``.

    Nodes ``0 .. n_ipus-1`` are the roots (no block) of each IPU. ``cur`` (all -1, length
    ``n_tiles``) is a workspace, restored before return. Returns ``(parent, block, ipu,
    tiles, tile_node)``: the touched tiles in first-touch order and their final node.
    """
    n_blocks = block_tile_ptr.shape[0] - 1
    total = block_tile_ptr[n_blocks]
    max_nodes = n_ipus + total
    parent = np.full(max_nodes, -1, np.int64)
    block = np.full(max_nodes, -1, np.int64)
    ipu = np.zeros(max_nodes, np.int64)
    for i in range(n_ipus):
        ipu[i] = i
    child = np.full(max_nodes, -1, np.int64)
    reset = np.zeros(max_nodes, np.int64)
    order = np.zeros(total, np.int64)
    n = n_ipus
    n_touched = 0
    for b in range(n_blocks):
        n_reset = 0
        for p in range(block_tile_ptr[b], block_tile_ptr[b + 1]):
            t = block_tiles[p]
            c = cur[t]
            if c < 0:
                c = t // tiles_per_ipu
                order[n_touched] = t
                n_touched += 1
            k = child[c]
            if k < 0:
                k = n
                n += 1
                parent[k] = c
                block[k] = b
                ipu[k] = ipu[c]
                child[c] = k
                reset[n_reset] = c
                n_reset += 1
            cur[t] = k
        for j in range(n_reset):
            child[reset[j]] = -1
    tiles = order[:n_touched].copy()
    tile_node = np.zeros(n_touched, np.int64)
    for j in range(n_touched):
        tile_node[j] = cur[tiles[j]]
        cur[tiles[j]] = -1
    return parent[:n].copy(), block[:n].copy(), ipu[:n].copy(), tiles, tile_node


@njit(cache=True)
def _first_equal_rows(
    blk_nvtx: np.ndarray, cyc_ptr: np.ndarray, cyc_rows: np.ndarray, cnt_ptr: np.ndarray, cnt_rows: np.ndarray,
    sup_ptr: np.ndarray, sup_rows: np.ndarray, cyc: np.ndarray, cnt: np.ndarray, sup: np.ndarray, n_rows: int,
) -> np.ndarray:  # fmt: skip
    """``first[b, r]``: the first row of block ``b``'s tables equal to row ``r`` (``r`` itself when none is).

    Rows are looked up by a hash in an open-addressing table, then compared in full."""
    nb = blk_nvtx.shape[0]
    first = np.empty((nb, n_rows), np.int64)
    h = np.empty(n_rows, np.int64)
    size = 1
    while size < 2 * n_rows:
        size *= 2
    table = np.empty(size, np.int64)
    for b in range(nb):
        nv = blk_nvtx[b]
        for r in range(n_rows):
            first[b, r] = r
        if not (cyc_rows[b] > 1 or cnt_rows[b] > 1 or sup_rows[b] > 1):
            continue
        for r in range(n_rows):
            x = np.int64(0)
            if sup_rows[b] > 1:
                x = x * np.int64(1000003) + sup[sup_ptr[b] + r]
            if cyc_rows[b] > 1:
                for j in range(nv):
                    x = x * np.int64(1000003) + cyc[cyc_ptr[b] + r * nv + j]
            if cnt_rows[b] > 1:
                for j in range(nv):
                    x = x * np.int64(1000003) + cnt[cnt_ptr[b] + r * nv + j]
            h[r] = x ^ (x >> 29)
        for slot in range(size):
            table[slot] = -1
        for r in range(n_rows):  # open addressing: the first row with this content is kept in the table
            slot = h[r] & (size - 1)
            while table[slot] >= 0:
                q = table[slot]
                same = h[q] == h[r]
                if same and sup_rows[b] > 1:
                    same = sup[sup_ptr[b] + r] == sup[sup_ptr[b] + q]
                if same and cyc_rows[b] > 1:
                    for j in range(nv):
                        if cyc[cyc_ptr[b] + r * nv + j] != cyc[cyc_ptr[b] + q * nv + j]:
                            same = False
                            break
                if same and cnt_rows[b] > 1:
                    for j in range(nv):
                        if cnt[cnt_ptr[b] + r * nv + j] != cnt[cnt_ptr[b] + q * nv + j]:
                            same = False
                            break
                if same:
                    first[b, r] = q
                    break
                slot = (slot + 1) & (size - 1)
            if table[slot] < 0:
                table[slot] = r
    return first


@njit(cache=True)
def _row_costs_kernel(
    parent: np.ndarray,
    block: np.ndarray,
    blk_nvtx: np.ndarray,
    blk_cyc_ptr: np.ndarray,
    blk_cyc_rows: np.ndarray,
    blk_cnt_ptr: np.ndarray,
    blk_cnt_rows: np.ndarray,
    blk_sup_ptr: np.ndarray,
    blk_sup_rows: np.ndarray,
    blk_seg: np.ndarray,
    cyc: np.ndarray,
    cnt: np.ndarray,
    sup: np.ndarray,
    n_rows: int,
    n_ctx: int,
    launch: int,
    overhead: int,
    first_row: np.ndarray,
    out_incl: np.ndarray,
    out_excl: np.ndarray,
) -> None:
    """Compute cycles incl./excl. idle threads of every trie node in every row (``out_*[row, node]``).

    A leaf under the root (a tile class of one block) costs in row ``r`` what it cost in the first row of its
    block's tables equal to row ``r`` (``first_row``, :func:`_first_equal_rows`): that row is copied."""
    n = parent.shape[0]
    leaf = np.ones(n, np.bool_)
    for k in range(n):
        if parent[k] >= 0:
            leaf[parent[k]] = False
    loads = np.zeros((n, n_ctx), np.int64)
    sup_acc = np.zeros(n, np.int64)
    thr_acc = np.zeros(n, np.int64)
    sealed = np.zeros(n, np.int64)  # busiest context + overhead of the node's finished segments
    # a node whose blocks (its own and its ancestors') hold no table costs the same in
    # every row: rows after the first copy row 0 (its loads and sums stay those of row 0)
    varies = np.zeros(n, np.bool_)
    for k in range(n):
        p = parent[k]
        if p >= 0:
            b = block[k]
            varies[k] = varies[p] or blk_cyc_rows[b] > 1 or blk_cnt_rows[b] > 1 or blk_sup_rows[b] > 1
    for r in range(n_rows):
        for k in range(n):
            p = parent[k]
            if r > 0 and not varies[k]:
                out_incl[r, k] = out_incl[0, k]
                out_excl[r, k] = out_excl[0, k]
                continue
            if p < 0:
                for q in range(n_ctx):
                    loads[k, q] = 0
                sup_acc[k] = 0
                thr_acc[k] = 0
                sealed[k] = 0
                out_incl[r, k] = 0
                out_excl[r, k] = 0
                continue
            b = block[k]
            if leaf[k] and parent[p] < 0 and first_row[b, r] < r:
                out_incl[r, k] = out_incl[first_row[b, r], k]
                out_excl[r, k] = out_excl[first_row[b, r], k]
                continue
            sealed[k] = sealed[p]
            if block[p] >= 0 and blk_seg[block[p]] != blk_seg[b]:  # a new compute set: the workers start afresh
                done = 0
                for q in range(n_ctx):
                    if loads[p, q] > done:
                        done = loads[p, q]
                sealed[k] += done + overhead
                for q in range(n_ctx):
                    loads[k, q] = 0
            else:
                for q in range(n_ctx):
                    loads[k, q] = loads[p, q]
            nv = blk_nvtx[b]
            c0 = blk_cyc_ptr[b] + (r * nv if blk_cyc_rows[b] > 1 else 0)
            n0 = blk_cnt_ptr[b] + (r * nv if blk_cnt_rows[b] > 1 else 0)
            s = sup[blk_sup_ptr[b] + (r if blk_sup_rows[b] > 1 else 0)]
            schedule_worker_vertices(loads[k], cyc[c0 : c0 + nv], cnt[n0 : n0 + nv], n_ctx, launch)
            th = thr_acc[p]
            for j in range(nv):
                th += cyc[c0 + j] * cnt[n0 + j]
            thr_acc[k] = th
            sup_acc[k] = sup_acc[p] + s
            busiest = 0
            for q in range(n_ctx):
                if loads[k, q] > busiest:
                    busiest = loads[k, q]
            out_incl[r, k] = sup_acc[k] + sealed[k] + busiest + overhead
            out_excl[r, k] = sup_acc[k] + th


@njit(cache=True)
def _ipu_critical_kernel(
    incl: np.ndarray,
    final: np.ndarray,
    node_ipu: np.ndarray,
    node_min_tile: np.ndarray,
    idle_tile: np.ndarray,
    out_max: np.ndarray,
    out_crit: np.ndarray,
) -> None:
    """Per row and IPU: the largest tile compute time and the lowest tile reaching it.

    ``final`` lists the nodes some tile ends at; a tile without vertices counts as
    ``C_t = 0`` (``idle_tile[i]``: the lowest such tile of IPU ``i``, or -1).
    """
    n_ipus = idle_tile.shape[0]
    for r in range(incl.shape[0]):
        for i in range(n_ipus):
            out_max[r, i] = -1
            out_crit[r, i] = 0
        for j in range(final.shape[0]):
            k = final[j]
            i = node_ipu[k]
            v = incl[r, k]
            t = node_min_tile[k]
            if v > out_max[r, i] or (v == out_max[r, i] and t < out_crit[r, i]):
                out_max[r, i] = v
                out_crit[r, i] = t
        for i in range(n_ipus):
            # tiles without vertices (C_t = 0) compete when no tile of the IPU computes longer
            u = idle_tile[i]
            if out_max[r, i] <= 0 and u >= 0:
                if out_max[r, i] < 0 or u < out_crit[r, i]:
                    out_crit[r, i] = u
                out_max[r, i] = 0


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


@njit(cache=True)
def _first_idle_kernel(tiles: np.ndarray, tiles_per_ipu: int, n_ipus: int) -> np.ndarray:
    """The lowest tile of each IPU not in ``tiles`` (ascending), -1 where every tile is."""
    idle = np.full(n_ipus, -1, np.int64)
    p = 0
    for i in range(n_ipus):
        cand = i * tiles_per_ipu
        while p < tiles.shape[0] and tiles[p] < cand:
            p += 1
        while p < tiles.shape[0] and tiles[p] == cand:
            cand += 1
            p += 1
        if cand < (i + 1) * tiles_per_ipu:
            idle[i] = cand
    return idle


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
    parent, block, ipu, tiles, tile_node = _structure_kernel(ptr, tiles_cat, tiles_per_ipu, n_ipus, _workspace(n_tiles))
    order = np.argsort(tiles, kind="stable")
    tiles, tile_node = tiles[order], tile_node[order]
    min_tile = np.full(parent.size, -1, np.int64)
    final, first = np.unique(tile_node, return_index=True)  # tiles ascending: first = lowest tile
    min_tile[final] = tiles[first]
    idle = _first_idle_kernel(tiles, tiles_per_ipu, n_ipus)
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
    first_row = derived(cs, ("first_equal_rows", n_rows), lambda: _first_equal_rows(*tables[:7], *tables[8:], n_rows))
    _row_costs_kernel(
        st.node_parent, st.node_block, *tables, n_rows, n_ctx, launch_cycles, overhead_cycles, first_row, incl, excl
    )
    n_ipus = st.idle_tile.size
    ipu_max = np.zeros((n_rows, n_ipus), np.int64)
    ipu_crit = np.zeros((n_rows, n_ipus), np.int64)
    _ipu_critical_kernel(incl, st.final, st.node_ipu, st.node_min_tile, st.idle_tile, ipu_max, ipu_crit)
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
