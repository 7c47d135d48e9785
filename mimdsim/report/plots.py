"""Figures of sweep results (matplotlib, imported only when a figure is drawn).

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, never
through ``pyplot``: no global backend state, no display needed, and the same PNG bytes
for the same data and matplotlib version (the ``Software`` PNG tag is left out).

Each ``plot_*`` function returns the data it drew (a frozen dataclass), so tests and
reports can check the figure's content without looking at pixels; the matching
``*_data`` function computes that data without matplotlib.

* :func:`plot_speedup_vs_activity`: the paper-style figure, speed-up over the GPU vs
  maximum activity (log x), one line per depth -- solid over the GPU as the paper ran it
  (the rows' ``gpu_framework``), dashed over the ideal fused GPU program -- the paper's
  5-10x band shaded and its "up to 38x" marked.
* :func:`plot_breakdown`: stacked critical-path bars per sweep point, IPU (compute,
  exchange, sync, ...) next to the dense GPU step (compute-bound, memory-bound, launch,
  and the framework's host enqueue, loop syncs, graph launch and input copy).
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimdsim.errors import ConfigError, MissingPackageError, OutputPathError
from mimdsim.files import check_output_path, write_bytes
from mimdsim.report import PAPER_BAND_ACTIVITIES, PAPER_SPEEDUP_BAND, PAPER_SPEEDUP_MAX

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SpeedupSeries",
    "SpeedupFigure",
    "BreakdownFigure",
    "IPU_CATEGORIES",
    "GPU_CATEGORIES",
    "speedup_series",
    "speedup_figure_data",
    "plot_speedup_vs_activity",
    "breakdown_data",
    "plot_breakdown",
]

IPU_CATEGORIES: tuple[str, ...] = ("compute", "exchange", "global_exchange", "host_exchange", "sync")
"""Critical-path categories of the IPU step (``RunResult.critical_path_cycles``)."""

GPU_CATEGORIES: tuple[str, ...] = (
    "compute_bound_ms", "memory_bound_ms", "launch_ms", "host_enqueue_ms", "loop_sync_ms", "graph_launch_ms", "input_copy_ms",
)  # fmt: skip
"""Disjoint parts of the dense GPU step (``GpuEstimate``: the kernels' terms, then the framework's)."""

_COLORS = {
    "compute": "#4477aa",
    "exchange": "#ee6677",
    "global_exchange": "#aa3377",
    "host_exchange": "#ccbb44",
    "sync": "#bbbbbb",
    "compute_bound_ms": "#228833",
    "memory_bound_ms": "#66ccee",
    "launch_ms": "#999933",
    "host_enqueue_ms": "#882255",
    "loop_sync_ms": "#ddcc77",
    "graph_launch_ms": "#44aa99",
    "input_copy_ms": "#661100",
}


@dataclass(frozen=True)
class SpeedupSeries:
    """One line of the speed-up figure: a depth (hidden layers), its points sorted by activity."""

    depth: int
    label: str
    activities: tuple[float, ...]
    speedups: tuple[float, ...]
    ideal_speedups: tuple[float, ...] = ()
    """Over the ideal GPU program (``speedup_vs_gpu_ideal``), when every point has one."""


@dataclass(frozen=True)
class SpeedupFigure:
    """What :func:`plot_speedup_vs_activity` drew (``path`` is ``None`` for data only)."""

    path: Path | None
    series: tuple[SpeedupSeries, ...]
    band: tuple[float, float]
    band_activities: tuple[float, float]
    peak: float
    peak_activity: float
    machine: str
    gpu: str
    title: str
    framework: str = ""
    """How the GPU runs the step in ``speedups`` (the rows' ``gpu_framework``)."""

    @property
    def max_point(self) -> tuple[int, float, float]:
        """``(depth, activity, speed-up)`` of the largest simulated speed-up."""
        return max(
            ((s.depth, a, v) for s in self.series for a, v in zip(s.activities, s.speedups, strict=False)), key=lambda t: t[2]
        )


@dataclass(frozen=True)
class BreakdownFigure:
    """What :func:`plot_breakdown` drew: one bar per row label; values in ms per training step."""

    path: Path | None
    labels: tuple[str, ...]
    ipu_ms: dict[str, tuple[float, ...]]
    gpu_ms: dict[str, tuple[float, ...]]
    title: str


def _usable(rows: Sequence[Mapping[str, Any]], *keys: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if not r.get("error") and all(r.get(k) is not None for k in keys)]


def _one(rows: Sequence[Mapping[str, Any]], key: str) -> str:
    vals = sorted({str(r.get(key)) for r in rows if r.get(key) is not None}) or ["?"]
    return vals[0] if len(vals) == 1 else ", ".join(vals)


def speedup_series(rows: Sequence[Mapping[str, Any]]) -> list[SpeedupSeries]:
    """Rows grouped by ``depth`` (ascending), each sorted by ``max_activity``; rows without a speed-up are skipped.

    >>> rows = [{"depth": 2, "max_activity": a, "speedup_vs_gpu": 1 / a} for a in (0.1, 0.01)]
    >>> speedup_series(rows)[0].activities
    (0.01, 0.1)
    """
    groups: dict[int, list[tuple[float, float, float | None]]] = defaultdict(list)
    for r in _usable(rows, "depth", "max_activity", "speedup_vs_gpu"):
        ideal = r.get("speedup_vs_gpu_ideal")
        groups[int(r["depth"])].append(
            (float(r["max_activity"]), float(r["speedup_vs_gpu"]), None if ideal is None else float(ideal))
        )
    out = []
    for depth in sorted(groups):
        pts = sorted(groups[depth], key=lambda p: p[0])
        ideal = tuple(i for _, _, i in pts if i is not None)
        out.append(
            SpeedupSeries(
                depth,
                f"{depth} hidden layers",
                tuple(a for a, _, _ in pts),
                tuple(v for _, v, _ in pts),
                ideal if len(ideal) == len(pts) else (),
            )
        )
    return out


def speedup_figure_data(
    rows: Sequence[Mapping[str, Any]],
    *,
    band: tuple[float, float] = PAPER_SPEEDUP_BAND,
    peak: float = PAPER_SPEEDUP_MAX,
    peak_activity: float | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> SpeedupFigure:
    """The data of the speed-up figure, without drawing it.

    ``peak_activity`` places the paper's "up to 38x" marker; the paper does not say at
    which setting, so it defaults to the sparsest activity of ``rows`` (the claim is "at
    higher activation sparsity", FB24 (claims) claim 2).

    Raises
    ------
    ConfigError
        No row has a speed-up (e.g. the sweep ran without a GPU).
    """
    series = speedup_series(rows)
    if not series:
        raise ConfigError("speed-up figure: no row has a speed-up over a GPU (run the sweep with gpu=...)")
    used = _usable(rows, "depth", "max_activity", "speedup_vs_gpu")
    if peak_activity is None:
        peak_activity = min(a for s in series for a in s.activities)
    machine, gpu = _one(used, "machine"), _one(used, "gpu")
    if title is None:
        title = f"Sparse SNN BPTT on {machine} vs dense on {gpu} (mimdsim)"
    return SpeedupFigure(
        None if path is None else Path(path),
        tuple(series),
        (float(band[0]), float(band[1])),
        (float(PAPER_BAND_ACTIVITIES[0]), float(PAPER_BAND_ACTIVITIES[1])),
        float(peak),
        float(peak_activity),
        machine,
        gpu,
        title,
        _one(used, "gpu_framework") if any(r.get("gpu_framework") for r in used) else "",
    )


def _figure(width: float, height: float) -> Figure:
    """A bare Figure on the Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


FIGURE_FORMATS = ("png", "svg", "pdf")
"""Figure files mimdsim writes, chosen by the name's extension."""


def check_figure_path(path: str | os.PathLike[str], what: str = "figure") -> Path:
    """``path`` if a figure can be written there: a writable folder and a ``.png``, ``.svg`` or ``.pdf`` name."""
    p = check_output_path(path, what)
    if p.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
        raise OutputPathError(
            f"{what}: {path}: the name must end in {', '.join('.' + f for f in FIGURE_FORMATS)} (the figure's format)"
        )
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:  # refused before the work whose figure it is
        raise MissingPackageError(f"{what}: drawing a figure needs matplotlib: pip install 'mimdsim[plot]'")
    return p


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    """The figure in the format of its extension, through :func:`mimdsim.files.write_bytes`."""
    fmt = check_figure_path(path).suffix.lower().lstrip(".")
    kw: dict[str, Any] = {"metadata": {"Software": None}} if fmt == "png" else {}
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, **kw)
    write_bytes(path, buf.getvalue(), what="figure", compress=False)


def plot_speedup_vs_activity(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    band: tuple[float, float] = PAPER_SPEEDUP_BAND,
    peak: float = PAPER_SPEEDUP_MAX,
    peak_activity: float | None = None,
    title: str | None = None,
) -> SpeedupFigure:
    """Draw speed-up over the GPU vs max activity (log x), one line per depth, to ``path``.

    The paper's band (5-10x, shaded) and its "up to 38x" (a star at ``peak_activity``,
    default the sparsest activity of ``rows``) are drawn for comparison. The format follows
    the file suffix (``.png``, ``.svg``, ``.pdf``). Returns the data drawn.
    """
    check_figure_path(path)  # before drawing
    data = speedup_figure_data(rows, band=band, peak=peak, peak_activity=peak_activity, title=title, path=path)
    fig = _figure(7.0, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    acts = [a for s in data.series for a in s.activities] + [data.peak_activity]
    lo, hi = min(acts) / 1.4, max(acts) * 1.4
    ax.axhspan(data.band[0], data.band[1], color="#dddddd", zorder=0, label=f"paper: {data.band[0]:g}-{data.band[1]:g}x")
    a0, a1 = data.band_activities
    ax.axvspan(a0, a1, ymax=0.02, color="#888888", zorder=0, label=f"paper's typical max activity, {a0:g}-{a1:g}")
    markers = "osD^vP*X"
    over = f" (GPU as {data.framework})" if data.framework else ""
    for i, s in enumerate(data.series):
        (line,) = ax.plot(s.activities, s.speedups, marker=markers[i % len(markers)], label=f"mimdsim, {s.label}{over}", zorder=3)
        if s.ideal_speedups:
            ax.plot(
                s.activities,
                s.ideal_speedups,
                marker=markers[i % len(markers)],
                markerfacecolor="none",
                linestyle="--",
                color=line.get_color(),
                label=f"mimdsim, {s.label} (GPU as the ideal fused program)",
                zorder=3,
            )
    ax.plot(
        [data.peak_activity],
        [data.peak],
        marker="*",
        markersize=16,
        color="#cc3311",
        linestyle="none",
        label=f"paper: up to {data.peak:g}x (setting not published)",
        zorder=4,
    )
    ax.axhline(1.0, color="black", linewidth=0.6, zorder=1)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    top = max([data.peak, data.band[1]] + [v for s in data.series for v in s.speedups + s.ideal_speedups])
    ax.set_ylim(0, top * 1.12)
    ax.set_xlabel("maximum activity (fraction of neurons allowed to spike per step; log scale)")
    ax.set_ylabel(f"speed-up over {data.gpu} (training step time ratio)")
    ax.set_title(data.title, fontsize=10)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    _save(fig, path)
    return data


def _label(r: Mapping[str, Any]) -> str:
    depth = r.get("depth")
    head = f"{depth}L" if depth is not None else str(r.get("model", "?"))
    act = r.get("max_activity")
    return f"{head} a={act:g}" if isinstance(act, (int, float)) else head


def breakdown_data(
    rows: Sequence[Mapping[str, Any]], *, title: str | None = None, path: str | os.PathLike[str] | None = None
) -> BreakdownFigure:
    """Per row: the IPU critical path split (ms) and, when present, the GPU split (ms).

    IPU cycles are converted with the row's ``ms_per_step / cycles_per_step``.

    Raises
    ------
    ConfigError
        No row has an IPU breakdown.
    """
    used = _usable(rows, "compute_cycles", "cycles_per_step", "ms_per_step")
    if not used:
        raise ConfigError("breakdown figure: no row has an IPU breakdown (compute_cycles ...)")
    ipu: dict[str, list[float]] = {c: [] for c in IPU_CATEGORIES}
    gpu: dict[str, list[float]] = {c: [] for c in GPU_CATEGORIES}
    for r in used:
        ms_per_cycle = float(r["ms_per_step"]) / float(r["cycles_per_step"]) if r["cycles_per_step"] else 0.0
        for c in IPU_CATEGORIES:
            ipu[c].append(float(r.get(f"{c}_cycles") or 0) * ms_per_cycle)
        for c in GPU_CATEGORIES:
            gpu[c].append(float(r.get(f"gpu_{c}") or 0.0))
    if title is None:
        title = f"Critical path per training step: {_one(used, 'machine')} (sparse) vs {_one(used, 'gpu')} (dense)"
    has_gpu = any(v for vals in gpu.values() for v in vals)
    return BreakdownFigure(
        None if path is None else Path(path),
        tuple(_label(r) for r in used),
        {c: tuple(v) for c, v in ipu.items()},
        {c: tuple(v) for c, v in gpu.items()} if has_gpu else {},
        title,
    )


def plot_breakdown(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, title: str | None = None
) -> BreakdownFigure:
    """Stacked bars of the training step per row: IPU critical path (left), dense GPU step (right, if any)."""
    import numpy as np

    check_figure_path(path)  # before drawing
    data = breakdown_data(rows, title=title, path=path)
    n = len(data.labels)
    panels = 2 if data.gpu_ms else 1
    fig = _figure(min(max(6.0, 0.42 * n + 2.0), 16.0), 3.4 * panels + 0.8)
    x = np.arange(n)
    for p, (parts, name) in enumerate(((data.ipu_ms, "IPU (sparse)"), (data.gpu_ms, "GPU (dense)"))[:panels]):
        ax = fig.add_subplot(panels, 1, p + 1)
        bottom = np.zeros(n)
        for cat, vals in parts.items():
            v = np.asarray(vals)
            if not v.any():
                continue
            ax.bar(x, v, bottom=bottom, color=_COLORS.get(cat), label=cat.replace("_ms", "").replace("_", " "))
            bottom += v
        ax.set_xticks(x)
        ax.set_xticklabels(data.labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("ms per training step", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(True, axis="y", linewidth=0.3, alpha=0.6)
    fig.suptitle(data.title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return data
