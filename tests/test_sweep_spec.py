"""mimdsim.sweep.spec: sweep specs expand as documented and refuse what cannot run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ConfigError
from mimdsim.sweep.spec import SweepSpec, load_sweep_spec

ROOT = Path(__file__).resolve().parents[1]


def test_grid_zip_random_and_points_expand_in_order() -> None:
    spec = SweepSpec.from_dict({
        "name": "t", "base": {"model": "m", "engine": "fast"},
        "grid": {"max_activity": [0.01, 0.1]},
        "zip": [{"machine.n_ipus": [1, 2], "model.batch_size": [48, 96]}],
        "random": {"n": 3, "seed": 7, "machine.exchange_bytes_per_cycle": {"low": 2, "high": 8, "integer": True}},
        "points": [{"model": "other", "max_activity": 0.5}],
    })  # fmt: skip
    pts = spec.points()
    assert len(pts) == 2 * 2 * 3 + 1
    assert pts[0]["max_activity"] == 0.01 and pts[-2]["max_activity"] == 0.1  # grid slowest
    assert [(p["machine.n_ipus"], p["model.batch_size"]) for p in pts[:6:3]] == [(1, 48), (2, 96)]  # zipped together
    assert all(p["engine"] == "fast" for p in pts)
    assert pts[-1] == {"model": "other", "engine": "fast", "max_activity": 0.5}
    draws = [p["machine.exchange_bytes_per_cycle"] for p in pts[:3]]
    assert all(isinstance(x, int) and 2 <= x <= 8 for x in draws)
    assert spec.axes == ("max_activity", "machine.n_ipus", "model.batch_size", "machine.exchange_bytes_per_cycle")


def test_random_samples_are_seeded_and_log_axes_stay_in_range() -> None:
    d = {"base": {"model": "m"}, "random": {"n": 50, "seed": 1, "max_activity": {"low": 0.001, "high": 0.1, "log": True},
                                           "engine": {"choices": ["fast", "des"]}}}  # fmt: skip
    a, b = SweepSpec.from_dict(d), SweepSpec.from_dict(d)
    assert a.points() == b.points() and a.spec_hash == b.spec_hash
    xs = [p["max_activity"] for p in a.points()]
    assert all(0.001 <= x <= 0.1 for x in xs) and {p["engine"] for p in a.points()} == {"fast", "des"}
    below = sum(x < math.sqrt(0.001 * 0.1) for x in xs)  # log-uniform: about half below the geometric mean
    assert 10 < below < 40
    other = SweepSpec.from_dict({**d, "random": {**d["random"], "seed": 2}})
    assert other.points() != a.points() and other.spec_hash != a.spec_hash


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 3))
def test_the_product_has_every_combination_once(sizes: list[int], n_zip: int) -> None:
    grid = {"model.n_timesteps" if i == 0 else f"machine.{k}": list(range(1, s + 1))
            for i, (k, s) in enumerate(zip(("n_ipus", "tiles_per_ipu", "link_latency_cycles"), sizes, strict=False))}  # fmt: skip
    d: dict = {"base": {"model": "m"}, "grid": grid}
    if n_zip:
        d["zip"] = [{"seed": list(range(n_zip)), "engine": ["fast"] * n_zip}]
    pts = SweepSpec.from_dict(d).points()
    assert len(pts) == math.prod(sizes) * max(n_zip, 1)
    keys = [*grid, *(["seed"] if n_zip else [])]
    assert len({tuple(p[k] for k in keys) for p in pts}) == len(pts)


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ({"base": {"model": "m"}, "grid": {"machine.n_ipu": [1]}}, "unknown axis 'machine.n_ipu': machine fields are"),
        ({"base": {"model": "m"}, "grid": {"speed": [1]}}, "unknown axis 'speed': valid are model, max_activity"),
        ({"base": {"model": "m"}, "grid": {"model.batchsize": [1]}}, "network fields are"),
        ({"base": {"model": "m"}, "grid": {"seed": []}}, "grid.seed: no values"),
        ({"base": {"model": "m"}, "grid": {"seed": 3}}, "grid.seed: expected a list of values"),
        ({"base": {"model": "m"}, "zip": [{"seed": [1, 2], "engine": ["fast"]}]}, "zip[0]: the lists differ in length"),
        ({"base": {"model": "m"}, "random": {"n": 0, "seed": 1}}, "random.n: expected a positive integer"),
        ({"base": {"model": "m"}, "random": {"n": 2, "max_activity": {"low": 0.1, "high": 0.01}}}, "must be below high"),
        (
            {"base": {"model": "m"}, "random": {"n": 2, "max_activity": {"low": 0, "high": 1, "log": True}}},
            "log axis needs low > 0",
        ),
        ({"base": {"model": "m"}, "random": {"n": 2, "x": {"mean": 1}}}, "unknown option 'mean'"),
        ({"base": {"model": "m"}, "grid": {"seed": [1]}, "zip": [{"seed": [2]}]}, "axis 'seed' appears twice"),
        ({"base": {"model": "m"}, "sweeps": {}}, "unknown table 'sweeps'"),
        ({"grid": {"seed": [1]}}, "every point needs a model"),
        ({"base": {"model": "m", "seed": float("nan")}}, "not finite"),
    ],
)
def test_bad_specs_are_refused_with_the_key(d: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        SweepSpec.from_dict(d, "s.toml")
    assert err.value.args[0].startswith("s.toml: ") and message in str(err.value)


def test_committed_specs_load() -> None:
    names = sorted(p.stem for p in (ROOT / "models" / "sweeps").glob("*.toml"))
    assert names, "models/sweeps/ holds the example specs"
    for name in names:
        spec = load_sweep_spec(name)
        assert spec.points() and spec.name
    with pytest.raises(ConfigError, match="unknown sweep spec 'nope'"):
        load_sweep_spec("nope")
