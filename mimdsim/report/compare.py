"""``mimdsim compare PROFILE.json MODEL``: measured cycles per program step against the simulation.

A profile file (docs/trace_format.md, "Profiles"; exported from a PopVision report with the
Poplar SDK's libpva) holds cycles per program step under mimdsim's step-kind names, optionally
per tile::

    {"format": "mimdsim.profile", "version": 1, "source": "...",
     "steps": [{"name": "fwd.state_update", "cycles": 1287411}, ...],
     "total_cycles": 10132826, "tile_cycles": [...]}

:func:`compare_profile` pairs each profile step with the simulated kind of the same name and
compares like with like: the profiled steps with the same steps simulated, the profile's total with the
whole step, and says what the profile did not cover.

>>> prof = {"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": 100}]}
>>> rows, totals, tiles = compare_profile(prof, {"a": 90, "b": 10}, 100)
>>> rows[0]["rel_error"], totals["name"], totals["simulated_cycles"], totals["not_profiled_kinds"], totals["coverage"]
(-0.1, 'profiled steps', 90, ['b'], 0.9)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator

from mimdsim.errors import ConfigError

__all__ = ["PROFILE_FORMAT", "Profile", "ProfileStep", "read_profile", "compare_profile", "compare_text"]

PROFILE_FORMAT = "mimdsim.profile"


class ProfileStep(BaseModel):
    """One program step of a profile: mimdsim's step-kind name and its measured cycles per training step."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: StrictStr
    cycles: Annotated[StrictInt, Field(ge=0)]


class Profile(BaseModel):
    """A profile file (docs/trace_format.md, "Profiles"), validated as machine and model files are: one line per
    problem, ``file: field.path: message (got value)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["mimdsim.profile"]
    version: Literal[1]
    source: StrictStr = ""
    steps: Annotated[list[ProfileStep], Field(min_length=1)]
    total_cycles: Annotated[StrictInt, Field(ge=0)] | None = None
    tile_cycles: list[Annotated[StrictInt, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _names_once(self) -> Profile:
        seen: set[str] = set()
        for s in self.steps:
            if s.name in seen:
                raise ValueError(f"steps: {s.name!r} appears twice")
            seen.add(s.name)
        return self


def read_profile(path: str | Path) -> dict[str, Any]:
    """Read and validate a profile file (:class:`Profile`); errors name the file and every bad field."""
    from mimdsim.arch.load import format_validation_error

    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{p}: cannot read ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: not JSON ({err})") from None
    if not isinstance(d, dict) or d.get("format") != PROFILE_FORMAT:
        raise ConfigError(f'{p}: not a profile: needs "format": "{PROFILE_FORMAT}" and "version": 1')
    try:
        return Profile.model_validate(d).model_dump(exclude_none=True)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, str(p))) from None


def compare_profile(
    profile: Mapping[str, Any], simulated: Mapping[str, int], simulated_total: int, simulated_tiles: Sequence[int] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any] | None]:
    """Per profiled step (profile order), the totals compared like with like, and the per-tile summary.

    The total compares the profile's ``total_cycles`` with the whole simulated step when the profile
    has one, else the profiled steps' sum with the simulated cycles of the same steps. ``totals``
    also says what the profile did not cover: ``not_profiled_kinds`` (the simulated step kinds it
    lacks, costliest first), ``not_profiled_cycles`` and ``coverage`` (the profiled steps' share of
    the simulated step).

    Raises
    ------
    ConfigError
        A profile step that is not a step of the simulated program (the valid names listed), or
        a per-tile list of another length than the machine's tiles.
    """
    rows = []
    for s in profile["steps"]:
        if s["name"] not in simulated:
            raise ConfigError(
                f"profile step {s['name']!r} is not a step of the program (its steps: {', '.join(sorted(simulated))})"
            )
        rows.append(_row(s["name"], int(s["cycles"]), int(simulated[s["name"]])))
    given = {s["name"] for s in profile["steps"]}
    covered = sum(int(simulated[n]) for n in given)
    if "total_cycles" in profile:  # the measured whole step against the simulated whole step
        totals = _row("total", int(profile["total_cycles"]), int(simulated_total))
    else:  # no measured whole step: the profiled steps against the same steps simulated
        totals = _row("profiled steps", sum(int(s["cycles"]) for s in profile["steps"]), covered)
    missing = sorted(((k, int(v)) for k, v in simulated.items() if k not in given), key=lambda kv: (-kv[1], kv[0]))
    totals |= {"simulated_cycles_of_profiled_steps": covered, "simulated_step_cycles": int(simulated_total),
               "coverage": covered / simulated_total if simulated_total else None,
               "not_profiled_kinds": [k for k, _ in missing], "not_profiled_cycles": sum(v for _, v in missing)}  # fmt: skip
    tiles = None
    if "tile_cycles" in profile and simulated_tiles is not None:
        meas = [int(v) for v in profile["tile_cycles"]]
        if len(meas) != len(simulated_tiles):
            raise ConfigError(f"profile tile_cycles: {len(meas)} tiles, the machine has {len(simulated_tiles)}")
        errs = [(s - m) / m for m, s in zip(meas, simulated_tiles, strict=True) if m > 0]
        worst = max(range(len(meas)), key=lambda t: abs(simulated_tiles[t] - meas[t]))
        tiles = {"n_tiles": len(meas), "n_tiles_measured": len(errs),
                 "mean_abs_rel_error": sum(map(abs, errs)) / len(errs) if errs else None,
                 "max_abs_rel_error": max(map(abs, errs)) if errs else None, "worst_tile": worst,
                 "worst_tile_measured_cycles": meas[worst], "worst_tile_simulated_cycles": int(simulated_tiles[worst])}  # fmt: skip
    return rows, totals, tiles


def _row(name: str, measured: int | None, sim: int) -> dict[str, Any]:
    err = None if not measured else (sim - measured) / measured
    return {"name": name, "measured_cycles": measured, "simulated_cycles": sim, "rel_error": err}


def compare_text(rows: Sequence[Mapping[str, Any]], totals: Mapping[str, Any], tiles: Mapping[str, Any] | None) -> str:
    """Aligned text: one line per profiled step, what the profile did not cover, the total, the per-tile summary."""

    def line(r: Mapping[str, Any]) -> str:
        m = "-" if r["measured_cycles"] is None else f"{r['measured_cycles']:,}"
        e = "-" if r["rel_error"] is None else f"{100 * r['rel_error']:+.1f} %"
        return f"{r['name']:32s} {m:>14s} {r['simulated_cycles']:>14,} {e:>9s}"

    out = [f"{'program step':32s} {'measured':>14s} {'simulated':>14s} {'error':>9s}", *map(line, rows)]
    kinds = totals.get("not_profiled_kinds") or []
    if kinds:
        share = "" if totals.get("coverage") is None else f", {100 * (1 - totals['coverage']):.1f} % of the simulated step"
        shown = ", ".join(kinds[:3]) + (f" and {len(kinds) - 3} more" if len(kinds) > 3 else "")
        out.append(f"{'not in the profile':32s} {'-':>14s} {totals['not_profiled_cycles']:>14,} {'-':>9s}  "
                   f"({len(kinds)} step kinds{share}: {shown})")  # fmt: skip
    out.append(line(totals))
    if totals["name"] == "profiled steps" and kinds:
        out.append("(the profile has no total_cycles: the total compares the profiled steps with the same steps simulated)")
    if tiles and tiles.get("mean_abs_rel_error") is not None:
        out.append(f"per tile ({tiles['n_tiles_measured']} of {tiles['n_tiles']} tiles measured): mean |error| "
                   f"{100 * tiles['mean_abs_rel_error']:.1f} %, max {100 * tiles['max_abs_rel_error']:.1f} % (tile {tiles['worst_tile']}: "
                   f"{tiles['worst_tile_measured_cycles']:,} measured, {tiles['worst_tile_simulated_cycles']:,} simulated)")  # fmt: skip
    elif tiles:
        out.append(f"per tile: no tile of the {tiles['n_tiles']} has measured cycles (all 0): no per-tile error")
    return "\n".join(out)
