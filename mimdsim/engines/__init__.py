"""Engines: ``des`` (SimPy reference) and ``fast`` (numba), behind :func:`simulate`."""

from __future__ import annotations

from collections.abc import Callable

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines.result import CATEGORIES, RunResult, SuperstepRecord
from mimdsim.errors import ConfigError
from mimdsim.memory.ledger import check_memory
from mimdsim.program.ir import Program
from mimdsim.program.validate import check_program

__all__ = ["simulate", "ENGINES", "DEFAULT_ENGINE", "RunResult", "SuperstepRecord", "CATEGORIES"]

DEFAULT_ENGINE = "fast"


def _des(*args: object, **kw: object) -> RunResult:
    from mimdsim.engines.des import simulate_des

    return simulate_des(*args, **kw)  # type: ignore[arg-type]


def _fast(*args: object, **kw: object) -> RunResult:
    from mimdsim.engines.fast import simulate_fast

    return simulate_fast(*args, **kw)  # type: ignore[arg-type]


ENGINES: dict[str, Callable[..., RunResult]] = {"des": _des, "fast": _fast}


def simulate(
    program: Program,
    machine: MachineSpec,
    engine: str = DEFAULT_ENGINE,
    *,
    max_steps: int = 50_000_000,
    progress: bool = False,
    check_memory_fits: bool = True,
) -> RunResult:
    """Simulate ``program`` on ``machine`` with the ``des`` or ``fast`` engine.

    The program is validated (``ProgramError``) and its memory checked
    (``TileMemoryError``, unless ``check_memory_fits=False``) before anything runs. Both
    engines give identical results (docs/concepts.md).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine: {engine!r} is not one of {', '.join(sorted(ENGINES))}")
    check_program(program, machine)
    if check_memory_fits:
        ledger = check_memory(program, machine)
    else:
        from mimdsim.memory.ledger import memory_ledger

        ledger = memory_ledger(program, machine)
    return ENGINES[engine](program, machine, ledger.tile_bytes, max_steps=max_steps, progress=progress)
