"""Per-tile memory ledger: what every tile holds, its peak and an over-capacity report."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import TileMemoryError
from mimdsim.program.ir import Program
from mimdsim.program.memo import derived

__all__ = ["MemoryLedger", "TileOverflow", "memory_ledger", "check_memory"]


@dataclass(frozen=True)
class TileOverflow:
    """One tile over capacity: its bytes, how far over, and its largest items."""

    tile: int
    used_bytes: int
    over_bytes: int
    largest: tuple[tuple[str, int], ...]

    def describe(self) -> str:
        items = ", ".join(f"{name} {nbytes:,} B" for name, nbytes in self.largest)
        return f"tile {self.tile} needs {self.used_bytes:,} B, {self.over_bytes:,} B over; largest: {items}"


@dataclass(frozen=True, eq=False)
class MemoryLedger:
    """Bytes per tile, in total and per tensor kind, for one program on one machine.

    All tensors are live for the whole program (Poplar allocates statically), so the
    peak of a tile is its total.
    """

    tile_bytes: np.ndarray
    kind_bytes: dict[str, np.ndarray]
    capacity_bytes: int
    program: Program

    @property
    def max_tile_bytes(self) -> int:
        return int(self.tile_bytes.max()) if self.tile_bytes.size else 0

    @property
    def oom_tiles(self) -> np.ndarray:
        """Tiles whose memory exceeds the capacity."""
        return np.flatnonzero(self.tile_bytes > self.capacity_bytes)

    def items_on(self, tile: int) -> list[tuple[str, int]]:
        """``(tensor name, bytes)`` held on ``tile``, largest first."""
        out = []
        for t in self.program.tensors:
            hit = t.nbytes[t.tiles == tile]
            if hit.size and int(hit.sum()):
                out.append((t.name, int(hit.sum())))
        return sorted(out, key=lambda x: (-x[1], x[0]))

    def overflows(self, limit: int = 5) -> list[TileOverflow]:
        """The ``limit`` tiles furthest over capacity, worst first."""
        oom = self.oom_tiles
        worst = oom[np.argsort(-self.tile_bytes[oom], kind="stable")][:limit]
        return [
            TileOverflow(
                int(t), int(self.tile_bytes[t]), int(self.tile_bytes[t] - self.capacity_bytes), tuple(self.items_on(int(t))[:3])
            )
            for t in worst
        ]


def memory_ledger(program: Program, machine: MachineSpec) -> MemoryLedger:
    """Add up every tensor's bytes per tile (and per kind); the sums are kept with the program for machines of the same
    tile count (:mod:`mimdsim.program.memo`)."""
    n = machine.n_tiles
    total, kinds = derived(program, ("tile_bytes", n), lambda: _tile_bytes(program, n))  # arrays only: no cycle back
    return MemoryLedger(total, kinds, machine.memory_bytes_per_tile, program)


def _tile_bytes(program: Program, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    total = np.zeros(n, np.int64)
    kinds: dict[str, np.ndarray] = {}
    for t in program.tensors:
        per = np.bincount(t.tiles, weights=t.nbytes, minlength=n).astype(np.int64)[:n]
        total += per
        kinds.setdefault(t.kind, np.zeros(n, np.int64))
        kinds[t.kind] += per
    for a in (total, *kinds.values()):
        a.flags.writeable = False  # shared by every estimate of the program
    return total, kinds


def check_memory(program: Program, machine: MachineSpec) -> MemoryLedger:
    """The ledger; raises :class:`TileMemoryError` if any tile is over capacity."""
    ledger = memory_ledger(program, machine)
    oom = ledger.oom_tiles
    if oom.size:
        worst = ledger.overflows(1)[0]
        raise TileMemoryError(
            f"program {program.name!r} does not fit {machine.name!r} ({machine.memory_bytes_per_tile:,} B per tile): "
            f"{oom.size} tile(s) over; worst: {worst.describe()}",
            report=ledger,
            tile=worst.tile,
            needed_bytes=worst.used_bytes,
        )
    return ledger
