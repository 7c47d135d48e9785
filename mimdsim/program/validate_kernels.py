"""The array checks of an exchange and of a compute set (:func:`mimdsim.program.validate.check_program`), each in
one compiled pass.

A lowered step holds a few dozen exchanges; checking each with a dozen numpy reductions cost about 80 µs an
exchange, a tenth of a design point's validation (line profile, family (a) 2-hidden step, 2026-12-08).
:func:`exchange_problem` makes the same checks, in the same order, in one pass, and returns the first problem as a
code and its values; the validator words the message. :func:`compute_set_ok` says whether a compute set's flat
blocks pass every check; only when one does not does the validator look for the first problem with numpy, to name
it (about 30 µs a compute set before, 2026-12-08).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "compute_set_ok", "exchange_problem", "first_outside", "OK", "LIST_RANGE", "FEW_MESSAGES", "MANY_MESSAGES", "POINTERS",
    "SOURCE_TILE", "DESTINATION_TILE", "NEGATIVE_BYTES", "TOO_MANY_BYTES", "SELF_SEND",
]  # fmt: skip

(
    OK,
    LIST_RANGE,
    FEW_MESSAGES,
    MANY_MESSAGES,
    POINTERS,
    SOURCE_TILE,
    DESTINATION_TILE,
    NEGATIVE_BYTES,
    TOO_MANY_BYTES,
    SELF_SEND,
) = range(10)


@njit(cache=True)
def first_outside(tiles: np.ndarray, n_tiles: int) -> int:  # pragma: no cover - numba
    """The index of the first tile outside ``0 .. n_tiles - 1``, or -1 (the validator's one tile-range rule: exchanges,
    tensors and host copies)."""
    for e in range(tiles.size):
        if tiles[e] < 0 or tiles[e] >= n_tiles:
            return e
    return -1


@njit(cache=True)
def exchange_problem(
    src: np.ndarray, dst_ptr: np.ndarray, dst: np.ndarray, nbytes: np.ndarray, messages: np.ndarray, dst_list: np.ndarray,
    has_lists: bool, n_tiles: int, max_item: int, max_count: int,
) -> tuple[int, int, int]:  # fmt: skip  # pragma: no cover - numba
    """``(code, index, value)`` of the first problem of an exchange whose array lengths agree (``OK`` when none):

    * ``LIST_RANGE``: ``dst_list[index]`` = ``value`` names no list;
    * ``FEW_MESSAGES`` / ``MANY_MESSAGES``: transfer ``index`` has the fewest (below 1) / most (above ``max_count``)
      messages, ``value``;
    * ``POINTERS``: ``dst_ptr`` does not start at 0, end at ``len(dst)`` and rise by at least 1 a list;
    * ``SOURCE_TILE`` / ``DESTINATION_TILE``: tile ``value`` (the first, at ``index``) does not exist;
    * ``NEGATIVE_BYTES`` / ``TOO_MANY_BYTES``: the smallest (below 0) / largest (above ``max_item``) byte count;
    * ``SELF_SEND``: transfer ``index`` (per-transfer form) names its own source tile ``value``.
    """
    n = src.size
    n_lists = dst_ptr.size - 1 if has_lists else n
    if has_lists and n:
        for i in range(n):
            if dst_list[i] < 0 or dst_list[i] >= n_lists:
                return LIST_RANGE, i, dst_list[i]
    if n:
        lo, hi, at_lo, at_hi = messages[0], messages[0], 0, 0
        for i in range(1, n):
            if messages[i] < lo:
                lo, at_lo = messages[i], i
            if messages[i] > hi:
                hi, at_hi = messages[i], i
        if lo < 1:
            return FEW_MESSAGES, at_lo, lo
        if hi > max_count:
            return MANY_MESSAGES, at_hi, hi
    if dst_ptr.size:
        if dst_ptr[0] != 0 or dst_ptr[dst_ptr.size - 1] != dst.size:
            return POINTERS, 0, 0
        for g in range(dst_ptr.size - 1):
            if dst_ptr[g + 1] - dst_ptr[g] < 1:
                return POINTERS, g, 0
    e = first_outside(src, n_tiles)
    if e >= 0:
        return SOURCE_TILE, e, src[e]
    e = first_outside(dst, n_tiles)
    if e >= 0:
        return DESTINATION_TILE, e, dst[e]
    if nbytes.size:
        lo, hi = nbytes[0], nbytes[0]
        for i in range(1, nbytes.size):
            lo = min(lo, nbytes[i])
            hi = max(hi, nbytes[i])
        if lo < 0:
            return NEGATIVE_BYTES, 0, lo
        if hi > max_item:
            return TOO_MANY_BYTES, 0, hi
    if not has_lists:
        for i in range(n):
            for e in range(dst_ptr[i], dst_ptr[i + 1]):
                if dst[e] == src[i]:
                    return SELF_SEND, i, src[i]
    return OK, 0, 0


@njit(cache=True)
def _within(values: np.ndarray, limit: int) -> bool:  # pragma: no cover - numba
    ok = True
    for e in range(values.size):
        if values[e] < 0 or values[e] > limit:
            ok = False
            break
    return ok


@njit(cache=True)
def compute_set_ok(
    tile_ptr: np.ndarray, tiles: np.ndarray, nvtx: np.ndarray, cnt_width: np.ndarray, cyc_2d: np.ndarray,
    cnt_2d: np.ndarray, sup_1d: np.ndarray, cyc_rows: np.ndarray, cnt_rows: np.ndarray, sup_rows: np.ndarray,
    segment: np.ndarray, cyc: np.ndarray, cnt: np.ndarray, sup: np.ndarray, cs_rows: int, n_tiles: int,
    max_item: int, max_count: int,
) -> bool:  # fmt: skip  # pragma: no cover - numba
    """Whether the flat blocks of a compute set (:class:`~mimdsim.program.flat_blocks.FlatBlocks`) pass every check:
    each block's counts as wide as its cycles and its tables of ``cs_rows`` (> 0) rows, segments from 0 never
    falling, tiles that exist and none twice in a block, cycles and counts in range."""
    for k in range(nvtx.size):
        if nvtx[k] != cnt_width[k] or segment[k] < 0 or (k > 0 and segment[k] < segment[k - 1]):
            return False
        if (cyc_2d[k] and cyc_rows[k] != cs_rows) or (cnt_2d[k] and cnt_rows[k] != cs_rows):
            return False
        if sup_1d[k] and sup_rows[k] != cs_rows:
            return False
        if (cyc_2d[k] or cnt_2d[k] or sup_1d[k]) and cs_rows == 0:
            return False
        lo, hi = tile_ptr[k], tile_ptr[k + 1]
        rising = True
        for e in range(lo, hi):
            if tiles[e] < 0 or tiles[e] >= n_tiles:
                return False
            if e > lo and tiles[e] <= tiles[e - 1]:
                rising = False
        if not rising:
            block = np.sort(tiles[lo:hi])
            for e in range(1, block.size):
                if block[e] == block[e - 1]:
                    return False
    return _within(cyc, max_item) and _within(cnt, max_count) and _within(sup, max_item)
