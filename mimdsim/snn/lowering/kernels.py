"""Numba kernels of the lowering: the stage-1 reduce's vertices per (tile, time step, kind)
(:meth:`~mimdsim.snn.lowering.common.LoweringBase.add_reduce_stage1`), the grouping of equal rows
(:func:`~mimdsim.snn.lowering.common.equal_rows`) and the runs of an element-wise copy
(:meth:`~mimdsim.snn.lowering.poplar_programs.PoplarPrograms.copy_transfers`). Each loops once where the array forms
build temporaries of every element: the table's ``[rows, segments]`` counts (280,000 entries for the family (a)
2-hidden step's second layer: 7.9 ms as arrays, 0.7 ms here), the row hashes' products and the rows gathered for the
exact check, a copy's run masks (measured 2026-12-07)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["copy_runs", "stage1_table", "row_hashes", "rows_equal_their_first"]


@njit(cache=True)
def stage1_table(
    n_valid_in: np.ndarray, b: np.ndarray, s_lo: np.ndarray, span: np.ndarray, starts: np.ndarray, run_tile: np.ndarray,
    run_kind: np.ndarray, slots: np.ndarray, n_tiles: int, kinds: int,
) -> np.ndarray:  # fmt: skip
    """``table[tile, row, kind]``: the active stage-1 vertices of each kind (all but the last) and the idle ones (the
    last) on each tile in each row. Segment ``s`` (in (kind, tile) order; the runs of one (kind, tile) start at
    ``starts``) has ``clip(n_valid_in[row, b[s]] - s_lo[s], 0, span[s])`` active vertices in ``row``; a tile's
    idle vertices are its ``slots`` less its active ones."""
    rows = n_valid_in.shape[0]
    table = np.zeros((n_tiles, rows, kinds), np.int64)
    n_runs, n_seg = starts.size, b.size
    for i in range(n_runs):
        hi = starts[i + 1] if i + 1 < n_runs else n_seg
        t, k = run_tile[i], run_kind[i]
        for s in range(starts[i], hi):
            col, lo, sp = b[s], s_lo[s], span[s]
            for r in range(rows):
                a = n_valid_in[r, col] - lo
                table[t, r, k] += 0 if a < 0 else (sp if a > sp else a)
    for t in range(n_tiles):
        for r in range(rows):
            busy = 0
            for k in range(kinds - 1):
                busy += table[t, r, k]
            table[t, r, kinds - 1] = slots[t] - busy
    return table


@njit(cache=True)
def row_hashes(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``rows @ weights`` of int64 arrays, wrapping on overflow as numpy's integer product does."""
    n, w = rows.shape
    out = np.zeros(n, np.int64)
    for i in range(n):
        h = np.int64(0)
        for j in range(w):
            h += rows[i, j] * weights[j]
        out[i] = h
    return out


@njit(cache=True)
def rows_equal_their_first(rows: np.ndarray, first: np.ndarray, group: np.ndarray) -> bool:
    """Whether every row ``i`` of ``rows`` equals row ``first[group[i]]`` (the first row of its group)."""
    n, w = rows.shape
    for i in range(n):
        f = first[group[i]]
        if f != i:
            for j in range(w):
                if rows[i, j] != rows[f, j]:
                    return False
    return True


@njit(cache=True)
def copy_runs(
    src: np.ndarray, dst: np.ndarray, src_index: np.ndarray, dst_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The maximal runs of a copy's elements (element ``e`` from tile ``src[e]``, index ``src_index[e]``, to tile
    ``dst[e]``, index ``dst_index[e]``) between one pair of tiles with consecutive indices at both ends: the runs
    between two tiles as ``(src, dst, elements)`` in order, and those within one tile as ``(tile, elements)``."""
    n = src.size
    r_src = np.empty(n, np.int64)
    r_dst = np.empty(n, np.int64)
    r_len = np.empty(n, np.int64)
    l_tile = np.empty(n, np.int64)
    l_len = np.empty(n, np.int64)
    n_r = n_l = 0
    e = 0
    while e < n:
        f = e + 1
        while (
            f < n and src[f] == src[f - 1] and dst[f] == dst[f - 1]
            and src_index[f] == src_index[f - 1] + 1 and dst_index[f] == dst_index[f - 1] + 1
        ):  # fmt: skip
            f += 1
        if src[e] == dst[e]:
            l_tile[n_l], l_len[n_l] = src[e], f - e
            n_l += 1
        else:
            r_src[n_r], r_dst[n_r], r_len[n_r] = src[e], dst[e], f - e
            n_r += 1
        e = f
    return r_src[:n_r], r_dst[:n_r], r_len[:n_r], l_tile[:n_l], l_len[:n_l]
