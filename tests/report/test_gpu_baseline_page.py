"""docs/gpu_baseline.md's GPU tables are what mimdsim.report.gpu_baseline generates, and the rows add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimdsim.report.gpu_baseline import (
    anatomy_markdown,
    anatomy_rows,
    ipu_ms_per_step,
    sensitivity_markdown,
    sensitivity_rows,
    update_page,
)
from mimdsim.snn.gpu.frameworks import FRAMEWORKS, SENSITIVITY

PAGE = Path(__file__).resolve().parents[2] / "docs" / "gpu_baseline.md"
HINT = "regenerate with: python -m mimdsim.report.gpu_baseline --write docs/gpu_baseline.md"


def test_the_page_holds_the_generated_tables() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert f"<!-- gpu:anatomy -->\n{anatomy_markdown(anatomy_rows())}\n<!-- /gpu:anatomy -->" in text, HINT
    ipu = ipu_ms_per_step("nmnist_a_2hidden")
    table = sensitivity_markdown(sensitivity_rows(ipu_ms=ipu), ipu)
    assert f"<!-- gpu:sensitivity -->\n{table}\n<!-- /gpu:sensitivity -->" in text, HINT


def test_anatomy_terms_add_up_to_the_step() -> None:
    rows = anatomy_rows()
    assert [r["framework"] for r in rows[: len(FRAMEWORKS)]] == list(FRAMEWORKS)
    for r in rows:
        parts = [r["launch_ms"], r["graph_launch_ms"], r["input_copy_ms"], r["loop_sync_ms"]]
        if r["framework"] == "tf-keras-xla":  # an iteration is bound by the host enqueue or the device
            assert r["host_enqueue_ms"] > 0 and r["ms_per_step"] >= r["host_enqueue_ms"] + sum(parts) - 1e-9
        else:
            assert r["ms_per_step"] == pytest.approx(r["device_ms"] + sum(parts))
    by = {(r["net"], r["framework"]): r for r in rows}
    # 2-hidden (L = 3 weight layers): fwd 2L + 3 + 3L, bwd 3L - 1 + 3 + 2L kernels per iteration
    assert (by["nmnist_a_2hidden", "tf-keras-xla"]["kernels_fwd"], by["nmnist_a_2hidden", "tf-keras-xla"]["kernels_bwd"]) == (
        18,
        17,
    )
    assert (by["nmnist_a_2hidden", "fused"]["kernels_fwd"], by["nmnist_a_2hidden", "fused"]["kernels_bwd"]) == (6, 8)


def test_sensitivity_rows_span_each_published_range() -> None:
    rows = sensitivity_rows(ipu_ms=5.0)
    assert [r["what"] for r in rows] == ["central case", *(u.field for u in SENSITIVITY), "matmul_precision"]
    central = rows[0]["gpu_ms_low"]
    by = {r["what"]: r for r in rows}
    assert by["host_launch_s"]["gpu_ms_low"] < central < by["host_launch_s"]["gpu_ms_high"]
    assert by["loop_sync_s"]["gpu_ms_low"] < central < by["loop_sync_s"]["gpu_ms_high"]
    assert by["input_copy_bytes_per_s"]["gpu_ms_low"] > central > by["input_copy_bytes_per_s"]["gpu_ms_high"]
    assert all(r["speedup_low"] == pytest.approx(r["gpu_ms_low"] / 5.0) for r in rows)
    assert "lowers the speed-up" in sensitivity_markdown(rows, 5.0)


def test_update_page_needs_its_markers() -> None:
    with pytest.raises(ValueError, match="no <!-- gpu:anatomy -->"):
        update_page("no markers here")
