"""Lowering of one sparse SNN BPTT training step to the BSP program IR.

Two lowerings, behind :func:`lower_snn` (``LoweringOptions.lowering``):

* ``"poplar"`` (the default): the authors' Poplar program call by call
  (:mod:`mimdsim.snn.lowering.poplar`): one superstep per program their op issues (every
  dynamic slice and update, copy, poprand, compute set), in their order, on the tiles
  Poplar's layouts put them on, PopLibs' vertices costed by PopLibs' own estimators.
* ``"fused"``: the condensed sequence of the algorithm's phases
  (:mod:`mimdsim.snn.lowering.fused`): what a compiler that merged those programs would
  reach -- a what-if.

Both keep the time loops as ``Repeat`` s whose count-dependent costs are cycle tables
(one row per time step); placements come from :mod:`mimdsim.snn.layout`, the authors'
codelets' costs from :mod:`mimdsim.snn.estimators`, spike counts from a
:class:`~mimdsim.snn.activity.SpikeActivity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.ir import Program
from mimdsim.snn.activity import SpikeActivity
from mimdsim.snn.layout import build_layout
from mimdsim.snn.spec import SNNSpec

__all__ = ["LOWERINGS", "DEFAULT_LOWERING", "LoweringOptions", "lower_snn", "check_batch"]

LOWERINGS = ("poplar", "fused")
"""The lowerings :func:`lower_snn` knows (see the module docstring)."""
DEFAULT_LOWERING: Literal["poplar", "fused"] = "poplar"


@dataclass(frozen=True)
class LoweringOptions:
    """Knobs of the lowering.

    ``lowering`` picks the program (:data:`LOWERINGS`). ``vertex_state_bytes`` and
    ``code_bytes_per_tile`` are estimates, not published figures: a vertex's state holds
    a pointer and a size per field (about 3 fields x 8 B), and the step's dozen C++
    codelets plus PopLibs helpers are assumed to take about 24 KiB of code on every tile.
    Both only affect memory, never cycles.
    """

    lowering: Literal["poplar", "fused"] = DEFAULT_LOWERING
    include_backward: bool = True
    include_host_io: bool = True
    vertex_state_bytes: int = 24
    code_bytes_per_tile: int = 24 * 1024

    def __post_init__(self) -> None:
        if self.lowering not in LOWERINGS:
            raise ConfigError(f"lowering: {self.lowering!r} is not one of {', '.join(LOWERINGS)}")


def check_batch(spec: SNNSpec, machine: MachineSpec) -> None:
    """The weight gradient splits the batch over the tile's worker contexts, one replica each (GSNN CC `LIFWeightsGrad`)."""
    w = machine.num_worker_contexts
    if spec.batch_size % w:
        raise ConfigError(
            f"batch_size: {spec.batch_size} is not a multiple of num_worker_contexts = {w} (the weight gradient gives each of "
            f"the {w} worker contexts of a tile its own gradient replica and B/{w} samples)"
        )


def lower_snn(
    spec: SNNSpec,
    machine: MachineSpec,
    mapping: NeuronMapping,
    activity: SpikeActivity,
    options: LoweringOptions | None = None,
) -> Program:
    """One training step of ``spec`` on ``machine`` as a BSP program.

    ``activity`` gives the spike counts of every step and sample (functional model, trace
    or parametric). Raises :class:`ConfigError` if the batch is not a multiple of the
    machine's worker contexts or the activity does not match ``spec``.
    """
    opt = options or LoweringOptions()
    check_batch(spec, machine)
    activity.check_against(spec)
    layout = build_layout(spec, machine, mapping)
    if opt.lowering == "fused":
        from mimdsim.snn.lowering.fused import FusedLowering

        fused = FusedLowering(spec, machine, layout, activity, opt.vertex_state_bytes, opt.code_bytes_per_tile)
        body, tensors = fused.body(opt.include_backward, opt.include_host_io), fused.tensors()
    else:
        from mimdsim.snn.lowering.poplar import PoplarLowering

        pop = PoplarLowering(spec, machine, layout, activity, opt.vertex_state_bytes, opt.code_bytes_per_tile, mapping)
        body, tensors = pop.body(opt.include_backward, opt.include_host_io), pop.tensors()
    return Program(
        name=spec.name,
        body=tuple(body),
        tensors=tuple(tensors),
        batch_size=spec.batch_size,
        metadata={
            "workload": "snn_bptt",
            "lowering": opt.lowering,
            "neurons_per_tile": mapping.neurons_per_tile,
            "partitioner": mapping.method,
            "n_ipus_used": mapping.n_ipus_used,
        },
    )
