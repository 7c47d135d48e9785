"""Spike activity: per-step counts, trace files (formats 1 and 2), count tables, recorded spikes, sources, the cache."""

from mimdsim.snn.activity.counts import (  # the package's API: what the module of this name held before the split
    DEFAULT_GRAD_FRACTION,
    DEFAULT_INPUT_RATE,
    SpikeActivity,
    functional_activity,
    parametric_activity,
)

__all__ = ["SpikeActivity", "functional_activity", "parametric_activity", "DEFAULT_INPUT_RATE", "DEFAULT_GRAD_FRACTION"]
