"""``mimdsim compare PROFILE.json MODEL``: measured cycles per program step against the simulation.

A profile file (docs/trace_format.md, "Profiles"; exported from a PopVision report with the
Poplar SDK's libpva) holds cycles per program step under mimdsim's step-kind names, optionally
per tile::

    {"format": "mimdsim.profile", "version": 1, "source": "...",
     "steps": [{"name": "fwd.state_update", "cycles": 1287411}, ...],
     "total_cycles": 10132826, "tile_cycles": [...]}

:func:`compare_profile` pairs each profile step with the simulated kind of the same name.

>>> prof = {"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": 100}]}
>>> rows, totals, tiles = compare_profile(prof, {"a": 90, "b": 10}, 100)
>>> rows[0]["rel_error"], rows[1]["name"], rows[1]["measured_cycles"], totals["simulated_cycles"]
(-0.1, 'b', None, 100)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mimdsim.errors import ConfigError

__all__ = ["PROFILE_FORMAT", "read_profile", "compare_profile", "compare_text"]

PROFILE_FORMAT = "mimdsim.profile"


def _count(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ConfigError(f"{where}: expected a non-negative integer number of cycles (got {v!r})")
    return v


def read_profile(path: str | Path) -> dict[str, Any]:
    """Read and check a profile file (errors name the file and the first bad record)."""
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{p}: cannot read ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: not JSON ({err})") from None
    if not isinstance(d, dict) or d.get("format") != PROFILE_FORMAT or d.get("version") != 1:
        raise ConfigError(f"{p}: not a profile: needs \"format\": \"{PROFILE_FORMAT}\" and \"version\": 1")
    steps = d.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ConfigError(f"{p}: steps: expected a non-empty list of {{name, cycles}}")
    names = set()
    for i, s in enumerate(steps):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise ConfigError(f"{p}: steps[{i}]: expected {{\"name\": str, \"cycles\": int}} (got {s!r:.80})")
        _count(s.get("cycles"), f"{p}: steps[{i}] ({s['name']}).cycles")
        if s["name"] in names:
            raise ConfigError(f"{p}: steps[{i}]: {s['name']!r} appears twice")
        names.add(s["name"])
    if "total_cycles" in d:
        _count(d["total_cycles"], f"{p}: total_cycles")
    if "tile_cycles" in d:
        tc = d["tile_cycles"]
        if not isinstance(tc, list):
            raise ConfigError(f"{p}: tile_cycles: expected a list, one per tile")
        for t, v in enumerate(tc):
            _count(v, f"{p}: tile_cycles[{t}]")
    return d


def compare_profile(
    profile: Mapping[str, Any], simulated: Mapping[str, int], simulated_total: int, simulated_tiles: Sequence[int] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any] | None]:
    """Per step (profile order, then the simulated kinds the profile lacks), the totals, and the per-tile summary.

    Raises
    ------
    ConfigError
        A profile step that is not a step of the simulated program (the valid names listed), or
        a per-tile list of another length than the machine's tiles.
    """
    rows = []
    for s in profile["steps"]:
        if s["name"] not in simulated:
            raise ConfigError(f"profile step {s['name']!r} is not a step of the program (its steps: {', '.join(sorted(simulated))})")
        rows.append(_row(s["name"], int(s["cycles"]), int(simulated[s["name"]])))
    given = {s["name"] for s in profile["steps"]}
    rows += [_row(k, None, int(v)) for k, v in simulated.items() if k not in given]
    measured_total = int(profile.get("total_cycles", sum(int(s["cycles"]) for s in profile["steps"])))
    totals = _row("total", measured_total, int(simulated_total))
    totals["simulated_cycles_of_profiled_steps"] = sum(int(simulated[n]) for n in given)
    tiles = None
    if "tile_cycles" in profile and simulated_tiles is not None:
        meas = [int(v) for v in profile["tile_cycles"]]
        if len(meas) != len(simulated_tiles):
            raise ConfigError(f"profile tile_cycles: {len(meas)} tiles, the machine has {len(simulated_tiles)}")
        errs = [(s - m) / m for m, s in zip(meas, simulated_tiles, strict=True) if m > 0]
        worst = max(range(len(meas)), key=lambda t: abs(simulated_tiles[t] - meas[t]))
        tiles = {"n_tiles": len(meas), "mean_abs_rel_error": sum(map(abs, errs)) / len(errs) if errs else math.nan,
                 "max_abs_rel_error": max(map(abs, errs)) if errs else math.nan, "worst_tile": worst,
                 "worst_tile_measured_cycles": meas[worst], "worst_tile_simulated_cycles": int(simulated_tiles[worst])}  # fmt: skip
    return rows, totals, tiles


def _row(name: str, measured: int | None, sim: int) -> dict[str, Any]:
    err = None if not measured else (sim - measured) / measured
    return {"name": name, "measured_cycles": measured, "simulated_cycles": sim, "rel_error": err}


def compare_text(rows: Sequence[Mapping[str, Any]], totals: Mapping[str, Any], tiles: Mapping[str, Any] | None) -> str:
    """Aligned text: one line per step, the totals, the per-tile summary."""
    def line(r: Mapping[str, Any]) -> str:
        m = "-" if r["measured_cycles"] is None else f"{r['measured_cycles']:,}"
        e = "-" if r["rel_error"] is None else f"{100 * r['rel_error']:+.1f} %"
        return f"{r['name']:32s} {m:>14s} {r['simulated_cycles']:>14,} {e:>9s}"

    out = [f"{'program step':32s} {'measured':>14s} {'simulated':>14s} {'error':>9s}", *map(line, rows), line(totals)]
    if tiles:
        out.append(f"per tile ({tiles['n_tiles']} tiles): mean |error| {100 * tiles['mean_abs_rel_error']:.1f} %, max "
                   f"{100 * tiles['max_abs_rel_error']:.1f} % (tile {tiles['worst_tile']}: {tiles['worst_tile_measured_cycles']:,} measured, "
                   f"{tiles['worst_tile_simulated_cycles']:,} simulated)")  # fmt: skip
    return "\n".join(out)
