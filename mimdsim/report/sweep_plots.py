"""Figures of a result store (``mimdsim plot``): an output vs an axis, the ratio between two
values of an axis (e.g. the speed-up of one machine over another), Pareto fronts of two
outputs, cycle stacks per superstep kind, and time against energy per step (each point's
band, IPU and GPU).

Every figure has a ``*_data`` function that computes what it shows without matplotlib (the
tests check those numbers); the ``plot_*`` functions draw it through
:mod:`mimdsim.report.plots`' one figure writer.

>>> rows = [{"x": 1, "y": 3.0}, {"x": 2, "y": 1.0}, {"x": 3, "y": 2.0}]
>>> pareto_front([r["x"] for r in rows], [r["y"] for r in rows])   # smaller x and smaller y are better
[0, 1]
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mimdsim.errors import ConfigError
from mimdsim.report.plots import _figure, _save, check_figure_path
from mimdsim.report.tables import short_step_name

__all__ = [
    "Series", "series_data", "ratio_data", "pareto_front", "stack_data", "plot_series", "plot_pareto", "plot_stack", "varying_axes", "axis_scale", "numeric_axes", "step_time_series",
    "EnergyPoint", "energy_data", "plot_energy",
]  # fmt: skip

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Series:
    """One line of a figure: its label and its points, sorted by x."""

    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


AXIS_LABELS: dict[str, str] = {
    "ms_per_step": "training step (ms)", "max_activity": "max activity (fraction of neurons)",
    "speedup_vs_gpu": "speed-up over the GPU (x)", "cycles_per_step": "training step (cycles)",
    "max_tile_memory_bytes": "largest tile's memory (KiB)", "samples_per_s": "samples per second",
    "machine.exchange_bytes_per_cycle": "exchange bandwidth (bytes/cycle per tile)", "machine.n_ipus": "IPUs",
    "machine.memory_bytes_per_tile": "tile memory (KiB)", "machine.link_latency_cycles": "link latency (cycles)",
}  # fmt: skip
"""Axis titles with units for the record fields figures show most; other keys are shown as they are."""


def axis_scale(key: str) -> tuple[float, str]:
    """The factor a figure multiplies ``key``'s values by, and its axis title: byte counts in KiB (tile memories are
    hundreds of KiB; raw bytes read as 1e6), everything else as it is.

    >>> axis_scale("machine.memory_bytes_per_tile"), axis_scale("min_memory_headroom_bytes"), axis_scale("ms_per_step")
    ((0.0009765625, 'tile memory (KiB)'), (0.0009765625, 'min_memory_headroom_bytes (KiB)'), (1.0, 'training step (ms)'))
    """
    if key.endswith(("_bytes", "bytes_per_tile")):
        return 2.0**-10, AXIS_LABELS.get(key, f"{key} (KiB)")
    return 1.0, AXIS_LABELS.get(key, key)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None
    return float(v)


def _check_key(rows: Sequence[Row], key: str, what: str) -> None:
    if not any(key in r for r in rows):
        keys = sorted({k for r in rows for k in r})
        raise ConfigError(f"{what} {key!r} is not a column of the results (columns: {', '.join(keys)})")


def varying_axes(rows: Sequence[Row], columns: Sequence[str]) -> list[str]:
    """The point keys (dotted keys, ``model``, ``max_activity``, ``passes``, ``program_version``) whose value differs
    between rows, in column order: what labels a point in a figure.

    >>> varying_axes([{"model": "a", "machine.n_ipus": 1}, {"model": "a", "machine.n_ipus": 2}], ["model", "machine.n_ipus"])
    ['machine.n_ipus']
    """
    keys = [c for c in columns if "." in c or c in ("model", "max_activity", "passes", "program_version")]
    return [k for k in keys if len({str(r.get(k)) for r in rows}) > 1]


def numeric_axes(rows: Sequence[Row], axes: Sequence[str]) -> list[str]:
    """The axes whose value is a number in every row that ran: those a figure can put on its x axis.

    >>> numeric_axes([{"a": 1, "b": "x", "c": True}, {"a": 2.5, "b": "y", "c": False}], ["a", "b", "c"])
    ['a']
    """
    ok = [r for r in rows if not r.get("error")]
    return [a for a in axes if ok and all(_num(r.get(a)) is not None for r in ok)]


def step_time_series(rows: Sequence[Row], x: str, axes: Sequence[str]) -> list[Series]:
    """The step time against ``x``, one line per combination of the other ``axes`` (no line joins two points of one x)."""
    return series_data([r for r in rows if not r.get("error")], x, "ms_per_step", [a for a in axes if a != x])


def _legend_width_in(labels: Sequence[str]) -> float:
    """Inches a legend right of the data needs for its longest label (7 pt text)."""
    return 0.3 + 0.065 * max(len(t) for t in labels)


def _key(v: Any) -> Any:
    """An axis value as a dict key: a list value (``model.layer_sizes``) as a tuple."""
    return tuple(v) if isinstance(v, list) else v


def _order(v: Any) -> tuple[int, float, str]:
    """Sort key of an axis value: numbers by value (2 before 16), then everything else by text."""
    n = _num(v)
    return (0, n, "") if n is not None else (1, 0.0, str(v))


def series_data(rows: Sequence[Row], x: str, y: str, by: str | Sequence[str] | None = None) -> list[Series]:
    """``y`` against ``x``, one series per value of ``by`` (a key or several), sorted by value
    (failed points and missing values skipped).

    >>> rows = [{"a": a, "b": b, "y": a * b} for a in (16, 2) for b in (1, 3)]
    >>> [(s.label, s.xs, s.ys) for s in series_data(rows, "b", "y", "a")]
    [('a=2', (1.0, 3.0), (2.0, 6.0)), ('a=16', (1.0, 3.0), (16.0, 48.0))]
    """
    keys = [by] if isinstance(by, str) else list(by or ())
    for k, what in ((x, "--x"), (y, "--y"), *((k, "--by") for k in keys)):
        _check_key(rows, k, what)
    groups: dict[tuple[Any, ...], list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        xv, yv = _num(r.get(x)), _num(r.get(y))
        if r.get("error") or xv is None or yv is None:
            continue
        groups[tuple(_key(r.get(k)) for k in keys)].append((xv, yv))
    if not groups:
        raise ConfigError(f"no point has both {x} and {y}")
    out = []
    for g in sorted(groups, key=lambda g: tuple(_order(v) for v in g)):
        pts = sorted(groups[g])
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, g, strict=True)) or y
        out.append(Series(label, tuple(a for a, _ in pts), tuple(b for _, b in pts)))
    return out


def ratio_data(rows: Sequence[Row], axis: str, a: Any, b: Any, x: str, y: str = "ms_per_step") -> list[Series]:
    """``y(axis=a) / y(axis=b)`` for rows equal in every other key but ``x`` and the outputs,
    against ``x``: with ``y = ms_per_step``, the speed-up of ``axis=b`` over ``axis=a``.

    Rows are matched on their inputs: the point keys (those with a dot, ``model``,
    ``max_activity``, ``engine``, ``seed``, the GPU keys) other than ``axis`` and ``x``.
    """
    _check_key(rows, axis, "--ratio axis")
    keys = sorted({k for r in rows for k in r if k != axis and k != x and ("." in k or k in _MATCH)})
    by_value: dict[tuple[Any, ...], dict[Any, dict[Any, Row]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.get("error"):
            continue
        by_value[tuple(str(r.get(k)) for k in keys)][r.get(x)][_same(r.get(axis), a, b)] = r
    out: list[Series] = []
    for group, cells in sorted(by_value.items()):
        pts = []
        for xv, d in cells.items():
            if "a" in d and "b" in d and _num(xv) is not None and _num(d["b"].get(y)):
                pts.append((float(xv), float(d["a"][y]) / float(d["b"][y])))
        if pts:
            varying = [f"{k}={v}" for i, (k, v) in enumerate(zip(keys, group, strict=True)) if _varies(by_value, i)]
            pts.sort()
            out.append(Series(", ".join(varying) or f"{axis} {a} / {b}", tuple(p[0] for p in pts), tuple(p[1] for p in pts)))
    if not out:
        raise ConfigError(f"--ratio: no pair of points with {axis}={a} and {axis}={b} that agree on the other keys")
    return out


_MATCH = ("model", "max_activity", "engine", "seed", "gpu", "gpu_framework", "gpu_matmul_precision")


def _same(v: Any, a: Any, b: Any) -> str | None:
    s = str(v)
    return "a" if s == str(a) else "b" if s == str(b) else None


def _varies(groups: Mapping[tuple[Any, ...], Any], i: int) -> bool:
    return len({g[i] for g in groups}) > 1


def pareto_front(xs: Sequence[float], ys: Sequence[float], x_better: str = "low", y_better: str = "low") -> list[int]:
    """Indices of the points no other point beats in both (``low`` or ``high`` is better), by ascending x."""
    for s in (x_better, y_better):
        if s not in ("low", "high"):
            raise ConfigError(f"pareto: 'low' or 'high' is better (got {s!r})")
    sx, sy = (1 if x_better == "low" else -1), (1 if y_better == "low" else -1)
    pts = [(sx * float(x), sy * float(y), i) for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
    front, best_y = [], math.inf
    for _px, py, i in sorted(pts):
        if py < best_y:
            front.append(i)
            best_y = py
    return sorted(front, key=lambda i: float(xs[i]))


def stack_data(rows: Sequence[Row], label: Sequence[str] = ("model", "max_activity")) -> tuple[list[str], dict[str, list[float]]]:
    """Per point: the cycles of each of its costliest superstep kinds, and ``other`` (the rest of the step)."""
    used = [r for r in rows if not r.get("error") and r.get("cycles_per_step")]
    if not used:
        raise ConfigError("stack: no point has a step")
    kinds = list(dict.fromkeys(k for r in used for k in r["top_superstep_names"]))
    stacks: dict[str, list[float]] = {k: [] for k in [*kinds, "other"]}
    for r in used:
        top = dict(zip(r["top_superstep_names"], r["top_superstep_cycles"], strict=True))
        for k in kinds:
            stacks[k].append(float(top.get(k, 0)))
        stacks["other"].append(float(r["cycles_per_step"]) - sum(top.values()))
    labels = [" ".join(f"{r.get(k)}" for k in label) for r in used]
    return labels, stacks


def plot_series(series: Sequence[Series], path: str | os.PathLike[str], *, x: str, y: str, log_x: bool = False,
                title: str = "") -> None:  # fmt: skip
    """Lines with markers, one per series."""
    check_figure_path(path)
    legend_in = _legend_width_in([s.label for s in series]) if len(series) > 1 else 0.0
    fig = _figure(7 + legend_in, 4.5)
    ax = fig.add_subplot()
    (fx, x_title), (fy, y_title) = axis_scale(x), axis_scale(y)
    for s in series:
        ax.plot([fx * v for v in s.xs], [fy * v for v in s.ys], marker="o", label=s.label)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.set_title(title, fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.6)
    if len(series) > 1:  # right of the data, in the order of the values
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    _save(fig, path)


def plot_pareto(rows: Sequence[Row], path: str | os.PathLike[str], *, x: str, y: str, x_better: str = "low",
                y_better: str = "low", label: Sequence[str] = ()) -> list[int]:  # fmt: skip
    """Every point, the front drawn as a step line, each front point labelled with its ``label`` keys' values;
    returns the indices (into the usable rows) of the front."""
    used = [r for r in rows if not r.get("error") and _num(r.get(x)) is not None and _num(r.get(y)) is not None]
    if not used:
        raise ConfigError(f"pareto: no point has both {x} and {y}")
    (fx, x_title), (fy, y_title) = axis_scale(x), axis_scale(y)
    xs, ys = [fx * float(r[x]) for r in used], [fy * float(r[y]) for r in used]  # a positive factor keeps the front
    front = pareto_front(xs, ys, x_better, y_better)
    check_figure_path(path)
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=14, color="0.6", label="points")
    ax.plot([xs[i] for i in front], [ys[i] for i in front], marker="o", color="C3", label="Pareto front")
    for i in front if label else ():
        text = ", ".join(f"{v}" for v in (used[i].get(k) for k in label))
        ax.annotate(text, (xs[i], ys[i]), xytext=(4, 4), textcoords="offset points", fontsize=6, color="C3")
    ax.set_xlabel(f"{x_title} ({x_better} is better)")
    ax.set_ylabel(f"{y_title} ({y_better} is better)")
    if label:
        ax.set_title("front points: " + ", ".join(label), fontsize=8)
    ax.grid(True, linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return front


def plot_stack(rows: Sequence[Row], path: str | os.PathLike[str], label: Sequence[str] = ("model", "max_activity")) -> None:
    """Stacked bars of the step per point: cycles per superstep kind."""
    import numpy as np

    labels, stacks = stack_data(rows, label)
    check_figure_path(path)
    names = {k: short_step_name(k, 2) for k in stacks}
    legend_in = _legend_width_in(list(names.values()))  # the legend sits right of the bars
    fig = _figure(max(6, 0.45 * len(labels) + 3) + legend_in, 4.8)
    ax = fig.add_subplot()
    bottom = np.zeros(len(labels))
    for k, vals in stacks.items():
        ax.bar(range(len(labels)), vals, bottom=bottom, label=names[k], color="0.8" if k == "other" else None)
        bottom += np.asarray(vals)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel(" / ".join(label), fontsize=8)
    ax.set_ylabel("cycles per training step")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    _save(fig, path)


@dataclass(frozen=True)
class EnergyPoint:
    """One point of the time-vs-energy figure: a design point's IPU or GPU step, its time and energy band."""

    label: str
    side: str  # "ipu" or "gpu"
    ms: float
    low_j: float
    central_j: float
    high_j: float


def energy_data(rows: Sequence[Row], label: Sequence[str] = ("model", "max_activity")) -> list[EnergyPoint]:
    """Every point with an energy band: its IPU step and, where a GPU was modelled, its GPU step."""
    out: list[EnergyPoint] = []
    for r in rows:
        if r.get("error"):
            continue
        name = ", ".join(f"{r.get(k)}" for k in label)
        for side, ms_key in (("ipu", "ms_per_step"), ("gpu", "gpu_ms_per_step")):
            vals = [_num(r.get(k)) for k in (ms_key, f"{side}_energy_low_j", f"{side}_energy_central_j", f"{side}_energy_high_j")]
            if all(v is not None for v in vals):
                ms, lo, mid, hi = (float(v) for v in vals)  # type: ignore[arg-type]
                out.append(EnergyPoint(name, side, ms, lo, mid, hi))
    if not out:
        raise ConfigError("energy: no point has an energy band (a machine or GPU without energy parameters? docs/energy.md)")
    return out


def plot_energy(
    rows: Sequence[Row], path: str | os.PathLike[str], label: Sequence[str] = ("model", "max_activity")
) -> list[EnergyPoint]:
    """Energy per step (central, with the low-high band as an error bar) against time per step, log-log, IPU and GPU."""
    points = energy_data(rows, label)
    shown: list[EnergyPoint] = []
    seen: set[tuple[str, float, float]] = set()
    for p in points:  # a dense GPU step does not depend on the activity: one marker for equal points
        key = (p.side, round(p.ms, 9), round(p.central_j, 12))
        if key not in seen:
            seen.add(key)
            shown.append(
                p if p.side == "ipu" else EnergyPoint(p.label.split(", ")[0], p.side, p.ms, p.low_j, p.central_j, p.high_j)
            )
    check_figure_path(path)
    fig = _figure(7.5, 5)
    ax = fig.add_subplot()
    for side, color, name in (("ipu", "C0", "IPU"), ("gpu", "C3", "GPU")):
        pts = [p for p in shown if p.side == side]
        if not pts:
            continue
        ax.errorbar(
            [p.ms for p in pts], [p.central_j for p in pts],
            yerr=[[p.central_j - p.low_j for p in pts], [p.high_j - p.central_j for p in pts]],
            fmt="o", color=color, ms=4, capsize=2, label=f"{name} (central; bar: low-high)",
        )  # fmt: skip
        for p in pts:
            ax.annotate(p.label, (p.ms, p.central_j), fontsize=5, xytext=(3, 2), textcoords="offset points", color=color)
    from matplotlib.ticker import ScalarFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(ScalarFormatter())
    ax.tick_params(which="minor", labelsize=6)
    ax.set_xlabel("time per training step (ms)")
    ax.set_ylabel("energy per training step (J)")
    ax.set_title("Time vs energy per step (the bands spread the energy parameters, not the time model's error)", fontsize=8)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    _save(fig, path)
    return points
