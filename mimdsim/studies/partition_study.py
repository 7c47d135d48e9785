"""A partitioning study: one model, several methods, every metric of each mapping.

:func:`partition_study` places the network with each method (timed), estimates the training
step with that mapping and returns one :class:`~mimdsim.studies.placement_metrics.PlacementMetrics`
per method, in the order given. ``mimdsim partition`` prints them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mimdsim.arch.spec import MachineSpec
from mimdsim.partition import DEFAULT_STARTS, Method, NeuronMapping, check_method
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.snn.model.workload import workload_graph
from mimdsim.studies.estimate import estimate_training_step
from mimdsim.studies.placement import place
from mimdsim.studies.placement_metrics import PlacementMetrics, placement_metrics
from mimdsim.studies.step_estimate import SNNEstimate

__all__ = ["partition_study", "StudyRow"]

StudyRow = tuple[PlacementMetrics, SNNEstimate]


def partition_study(
    spec: SNNSpec,
    machine: MachineSpec,
    act: SpikeActivity,
    methods: Sequence[str | Method],
    *,
    seed: int = 0,
    neurons_per_tile: int | None = None,
    unit_neurons: int = 1,
    engine: str = "fast",
    start: str | Sequence[str] = DEFAULT_STARTS,
    max_evaluations: int | None = None,
    allow_oom: bool = False,
    mix_layers: bool = False,
) -> list[StudyRow]:
    """Each method's mapping, its metrics and its estimate (see the module docstring)."""
    for m in methods:
        check_method(m)
    graph = workload_graph(spec, act, unit_neurons=unit_neurons, n_workers=machine.num_worker_contexts)
    rows = []
    for method in methods:
        t0 = time.perf_counter()
        mapping: NeuronMapping = place(spec, machine, act, method=method, seed=seed, neurons_per_tile=neurons_per_tile,
                                       unit_neurons=unit_neurons, start=start, max_evaluations=max_evaluations, mix_layers=mix_layers,
                                       graph=graph)  # fmt: skip
        seconds = time.perf_counter() - t0
        est = estimate_training_step(spec, machine, activity_source=act, mapping=mapping, engine=engine, seed=seed, allow_oom=allow_oom,
                                     cache=False)  # fmt: skip
        rows.append((placement_metrics(spec, graph, est, act, seconds), est))
    return rows
