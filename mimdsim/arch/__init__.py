"""Machine descriptions: specs, presets and loading."""

from mimdsim.arch.load import list_presets, load_machine
from mimdsim.arch.spec import LinkTopology, MachineSpec

__all__ = ["MachineSpec", "LinkTopology", "load_machine", "list_presets"]
