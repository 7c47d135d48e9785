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
        ({"base": {"model": "m"}, "zip": [{"seed": [1, 2], "engine": ["fast"]}]}, "zip.0: the lists differ in length"),
        ({"base": {"model": "m"}, "random": {"n": 0, "seed": 1}}, "random.n: Input should be greater than or equal to 1"),
        ({"base": {"model": "m"}, "random": {"n": 2, "max_activity": {"low": 0.1, "high": 0.01}}}, "must be below high"),
        (
            {"base": {"model": "m"}, "random": {"n": 2, "max_activity": {"low": 0, "high": 1, "log": True}}},
            "log axis needs low > 0",
        ),
        ({"base": {"model": "m"}, "random": {"n": 2, "x": {"mean": 1}}}, "random.x.mean: unknown key"),
        ({"base": {"model": "m"}, "grid": {"seed": [1]}, "zip": [{"seed": [2]}]}, "axis 'seed' appears twice"),
        ({"base": {"model": "m"}, "sweeps": {}}, "sweeps: unknown key"),
        ({"grid": {"seed": [1]}}, "every point needs a model"),
        ({"base": {"model": "m", "seed": float("nan")}}, "not finite"),
        (
            {"base": {"model": "m", "machine": 18446744073709551621}},
            "base.machine: 18446744073709551621 is not a name or a file path",
        ),
        ({"base": {"model": 1}}, "base.model: 1 is not a name or a file path"),
        ({"base": {"model": "m"}, "grid": {"gpu": ["a100", True]}}, "grid.gpu: True is not a name or a file path"),
        ({"base": {"model": "m"}, "points": [{"activity_source": [1]}]}, "points[0].activity_source: [1] is not a name"),
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


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ({"base": {"model": "m"}, "zip": 5}, "s.toml: zip: Input should be a valid list (got 5)"),
        ({"base": {"model": "m"}, "points": [3]}, "s.toml: points.0: Input should be a valid dictionary (got 3)"),
        ({"base": [1]}, "s.toml: base: Input should be a valid dictionary"),
        ({"name": 3, "base": {"model": "m"}}, "s.toml: name: Input should be a valid string (got 3)"),
        (
            {"base": {"model": "m"}, "random": {"n": 2, "x": {"low": 1, "high": 2, "log": "no"}}},
            "random.x.log: Input should be a valid boolean (got 'no')",
        ),
        (
            {"base": {"model": "m"}, "random": {"n": 2, "x": {"low": 1, "high": 2, "integer": 1}}},
            "random.x.integer: Input should be a valid boolean",
        ),
        ({"base": {"model": "m"}, "random": {"n": 1e9, "x": {"low": 1, "high": 2}}}, "random.n: Input should be a valid integer"),
        ({"base": {"model": "m"}, "random": {"n": 2}}, "random: no axes beside n and seed"),
        ({"base": {"model": "m"}, "random": {"n": 2, "x": {"choices": [1], "low": 0}}}, "choices cannot be combined"),
        ({"base": {"model": "m"}, "grid": {"seed": [[[1]]]}}, "grid.seed: a list value must hold numbers or strings"),
        ({"base": {"model": "m", "seed": {"a": 1}}}, "base.seed: expected a number"),
    ],
)
def test_the_file_is_typed_by_one_schema(d: dict, message: str) -> None:
    """Every table and value is typed (SweepSpecFile): a wrong type names the key path and the value."""
    with pytest.raises(ConfigError) as err:
        SweepSpec.from_dict(d, "s.toml")
    assert message in str(err.value), str(err.value)


def test_the_size_is_counted_before_any_point_is_built() -> None:
    """10^9 points (a grid or random.n) are refused from the shape, at once and without the memory they would take."""
    import time
    import tracemalloc

    huge = [
        {"base": {"model": "m"}, "grid": {"seed": list(range(1000)), "machine.n_ipus": list(range(1, 1001)), "max_activity": [0.1] * 1000}},
        {"base": {"model": "m"}, "random": {"n": 10**9, "max_activity": {"low": 0.01, "high": 0.1}}},
    ]  # fmt: skip
    for d in huge:
        tracemalloc.start()
        t0 = time.perf_counter()
        with pytest.raises(ConfigError, match=r"1,000,000,000 points .* exceed the limit of 200,000"):
            SweepSpec.from_dict(d, "s.toml")
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert time.perf_counter() - t0 < 2 and peak_bytes < 200 * 2**20
    spec = SweepSpec.from_dict({"base": {"model": "m"}, "grid": {"seed": list(range(30))}, "zip": [{"engine": ["fast", "des"]}],
                                "points": [{"seed": 99}]}, max_points=61)  # fmt: skip
    assert spec.n_points == len(spec.points()) == 61
    with pytest.raises(ConfigError, match="61 points .grid 30, zip 2, 1 explicit. exceed the limit of 60"):
        SweepSpec.from_dict({"base": {"model": "m"}, "grid": {"seed": list(range(30))}, "zip": [{"engine": ["fast", "des"]}],
                             "points": [{"seed": 99}]}, max_points=60)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["n", "seed", "low", "high", "log", "choices", "seed", "model", "x"]), inner, max_size=3
            )
        ),
        max_leaves=8,
    ),
    st.sampled_from(["name", "base", "grid", "zip", "random", "points"]),
)
def test_any_value_is_a_spec_or_one_config_error(value: object, table: str) -> None:
    """Fuzz: whatever a table holds, the result is a spec or a ConfigError naming the file -- never another exception."""
    try:
        SweepSpec.from_dict({"base": {"model": "m"}, table: value} if table != "base" else {"base": value}, "s.toml")
    except ConfigError as err:
        assert str(err).startswith("s.toml: ")  # noqa: PT017 -- either outcome is allowed
