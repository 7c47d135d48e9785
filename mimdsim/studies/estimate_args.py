"""The kinds of value :func:`~mimdsim.studies.estimate.estimate_training_step` takes, checked before any work.

A value of the wrong kind (a dict for a rate, an array for the engine) is a :class:`~mimdsim.errors.ConfigError`
naming the argument, the value and what is allowed, instead of a ``TypeError`` from deep inside (found by calling
the function with values of every kind). The values themselves (an engine's name, a rate's range) are checked where
they are used.

>>> check_estimate_arguments({"rate": {}, "seed": 0})
Traceback (most recent call last):
...
mimdsim.errors.ConfigError: rate: {} is not a finite number or None
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mimdsim.errors import ConfigError

__all__ = ["check_estimate_arguments"]


def _int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_) and math.isfinite(v)


def _path(v: Any) -> bool:
    return isinstance(v, str | os.PathLike)


def _kinds() -> dict[str, tuple[Callable[[Any], bool], str]]:
    from mimdsim.engines.timeline_detail import TimelineRequest
    from mimdsim.partition.mapping import NeuronMapping
    from mimdsim.snn.activity.counts import SpikeActivity
    from mimdsim.snn.activity.sources import ActivitySource
    from mimdsim.snn.gpu.model import GPUSpec
    from mimdsim.snn.lowering.lower import LoweringOptions

    def source(v: Any) -> bool:
        return _path(v) or isinstance(v, SpikeActivity | ActivitySource)

    sources = "a source name, a trace path, a SpikeActivity or an ActivitySource"
    return {
        "activity_source": (source, sources),
        "activity": (lambda v: v is None or source(v), f"None, {sources}"),
        "rate": (lambda v: v is None or _finite(v), "a finite number or None"),
        "input_rate": (lambda v: v is None or _finite(v), "a finite number or None"),
        "input_data": (lambda v: v is None or _path(v), "a path or None"),
        "engine": (lambda v: isinstance(v, str), "an engine name"),
        "neurons_per_tile": (lambda v: v is None or (_int(v) and v >= 1), "a positive integer or None"),
        "partitioner": (lambda v: isinstance(v, str) or callable(v), "a method name or a callable"),
        "mapping": (
            lambda v: v is None or isinstance(v, NeuronMapping) or (isinstance(v, Sequence) and not isinstance(v, str | bytes)),
            "None, a NeuronMapping or one array of tiles per layer",
        ),
        "unit_neurons": (lambda v: _int(v) and v >= 1, "a positive integer"),
        "seed": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
        "gpu": (lambda v: v is None or _path(v) or isinstance(v, GPUSpec), "None, a GPU preset name, a TOML path or a GPUSpec"),
        "gpu_framework": (lambda v: isinstance(v, str), "a framework name"),
        "gpu_precision": (lambda v: v is None or isinstance(v, str), "'tf32', 'fp32' or None"),
        "allow_oom": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
        "options": (lambda v: v is None or isinstance(v, LoweringOptions), "None or a LoweringOptions"),
        "timeline": (
            lambda v: v is None or isinstance(v, bool | str | TimelineRequest),
            "True, False, 'tiles' or a TimelineRequest",
        ),
        "cache": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
        "max_steps": (lambda v: v is None or (_int(v) and v >= 1), "a positive integer or None"),
        "max_events": (lambda v: v is None or (_int(v) and v >= 1), "a positive integer or None"),
        "energy_scope": (lambda v: isinstance(v, str), "'chip' or 'machine'"),
    }


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {}


def check_estimate_arguments(args: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first of ``args`` (name -> value) whose value is not of an allowed kind."""
    if not _KINDS:
        _KINDS.update(_kinds())
    for name, value in args.items():
        rule = _KINDS.get(name)
        if rule is not None and not rule[0](value):
            shown = repr(value)
            raise ConfigError(f"{name}: {shown if len(shown) <= 80 else shown[:77] + '...'} is not {rule[1]}")
