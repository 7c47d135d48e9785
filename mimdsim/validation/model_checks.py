"""Two sections of docs/validation.md about the model itself rather than one published figure.

* :func:`before_after_rows`: family (a) before this round's fidelity changes (the figures
  the previous model gave, kept in ``mimdsim/validation/data/family_a_before.json`` with their
  provenance) and now.
* :func:`flagged_fields`: the machine fields whose preset values are derived here, rest on
  weak sources or have none, read from the presets' own source comments (so the list
  follows the presets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mimdsim.arch.load import list_presets, models_dir

__all__ = ["BEFORE_PATH", "before_after_rows", "before_provenance", "flagged_fields", "FLAG_GRADES"]

BEFORE_PATH = Path(__file__).parent / "data" / "family_a_before.json"

FLAG_GRADES = ("[unsourced]", "[derived]", "[model value]", "[L]", "[L-M]", "[M/L]", "no public")
"""Grades in a preset comment that put a field on the flagged list."""

_LINE = re.compile(r"^\s*(?P<field>[a-z_]+)\s*=\s*(?P<value>[^#]+?)\s*#\s*(?P<comment>.*)$")


def before_provenance() -> str:
    return str(json.loads(BEFORE_PATH.read_text(encoding="utf-8"))["provenance"])


def before_after_rows(sweep_rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, activity) present both before and now: step time and speed-up, then and now."""
    before = {(r["model"], r["activity"]): r for r in json.loads(BEFORE_PATH.read_text(encoding="utf-8"))["rows"]}
    out = []
    for r in sweep_rows:
        b = before.get((r.get("model"), r.get("max_activity")))
        if b is None or r.get("ms_per_step") is None:
            continue
        out.append({
            "model": r["model"], "activity": r["max_activity"],
            "before_ms": b["ipu_ms_per_step"], "now_ms": r["ms_per_step"], "ratio": r["ms_per_step"] / b["ipu_ms_per_step"],
            "before_speedup": b.get("speedup_vs_gpu"), "now_speedup": r.get("speedup_vs_gpu_ideal"),
        })  # fmt: skip
    return out


def before_after_table(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| model | max activity | IPU ms/step before | now | now / before | speed-up over the A100 `fused` model before | now |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        bs = "" if r["before_speedup"] is None else f"{r['before_speedup']:.2f}x"
        ns = "" if r["now_speedup"] is None else f"{r['now_speedup']:.2f}x"
        lines.append(
            f"| {r['model']} | {r['activity']:g} | {r['before_ms']:.3f} | {r['now_ms']:.3f} | {r['ratio']:.2f} | {bs} | {ns} |"
        )
    return "\n".join(lines)


def flagged_fields(models: Path | None = None) -> list[dict[str, str]]:
    """Every (field, preset) whose source comment carries one of :data:`FLAG_GRADES`."""
    folder = (models or models_dir()) / "machines"
    out = []
    for name in list_presets("machines"):
        for line in (folder / f"{name}.toml").read_text(encoding="utf-8").splitlines():
            m = _LINE.match(line)
            if m and any(g in m["comment"] for g in FLAG_GRADES):
                out.append({"preset": name, "field": m["field"], "value": m["value"], "comment": m["comment"]})
    return out


def flagged_table(rows: Sequence[Mapping[str, str]]) -> str:
    """One line per field, the presets' values side by side, the first preset's reasoning."""
    by_field: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        by_field.setdefault(r["field"], []).append(r)
    lines = ["| field | value (preset) | source and grade, as the preset states it |", "|---|---|---|"]
    for field, rs in by_field.items():
        values = ", ".join(f"{r['value']} ({r['preset']})" for r in rs)
        lines.append(f"| `{field}` | {values} | {rs[0]['comment'].replace('|', '/')} |")
    return "\n".join(lines)
