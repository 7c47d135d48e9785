"""Every cost formula of the simulator, used by both engines."""

from mimdsim.cost.compute import tile_compute_cycles
from mimdsim.cost.exchange import exchange_phase_cycles
from mimdsim.cost.host import host_copy_cycles
from mimdsim.cost.sync import sync_cycles

__all__ = ["tile_compute_cycles", "exchange_phase_cycles", "sync_cycles", "host_copy_cycles"]
