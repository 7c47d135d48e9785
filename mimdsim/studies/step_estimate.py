"""The estimate of one training step: :class:`SNNEstimate` (what :func:`~mimdsim.studies.estimate.estimate_training_step`
returns: figures, the program, the mapping, the ledger, the GPU baseline) and its superstep kinds (:class:`StepKind`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines.result import CATEGORIES, RunResult, step_family
from mimdsim.memory.ledger import MemoryLedger
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.ir import Program
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.gpu.model import GpuEstimate, GPUSpec
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.studies.energy import StepEnergy, step_energy
from mimdsim.studies.record import SNNRecord

__all__ = ["SNNEstimate", "StepKind"]


@dataclass(frozen=True)
class StepKind:
    """One kind of superstep (its name without the time-step index), over all its executions."""

    name: str
    n_executions: int
    cycles: int
    cycles_per_timestep: float
    bound: str
    breakdown_cycles: dict[str, int]


@dataclass(frozen=True, eq=False)
class SNNEstimate:
    """The estimate of one training step (forward over T steps, BPTT, weight update).

    ``program`` is the lowered BSP program, which can be saved
    (:func:`mimdsim.program.serialize.save_program`) and replayed on other machines.
    """

    spec: SNNSpec
    machine: MachineSpec
    engine: str
    result: RunResult
    mapping: NeuronMapping
    ledger: MemoryLedger
    activity_source: str
    gpu: GpuEstimate | None = None
    """The dense GPU step under the chosen framework (the paper's ``tf-keras-xla`` by default)."""
    program: Program | None = None
    extra: dict[str, object] = field(default_factory=dict)
    gpu_ideal: GpuEstimate | None = None
    """The same step as the ideal GPU program (``fused``), for the second speed-up."""
    activity: SpikeActivity | None = None
    """The spike counts the program was lowered with."""
    input_hash: str = ""
    """Hash of every input (:func:`mimdsim.studies.record.estimate_input_hash`)."""
    seed: int | None = None
    gpu_spec: GPUSpec | None = None
    """The GPU the dense step was modelled on (its energy parameters)."""
    energy_scope: str = "chip"
    """What the energy covers: ``chip`` or ``machine`` (:mod:`mimdsim.studies.energy`)."""

    @property
    def cycles_per_step(self) -> int:
        """Device cycles of one training step (the simulated program)."""
        return self.result.total_cycles

    @property
    def host_overhead_s_per_step(self) -> float:
        """The machine's per-execution host overhead shared by the spec's ``steps_per_execution`` steps."""
        return self.machine.execution_overhead_s / self.spec.steps_per_execution

    @property
    def seconds_per_step(self) -> float:
        """Wall time per training step as the paper's timing sees it: device time plus the host's share."""
        return self.result.seconds + self.host_overhead_s_per_step

    @property
    def ms_per_step(self) -> float:
        return self.seconds_per_step * 1e3

    @property
    def samples_per_s(self) -> float:
        return self.spec.batch_size / self.seconds_per_step

    @property
    def breakdown_cycles(self) -> dict[str, int]:
        """Critical-path split of the step (adds up to ``cycles_per_step``)."""
        return self.result.critical_path_cycles()

    @property
    def neurons_per_tile(self) -> int:
        return self.mapping.neurons_per_tile

    @property
    def oom_tiles(self) -> list[int]:
        return [int(t) for t in self.ledger.oom_tiles]

    @property
    def speedup_vs_gpu(self) -> float | None:
        """GPU step time over this step's, the GPU run by the chosen framework (None without a GPU)."""
        return None if self.gpu is None else self.gpu.ms_per_step / self.ms_per_step

    @property
    def speedup_vs_gpu_ideal(self) -> float | None:
        """GPU step time over this step's, the GPU running the ideal fused program."""
        return None if self.gpu_ideal is None else self.gpu_ideal.ms_per_step / self.ms_per_step

    def energy(self) -> StepEnergy:
        """Energy per step as bands, IPU and GPU (docs/energy.md), over :attr:`seconds_per_step`."""
        return step_energy(self.result, self.program, self.machine, self.seconds_per_step, gpu_step=self.gpu, gpu_spec=self.gpu_spec,
                           scope=self.energy_scope)  # fmt: skip

    def step_kinds(self) -> list[StepKind]:
        """Supersteps grouped by kind (``fwd.update.ids[l=2]`` -> ``fwd.update.ids``), costliest first."""
        cycles: dict[str, int] = defaultdict(int)
        runs: dict[str, int] = defaultdict(int)
        bounds: dict[str, Counter[str]] = defaultdict(Counter)
        parts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
        for rec in self.result.supersteps:
            kind = step_family(rec.name)
            cycles[kind] += rec.cycles
            runs[kind] += rec.n_executions
            bounds[kind][rec.bound] += rec.cycles
            for c in CATEGORIES:
                parts[kind][c] += getattr(rec, f"{c}_cycles")
        T = self.spec.n_timesteps
        out = [StepKind(k, runs[k], cycles[k], cycles[k] / T, bounds[k].most_common(1)[0][0], parts[k]) for k in cycles]
        return sorted(out, key=lambda s: (-s.cycles, s.name))

    def top_step_kinds(self, n: int = 5, *, per_timestep: bool = True) -> list[StepKind]:
        """The ``n`` costliest superstep kinds; with ``per_timestep`` only those of the time loops."""
        kinds = self.step_kinds()
        if per_timestep:
            kinds = [k for k in kinds if k.n_executions >= self.spec.n_timesteps - 1 and self.spec.n_timesteps > 1] or kinds
        return kinds[:n]

    def record(self, *, model_path: str = "", max_activity: float | None = None) -> SNNRecord:
        """This estimate as the one result record (:class:`mimdsim.studies.record.SNNRecord`)."""
        return SNNRecord.from_estimate(self, model_path=model_path, max_activity=max_activity)

    def to_dict(self) -> dict[str, object]:
        """The JSON object of ``mimdsim snn --json``: the result record (:meth:`record`) and three
        details a flat record does not hold: ``breakdown_cycles`` (the critical-path split as a
        mapping), ``profile_cycles`` (the per-tile mean split, as Poplar's profile reports it)
        and ``oom_tiles`` (the tiles over their memory)."""
        out: dict[str, object] = self.record().to_dict()
        out.update(
            breakdown_cycles=self.breakdown_cycles, profile_cycles=self.result.tile_mean_cycles(), oom_tiles=self.oom_tiles
        )
        out.update(self.extra)
        return out
