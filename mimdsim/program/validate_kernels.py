"""The array checks of an exchange (:func:`mimdsim.program.validate.check_program`) in one compiled pass.

A lowered step holds a few dozen exchanges; checking each with a dozen numpy reductions cost about 80 µs an
exchange, a tenth of a design point's validation (line profile, family (a) 2-hidden step, 2026-12-08).
:func:`exchange_problem` makes the same checks, in the same order, in one pass, and returns the first problem as a
code and its values; the validator words the message.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "exchange_problem", "OK", "LIST_RANGE", "FEW_MESSAGES", "MANY_MESSAGES", "POINTERS", "SOURCE_TILE", "DESTINATION_TILE",
    "NEGATIVE_BYTES", "TOO_MANY_BYTES", "SELF_SEND",
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
def _first_outside(tiles: np.ndarray, n_tiles: int) -> int:  # pragma: no cover - numba
    """The index of the first tile outside ``0 .. n_tiles - 1``, or -1."""
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
    e = _first_outside(src, n_tiles)
    if e >= 0:
        return SOURCE_TILE, e, src[e]
    e = _first_outside(dst, n_tiles)
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
