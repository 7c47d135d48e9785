"""docs/snn.md's per-program-step tables are what mimdsim.report.snn_steps generates, and every step has a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimdsim.report.snn_steps import TABLES, estimate_for, step_rows, steps_markdown, update_page

PAGE = Path(__file__).resolve().parents[2] / "docs" / "snn.md"


@pytest.mark.parametrize("lowering", TABLES)
def test_the_page_holds_the_generated_table(lowering: str) -> None:
    est = estimate_for(lowering)
    text = PAGE.read_text(encoding="utf-8")
    assert f"<!-- steps:{lowering} -->\n{steps_markdown(est)}\n<!-- /steps:{lowering} -->" in text, (
        "regenerate with: python -m mimdsim.report.snn_steps --write docs/snn.md"
    )
    rows = step_rows(est)
    assert all(r["where"] and r["source"] for r in rows), [r["step"] for r in rows if not (r["where"] and r["source"])]
    assert sum(int(r["cycles"]) for r in rows) == est.cycles_per_step  # type: ignore[call-overload]
    assert abs(sum(float(r["share"]) for r in rows) - 1.0) < 1e-9  # type: ignore[arg-type]


def test_update_page_needs_its_markers() -> None:
    with pytest.raises(ValueError, match="no <!-- steps:poplar -->"):
        update_page("no markers here", ("poplar",))
