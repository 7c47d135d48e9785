"""Per-tile heat maps in the chip's tile order, and the per-tile and per-superstep detail of an estimate.

Tile ``t`` is on IPU ``t // tiles_per_ipu``; within an IPU the maps lay the tile ids out row
by row, :data:`ROW_TILES` to a row, so that the supertile pairs ``2j, 2j+1`` sit side by side.
Graphcore publishes no floor plan of the tiles, so this is the id order, not the die's layout.

>>> import numpy as np
>>> tile_grid(np.arange(8), tiles_per_ipu=4, row_tiles=2).tolist()
[[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from mimdsim.report.plots import _figure, _save, check_figure_path

if TYPE_CHECKING:
    from mimdsim.studies.step_estimate import SNNEstimate

__all__ = ["ROW_TILES", "tile_grid", "draw_tile_map", "estimate_detail", "plot_tile_maps"]

ROW_TILES = 64
"""Tiles per row of a map (1472 tiles: 23 rows)."""


def tile_grid(values: np.ndarray, tiles_per_ipu: int, row_tiles: int = ROW_TILES) -> np.ndarray:
    """``values`` (one per tile) as ``[n_ipus, rows, row_tiles]``, NaN past the last tile of an IPU."""
    v = np.asarray(values, dtype=np.float64)
    n_ipus = max(1, -(-v.size // tiles_per_ipu))
    rows = -(-tiles_per_ipu // row_tiles)
    out = np.full((n_ipus, rows * row_tiles), np.nan)
    for i in range(n_ipus):
        part = v[i * tiles_per_ipu : (i + 1) * tiles_per_ipu]
        out[i, : part.size] = part
    return out.reshape(n_ipus, rows, row_tiles)


def estimate_detail(est: SNNEstimate) -> dict[str, Any]:
    """What ``mimdsim snn --json --detail`` adds: cycles per superstep kind, and per tile its
    compute cycles (idle worker slots included), its exchange cycles (on-chip, global and host
    exchanges it takes part in), their sum ``tile_busy_cycles``, and its memory; and the whole machine
    description ``machine_spec`` (``mimdsim diff`` names the fields two estimates differ in)."""
    res = est.result
    exchange = res.tile_exchange_cycles + res.tile_global_exchange_cycles + res.tile_host_exchange_cycles
    return {
        "step_kind_cycles": {k.name: int(k.cycles) for k in est.step_kinds()},
        "tiles_per_ipu": int(est.machine.tiles_per_ipu),
        "tile_compute_cycles": [int(x) for x in res.tile_compute_cycles],
        "tile_exchange_cycles": [int(x) for x in exchange],
        "tile_busy_cycles": [int(x) for x in res.tile_compute_cycles + exchange],
        "tile_memory_bytes": [int(x) for x in est.ledger.tile_bytes],
        "machine_spec": est.machine.model_dump(mode="json"),
    }


def draw_tile_map(fig: Any, ax: Any, grid: np.ndarray, title: str) -> None:
    """One IPU's ``[rows, ROW_TILES]`` grid (:func:`tile_grid`) as a heat map on ``ax``, with its colour bar."""
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(f"tile id mod {ROW_TILES}", fontsize=7)
    ax.set_ylabel(f"tile id // {ROW_TILES}", fontsize=7)
    fig.colorbar(im, ax=ax)


def plot_tile_maps(detail: dict[str, Any], path: str | os.PathLike[str], *, title: str = "") -> None:
    """Two heat maps per IPU: busy cycles and memory bytes of every tile."""
    check_figure_path(path)
    busy = tile_grid(np.asarray(detail["tile_busy_cycles"]), detail["tiles_per_ipu"])
    mem = tile_grid(np.asarray(detail["tile_memory_bytes"]), detail["tiles_per_ipu"])
    n = busy.shape[0]
    shown = min(n, 4)
    fig = _figure(11, 1.6 + 2.2 * shown)
    for i in range(shown):
        for j, (grid, name) in enumerate(((busy, "busy cycles"), (mem, "memory bytes"))):
            ax = fig.add_subplot(shown, 2, 2 * i + j + 1)
            draw_tile_map(
                fig, ax, grid[i], f"IPU {i}: {name}" + (f" (first {shown} of {n} IPUs)" if n > shown and i == 0 else "")
            )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
