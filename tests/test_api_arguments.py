"""estimate_training_step with a value of any kind for any argument: an estimate or a MimdsimError naming the
argument, never a TypeError or ValueError from inside (mimdsim.studies.estimate_args)."""

from __future__ import annotations

import contextlib
import inspect
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimdsim import load_machine
from mimdsim.errors import ConfigError, MimdsimError
from mimdsim.snn import estimate_training_step, snn_from_sizes

SPEC = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
MACHINE = load_machine("bow", tiles_per_ipu=64)
ARGS = [p for p in inspect.signature(estimate_training_step).parameters if p not in ("spec", "machine")]
VALUES = st.sampled_from(
    [0, -1, 1, 2**63, 1e308, 0.5, float("nan"), float("inf"), True, None, "", "x", "des", [], [1], {}, {"a": 1}, b"x",
     object(), np.int64(3), np.float64(0.5), np.array([1, 2]), 10**30, "/nonexistent.npz"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ARGS), VALUES)
def test_any_value_is_an_estimate_or_a_mimdsim_error(name: str, value: object) -> None:
    with contextlib.suppress(MimdsimError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # activity= is the old name of activity_source=
        estimate_training_step(SPEC, MACHINE, **{"activity_source": "saturated", name: value})  # fast counts


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("input_rate", {}, "input_rate: {} is not a finite number or None"),
        ("engine", np.array([1, 2]), "engine: array([1, 2]) is not a name (a string)"),
        ("partitioner", object(), "partitioner: <object object"),
        ("neurons_per_tile", [], "neurons_per_tile: [] is not a positive integer or None"),
        ("max_steps", "des", "max_steps: 'des' is not a positive integer or None"),
        ("allow_oom", np.int64(3), "allow_oom: np.int64(3) is not True or False"),
        ("options", b"x", "options: b'x' is not None or a LoweringOptions"),
        ("timeline", np.array([1, 2]), "timeline: array([1, 2]) is not True, False, 'tiles' or a TimelineRequest"),
    ],
)
def test_a_value_of_the_wrong_kind_names_the_argument(name: str, value: object, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        estimate_training_step(SPEC, MACHINE, **{name: value})
    assert str(err.value).startswith(words)


def test_numpy_scalars_are_the_numbers_they_equal() -> None:
    """A numpy integer or float where a number is asked for gives the estimate, and the hash, of the Python value."""
    a = estimate_training_step(SPEC, MACHINE, activity_source="saturated", neurons_per_tile=np.int64(2), unit_neurons=np.int64(1))
    b = estimate_training_step(SPEC, MACHINE, activity_source="saturated", neurons_per_tile=2, unit_neurons=1)
    assert a.input_hash == b.input_hash and a.cycles_per_step == b.cycles_per_step


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["engine", "max_steps", "max_events", "progress", "check_memory_fits", "timeline", "max_timeline_events"]),
    VALUES,
)
def test_simulate_takes_any_value_or_refuses_it_by_name(name: str, value: object) -> None:
    from mimdsim.engines import simulate
    from mimdsim.program.ir import ComputeSet, Program, Superstep, VertexBlock

    program = Program("p", (Superstep("s", compute=ComputeSet("c", (VertexBlock("V", [0, 1], [5], [2]),))),))
    with contextlib.suppress(MimdsimError):
        simulate(program, load_machine("bow", tiles_per_ipu=8), **{name: value})


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["layer_sizes", "max_activity", "activity", "batch_size", "n_timesteps", "input_sparse_size"]), VALUES)
def test_snn_from_sizes_takes_any_value_or_refuses_it_by_name(name: str, value: object) -> None:
    args = {"layer_sizes": [64, 24, 4], "max_activity": 0.25, "input_sparse_size": 8, "batch_size": 6, "n_timesteps": 3}
    with contextlib.suppress(MimdsimError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # activity= is the old name of max_activity=
        snn_from_sizes(**{**args, name: value})
