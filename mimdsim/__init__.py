"""mimdsim: a tile-level simulator of IPU-like MIMD manycores.

The top level holds what a script needs: machines (:func:`load_machine`), programs
(:class:`ProgramBuilder`, :func:`load_program`), :func:`simulate` and the errors. The
SNN workload lives in :mod:`mimdsim.snn`.
"""

from mimdsim import _moved
from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.engines import ENGINES, RunResult, SuperstepRecord, simulate
from mimdsim.errors import (
    ConfigError,
    DatasetError,
    MappingError,
    MimdsimError,
    ProgramError,
    ProgramFormatError,
    SimulationLimitError,
    TileMemoryError,
    TraceFormatError,
)
from mimdsim.program import ComputeSet, Exchange, HostCopy, Program, Repeat, Superstep, Tensor, VertexBlock
from mimdsim.program.builder import ProgramBuilder
from mimdsim.program.serialize import load_program, save_program

__version__ = "0.1.0"

_moved.install()  # old module names (before the packages were split) still import

__all__ = [
    "__version__",
    "MachineSpec",
    "load_machine",
    "list_presets",
    "simulate",
    "ENGINES",
    "RunResult",
    "SuperstepRecord",
    "Program",
    "ProgramBuilder",
    "Superstep",
    "HostCopy",
    "Repeat",
    "ComputeSet",
    "VertexBlock",
    "Exchange",
    "Tensor",
    "load_program",
    "save_program",
    "MimdsimError",
    "ConfigError",
    "ProgramError",
    "ProgramFormatError",
    "MappingError",
    "TileMemoryError",
    "SimulationLimitError",
    "TraceFormatError",
    "DatasetError",
]
