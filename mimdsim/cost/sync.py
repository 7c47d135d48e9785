"""BSP sync costs (POPLIBS Util.cpp, IPU21-RUST; POPLIBS Util.cpp, GC-POD128); the host copy is :mod:`mimdsim.cost.host`.

* Internal (on-chip) sync: tree latency to the sync controller plus the release skew of
  the farthest tile: ``min_ipu_sync_delay + max_ipu_sync_delay``.
* External (multi-IPU) sync: the internal cost plus ``global_sync_cycles`` plus a round
  trip of ``hops`` hops, ``hops = 1 + floor(floor(n_ipus/2)/2)`` (the POPLIBS Mk1 IPU-Model
  form, Util.cpp:432-437), at ``global_sync_hop_cycles`` per hop.
"""

from __future__ import annotations

from mimdsim.arch.spec import MachineSpec

__all__ = ["sync_cycles", "sync_hops"]


def sync_hops(n_ipus: int) -> int:
    """Hops of the multi-IPU sync tree: ``1 + (n // 2) // 2`` (1, 2, 3, 5 for 2, 4, 8, 16 IPUs... )."""
    return 1 + (n_ipus // 2) // 2


def sync_cycles(machine: MachineSpec, scope: str) -> int:
    """Cycles from the last tile done to every tile released.

    >>> from mimdsim.arch import load_machine
    >>> m = load_machine("mk1", n_ipus=16, min_ipu_sync_delay=0, max_ipu_sync_delay=0, global_sync_cycles=0)
    >>> sync_cycles(m, "external")   # 2 x 5 hops x 24 cycles: POPLIBS' 240 at 1.6 GHz
    240
    """
    internal = machine.min_ipu_sync_delay + machine.max_ipu_sync_delay
    if scope == "internal":
        return internal
    hops = sync_hops(machine.n_ipus)
    return internal + machine.global_sync_cycles + 2 * hops * machine.global_sync_hop_cycles
