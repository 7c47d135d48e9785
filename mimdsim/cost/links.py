"""IPU-Link routing: which directed links a flow between two IPUs crosses.

Topologies (GC-M2000, GC-POD128, POPLIBS Util.cpp; POPLIBS Util.cpp, GC-POD128):

* ``all_to_all``: a direct link group between every ordered pair; link id ``a*n + b``.
* ``ladder`` (Mk1 16-IPU systems, POPLIBS Util.cpp:360-430): IPU ``i`` sits at row
  ``i // 2`` on side ``i % 2``; a flow first crosses the rung if the sides differ, then
  moves up or down one row at a time. No wrap-around.
* ``torus2d`` (IPU-POD64/128): IPUs on a ``rows x cols`` grid (as square as possible),
  ``i = r*cols + c``; dimension-order routing, columns first, each dimension the short
  way round (ties go the positive way).

For ladder and torus the directed link leaving IPU ``i`` in direction ``d`` has id
``4*i + d`` with ``d`` = 0: +column/cross, 1: -column, 2: +row, 3: -row. Each directed
link group carries ``links_per_ipu_pair x link_bytes_per_s``; flows through it share it.

NOTE: :func:`route` is called from :func:`mimdsim.cost.exchange_kernels.traffic_kernel`, whose
numba cache does not notice edits to this file (numba caches per source file): after
changing ``route``, clear ``NUMBA_CACHE_DIR`` (``make clean``) or touch ``exchange_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["TOPOLOGY_CODES", "n_link_ids", "route", "route_links"]

TOPOLOGY_CODES = {"all_to_all": 0, "ladder": 1, "torus2d": 2}


def n_link_ids(topology: str, n_ipus: int) -> int:
    """Size of the link-id space of a topology."""
    return n_ipus * n_ipus if TOPOLOGY_CODES[topology] == 0 else 4 * n_ipus


@njit(cache=True)
def _step(pos: int, target: int, size: int, wrap: bool) -> int:
    """+1 or -1: the direction of the next hop along one dimension."""
    if not wrap:
        return 1 if target > pos else -1
    fwd = (target - pos) % size
    return 1 if fwd <= size - fwd else -1


@njit(cache=True)
def route(topo: int, n_ipus: int, cols: int, a: int, b: int, out: np.ndarray) -> int:
    """Write the directed link ids from IPU ``a`` to IPU ``b`` into ``out``; return the hop count."""
    if a == b:
        return 0
    if topo == 0:
        out[0] = a * n_ipus + b
        return 1
    n = 0
    if topo == 1:
        row, side = a // 2, a % 2
        trow, tside = b // 2, b % 2
        if side != tside:
            out[n] = 4 * (row * 2 + side) + 0
            n += 1
            side = tside
        while row != trow:
            d = _step(row, trow, 0, False)
            out[n] = 4 * (row * 2 + side) + (2 if d > 0 else 3)
            n += 1
            row += d
        return n
    rows = n_ipus // cols
    r, c = a // cols, a % cols
    tr, tc = b // cols, b % cols
    while c != tc:
        d = _step(c, tc, cols, True)
        out[n] = 4 * (r * cols + c) + (0 if d > 0 else 1)
        n += 1
        c = (c + d) % cols
    while r != tr:
        d = _step(r, tr, rows, True)
        out[n] = 4 * (r * cols + c) + (2 if d > 0 else 3)
        n += 1
        r = (r + d) % rows
    return n


def route_links(topology: str, n_ipus: int, cols: int, a: int, b: int) -> list[int]:
    """Python view of :func:`route`.

    >>> route_links("ladder", 8, 2, 0, 5)   # cross the rung at row 0, then up two rows
    [0, 6, 14]
    """
    out = np.zeros(2 * n_ipus + 2, np.int64)
    n = route(TOPOLOGY_CODES[topology], n_ipus, cols, a, b, out)
    return out[:n].tolist()
