"""``np.unique`` of integer arrays (tile numbers, neuron and vertex ids) in one compiled pass.

A lowering asks for the distinct tiles of a few hundred small arrays per design point; ``np.unique``
costs 20-60 µs of Python and dispatch on each (its hash path, taken when nothing but the values is
asked for, is slower still on short arrays) and was a tenth of a point's time (py-spy, family (a)
2-hidden step, 2026-12-08). :func:`unique_ints` gives the same arrays from one numba kernel: a
counting pass when the values span no more than a few times the array's length (tile numbers),
a stable sort otherwise. :func:`isin_ints` is ``np.isin`` of such arrays (80 µs a call, a sort of both, against
about 5 µs for a table of the members).

>>> u, first, inv, counts = unique_ints(np.array([5, 3, 5, 9]), return_index=True, return_inverse=True, return_counts=True)
>>> u.tolist(), first.tolist(), inv.tolist(), counts.tolist()
([3, 5, 9], [1, 0, 3], [1, 0, 1, 2], [1, 2, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["isin_ints", "unique_ints"]

_DENSE_SLACK = 4096
"""Values spanning up to ``4 n + _DENSE_SLACK`` are counted in a table; a wider span is sorted."""


@njit(cache=True)
def _unique_kernel(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """``(values ascending, first index of each, index of each element's value, count of each)``."""
    n = a.size
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z.copy(), z.copy(), z.copy()
    lo, hi = a[0], a[0]
    for i in range(n):
        if a[i] < lo:
            lo = a[i]
        if a[i] > hi:
            hi = a[i]
    inverse = np.empty(n, np.int64)
    width = hi - lo  # negative when it wraps (values near both ends of int64): sorted below
    if 0 <= width < 4 * n + _DENSE_SLACK:
        span = width + 1
        first_of = np.full(span, -1, np.int64)
        count_of = np.zeros(span, np.int64)
        for i in range(n):
            v = a[i] - lo
            if first_of[v] < 0:
                first_of[v] = i
            count_of[v] += 1
        rank = np.empty(span, np.int64)
        k = 0
        for v in range(span):
            if count_of[v] > 0:
                rank[v] = k
                k += 1
        values = np.empty(k, np.int64)
        first = np.empty(k, np.int64)
        counts = np.empty(k, np.int64)
        for v in range(span):
            if count_of[v] > 0:
                values[rank[v]] = v + lo
                first[rank[v]] = first_of[v]
                counts[rank[v]] = count_of[v]
        for i in range(n):
            inverse[i] = rank[a[i] - lo]
        return values, first, inverse, counts
    order = np.argsort(a, kind="mergesort")  # stable: a value's first element comes first
    k = 1
    for j in range(1, n):
        if a[order[j]] != a[order[j - 1]]:
            k += 1
    values = np.empty(k, np.int64)
    first = np.empty(k, np.int64)
    counts = np.zeros(k, np.int64)
    g = -1
    for j in range(n):
        i = order[j]
        if j == 0 or a[i] != a[order[j - 1]]:
            g += 1
            values[g] = a[i]
            first[g] = i
        counts[g] += 1
        inverse[i] = g
    return values, first, inverse, counts


def unique_ints(a: Any, *, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False) -> Any:
    """``np.unique(a, return_index=..., return_inverse=..., return_counts=...)`` of an integer (or boolean) array,
    as int64 arrays; the inverse is 1-D (``a`` is read flattened). Refuses other dtypes with a TypeError: a float
    would be truncated silently.

    >>> unique_ints([2, 2, 0]).tolist()
    [0, 2]
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"unique_ints: integer values expected, got {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise TypeError("unique_ints: a value does not fit int64")
    if arr.size == 0:  # a third of a lowering's calls: no kernel call for them
        values = first = inverse = counts = np.zeros(0, np.int64)
    else:
        values, first, inverse, counts = _unique_kernel(np.ascontiguousarray(arr, np.int64).reshape(-1))
    extra = [x for x, want in ((first, return_index), (inverse, return_inverse), (counts, return_counts)) if want]
    return (values, *extra) if extra else values


def isin_ints(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin(values, members)`` of integer arrays: a table of the members when the values span no more than
    ``4 n + 4096`` (tiles), ``np.isin`` otherwise.

    >>> isin_ints(np.array([4, 0, 7, 4]), np.array([4, 7, 9])).tolist()
    [True, False, True, True]
    """
    values, members = np.asarray(values), np.asarray(members)
    if values.dtype.kind not in "iu" or members.dtype.kind not in "iu":
        raise TypeError(f"isin_ints: integer values expected, got {values.dtype} and {members.dtype}")
    if not values.size or not members.size:
        return np.zeros(values.shape, bool)
    lo = min(int(values.min()), int(members.min()))
    hi = max(int(values.max()), int(members.max()))
    if lo < 0 or hi >= 4 * (values.size + members.size) + _DENSE_SLACK:
        return np.isin(values, members)
    table = np.zeros(hi + 1, bool)
    table[members] = True
    return table[values]
