"""Bytes a program moves in one run: per destination tile, and across IPUs (repeats expanded)."""

from __future__ import annotations

import numpy as np

from mimdsim.program.exchange import Exchange
from mimdsim.program.ir import Program

__all__ = ["exchange_byte_totals", "exchange_totals"]


def _inter_ipu_bytes(ex: Exchange, tiles_per_ipu: int) -> int:
    """Bytes sent over IPU links: each transfer once per destination IPU other than its source's (one flow per
    destination IPU, as the exchange cost model sends them: docs/concepts.md), and a per-destination transfer once
    per destination tile there. Counted on the destination lists as they are (a list shared by many sources is
    looked at once), never expanded per transfer.

    >>> e = Exchange("e", src=[0, 5], dst_ptr=[0, 4], dst=[0, 1, 4, 5], nbytes=[8, 2], dst_list=[0, 0],
    ...              per_destination=[False, True])
    >>> _inter_ipu_bytes(e, 4)  # tile 0 multicasts to IPU 1 once (8); tile 5 sends its own 2 B to tiles 0 and 1
    12
    """
    if not ex.n_transfers or not ex.dst.size:
        return 0
    lists = ex.list_of_transfer()
    sizes = np.diff(ex.dst_ptr)
    src_ipu = ex.src // tiles_per_ipu
    entry_ipu = ex.dst // tiles_per_ipu
    n_ipus = int(max(entry_ipu.max(), src_ipu.max())) + 1
    pairs, counts = np.unique(np.repeat(np.arange(ex.n_lists, dtype=np.int64), sizes) * n_ipus + entry_ipu, return_counts=True)
    ipus_of_list = np.bincount(pairs // n_ipus, minlength=ex.n_lists)
    own = lists * n_ipus + src_ipu  # (list, the source's IPU)
    pos = np.minimum(np.searchsorted(pairs, own), pairs.size - 1)
    found = pairs[pos] == own
    on_own_ipu = np.where(found, counts[pos], 0)
    away = np.where(ex.per_destination, sizes[lists] - on_own_ipu, ipus_of_list[lists] - found)
    return int(np.dot(ex.nbytes, away))


def _executed_exchanges(program: Program) -> list[tuple[Exchange, int]]:
    """Every distinct exchange of ``program`` that moves something, with how many times it runs."""
    return [(o, n) for o, n in program.use_counts().values() if isinstance(o, Exchange) and o.n_transfers]


def exchange_totals(program: Program, n_tiles: int, tiles_per_ipu: int) -> tuple[np.ndarray, int]:
    """``(received_bytes[n_tiles], inter_ipu_bytes)`` over every executed exchange of ``program``.

    Tile 0 multicasts 8 B to tiles 1, 2 and 3, three times; tiles 2 and 3 are on IPU 1, so the
    bytes cross one link once per run:

    >>> ex = Exchange("e", src=[0], dst_ptr=[0, 3], dst=[1, 2, 3], nbytes=[8])
    >>> from mimdsim.program.ir import Repeat, Superstep
    >>> got, cross = exchange_totals(Program("p", (Repeat(3, (Superstep("s", exchange=ex),)),)), 4, 2)
    >>> got.tolist(), cross
    ([0, 24, 24, 24], 24)
    """
    received = np.zeros(n_tiles, np.int64)
    cross = 0
    one_ipu = n_tiles <= tiles_per_ipu  # nothing crosses a link
    for ex, times in _executed_exchanges(program):
        received += times * ex.received_bytes(n_tiles)
        cross += times * (0 if one_ipu else _inter_ipu_bytes(ex, tiles_per_ipu))
    return received, cross


def exchange_byte_totals(program: Program, n_tiles: int, tiles_per_ipu: int) -> tuple[int, int]:
    """``(received bytes, inter-IPU bytes)`` over every executed exchange of ``program``: :func:`exchange_totals`
    summed over the tiles, without a per-tile array (every destination of a transfer receives its bytes: its
    ``nbytes`` times its fan-out).

    >>> ex = Exchange("e", src=[0], dst_ptr=[0, 3], dst=[1, 2, 3], nbytes=[8])
    >>> from mimdsim.program.ir import Repeat, Superstep
    >>> exchange_byte_totals(Program("p", (Repeat(3, (Superstep("s", exchange=ex),)),)), 4, 2)
    (72, 24)
    """
    received = cross = 0
    one_ipu = n_tiles <= tiles_per_ipu
    for ex, times in _executed_exchanges(program):
        received += times * int(np.dot(ex.nbytes, ex.fanout()))
        cross += times * (0 if one_ipu else _inter_ipu_bytes(ex, tiles_per_ipu))
    return received, cross
