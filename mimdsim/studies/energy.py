"""Energy per SNN training step, IPU and GPU, as bands (docs/energy.md).

The formula is :mod:`mimdsim.cost.energy`'s; this module feeds it what the engines and the GPU
model already produce: the step time, every tile's busy (compute) cycles, the bytes the tiles
receive over the exchange and the bytes that cross IPU-Links (:func:`mimdsim.program.traffic.exchange_byte_totals`),
and the GPU step's time, HBM bytes and FLOPs. The parameters are the machine's and the GPU's
(``ipu_base_power_w``, ``busy_tile_cycle_pj``, ..., ``base_power_w``, ``tdp_w``, ...), each a
``[low, central, high]`` band from its description file.

``scope``: ``chip`` (the default) counts the IPUs (and the GPU) alone; ``machine`` adds each
allocated IPU's share of the gateway, DDR and fans (``system_power_w``). The GPU side is the
card in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.energy import EnergyBand, EnergyTriple, gpu_energy_band, ipu_energy_band, ratio_band
from mimdsim.engines.result import RunResult
from mimdsim.errors import ConfigError
from mimdsim.program.ir import Program
from mimdsim.program.traffic import exchange_byte_totals

__all__ = ["ENERGY_SCOPES", "StepEnergy", "ipu_step_energy", "gpu_step_energy", "step_energy"]

ENERGY_SCOPES: tuple[str, ...] = ("chip", "machine")


@dataclass(frozen=True)
class StepEnergy:
    """The IPU and GPU energy bands of one step (either None when its description has no energy
    parameters) and the GPU/IPU energy ratio from opposite corners."""

    scope: str
    ipu: EnergyBand | None
    gpu: EnergyBand | None

    @property
    def ratio(self) -> tuple[float, float, float] | None:
        """GPU energy / IPU energy: (lowest, central, highest), from opposite corners of the two bands."""
        return None if self.ipu is None or self.gpu is None else ratio_band(self.gpu, self.ipu)

    @property
    def ratio_robust(self) -> bool | None:
        """Whether the whole ratio band lies on one side of 1 (the answer does not depend on the parameters)."""
        r = self.ratio
        return None if r is None else bool(r[0] > 1 or r[2] < 1)

    def fields(self) -> dict[str, Any]:
        """The result record's energy fields."""
        out: dict[str, Any] = {"energy_scope": self.scope}
        for side, band in (("ipu", self.ipu), ("gpu", self.gpu)):
            if band is None:
                continue
            for c in ("low", "central", "high"):
                out[f"{side}_energy_{c}_j"] = float(getattr(band, c))
                out[f"{side}_power_{c}_w"] = float(band.watts(c))
        r = self.ratio
        if r is not None:
            out.update(gpu_ipu_energy_ratio_low=r[0], gpu_ipu_energy_ratio_central=r[1], gpu_ipu_energy_ratio_high=r[2],
                       gpu_ipu_energy_ratio_robust=self.ratio_robust)  # fmt: skip
        return out


def _triple(v: tuple[float, float, float] | None) -> EnergyTriple | None:
    return None if v is None else EnergyTriple(*v)


def ipu_step_energy(
    result: RunResult, program: Program, machine: MachineSpec, seconds: float, scope: str = "chip"
) -> EnergyBand | None:
    """The IPU band of a simulated step of ``seconds`` (None when the machine has no energy parameters)."""
    if scope not in ENERGY_SCOPES:
        raise ConfigError(f"energy scope {scope!r} is not one of {', '.join(ENERGY_SCOPES)}")
    m = machine
    base = _triple(m.ipu_base_power_w)
    if base is None or m.ipu_max_power_w is None:
        return None
    received, link = exchange_byte_totals(program, m.n_tiles, m.tiles_per_ipu)
    zero = EnergyTriple(0.0, 0.0, 0.0)
    system = (_triple(m.system_power_w) or zero) if scope == "machine" else zero
    return ipu_energy_band(
        seconds, m.n_ipus, base, m.ipu_max_power_w, float(result.tile_compute_cycles.sum()), float(received), float(link),
        _triple(m.busy_tile_cycle_pj) or zero, _triple(m.exchange_byte_pj) or zero, _triple(m.link_byte_pj) or zero, system,
    )  # fmt: skip


def gpu_step_energy(gpu_step: Any, gpu_spec: Any) -> EnergyBand | None:
    """The GPU band of a modelled GPU step (None without one, or when the GPU has no energy parameters)."""
    if gpu_step is None or gpu_spec is None:
        return None
    base = _triple(gpu_spec.base_power_w)
    if base is None or gpu_spec.tdp_w is None:
        return None
    zero = EnergyTriple(0.0, 0.0, 0.0)
    return gpu_energy_band(
        gpu_step.step_s, base, gpu_spec.tdp_w, float(gpu_step.total_bytes), float(gpu_step.total_flops),
        _triple(gpu_spec.hbm_byte_pj) or zero, _triple(gpu_spec.flop_pj) or zero,
    )  # fmt: skip


def step_energy(
    result: RunResult, program: Program | None, machine: MachineSpec, seconds: float, *, gpu_step: Any = None, gpu_spec: Any = None,
    scope: str = "chip",
) -> StepEnergy:  # fmt: skip
    """Both bands of one estimate."""
    ipu = None if program is None else ipu_step_energy(result, program, machine, seconds, scope)
    return StepEnergy(scope, ipu, gpu_step_energy(gpu_step, gpu_spec))
