"""The figure of a partitioning study: ms/step and receive bytes per method, and the best mapping's per-tile load."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mimdsim.report.plots import _figure, _save, check_figure_path
from mimdsim.report.tile_maps import draw_tile_map, tile_grid

__all__ = ["plot_partition_study"]


def plot_partition_study(
    rows: Sequence[Mapping[str, Any]], best_tile_busy_cycles: np.ndarray, tiles_per_ipu: int, path: str | os.PathLike[str], *,
    title: str = "",
) -> None:
    """Bars of ``ms_per_step`` and ``max_tile_receive_bytes`` per method (rows as ``mimdsim partition --json``
    prints them), and a heat map, in the chip's tile order, of the busy cycles of the fastest method's tiles."""
    check_figure_path(path)
    names = [str(r["method"]) for r in rows]
    best = int(np.argmin([float(r["ms_per_step"]) for r in rows]))
    grid = tile_grid(np.asarray(best_tile_busy_cycles), tiles_per_ipu)
    shown = min(grid.shape[0], 4)
    fig = _figure(11, 3.2 + 2.2 * shown)
    x = np.arange(len(rows))
    for j, (key, label) in enumerate((("ms_per_step", "simulated ms / training step"), ("max_tile_receive_bytes", "busiest tile: bytes received / step"))):
        ax = fig.add_subplot(1 + shown, 2, j + 1)
        values = [float(r[key]) for r in rows]
        colours = ["tab:orange" if i == best else "tab:blue" for i in range(len(rows))]
        ax.bar(x, values, color=colours)
        ax.set_xticks(x, names, rotation=40, ha="right", fontsize=7)
        ax.set_title(label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for i in range(shown):
        more = f" (first {shown} of {grid.shape[0]})" if grid.shape[0] > shown else ""
        draw_tile_map(fig, fig.add_subplot(1 + shown, 1, 2 + i), grid[i], f"{names[best]} (fastest): busy cycles per tile, IPU {i}{more}")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
