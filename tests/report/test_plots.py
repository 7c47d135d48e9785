"""mimdsim.report.plots: the data behind the figures, and that the files are written (not pixels)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

pytest.importorskip("matplotlib")

from mimdsim.errors import ConfigError
from mimdsim.report import PAPER_SPEEDUP_BAND, PAPER_SPEEDUP_MAX
from mimdsim.report.plots import (
    GPU_CATEGORIES,
    IPU_CATEGORIES,
    breakdown_data,
    plot_breakdown,
    plot_speedup_vs_activity,
    speedup_figure_data,
    speedup_series,
)
from tests.records import fake_record, ipu_breakdown

PNG = b"\x89PNG\r\n\x1a\n"


def _row(depth: int, act: float) -> dict:
    ipu_ms = 1.0 + 10 * act + 0.1 * (5 - depth)
    gpu_ms = 10.0 + depth
    return fake_record(
        model=f"nmnist_a_{depth}hidden",
        depth=depth,
        max_activity=act,
        machine="bow",
        gpu="a100_40gb",
        ms_per_step=ipu_ms,
        cycles_per_step=1000,
        **ipu_breakdown(600, 250, 0, 50, 100),
        gpu_ms_per_step=gpu_ms,
        speedup_vs_gpu=gpu_ms / ipu_ms,
        gpu_compute_bound_ms=0.0,
        gpu_memory_bound_ms=gpu_ms - 7.0,
        gpu_launch_ms=7.0,
    )


ROWS = [_row(d, a) for d in (5, 2) for a in (0.1, 0.005, 0.01)] + [
    fake_record(model="x", depth=3, max_activity=0.5, error="boom")
]
_GPU = ("gpu_compute_bound_ms", "gpu_memory_bound_ms", "gpu_launch_ms")


def test_series_grouped_by_depth_and_sorted() -> None:
    s = speedup_series(ROWS)
    assert [x.depth for x in s] == [2, 5]  # the error row (depth 3) is skipped
    assert s[0].activities == (0.005, 0.01, 0.1)
    assert s[1].speedups == tuple(_row(5, a)["speedup_vs_gpu"] for a in (0.005, 0.01, 0.1))
    assert s[0].label == "2 hidden layers"


def test_speedup_figure_data_defaults() -> None:
    d = speedup_figure_data(ROWS)
    assert d.band == PAPER_SPEEDUP_BAND and d.peak == PAPER_SPEEDUP_MAX
    assert d.peak_activity == 0.005  # the sparsest activity of the rows
    assert d.machine == "bow" and d.gpu == "a100_40gb" and "bow" in d.title
    assert d.max_point[:2] == (5, 0.005)
    assert speedup_figure_data(ROWS, peak_activity=0.01, band=(4, 8)).band == (4.0, 8.0)
    assert d.framework == "" and all(s.ideal_speedups == () for s in d.series)


def test_speedup_figure_shows_both_baselines(tmp_path: Path) -> None:
    """Rows with the paper's baseline and the ideal program: both lines, the framework named."""
    rows = [
        {**r, "gpu_framework": "tf-keras-xla", "speedup_vs_gpu_ideal": r["speedup_vs_gpu"] / 2} for r in ROWS if not r["error"]
    ]
    rows[0] = {k: v for k, v in rows[0].items() if k != "speedup_vs_gpu_ideal"}  # one point without: that depth has no ideal line
    d = plot_speedup_vs_activity(rows, tmp_path / "both.png")
    assert d.framework == "tf-keras-xla"
    by = {s.depth: s for s in d.series}
    assert by[5].ideal_speedups == () and by[2].ideal_speedups == tuple(v / 2 for v in by[2].speedups)
    assert (tmp_path / "both.png").read_bytes().startswith(PNG)


def test_speedup_figure_needs_speedups() -> None:
    with pytest.raises(ConfigError, match="no row has a speed-up"):
        speedup_figure_data([{"depth": 2, "max_activity": 0.1, "ms_per_step": 1.0}])


def test_plot_speedup_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "speedup.png"
    d = plot_speedup_vs_activity(ROWS, path)
    assert path.read_bytes()[:8] == PNG
    assert d.path == path and d == speedup_figure_data(ROWS, path=path)
    # same data, same bytes (no timestamp or version tag in the file)
    again = tmp_path / "again.png"
    plot_speedup_vs_activity(ROWS, again)
    assert again.read_bytes() == path.read_bytes()
    svg = tmp_path / "speedup.svg"
    plot_speedup_vs_activity(ROWS, svg)
    assert b"<svg" in svg.read_bytes()[:500]


@pytest.mark.parametrize(
    ("name", "words"),
    [("sub/speedup.png", "does not exist"), ("speedup.jpg", "must end in .png, .svg, .pdf"), ("", "an empty path")],
)
def test_plot_refuses_what_it_cannot_write(tmp_path: Path, name: str, words: str) -> None:
    from mimdsim.errors import OutputPathError

    with pytest.raises(OutputPathError, match=words):
        plot_speedup_vs_activity(ROWS, tmp_path / name if name else "")
    assert list(tmp_path.iterdir()) == []  # nothing created, not even the folder


def test_breakdown_data_in_ms() -> None:
    b = breakdown_data(ROWS)
    assert len(b.labels) == 6 and b.labels[0] == "5L a=0.1"
    assert set(b.ipu_ms) == set(IPU_CATEGORIES) and set(b.gpu_ms) == set(GPU_CATEGORIES)
    for i, r in enumerate(r for r in ROWS if not r["error"] and "error" not in r):
        assert sum(v[i] for v in b.ipu_ms.values()) == pytest.approx(r["ms_per_step"])
        assert sum(v[i] for v in b.gpu_ms.values()) == pytest.approx(r["gpu_ms_per_step"])
    no_gpu = [{k: v for k, v in r.items() if k not in _GPU} for r in ROWS[:2]]
    assert breakdown_data(no_gpu).gpu_ms == {}
    with pytest.raises(ConfigError, match="breakdown"):
        breakdown_data([ROWS[-1]])


def test_plot_breakdown_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "bd.png"
    b = plot_breakdown(ROWS, path)
    assert path.read_bytes()[:8] == PNG and b.path == path
    path1 = tmp_path / "bd_ipu_only.png"
    plot_breakdown([{k: v for k, v in r.items() if k not in _GPU} for r in ROWS[:2]], path1)
    assert path1.stat().st_size > 0


def test_importing_plots_does_not_import_matplotlib() -> None:
    code = "import sys, mimdsim.report.plots, mimdsim.validation.page; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
