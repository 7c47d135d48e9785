"""The driver layer: one call from a network and a machine to an estimate, and what is built on it.

* :mod:`mimdsim.studies.estimate`: :func:`estimate_training_step` (lower, simulate, compare with the GPU), which
  returns an :class:`~mimdsim.studies.step_estimate.SNNEstimate`;
* :mod:`mimdsim.studies.record`: :class:`~mimdsim.studies.record.SNNRecord`, the one result record per point;
* :mod:`mimdsim.studies.preflight`: the refusals before anything large is allocated;
* :mod:`mimdsim.studies.placement` and :mod:`~mimdsim.studies.placement_metrics`: placing neurons, scoring a mapping;
* :mod:`mimdsim.studies.partition_study`: several partitioning methods side by side;
* :mod:`mimdsim.studies.energy`: energy per step as bands.
"""

from mimdsim.studies.estimate import estimate_training_step, make_activity
from mimdsim.studies.step_estimate import SNNEstimate

__all__ = ["estimate_training_step", "make_activity", "SNNEstimate"]
