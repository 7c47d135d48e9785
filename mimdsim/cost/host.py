"""The cost of a host stream copy (GC-POD128; T6 README profiles).

A host copy is preceded by an external sync (:func:`mimdsim.cost.sync.sync_cycles`); each IPU's host link carries
that IPU's bytes at ``host_bytes_per_s`` while each tile receives or sends at ``exchange_bytes_per_cycle``; the phase
is the slower of the two, plus ``host_overhead_cycles``.
"""

from __future__ import annotations

import math

import numpy as np

from mimdsim.arch.spec import MachineSpec

__all__ = ["host_copy_cycles"]


def host_copy_cycles(machine: MachineSpec, tiles: np.ndarray, nbytes: np.ndarray) -> int:
    """Host-exchange phase cycles of one stream copy (0 when no bytes move).

    >>> from mimdsim.arch import load_machine
    >>> m = load_machine("mk2", host_bytes_per_s=1.325e9 * 6)   # 6 B/cycle
    >>> host_copy_cycles(m, np.array([0, 1]), np.array([600, 600]))
    200
    """
    if nbytes.size == 0 or int(nbytes.sum()) == 0:
        return 0
    ipu = tiles // machine.tiles_per_ipu
    per_ipu = np.bincount(ipu, weights=nbytes, minlength=machine.n_ipus)
    per_tile = np.bincount(tiles, weights=nbytes)
    link = math.ceil(float(per_ipu.max()) / machine.host_bytes_per_cycle)
    port = -(-int(per_tile.max()) // machine.exchange_bytes_per_cycle)
    return machine.host_overhead_cycles + max(link, port)
