"""Lowering of one sparse SNN BPTT training step to the BSP program IR, then Poplar's passes.

The lowering emits the authors' Poplar program as their op issues it, call by call
(:mod:`mimdsim.snn.lowering.poplar`): one superstep per program (every dynamic slice and
update, copy, poprand, compute set), in their order, on the tiles Poplar's layouts put it
on, PopLibs' vertices costed by PopLibs' own estimators, for the op version the spec names
(``SNNSpec.program_version``). What Poplar's lowering then does to that sequence is a
pipeline of compiler passes over the program (:mod:`mimdsim.program.passes`;
``LoweringOptions.passes``): ``as-issued``, ``poplar`` (the default) or ``fused``, or any
list of passes. The pipelines differ only in program structure, never in formulas.

The time loops stay ``Repeat`` s whose count-dependent costs are cycle tables (one row per
time step); placements come from :mod:`mimdsim.snn.lowering.layout`, the authors' codelets' costs
from :mod:`mimdsim.snn.lowering.codelets`, spike counts from a
:class:`~mimdsim.snn.activity.counts.SpikeActivity`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.builder import ProgramBuilder
from mimdsim.program.ir import Program
from mimdsim.program.passes import DEFAULT_PIPELINE, apply_passes, passes_label
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering.layout import build_layout
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["LoweringOptions", "lower_snn", "check_batch"]


@dataclass(frozen=True)
class LoweringOptions:
    """Knobs of the lowering.

    ``passes`` is the compiler pipeline applied to the program as issued: a pipeline name
    (``as-issued``, ``poplar``, ``fused``) or a comma-separated list of pass names
    (:mod:`mimdsim.program.passes`). ``soft_double_slot_cycles`` replaces the per-slot cost
    of the 2022-09-12 state gradient's software double-precision surrogate
    (:data:`mimdsim.snn.lowering.codelets.SOFT_DOUBLE_SURROGATE`; None: its typical value).
    ``vertex_state_bytes`` and ``code_bytes_per_tile`` are estimates, not published figures:
    a vertex's state holds a pointer and a size per field (about 3 fields x 8 B), and the
    step's dozen C++ codelets plus PopLibs helpers are assumed to take about 24 KiB of code
    on every tile. Both only affect memory, never cycles.
    """

    passes: str = DEFAULT_PIPELINE
    soft_double_slot_cycles: int | None = None
    include_backward: bool = True
    include_host_io: bool = True
    vertex_state_bytes: int = 24
    code_bytes_per_tile: int = 24 * 1024

    def __post_init__(self) -> None:
        if not isinstance(self.passes, str):
            raise ConfigError(f"passes: {self.passes!r} is not a pipeline name or a comma-separated list of pass names")
        object.__setattr__(self, "passes", passes_label(self.passes))  # checks the names; one spelling per pipeline
        if self.soft_double_slot_cycles is not None and (
            not isinstance(self.soft_double_slot_cycles, int) or self.soft_double_slot_cycles < 0
        ):
            raise ConfigError(f"soft_double_slot_cycles: {self.soft_double_slot_cycles!r} is not an integer >= 0")


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
    from mimdsim.snn.lowering.poplar import PoplarLowering

    pop = PoplarLowering(spec, machine, layout, activity, opt, mapping)
    b = ProgramBuilder(spec.name, batch_size=spec.batch_size, metadata={
        "workload": "snn_bptt",
        "program_version": spec.program_version,
        "neurons_per_tile": mapping.neurons_per_tile,
        "partitioner": mapping.method,
        "n_ipus_used": mapping.n_ipus_used,
    })  # fmt: skip
    for step in pop.body(opt.include_backward, opt.include_host_io):
        b.step(step)
    pop.add_tensors(b)
    issued = b.build()
    return apply_passes(issued, opt.passes)
