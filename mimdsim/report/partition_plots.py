"""The figure of a partitioning study: per method its step time, fan-in and communication volume (the
metrics that tell methods apart), and the best mapping's per-tile load.

>>> bar_limits([5.19, 5.36, 5.19])   # a few per cent apart: the axis starts near the values, not at 0
(5.1632, 5.3868)
>>> bar_limits([1.0, 3.0])           # far apart: from 0
(0.0, 3.3)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mimdsim.report.plots import _figure, _save, check_figure_path
from mimdsim.report.tile_maps import draw_tile_map, tile_grid

__all__ = ["plot_partition_study", "bar_limits", "PANELS"]

PANELS: tuple[tuple[str, str, float], ...] = (
    ("ms_per_step", "simulated ms / training step", 1.0),
    ("fanin_total", "fan-in: presynaptic neurons per tile, summed", 1.0),
    ("comm_volume_bytes", "communication volume: MiB / step", 2.0**-20),
)
"""The bar panels: record key, title with unit, scale to that unit."""


def bar_limits(values: Sequence[float], close: float = 0.1) -> tuple[float, float]:
    """The y range of a bar panel: from 0, unless the values lie within ``close`` of their largest; then a range
    around them (a tenth of their spread, at least 0.5 % of the largest, either side), so differences of a few per
    cent can be seen (the panel says its axis does not start at 0)."""
    lo, hi = float(min(values)), float(max(values))
    if hi <= 0:  # nothing to show: an empty unit axis
        return 0.0, 1.0
    if (hi - lo) > close * hi:
        return 0.0, round(1.1 * hi, 12)
    pad = max(0.1 * (hi - lo), 0.005 * hi)
    return round(lo - pad, 12), round(hi + pad, 12)


def plot_partition_study(
    rows: Sequence[Mapping[str, Any]],
    best_tile_busy_cycles: np.ndarray,
    tiles_per_ipu: int,
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> None:
    """Bars of :data:`PANELS` per method (rows as ``mimdsim partition --json`` prints them), each bar labelled with its
    value, and a heat map, in the chip's tile order, of the busy cycles of the fastest method's tiles."""
    check_figure_path(path)
    names = [str(r["method"]) for r in rows]
    best = int(np.argmin([float(r["ms_per_step"]) for r in rows]))
    grid = tile_grid(np.asarray(best_tile_busy_cycles), tiles_per_ipu)
    shown = min(grid.shape[0], 4)
    fig = _figure(max(11, 1.2 * len(rows) * len(PANELS)), 3.4 + 2.2 * shown)
    x = np.arange(len(rows))
    for j, (key, label, scale) in enumerate(PANELS):
        ax = fig.add_subplot(1 + shown, len(PANELS), j + 1)
        values = [scale * float(r[key]) for r in rows]
        colours = ["tab:orange" if i == best else "tab:blue" for i in range(len(rows))]
        bars = ax.bar(x, values, color=colours)
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in values], fontsize=6)
        lo, hi = bar_limits(values)
        ax.set_ylim(lo, hi)
        ax.set_xticks(x, names, rotation=40, ha="right", fontsize=7)
        ax.set_title(label + ("" if lo == 0 else " (axis from " + f"{lo:,.3g})"), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for i in range(shown):
        more = f" (first {shown} of {grid.shape[0]})" if grid.shape[0] > shown else ""
        draw_tile_map(
            fig, fig.add_subplot(1 + shown, 1, 2 + i), grid[i], f"{names[best]} (fastest): busy cycles per tile, IPU {i}{more}"
        )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
