"""The compute-phase kernels of :mod:`mimdsim.cost.compute` (its module docstring holds the model): the worker
scheduler, the trie of tile classes, the classes of equal table rows over all blocks, every class's cycles in every row,
and each IPU's critical tile.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "row_classes",
    "first_idle_kernel",
    "ipu_critical_kernel",
    "row_costs_kernel",
    "schedule_worker_vertices",
    "structure_kernel",
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
def structure_kernel(
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
def row_classes(
    blk_nvtx: np.ndarray, cyc_ptr: np.ndarray, cyc_rows: np.ndarray, cnt_ptr: np.ndarray, cnt_rows: np.ndarray,
    sup_ptr: np.ndarray, sup_rows: np.ndarray, cyc: np.ndarray, cnt: np.ndarray, sup: np.ndarray, n_rows: int,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """``(cls, n)``: ``cls[b, r]`` numbers the distinct contents (vertex cycles, counts, supervisor cycles) of the
    rows of the blocks that hold a table, over all of them (``n`` classes, in order of first appearance); -1 for
    the blocks without one.

    Each class keeps its row; a row is looked up by a hash in an open-addressing table and compared in full with
    the class's row. The table is sized for 512 classes, then for four times as many until the classes fit (a
    table that grew inside the loop cost 0.9 ms more for the stage-1 reduce). A stage-1 reduce of the family (a)
    2-hidden step holds 72,000-78,000 rows in 135-270 classes."""
    width = 2
    for b in range(blk_nvtx.shape[0]):
        width = max(width, 2 + 2 * blk_nvtx[b])
    capacity = 512
    while True:
        cls, n = _row_classes_within(
            blk_nvtx, cyc_ptr, cyc_rows, cnt_ptr, cnt_rows, sup_ptr, sup_rows, cyc, cnt, sup, n_rows, width, capacity
        )
        if n >= 0:
            return cls, n
        capacity *= 4


@njit(cache=True)
def _row_classes_within(
    blk_nvtx: np.ndarray, cyc_ptr: np.ndarray, cyc_rows: np.ndarray, cnt_ptr: np.ndarray, cnt_rows: np.ndarray,
    sup_ptr: np.ndarray, sup_rows: np.ndarray, cyc: np.ndarray, cnt: np.ndarray, sup: np.ndarray, n_rows: int,
    width: int, capacity: int,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """:func:`row_classes` with room for ``capacity`` classes (a table of twice as many slots); ``n`` is -1 when more
    classes are found."""
    nb = blk_nvtx.shape[0]
    cls = np.full((nb, n_rows), -1, np.int64)
    size = 2 * capacity
    table = np.full(size, -1, np.int64)  # class ids by hash slot
    rep_hash = np.empty(capacity, np.int64)
    rep = np.empty((capacity, width), np.int64)  # each class's row: vertex count, supervisor cycles, cycles, counts
    n = 0
    for b in range(nb):
        if not (cyc_rows[b] > 1 or cnt_rows[b] > 1 or sup_rows[b] > 1):
            continue
        nv = blk_nvtx[b]
        for r in range(n_rows):
            s0 = sup_ptr[b] + (r if sup_rows[b] > 1 else 0)
            c0 = cyc_ptr[b] + (r * nv if cyc_rows[b] > 1 else 0)
            n0 = cnt_ptr[b] + (r * nv if cnt_rows[b] > 1 else 0)
            x = np.int64(nv) * np.int64(1000003) + sup[s0]
            for j in range(nv):
                x = (x * np.int64(1000003) + cyc[c0 + j]) * np.int64(1000003) + cnt[n0 + j]
            x ^= x >> 31  # mix the high bits into the low ones, which pick the slot
            x *= np.int64(-7046029254386353131)
            h = x ^ (x >> 29)
            slot = h & (size - 1)
            found = -1
            while table[slot] >= 0:
                c = table[slot]
                if rep_hash[c] == h and rep[c, 0] == nv and rep[c, 1] == sup[s0]:
                    same = True
                    for j in range(nv):
                        if rep[c, 2 + j] != cyc[c0 + j] or rep[c, 2 + nv + j] != cnt[n0 + j]:
                            same = False
                            break
                    if same:
                        found = c
                        break
                slot = (slot + 1) & (size - 1)
            if found < 0:  # a new class: keep its row
                if n == capacity:
                    return cls, -1
                found = n
                rep_hash[n], rep[n, 0], rep[n, 1] = h, nv, sup[s0]
                for j in range(nv):
                    rep[n, 2 + j] = cyc[c0 + j]
                    rep[n, 2 + nv + j] = cnt[n0 + j]
                table[slot] = n
                n += 1
            cls[b, r] = found
    return cls, n


@njit(cache=True)
def row_costs_kernel(
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
    row_class: np.ndarray,
    n_classes: int,
    out_incl: np.ndarray,
    out_excl: np.ndarray,
) -> None:
    """Compute cycles incl./excl. idle threads of every trie node in every row (``out_*[row, node]``).

    A leaf under the root (a tile class of one block) costs in row ``r`` only what row ``r`` of its block holds:
    rows of one class (``row_class``, :func:`row_classes`), of this block or another, cost the same, so each
    class is costed once and then copied."""
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
    class_incl = np.full(n_classes, -1, np.int64)  # -1: not costed yet
    class_excl = np.zeros(n_classes, np.int64)
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
            c = row_class[b, r] if leaf[k] and parent[p] < 0 else -1
            if c >= 0 and class_incl[c] >= 0:
                out_incl[r, k] = class_incl[c]
                out_excl[r, k] = class_excl[c]
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
            if c >= 0:
                class_incl[c] = out_incl[r, k]
                class_excl[c] = out_excl[r, k]


@njit(cache=True)
def ipu_critical_kernel(
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


@njit(cache=True)
def first_idle_kernel(tiles: np.ndarray, tiles_per_ipu: int, n_ipus: int) -> np.ndarray:
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
