"""Per-tile memory accounting."""

from mimdsim.memory.ledger import MemoryLedger, TileOverflow, check_memory, memory_ledger

__all__ = ["MemoryLedger", "TileOverflow", "memory_ledger", "check_memory"]
