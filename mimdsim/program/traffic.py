"""Bytes a program moves in one run: per destination tile, and across IPUs (repeats expanded)."""

from __future__ import annotations

import numpy as np

from mimdsim.program.exchange import Exchange
from mimdsim.program.ir import Program, Repeat, Step, Superstep

__all__ = ["exchange_totals"]


def _inter_ipu_bytes(ex: Exchange, tiles_per_ipu: int) -> int:
    """Bytes sent over IPU links: each transfer once per destination IPU other than its source's
    (one flow per destination IPU, as the exchange cost model sends them: docs/concepts.md)."""
    e = ex.expanded()
    sizes = np.diff(e.dst_ptr)
    transfer = np.repeat(np.arange(e.n_transfers), sizes)
    dst_ipu = e.dst // tiles_per_ipu
    away = dst_ipu != (e.src // tiles_per_ipu)[transfer]
    n_ipus = int(dst_ipu.max(initial=0)) + 1
    flows = np.unique(transfer[away] * n_ipus + dst_ipu[away])
    return int(e.nbytes[flows // n_ipus].sum())


def exchange_totals(program: Program, n_tiles: int, tiles_per_ipu: int) -> tuple[np.ndarray, int]:
    """``(received_bytes[n_tiles], inter_ipu_bytes)`` over every executed exchange of ``program``.

    Tile 0 multicasts 8 B to tiles 1, 2 and 3, three times; tiles 2 and 3 are on IPU 1, so the
    bytes cross one link once per run:

    >>> ex = Exchange("e", src=[0], dst_ptr=[0, 3], dst=[1, 2, 3], nbytes=[8])
    >>> got, cross = exchange_totals(Program("p", (Repeat(3, (Superstep("s", exchange=ex),)),)), 4, 2)
    >>> got.tolist(), cross
    ([0, 24, 24, 24], 24)
    """
    received = np.zeros(n_tiles, np.int64)
    cross = 0
    memo: dict[int, tuple[np.ndarray, int]] = {}

    def walk(steps: tuple[Step, ...], times: int) -> None:
        nonlocal received, cross
        for s in steps:
            if isinstance(s, Repeat):
                walk(s.body, times * s.count)
            elif isinstance(s, Superstep) and s.exchange is not None and s.exchange.n_transfers:
                key = id(s.exchange)
                if key not in memo:
                    memo[key] = (s.exchange.received_bytes(n_tiles), _inter_ipu_bytes(s.exchange, tiles_per_ipu))
                got, c = memo[key]
                received += times * got
                cross += times * c

    walk(program.body, 1)
    return received, cross
