"""The row of docs/validation.md: one comparison of a mimdsim figure with a published one."""

from __future__ import annotations

from typing import Any

__all__ = ["band_error", "row"]


def row(
    section: str,
    quantity: str,
    source: str,
    config: str,
    mimdsim: Any,
    published: Any,
    unit: str,
    why: str,
    rel: float | str | None = "auto",
) -> dict[str, Any]:
    """One comparison; ``rel="auto"`` computes ``(mimdsim - published) / published`` for two numbers."""
    if rel == "auto":
        rel = None
        if isinstance(mimdsim, (int, float)) and isinstance(published, (int, float)):
            rel = 0.0 if published == mimdsim else (None if published == 0 else (mimdsim - published) / published)
    return {
        "section": section,
        "quantity": quantity,
        "source": source,
        "configuration": config,
        "mimdsim": mimdsim,
        "published": published,
        "unit": unit,
        "rel_error": rel,
        "explanation": why,
    }


def band_error(value: float, lo: float, hi: float) -> float:
    """Relative distance from ``value`` to the band ``[lo, hi]``: 0 inside, ``(v-lo)/lo`` below, ``(v-hi)/hi`` above.

    >>> band_error(7.0, 5, 10), band_error(4.0, 5, 10), band_error(12.0, 5, 10)
    (0.0, -0.2, 0.2)
    """
    if value < lo:
        return (value - lo) / lo
    if value > hi:
        return (value - hi) / hi
    return 0.0
