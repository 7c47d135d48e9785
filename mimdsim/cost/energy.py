"""Energy per training step as a band: the formula, for an IPU machine and for a GPU.

The public figures support only this form (docs/energy.md gives every figure, its source and
grade): in the sparse steps mimdsim estimates neither chip is near its power limit, so most of
the energy is base power x step time, and the per-action energies are derived guesses. Every
parameter is a (low, central, high) triple; the estimate is evaluated at the all-low, central
and all-high corners:

* IPU: ``E = N x (P_base + P_system) x t + e_busy x busy tile-cycles + e_exch x received
  exchange bytes + e_link x bytes over IPU-Links``, clipped to
  ``[N x (P_base + P_system) x t, N x (P_max + P_system) x t]``: every allocated IPU stays
  clocked for the whole step, busy or not; ``P_system`` (the gateway, fans and host share of
  the machine) is 0 unless the machine scope is asked for;
* GPU: ``E = P_base x t + e_byte x HBM bytes + e_flop x FLOPs``, clipped to
  ``[P_base x t, P_TDP x t]``.

The band excludes the time model's own error (docs/validation.md): it is the spread of the
energy parameters at the estimated time.

>>> b = ipu_energy_band(1e-3, 1, EnergyTriple(40, 50, 60), 300, 0, 0, 0)
>>> b.low, b.central, b.high                      # no activity: exactly N x P_base x t
(0.04, 0.05, 0.06)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EnergyTriple",
    "EnergyBand",
    "ipu_step_energy_j",
    "gpu_step_energy_j",
    "ipu_energy_band",
    "gpu_energy_band",
    "ratio_band",
]

_PJ = 1e-12


@dataclass(frozen=True)
class EnergyTriple:
    """A parameter's (low, central, high) values."""

    low: float
    central: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.central <= self.high:
            raise ValueError(f"expected 0 <= low <= central <= high, got ({self.low}, {self.central}, {self.high})")

    @classmethod
    def of(cls, value: EnergyTriple | tuple[float, float, float] | float) -> EnergyTriple:
        if isinstance(value, EnergyTriple):
            return value
        if isinstance(value, int | float):
            return cls(float(value), float(value), float(value))
        low, central, high = value
        return cls(float(low), float(central), float(high))

    def corner(self, which: str) -> float:
        return float(getattr(self, which))


@dataclass(frozen=True)
class EnergyBand:
    """Joules per step at the all-low, central and all-high corners, and the average power over ``seconds``."""

    low: float
    central: float
    high: float
    seconds: float

    def watts(self, which: str) -> float:
        return getattr(self, which) / self.seconds if self.seconds > 0 else 0.0


def ipu_step_energy_j(
    seconds: float, n_ipus: int, base_w: float, max_w: float, busy_tile_cycles: float, received_bytes: float, link_bytes: float,
    busy_pj: float, exchange_pj: float, link_pj: float, system_w: float = 0.0,
) -> float:  # fmt: skip
    """One corner of the IPU estimate (see the module docstring).

    >>> ipu_step_energy_j(1e-3, 2, 50, 300, 1e9, 0, 0, 30, 0, 0)    # 2 x 50 W x 1 ms + 1e9 x 30 pJ
    0.13
    >>> ipu_step_energy_j(1e-3, 1, 50, 300, 1e12, 0, 0, 30, 0, 0)   # clipped to 1 x 300 W x 1 ms
    0.3
    """
    floor = n_ipus * (base_w + system_w) * seconds
    activity = (busy_pj * busy_tile_cycles + exchange_pj * received_bytes + link_pj * link_bytes) * _PJ
    return min(floor + activity, n_ipus * (max_w + system_w) * seconds)


def gpu_step_energy_j(
    seconds: float, base_w: float, tdp_w: float, hbm_bytes: float, flops: float, byte_pj: float, flop_pj: float
) -> float:
    """One corner of the GPU estimate (see the module docstring).

    >>> round(gpu_step_energy_j(0.01, 60, 400, 1e9, 1e12, 50, 1.0), 6)   # 0.6 J + 0.05 J + 1 J
    1.65
    """
    return min(base_w * seconds + (byte_pj * hbm_bytes + flop_pj * flops) * _PJ, tdp_w * seconds)


_CORNERS = ("low", "central", "high")


def ipu_energy_band(
    seconds: float, n_ipus: int, base_w: EnergyTriple, max_w: float, busy_tile_cycles: float, received_bytes: float,
    link_bytes: float, busy_pj: EnergyTriple | float = 0.0, exchange_pj: EnergyTriple | float = 0.0,
    link_pj: EnergyTriple | float = 0.0, system_w: EnergyTriple | float = 0.0,
) -> EnergyBand:  # fmt: skip
    """The IPU estimate at its three corners."""
    params = [EnergyTriple.of(p) for p in (base_w, busy_pj, exchange_pj, link_pj, system_w)]
    values = [
        ipu_step_energy_j(
            seconds,
            n_ipus,
            params[0].corner(c),
            max_w,
            busy_tile_cycles,
            received_bytes,
            link_bytes,
            params[1].corner(c),
            params[2].corner(c),
            params[3].corner(c),
            params[4].corner(c),
        )
        for c in _CORNERS
    ]
    return EnergyBand(values[0], values[1], values[2], seconds)


def gpu_energy_band(
    seconds: float,
    base_w: EnergyTriple,
    tdp_w: float,
    hbm_bytes: float,
    flops: float,
    byte_pj: EnergyTriple,
    flop_pj: EnergyTriple,
) -> EnergyBand:
    """The GPU estimate at its three corners."""
    b, e, f = (EnergyTriple.of(p) for p in (base_w, byte_pj, flop_pj))
    values = [gpu_step_energy_j(seconds, b.corner(c), tdp_w, hbm_bytes, flops, e.corner(c), f.corner(c)) for c in _CORNERS]
    return EnergyBand(values[0], values[1], values[2], seconds)


def ratio_band(numerator: EnergyBand, denominator: EnergyBand) -> tuple[float, float, float]:
    """``numerator / denominator`` from opposite corners: (lowest, central, highest) ratio.

    >>> ratio_band(EnergyBand(2, 3, 4, 1), EnergyBand(1, 2, 4, 1))
    (0.5, 1.5, 4.0)
    """
    return numerator.low / denominator.high, numerator.central / denominator.central, numerator.high / denominator.low
