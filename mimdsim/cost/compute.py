"""Tile compute time of a compute set: the barrel-scheduled worker contexts.

Model (ipu-hardware.md §4; poplar-tut6.md §4):

* Worker vertices are launched in program order; each goes to the worker context that
  becomes free first (greedy list scheduling; ties go to the lowest context index).
  ``n_ctx`` contexts share one pipeline in a barrel, each issuing once every ``n_ctx``
  tile cycles, so a context that runs ``L`` thread cycles of work finishes after
  ``n_ctx * L`` tile cycles.
* Supervisor vertices cost tile cycles and run on the supervisor, before the workers.
* ``compute incl. idle`` (tile cycles) = supervisor + ``n_ctx`` x busiest context
  + ``compute_set_overhead_cycles`` on a tile that has any vertex.
* ``compute excl. idle`` = supervisor + the sum of worker thread cycles (what the Poplar
  IPU Model reports: the sum of the vertices' estimates).

Example (tut6, Mk2): 48 dot vertices of 77 thread cycles on 6 contexts -> 8 each ->
6 x 8 x 77 = 3,696 tile cycles; 7 reduce vertices of 9 -> one context runs 2 -> 108.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mimdsim.program.ir import ComputeSet

__all__ = ["schedule_worker_vertices", "compute_set_kernel", "tile_compute_cycles", "flatten_compute_set"]


@njit(cache=True)
def schedule_worker_vertices(loads: np.ndarray, cycles: np.ndarray, counts: np.ndarray) -> None:
    """Add vertices (``counts[j]`` copies of ``cycles[j]``) to context ``loads`` in place."""
    n_ctx = loads.shape[0]
    for j in range(cycles.shape[0]):
        c = cycles[j]
        n = counts[j]
        # NOTE: whole rounds over equally loaded contexts are added at once; the
        # greedy rule gives every context one vertex per round when loads are equal.
        while n > 0:
            lo = loads[0]
            hi = loads[0]
            for q in range(1, n_ctx):
                if loads[q] < lo:
                    lo = loads[q]
                if loads[q] > hi:
                    hi = loads[q]
            if lo == hi and n >= n_ctx:
                rounds = n // n_ctx
                for q in range(n_ctx):
                    loads[q] += rounds * c
                n -= rounds * n_ctx
                continue
            k = 0
            best = loads[0]
            for q in range(1, n_ctx):
                if loads[q] < best:
                    best = loads[q]
                    k = q
            loads[k] += c
            n -= 1


@njit(cache=True)
def compute_set_kernel(
    block_tile_ptr: np.ndarray,
    block_tiles: np.ndarray,
    block_vtx_ptr: np.ndarray,
    vtx_cycles: np.ndarray,
    vtx_counts: np.ndarray,
    block_sup: np.ndarray,
    n_ctx: int,
    overhead_cycles: int,
    slot_of_tile: np.ndarray,
    loads_ws: np.ndarray,
    out_tiles: np.ndarray,
    out_incl: np.ndarray,
    out_excl: np.ndarray,
) -> int:
    """Tile cycles of one compute set given as flat arrays; returns the number of tiles touched.

    Block ``b`` places vertices ``vtx_*[block_vtx_ptr[b]:block_vtx_ptr[b+1]]`` and
    ``block_sup[b]`` supervisor cycles on tiles ``block_tiles[block_tile_ptr[b]:...]``.
    A tile in several blocks runs their vertex lists concatenated in block order.
    ``slot_of_tile`` (all -1) and ``loads_ws`` are workspaces, restored before return.
    Results go to ``out_*[:n]`` in first-touch order.
    """
    n_out = 0
    one = np.zeros(n_ctx, np.int64)
    for b in range(block_tile_ptr.shape[0] - 1):
        v0 = block_vtx_ptr[b]
        v1 = block_vtx_ptr[b + 1]
        sup = block_sup[b]
        thread_sum = 0
        for j in range(v0, v1):
            thread_sum += vtx_cycles[j] * vtx_counts[j]
        # schedule of this block on an empty tile, reused for every fresh tile
        one[:] = 0
        schedule_worker_vertices(one, vtx_cycles[v0:v1], vtx_counts[v0:v1])
        for p in range(block_tile_ptr[b], block_tile_ptr[b + 1]):
            t = block_tiles[p]
            s = slot_of_tile[t]
            if s < 0:
                s = n_out
                slot_of_tile[t] = s
                out_tiles[s] = t
                out_incl[s] = 0
                out_excl[s] = 0
                for q in range(n_ctx):
                    loads_ws[s, q] = one[q]
                n_out += 1
            else:
                schedule_worker_vertices(loads_ws[s], vtx_cycles[v0:v1], vtx_counts[v0:v1])
            out_incl[s] += sup
            out_excl[s] += sup + thread_sum
    for s in range(n_out):
        busiest = 0
        for q in range(n_ctx):
            if loads_ws[s, q] > busiest:
                busiest = loads_ws[s, q]
            loads_ws[s, q] = 0
        out_incl[s] += n_ctx * busiest + overhead_cycles
        slot_of_tile[out_tiles[s]] = -1
    return n_out


def flatten_compute_set(cs: ComputeSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The flat arrays of :func:`compute_set_kernel` for one compute set."""
    blocks = cs.blocks
    tile_ptr = np.zeros(len(blocks) + 1, np.int64)
    vtx_ptr = np.zeros(len(blocks) + 1, np.int64)
    if blocks:
        tile_ptr[1:] = np.cumsum([b.tiles.size for b in blocks])
        vtx_ptr[1:] = np.cumsum([b.worker_cycles.size for b in blocks])
        tiles = np.concatenate([b.tiles for b in blocks])
        cyc = np.concatenate([b.worker_cycles for b in blocks])
        cnt = np.concatenate([b.worker_counts for b in blocks])
    else:
        tiles = cyc = cnt = np.zeros(0, np.int64)
    sup = np.array([b.supervisor_cycles for b in blocks], np.int64)
    return tile_ptr, tiles, vtx_ptr, cyc, cnt, sup


def tile_compute_cycles(
    cs: ComputeSet, n_tiles: int, n_ctx: int = 6, overhead_cycles: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiles that run vertices in ``cs``, with their compute cycles incl. and excl. idle threads.

    Examples
    --------
    >>> from mimdsim.program.ir import ComputeSet, VertexBlock
    >>> cs = ComputeSet("mul", (VertexBlock("Dot", [0, 1], [77], [48]),))
    >>> tiles, incl, excl = tile_compute_cycles(cs, n_tiles=2)
    >>> incl.tolist(), excl.tolist()
    ([3696, 3696], [3696, 3696])
    """
    arrays = flatten_compute_set(cs)
    n_max = int(arrays[1].size)
    slot = np.full(n_tiles, -1, np.int64)
    loads = np.zeros((max(n_max, 1), n_ctx), np.int64)
    out_t = np.zeros(n_max, np.int64)
    out_i = np.zeros(n_max, np.int64)
    out_e = np.zeros(n_max, np.int64)
    n = compute_set_kernel(*arrays, n_ctx, overhead_cycles, slot, loads, out_t, out_i, out_e)
    return out_t[:n], out_i[:n], out_e[:n]
