"""BSP program IR, validation and (de)serialisation."""

from mimdsim.program.ir import (
    FORMAT_VERSION,
    ComputeSet,
    Exchange,
    HostCopy,
    Program,
    Repeat,
    Step,
    Superstep,
    Tensor,
    VertexBlock,
)
from mimdsim.program.validate import check_program

__all__ = [
    "FORMAT_VERSION",
    "Program",
    "Superstep",
    "HostCopy",
    "Repeat",
    "Step",
    "ComputeSet",
    "VertexBlock",
    "Exchange",
    "Tensor",
    "check_program",
]
