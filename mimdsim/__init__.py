"""mimdsim: a tile-level simulator of IPU-like MIMD manycores."""

from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.errors import (
    ConfigError,
    MappingError,
    MimdsimError,
    ProgramError,
    ProgramFormatError,
    SimulationLimitError,
    TileMemoryError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "MachineSpec",
    "load_machine",
    "list_presets",
    "MimdsimError",
    "ConfigError",
    "ProgramError",
    "ProgramFormatError",
    "MappingError",
    "TileMemoryError",
    "SimulationLimitError",
]
