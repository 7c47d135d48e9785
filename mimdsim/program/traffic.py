"""Bytes a program moves in one run: per destination tile, and across IPUs (repeats expanded)."""

from __future__ import annotations

import numpy as np

from mimdsim.program.exchange import Exchange
from mimdsim.program.ir import Program, Repeat, Step, Superstep

__all__ = ["exchange_totals"]


def _inter_ipu_bytes(ex: Exchange, tiles_per_ipu: int) -> int:
    """Bytes received by tiles on another IPU than the transfer's source (one per destination tile)."""
    e = ex.expanded()
    sizes = np.diff(e.dst_ptr)
    src = np.repeat(e.src, sizes)
    nbytes = np.repeat(e.nbytes, sizes)
    return int(nbytes[(e.dst // tiles_per_ipu) != (src // tiles_per_ipu)].sum())


def exchange_totals(program: Program, n_tiles: int, tiles_per_ipu: int) -> tuple[np.ndarray, int]:
    """``(received_bytes[n_tiles], inter_ipu_bytes)`` over every executed exchange of ``program``.

    >>> ex = Exchange("e", src=[0], dst_ptr=[0, 2], dst=[1, 2], nbytes=[8])
    >>> got, cross = exchange_totals(Program("p", (Repeat(3, (Superstep("s", exchange=ex),)),)), 4, 2)
    >>> got.tolist(), cross
    ([0, 24, 24, 0], 24)
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
