"""Hand-made result records for report tests: :class:`SNNRecord` dicts with the fields a test sets."""

from __future__ import annotations

from typing import Any

from mimdsim.studies.record import SNNRecord


def fake_record(**fields: Any) -> dict[str, Any]:
    """An :class:`SNNRecord` dict (every field present, defaults ``None`` / empty) with ``fields`` set."""
    rec = SNNRecord(input_hash=str(fields.pop("input_hash", "test")))
    return {**rec.to_dict(), **fields}


def ipu_breakdown(compute: int, exchange: int, global_exchange: int, host_exchange: int, sync: int) -> dict[str, int]:
    """The five flat critical-path fields of a record."""
    return {"compute_cycles": compute, "exchange_cycles": exchange, "global_exchange_cycles": global_exchange,
            "host_exchange_cycles": host_exchange, "sync_cycles": sync}  # fmt: skip
