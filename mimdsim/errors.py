"""Exception hierarchy of mimdsim: every error a user can cause has its own class.

The CLI turns any :class:`MimdsimError` into one line on stderr and exit status 2.
"""

from __future__ import annotations

__all__ = [
    "MimdsimError",
    "ConfigError",
    "ProgramError",
    "ProgramFormatError",
    "MappingError",
    "TileMemoryError",
    "SimulationLimitError",
    "TraceFormatError",
    "DatasetError",
    "OutputPathError",
    "MissingPackageError",
]


class MimdsimError(Exception):
    """Base class of every error mimdsim raises on bad input."""


class ConfigError(MimdsimError, ValueError):
    """A machine, model or sweep description is invalid (unknown key, wrong type, bad value)."""


class ProgramError(MimdsimError, ValueError):
    """A BSP program is inconsistent with itself or with the machine it is run on."""


class ProgramFormatError(ProgramError):
    """A program file is truncated, of the wrong version or otherwise unreadable."""


class MappingError(MimdsimError, ValueError):
    """A workload cannot be mapped onto the machine (too few tiles, bad partition)."""


class TileMemoryError(MimdsimError):
    """Some tiles need more memory than the machine gives them.

    ``report`` holds the per-tile details (tile, bytes over, largest items); ``tile`` is the tile
    furthest over (None where the check is a bound on any tile of a layer, before placement) and
    ``needed_bytes`` the bytes it needs (at least), for scripts that should not parse the message.
    """

    def __init__(self, message: str, report: object = None, *, tile: int | None = None, needed_bytes: int | None = None) -> None:
        super().__init__(message)
        self.report = report
        self.tile = tile
        self.needed_bytes = needed_bytes


class SimulationLimitError(MimdsimError, RuntimeError):
    """A simulation loop exceeded its cycle or event limit."""


class TraceFormatError(MimdsimError, ValueError):
    """A spike-activity trace or timeline file is malformed."""


class DatasetError(MimdsimError, ValueError):
    """A dataset file is missing or not in the expected format."""


class OutputPathError(MimdsimError, OSError):
    """An output file cannot be written where the user asked (empty name, a folder, a missing
    or read-only folder); raised before any work where possible (:mod:`mimdsim.files`)."""


class MissingPackageError(MimdsimError, ImportError):
    """An optional Python package a feature needs is not installed (the message names the extra)."""
