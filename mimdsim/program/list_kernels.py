"""What an exchange's destination lists say about its transfers, in one compiled pass (:func:`list_facts`).

Validation asks whether a list names a tile twice; the costs, the cycle bound and the link totals ask each
transfer's fan-out (its list's size less its source when the source is a member) and the transfers of each list.
Made with numpy, these were about 7 % of a design point (py-spy, family (a) 2-hidden step, 2026-12-08): a
stable sort of the transfers by list, a sorted copy of every entry key and a binary search per transfer. One
kernel makes them all from the lists, which are almost always in ascending order already; it checks the arrays'
shapes first, so a malformed exchange gives an error, never a read out of bounds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["list_facts"]

MALFORMED = -2
""":func:`list_facts`' first value when the lists and the transfers do not fit together."""


@njit(cache=True)
def list_facts(
    src: np.ndarray, dst_ptr: np.ndarray, dst: np.ndarray, dst_list: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """``(twice, member, by_ptr, by_order)`` of the transfers ``src`` going to lists ``dst_list`` (CSR ``dst_ptr``
    over ``dst``):

    * ``twice``: the first list that names a tile twice, -1 when none does, :data:`MALFORMED` when ``dst_ptr``
      does not rise from 0 to ``dst.size`` or a transfer names a list that does not exist (then nothing else is
      made);
    * ``member[i]``: whether ``src[i]`` is a tile of its list;
    * ``by_ptr``, ``by_order``: the transfers of list ``g`` are ``by_order[by_ptr[g]:by_ptr[g + 1]]``, in their
      own order.
    """
    n_lists = dst_ptr.size - 1
    n = src.size
    empty = np.zeros(0, np.int64)
    if n_lists < 0 or dst_list.size != n or dst_ptr[0] != 0 or dst_ptr[n_lists] != dst.size:
        return MALFORMED, np.zeros(0, np.bool_), empty, empty
    for g in range(n_lists):
        if dst_ptr[g + 1] < dst_ptr[g]:
            return MALFORMED, np.zeros(0, np.bool_), empty, empty
    for i in range(n):
        if dst_list[i] < 0 or dst_list[i] >= n_lists:
            return MALFORMED, np.zeros(0, np.bool_), empty, empty
    ascending = np.ones(n_lists, np.bool_)
    twice = -1
    for g in range(n_lists):
        lo, hi = dst_ptr[g], dst_ptr[g + 1]
        for e in range(lo + 1, hi):
            if dst[e] <= dst[e - 1]:
                ascending[g] = False
                break
        if twice < 0 and not ascending[g]:
            tiles = np.sort(dst[lo:hi])
            for e in range(1, tiles.size):
                if tiles[e] == tiles[e - 1]:
                    twice = g
                    break
    by_ptr = np.zeros(n_lists + 1, np.int64)
    for i in range(n):
        by_ptr[dst_list[i] + 1] += 1
    for g in range(n_lists):
        by_ptr[g + 1] += by_ptr[g]
    fill = by_ptr[:-1].copy()
    by_order = np.empty(n, np.int64)
    member = np.zeros(n, np.bool_)
    for i in range(n):
        g = dst_list[i]
        by_order[fill[g]] = i
        fill[g] += 1
        lo, hi = dst_ptr[g], dst_ptr[g + 1]
        if ascending[g]:  # binary search
            while lo < hi:
                mid = (lo + hi) // 2
                if dst[mid] < src[i]:
                    lo = mid + 1
                else:
                    hi = mid
            member[i] = lo < dst_ptr[g + 1] and dst[lo] == src[i]
        else:
            for e in range(lo, hi):
                if dst[e] == src[i]:
                    member[i] = True
                    break
    return twice, member, by_ptr, by_order
