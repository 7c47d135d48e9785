"""Machine description: a frozen, validated record of an IPU-like machine.

Field names follow Poplar's ``IPUModel`` where one exists, so a user can carry
numbers over from ``poplar::Target`` getters. Every quantity carries its unit.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = ["MachineSpec", "LinkTopology", "Triple"]


def _as_tuple(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _ordered(v: tuple[float, float, float]) -> tuple[float, float, float]:
    if not (0 <= v[0] <= v[1] <= v[2] and all(math.isfinite(x) for x in v)):
        raise ValueError("expected [low, central, high] with 0 <= low <= central <= high")
    return v


Triple = Annotated[tuple[float, float, float], BeforeValidator(_as_tuple), AfterValidator(_ordered)]
"""A quantity known only as a band: ``[low, central, high]`` (the energy parameters, docs/energy.md)."""

LinkTopology = Literal["ladder", "torus2d", "all_to_all"]

_MAX_CYCLES = 1_000_000_000
"""Largest fixed cost (cycles) a machine field may hold: about half a second at 1.85 GHz."""


class MachineSpec(BaseModel):
    """One machine: ``n_ipus`` chips of ``tiles_per_ipu`` tiles joined by IPU-Links.

    Tiles are numbered globally: tile ``t`` sits on IPU ``t // tiles_per_ipu``.
    Two tiles ``2j`` and ``2j+1`` of one IPU form a supertile when
    ``tiles_per_supertile == 2``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    # strict: a boolean is not an integer (``n_ipus = true`` is refused), an integer field
    # takes no float; floats must be finite. The upper bounds keep every derived total of a
    # simulation far inside int64 and refuse values no machine has (docs/machine_format.md).

    name: str = "custom"
    description: str = ""

    # chip and tile
    n_ipus: int = Field(1, ge=1, le=1024)
    tiles_per_ipu: int = Field(ge=1, le=1 << 16)
    tiles_per_supertile: int = Field(2, ge=1, le=64)
    num_worker_contexts: int = Field(6, ge=1, le=64)
    memory_bytes_per_tile: int = Field(gt=0, le=1 << 40)
    tile_clock_hz: float = Field(ge=1e6, le=1e11, allow_inf_nan=False)
    compute_set_overhead_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)
    worker_launch_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)

    # on-chip exchange
    exchange_bytes_per_cycle: int = Field(4, gt=0, le=1 << 20)
    memcpy_bytes_per_cycle: int = Field(8, gt=0, le=1 << 20)
    supports_supertile_send_receive: bool = True
    exchange_overhead_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)
    exchange_message_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)
    exchange_transit_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)

    # sync
    min_ipu_sync_delay: int = Field(0, ge=0, le=_MAX_CYCLES)
    max_ipu_sync_delay: int = Field(0, ge=0, le=_MAX_CYCLES)
    global_sync_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)
    global_sync_hop_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)

    # IPU-Links
    link_topology: LinkTopology = "all_to_all"
    links_per_ipu_pair: int = Field(1, ge=1, le=64)
    link_bytes_per_s: float = Field(16e9, ge=1e3, le=1e15, allow_inf_nan=False)
    link_latency_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)
    link_message_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)

    # host
    host_bytes_per_s: float = Field(8e9, ge=1e3, le=1e15, allow_inf_nan=False)
    host_overhead_cycles: int = Field(0, ge=0, le=_MAX_CYCLES)
    execution_overhead_s: float = Field(0.0, ge=0, le=3600.0, allow_inf_nan=False)

    # energy (docs/energy.md): bands, None where the machine gives none (no energy is reported then)
    ipu_base_power_w: Triple | None = None
    ipu_max_power_w: float | None = Field(None, gt=0, le=1e5, allow_inf_nan=False)
    busy_tile_cycle_pj: Triple | None = None
    exchange_byte_pj: Triple | None = None
    link_byte_pj: Triple | None = None
    system_power_w: Triple | None = None

    @model_validator(mode="after")
    def _check_cross_fields(self) -> MachineSpec:
        if self.tiles_per_ipu % self.tiles_per_supertile:
            raise ValueError(
                f"tiles_per_ipu ({self.tiles_per_ipu}) must be a multiple of tiles_per_supertile ({self.tiles_per_supertile})"
            )
        if (
            self.ipu_base_power_w is not None
            and self.ipu_max_power_w is not None
            and self.ipu_base_power_w[2] > self.ipu_max_power_w
        ):
            raise ValueError(
                f"ipu_base_power_w's high value ({self.ipu_base_power_w[2]:g} W) exceeds ipu_max_power_w ({self.ipu_max_power_w:g} W)"
            )
        if self.link_topology == "ladder" and self.n_ipus > 1 and self.n_ipus % 2:
            raise ValueError(
                f"link_topology 'ladder' needs an even n_ipus (IPUs come in pairs, one per rung side), got {self.n_ipus}"
            )
        return self

    # ---- derived quantities -------------------------------------------------
    @property
    def n_tiles(self) -> int:
        """Tiles of the whole machine."""
        return self.n_ipus * self.tiles_per_ipu

    @property
    def link_bytes_per_cycle(self) -> float:
        """Bytes per tile cycle through one directed link group between two IPUs."""
        return self.links_per_ipu_pair * self.link_bytes_per_s / self.tile_clock_hz

    @property
    def host_bytes_per_cycle(self) -> float:
        """Bytes per tile cycle that one IPU's host link carries."""
        return self.host_bytes_per_s / self.tile_clock_hz

    def ipu_of(self, tile: int) -> int:
        """IPU that holds global tile ``tile``."""
        return tile // self.tiles_per_ipu

    def seconds(self, cycles: float) -> float:
        """Convert tile cycles to seconds."""
        return cycles / self.tile_clock_hz

    def torus_shape(self) -> tuple[int, int]:
        """Rows and columns of the 2D torus the IPUs form (as square as possible)."""
        rows = math.isqrt(self.n_ipus)
        while self.n_ipus % rows:
            rows -= 1
        return rows, self.n_ipus // rows

    def summary(self) -> dict[str, object]:
        """Key numbers, as shown by ``mimdsim machines``."""
        return {
            "name": self.name,
            "n_ipus": self.n_ipus,
            "tiles": self.n_tiles,
            "memory_kib_per_tile": self.memory_bytes_per_tile / 1024,
            "clock_ghz": self.tile_clock_hz / 1e9,
            "exchange_bytes_per_cycle": self.exchange_bytes_per_cycle,
            "link_topology": self.link_topology,
        }
