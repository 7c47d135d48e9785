"""Reports of sweep results: tables, figures and the validation page.

* :mod:`mimdsim.report.tables`: fixed-column text / Markdown / CSV tables of sweep rows
  (:func:`~mimdsim.report.tables.format_table`, :func:`~mimdsim.report.tables.pivot_table`).
* :mod:`mimdsim.report.plots`: the paper-style speed-up figure and critical-path bars
  (matplotlib, imported only when a figure is drawn; the Agg canvas, no pyplot).
* :mod:`mimdsim.validation.page`: ``docs/validation.md``, every comparison of mimdsim
  with published numbers (``python -m mimdsim.validation.page``).

The paper's headline figures (FB24 abstract, abstract of Finkbeiner et al., AAAI 2024)
live here so that figures and the validation page use the same numbers.
"""

from __future__ import annotations

__all__ = ["PAPER_SPEEDUP_BAND", "PAPER_SPEEDUP_MAX", "PAPER_BAND_ACTIVITIES", "PAPER_SOURCE"]

PAPER_SPEEDUP_BAND: tuple[float, float] = (5.0, 10.0)
"""Throughput of the sparse IPU implementation over the dense A100 baseline on training
workloads: "5-10x" (abstract; FB24 abstract; FB24 (claims) claim 1: typical max activity 1-10 %)."""

PAPER_SPEEDUP_MAX: float = 38.0
""""up to 38x" at higher activation sparsity (FB24 abstract: the setting is not
published, probably max activity 0.005-0.01)."""

PAPER_BAND_ACTIVITIES: tuple[float, float] = (0.01, 0.1)
"""Maximum activities the 5-10x band is read against (FB24 (claims) claim 1: "about 1-10 %")."""

PAPER_SOURCE = "Finkbeiner et al., AAAI 2024 (arXiv:2311.04386), abstract"
