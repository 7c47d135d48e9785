"""The kinds of value :func:`~mimdsim.studies.estimate.estimate_training_step` takes (:mod:`mimdsim.arguments`).

>>> check_estimate_arguments({"rate": {}, "seed": 0})
Traceback (most recent call last):
...
mimdsim.errors.ConfigError: rate: {} is not a finite number or None
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mimdsim.arguments import (
    FINITE_OR_NONE,
    FLAG,
    NAME,
    NAME_OR_NONE,
    PATH_OR_NONE,
    POSITIVE_INT,
    POSITIVE_INT_OR_NONE,
    Kind,
    check_kinds,
    is_int,
    is_path,
)  # fmt: skip

__all__ = ["check_estimate_arguments"]


def _kinds() -> dict[str, Kind]:
    from mimdsim.engines.timeline_detail import TimelineRequest
    from mimdsim.partition.mapping import NeuronMapping
    from mimdsim.snn.activity.counts import SpikeActivity
    from mimdsim.snn.activity.sources import ActivitySource
    from mimdsim.snn.gpu.model import GPUSpec
    from mimdsim.snn.lowering.lower import LoweringOptions

    def source(v: Any) -> bool:
        return is_path(v) or isinstance(v, SpikeActivity | ActivitySource)

    sources = "a source name, a trace path, a SpikeActivity or an ActivitySource"
    return {
        "activity_source": (source, sources),
        "activity": (lambda v: v is None or source(v), f"None, {sources}"),
        "rate": FINITE_OR_NONE,
        "input_rate": FINITE_OR_NONE,
        "input_data": PATH_OR_NONE,
        "engine": NAME,
        "neurons_per_tile": POSITIVE_INT_OR_NONE,
        "partitioner": (lambda v: isinstance(v, str) or callable(v), "a method name or a callable"),
        "mapping": (
            lambda v: v is None or isinstance(v, NeuronMapping) or (isinstance(v, Sequence) and not isinstance(v, str | bytes)),
            "None, a NeuronMapping or one array of tiles per layer",
        ),
        "unit_neurons": POSITIVE_INT,
        "seed": (lambda v: is_int(v) and v >= 0, "an integer >= 0"),
        "gpu": (lambda v: v is None or is_path(v) or isinstance(v, GPUSpec), "None, a GPU preset name, a TOML path or a GPUSpec"),
        "gpu_framework": NAME,
        "gpu_precision": NAME_OR_NONE,
        "allow_oom": FLAG,
        "options": (lambda v: v is None or isinstance(v, LoweringOptions), "None or a LoweringOptions"),
        "timeline": (
            lambda v: v is None or isinstance(v, bool | str | TimelineRequest),
            "True, False, 'tiles' or a TimelineRequest",
        ),
        "cache": FLAG,
        "max_steps": POSITIVE_INT_OR_NONE,
        "max_events": POSITIVE_INT_OR_NONE,
        "energy_scope": NAME,
    }


_KINDS: dict[str, Kind] = {}


def check_estimate_arguments(args: Mapping[str, Any]) -> None:
    """Raise :class:`~mimdsim.errors.ConfigError` for the first of ``args`` (name -> value) of the wrong kind."""
    if not _KINDS:
        _KINDS.update(_kinds())
    check_kinds(args, _KINDS)
