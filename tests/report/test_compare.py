"""mimdsim compare: a hand-made profile against the simulation, errors per step and in total, strict reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimdsim.cli import main
from mimdsim.errors import ConfigError
from mimdsim.report.compare import compare_profile, compare_text, read_profile

TINY = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--input-sparse-size", "8", "--set", "tiles_per_ipu=32"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_errors_per_step_and_in_total_by_hand() -> None:
    prof = {"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": 200}, {"name": "b", "cycles": 50}],
            "tile_cycles": [100, 300]}  # fmt: skip
    rows, totals, tiles = compare_profile(prof, {"a": 150, "b": 60, "c": 40}, 250, [110, 240])
    assert [(r["name"], r["rel_error"]) for r in rows] == [("a", -0.25), ("b", pytest.approx(0.2))]  # the profiled steps only
    # no total_cycles in the profile: the profiled steps (250 measured) against the same steps simulated (210), not the whole 250
    assert (totals["name"], totals["measured_cycles"], totals["simulated_cycles"]) == ("profiled steps", 250, 210)
    assert totals["rel_error"] == pytest.approx(-40 / 250)
    assert (totals["not_profiled_kinds"], totals["not_profiled_cycles"], totals["coverage"]) == (
        ["c"],
        40,
        pytest.approx(210 / 250),
    )
    _, whole, _ = compare_profile({**prof, "total_cycles": 300}, {"a": 150, "b": 60, "c": 40}, 250)
    assert (whole["name"], whole["measured_cycles"], whole["simulated_cycles"]) == ("total", 300, 250)  # whole against whole
    text = compare_text(rows, totals, tiles)
    assert "not in the profile" in text and "1 step kinds, 16.0 % of the simulated step: c" in text and "nan" not in text
    _, _, zero = compare_profile({**prof, "tile_cycles": [0, 0]}, {"a": 150, "b": 60, "c": 40}, 250, [110, 240])
    assert zero is not None and zero["mean_abs_rel_error"] is None
    assert "no tile of the 2 has measured cycles" in compare_text(rows, totals, zero) and "nan" not in compare_text(
        rows, totals, zero
    )
    assert tiles is not None and tiles["worst_tile"] == 1 and tiles["max_abs_rel_error"] == pytest.approx(0.2)
    assert tiles["mean_abs_rel_error"] == pytest.approx((0.1 + 0.2) / 2)
    assert "-25.0 %" in compare_text(rows, totals, tiles)
    with pytest.raises(ConfigError, match="profile step 'z' is not a step of the program"):
        compare_profile({**prof, "steps": [{"name": "z", "cycles": 1}]}, {"a": 1}, 1)
    with pytest.raises(ConfigError, match="2 tiles, the machine has 3"):
        compare_profile(prof, {"a": 1, "b": 1}, 2, [1, 2, 3])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ('{"format": "x", "version": 1}', "not a profile"),
        ('{"format": "mimdsim.profile", "version": 1, "steps": []}', "steps: List should have at least 1 item"),
        (
            '{"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": -1}]}',
            "steps.0.cycles: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            '{"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": 1}, {"name": "a", "cycles": 2}]}',
            "appears twice",
        ),
        (
            '{"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": 1}], "tile_cycles": [1, 2.5]}',
            "tile_cycles.1: Input should be a valid integer (got 2.5)",
        ),
        ('{"format": "mimdsim.profile", "version": 2, "steps": [{"name": "a", "cycles": 1}]}', "version: Input should be 1"),
        ('{"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a"}]}', "steps.0.cycles: missing required key"),
        (
            '{"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": true}]}',
            "steps.0.cycles: Input should be a valid integer",
        ),
        (
            '{"format": "mimdsim.profile", "version": 1, "steps": [{"name": "a", "cycles": 1}], "totl_cycles": 5}',
            "totl_cycles: unknown key",
        ),
    ],
)
def test_bad_profiles_name_the_file_and_the_record(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "p.json"
    p.write_text(body)
    with pytest.raises(ConfigError) as err:
        read_profile(p)
    assert str(err.value).startswith(f"{p}: ") and message in str(err.value)


def test_cli_compare(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = _run(capsys, "snn", *TINY, "--json", "--detail")
    sim = json.loads(out)
    kinds = sim["step_kind_cycles"]
    first = next(iter(kinds))
    prof = {"format": "mimdsim.profile", "version": 1, "source": "hand-made",
            "steps": [{"name": first, "cycles": 2 * kinds[first]}], "tile_cycles": sim["tile_busy_cycles"]}  # fmt: skip
    p = tmp_path / "p.json"
    p.write_text(json.dumps(prof))
    rc, out, err = _run(capsys, "compare", str(p), *TINY, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["steps"][0]["rel_error"] == pytest.approx(-0.5) and d["tiles"]["max_abs_rel_error"] == 0.0
    assert len(d["steps"]) == 1 and d["total"]["simulated_cycles"] == kinds[first]  # like with like: the one profiled step
    assert (
        len(d["total"]["not_profiled_kinds"]) == len(kinds) - 1 and d["total"]["simulated_step_cycles"] == sim["cycles_per_step"]
    )
    rc, out, _ = _run(capsys, "compare", str(p), *TINY)
    assert rc == 0 and "-50.0 %" in out and f"{len(kinds) - 1} step kinds" in out and len(out.splitlines()) < 8
    prof["steps"] = [{"name": "poplar::Copy#3", "cycles": 5}]
    p.write_text(json.dumps(prof))
    rc, out, err = _run(capsys, "compare", str(p), *TINY)
    assert rc == 2 and out == "" and "'poplar::Copy#3' is not a step of the program" in err
