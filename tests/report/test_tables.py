"""mimdsim.report.tables: fixed-column text, Markdown and CSV tables of sweep rows."""

from __future__ import annotations

import csv
import io

import pytest

from mimdsim.errors import ConfigError
from mimdsim.report.tables import (
    BREAKDOWN_COLUMNS,
    SNN_COLUMNS,
    Column,
    csv_table,
    format_table,
    get_value,
    markdown_table,
    pivot,
    pivot_table,
    text_table,
)
from tests.records import fake_record, ipu_breakdown


def _row(depth: int, act: float, speedup: float | None = None, **kw: object) -> dict:
    r = fake_record(
        model=f"nmnist_a_{depth}hidden",
        depth=depth,
        max_activity=act,
        sparse_sizes=[32, 14, 14, 2],
        machine="bow",
        gpu="a100_40gb",
        ms_per_step=2.0 + act,
        gpu_ms_per_step=12.5,
        cycles_per_step=1000,
        **ipu_breakdown(700, 200, 0, 20, 80),
        fwd_cycles=400,
        bwd_cycles=500,
        update_cycles=80,
        host_phase_cycles=20,
        other_phase_cycles=0,
        top_superstep_names=["fwd.state_update"],
        top_superstep_shares=[0.2],
        gpu_dominant="launch",
        gpu_launch_ms=7.0,
        gpu_memory_bound_ms=5.5,
        gpu_compute_bound_ms=0.0,
    )
    if speedup is not None:
        r["speedup_vs_gpu"] = speedup
    r.update(kw)
    return r


ROWS = [_row(2, 0.01, 4.7), _row(5, 0.1, 5.0), fake_record(model="broken", max_activity=0.5, error="TileMemoryError: ...")]


def test_get_value_dotted() -> None:
    r = _row(2, 0.01, 4.7)
    assert get_value(r, "compute_cycles") == 700
    assert get_value(r, "top_superstep_names.0") == "fwd.state_update"
    assert get_value(r, "top_superstep_names.5") is None
    assert get_value({"a": {"b": [1, {"c": 2}]}}, "a.b.1.c") == 2
    assert get_value(r, "nope.deeper") is None
    assert get_value(r, "model.x") is None


def test_text_table_is_fixed_width_and_aligned() -> None:
    text = text_table(ROWS)
    lines = text.splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert lines[0].startswith("model") and set(lines[1]) <= {"-", " "}
    # the speed-up column is right-aligned under its header
    head = lines[0]
    col_end = head.index("speed-up") + len("speed-up")
    assert lines[2][:col_end].endswith("4.70x") and lines[3][:col_end].endswith("5.00x")
    assert "32-14-14-2" in lines[2]
    # the error row prints dashes, not crashes
    assert lines[4].startswith("broken") and " - " in lines[4]


def test_markdown_table() -> None:
    md = markdown_table(ROWS)
    lines = md.splitlines()
    assert lines[0].startswith("| model | hidden | max act.")
    assert lines[1].count("|") == len(SNN_COLUMNS) + 1 and "---:" in lines[1]
    assert "| 4.70x |" in lines[2]
    cols = [Column("model", "a|b")]
    assert markdown_table([{"model": "x|y"}], cols).splitlines()[2] == "| x\\|y |"


def test_csv_table_holds_raw_values() -> None:
    out = csv_table(ROWS, BREAKDOWN_COLUMNS)
    rec = list(csv.DictReader(io.StringIO(out)))
    assert [c.key for c in BREAKDOWN_COLUMNS] == list(rec[0])
    assert rec[0]["compute_cycles"] == "700"
    assert float(rec[0]["max_activity"]) == 0.01
    assert rec[2]["compute_cycles"] == ""  # the error row
    snn = list(csv.reader(io.StringIO(csv_table(ROWS))))
    assert snn[1][[c.key for c in SNN_COLUMNS].index("speedup_vs_gpu")] == "4.7"
    assert snn[1][[c.key for c in SNN_COLUMNS].index("sparse_sizes")] == "32-14-14-2"


@pytest.mark.parametrize("fmt", ["text", "markdown", "csv"])
def test_format_table_dispatch(fmt: str) -> None:
    assert format_table(ROWS, fmt=fmt) == {"text": text_table, "markdown": markdown_table, "csv": csv_table}[fmt](
        ROWS, SNN_COLUMNS
    )


def test_format_table_unknown_format() -> None:
    with pytest.raises(ConfigError, match="table format 'html'"):
        format_table(ROWS, fmt="html")


def test_pivot_and_pivot_table() -> None:
    rows = [_row(d, a, d * 10 * a) for d in (3, 2) for a in (0.1, 0.01)] + [ROWS[2]]
    idx, cols, cells = pivot(rows)
    assert idx == [2, 3] and cols == [0.01, 0.1]
    assert cells[(3, 0.1)] == pytest.approx(3.0)
    text = pivot_table(rows)
    assert text.splitlines()[0].split() == ["hidden", "layers", "act", "0.01", "act", "0.1"]
    assert text.splitlines()[2].split() == ["2", "0.20x", "2.00x"]
    md = pivot_table(rows, values="ms_per_step", fmt="markdown", value_format="{:.3f}")
    assert "| 3 | 2.010 | 2.100 |" in md
    out = list(csv.reader(io.StringIO(pivot_table(rows, fmt="csv"))))
    assert out[0] == ["depth", "max_activity=0.01", "max_activity=0.1"] and out[1][0] == "2"
    assert float(out[1][2]) == pytest.approx(2.0)


def test_pivot_table_missing_cell_prints_dash() -> None:
    rows = [_row(2, 0.01, 4.0), _row(3, 0.1, 5.0)]
    lines = pivot_table(rows).splitlines()
    assert lines[2].split() == ["2", "4.00x", "-"]
