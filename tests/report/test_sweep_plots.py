"""mimdsim.report.sweep_plots, tile_maps and diff: the numbers each figure and table shows, checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ConfigError
from mimdsim.report.diff import diff_estimates, diff_text
from mimdsim.report.sweep_plots import (
    energy_data,
    pareto_front,
    plot_energy,
    plot_pareto,
    plot_series,
    plot_stack,
    ratio_data,
    series_data,
    stack_data,
)
from mimdsim.report.tile_maps import plot_tile_maps, tile_grid
from tests.records import fake_record

PNG = b"\x89PNG\r\n\x1a\n"


def _rows() -> list[dict]:
    rows = []
    for bw in (4, 8):
        for act in (0.01, 0.1):
            ms = 10 * act + 4 / bw
            rows.append({"machine.exchange_bytes_per_cycle": bw, **fake_record(model="m", max_activity=act, ms_per_step=ms,
                         cycles_per_step=1000, top_superstep_names=["a", "b"], top_superstep_cycles=[600, 300])})  # fmt: skip
    rows.append({"machine.exchange_bytes_per_cycle": 2, **fake_record(model="m", max_activity=0.01, error="TileMemoryError: x")})
    return rows


def test_series_groups_sorts_and_skips_failures() -> None:
    s = series_data(_rows(), "max_activity", "ms_per_step", by="machine.exchange_bytes_per_cycle")
    assert [x.label for x in s] == ["machine.exchange_bytes_per_cycle=4", "machine.exchange_bytes_per_cycle=8"]
    assert s[0].xs == (0.01, 0.1) and s[0].ys == pytest.approx((1.1, 2.0))
    with pytest.raises(ConfigError, match="'speed' is not a column"):
        series_data(_rows(), "max_activity", "speed")


def test_ratio_is_the_speedup_of_b_over_a_on_matched_points() -> None:
    (s,) = ratio_data(_rows(), "machine.exchange_bytes_per_cycle", 4, 8, "max_activity")
    assert s.xs == (0.01, 0.1)
    assert s.ys == pytest.approx(((0.1 + 1) / (0.1 + 0.5), (1 + 1) / (1 + 0.5)))
    with pytest.raises(ConfigError, match="no pair of points"):
        ratio_data(_rows(), "machine.exchange_bytes_per_cycle", 4, 16, "max_activity")


def test_pareto_front_by_hand() -> None:
    xs, ys = [1, 2, 3, 4, 2], [5, 3, 4, 1, 3]
    assert pareto_front(xs, ys) == [0, 1, 3]  # (2, 3) twice: the first; (3, 4) is beaten by (2, 3)
    assert pareto_front(xs, ys, y_better="high") == [0]  # (1, 5) beats every point on both
    assert pareto_front(xs, ys, "high", "high") == [0, 2, 3]  # (1, 5), (3, 4), (4, 1): larger is better


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_no_point_beats_a_front_point_and_every_other_point_is_beaten(pts: list[tuple[int, int]]) -> None:
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    front = set(pareto_front(xs, ys))
    for i in range(len(pts)):
        dominated = any(xs[j] <= xs[i] and ys[j] <= ys[i] and (xs[j], ys[j]) != (xs[i], ys[i]) for j in range(len(pts)))
        if i in front:
            assert not dominated
        elif not dominated:  # a duplicate of a front point
            assert any((xs[j], ys[j]) == (xs[i], ys[i]) for j in front)


def test_stack_adds_up_to_the_step() -> None:
    labels, stacks = stack_data(_rows())
    assert len(labels) == 4 and list(stacks) == ["a", "b", "other"]
    assert all(sum(v[i] for v in stacks.values()) == 1000 for i in range(4)) and stacks["other"] == [100.0] * 4


def test_energy_points_carry_each_band_and_skip_points_without_one(tmp_path: Path) -> None:
    band = {"ipu_energy_low_j": 0.2, "ipu_energy_central_j": 0.3, "ipu_energy_high_j": 0.5}
    gpu = {"gpu_ms_per_step": 30.0, "gpu_energy_low_j": 2.0, "gpu_energy_central_j": 3.0, "gpu_energy_high_j": 4.0}
    rows = [
        {"model": "a", "max_activity": 0.01, "ms_per_step": 3.0, **band, **gpu},
        {"model": "a", "max_activity": 0.1, "ms_per_step": 5.0, **band, **gpu},  # the same dense GPU step
        {"model": "b", "max_activity": 0.1, "ms_per_step": 4.0},  # no energy parameters
        {"model": "c", "max_activity": 0.1, "error": "out of memory"},
    ]
    pts = energy_data(rows)
    assert [(p.label, p.side, p.ms, p.central_j) for p in pts] == [
        ("a, 0.01", "ipu", 3.0, 0.3), ("a, 0.01", "gpu", 30.0, 3.0), ("a, 0.1", "ipu", 5.0, 0.3), ("a, 0.1", "gpu", 30.0, 3.0),
    ]  # fmt: skip
    assert len(plot_energy(rows, tmp_path / "e.png")) == 4 and (tmp_path / "e.png").read_bytes()[:8] == PNG
    with pytest.raises(ConfigError, match="no point has an energy band"):
        energy_data(rows[2:])


def test_figures_are_written(tmp_path: Path) -> None:
    rows = _rows()
    plot_series(
        series_data(rows, "max_activity", "ms_per_step"), tmp_path / "s.png", x="max_activity", y="ms_per_step", log_x=True
    )
    assert plot_pareto(rows, tmp_path / "p.png", x="max_activity", y="ms_per_step") == [2]  # 0.01 at 8 B/cycle beats all
    plot_stack(rows, tmp_path / "st.png")
    detail = {"tiles_per_ipu": 4, "tile_busy_cycles": list(range(8)), "tile_memory_bytes": [1] * 8}
    plot_tile_maps(detail, tmp_path / "t.png")
    assert all((tmp_path / n).read_bytes()[:8] == PNG for n in ("s.png", "p.png", "st.png", "t.png"))


def test_tile_grid_pads_and_splits_ipus() -> None:
    g = tile_grid(np.arange(6), tiles_per_ipu=3, row_tiles=2)
    assert (
        g.shape == (2, 2, 2)
        and g[0, 0].tolist() == [0, 1]
        and g[0, 1, 0] == 2
        and np.isnan(g[0, 1, 1])
        and g[1, 0].tolist() == [3, 4]
    )


def test_diff_names_what_changed_most() -> None:
    a = {"cycles_per_step": 100, "ms_per_step": 1.0, "step_kind_cycles": {"x": 60, "y": 40}, "tile_busy_cycles": [5, 9, 7]}
    b = {"cycles_per_step": 90, "ms_per_step": 0.9, "step_kind_cycles": {"x": 45, "y": 40, "z": 5}, "tile_busy_cycles": [5, 4, 8]}
    d = diff_estimates(a, b, n=2)
    assert d["cycles_per_step"] == (100, 90, -10)
    assert [(s["name"], s["delta_cycles"]) for s in d["step_kinds"]] == [("x", -15), ("z", 5)]
    assert [(t["tile"], t["delta_cycles"]) for t in d["tiles"]] == [(1, -5), (2, 1)]
    assert "superstep kinds that changed most" in diff_text(d)
    with pytest.raises(ConfigError, match="B is not an 'mimdsim snn --json' output"):
        diff_estimates(a, {"x": 1})
    with pytest.raises(ConfigError, match="same machine size"):
        diff_estimates(a, {**b, "tile_busy_cycles": [1]})


def test_bar_limits_start_at_zero_unless_the_values_are_close() -> None:
    from mimdsim.report.partition_plots import bar_limits

    assert bar_limits([1.0, 3.0]) == (0.0, 3.3)  # 67 % apart: from 0
    lo, hi = bar_limits([100.0, 103.0])  # 3 % apart: the range around them, a tenth of the spread (0.3) or 0.5 (0.5 % of 103)
    assert (lo, hi) == (pytest.approx(99.485), pytest.approx(103.515)) and lo > 0
    assert bar_limits([5.0, 5.0]) == (pytest.approx(4.975), pytest.approx(5.025))  # equal bars still show
    assert bar_limits([0.0, 0.0]) == (0.0, 1.0)  # all zero: an empty axis, not a degenerate one
