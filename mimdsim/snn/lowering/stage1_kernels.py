"""The numba kernel of the lowering's largest table: the stage-1 reduce's vertices per (tile, time step, kind)
(:meth:`~mimdsim.snn.lowering.common.LoweringBase.add_reduce_stage1`). It loops once over what the array form
builds as a ``[rows, segments]`` temporary and reduces (280,000 entries for the family (a) 2-hidden step's second
layer: 7.9 ms as arrays, 0.7 ms here, measured 2026-12-07)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["stage1_table"]


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
