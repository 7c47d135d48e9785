"""Engines: ``des`` (SimPy reference) and ``fast`` (numba), behind :func:`simulate`."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.arguments import FLAG, NAME, POSITIVE_INT, POSITIVE_INT_OR_NONE, Kind, check_kinds
from mimdsim.cost.bounds import check_cycle_bound
from mimdsim.engines.result import (
    CATEGORIES,
    DEFAULT_MAX_TIMELINE_EVENTS,
    TIMELINE_PHASES,
    RunResult,
    SuperstepRecord,
    Timeline,
    TimelineCounters,
    TimelineSegments,
)
from mimdsim.engines.timeline_detail import TimelineRequest, apply_window, iteration_steps, window_mask
from mimdsim.errors import ConfigError
from mimdsim.memory.ledger import check_memory
from mimdsim.program.ir import Program
from mimdsim.program.validate import check_program

__all__ = [
    "simulate",
    "Engine",
    "ENGINES",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_ENGINE",
    "RunResult",
    "SuperstepRecord",
    "CATEGORIES",
    "Timeline",
    "TimelineSegments",
    "TimelineCounters",
    "iteration_steps",
    "TimelineRequest",
    "TIMELINE_PHASES",
    "DEFAULT_MAX_TIMELINE_EVENTS",
]

DEFAULT_ENGINE = "fast"
DEFAULT_MAX_STEPS = 50_000_000
"""Most steps (supersteps and host copies, repeats expanded) a simulation executes unless told otherwise."""


class Engine(Protocol):
    """What :func:`simulate` calls: run a validated ``program`` on ``machine`` and return its :class:`RunResult`.

    Every engine takes these arguments and ``timeline``, ``timeline_tiles`` and ``max_timeline_events`` (see
    :func:`simulate`); ``options`` are its own (``des``: ``max_events``; ``fast``: ``extrapolate``,
    ``timeline_window``). Both engines give identical results (tests/engines: one suite over :data:`ENGINES`).
    """

    def __call__(
        self, program: Program, machine: MachineSpec, tile_memory_bytes: np.ndarray, *, max_steps: int, progress: bool = False,
        **options: Any,
    ) -> RunResult: ...  # fmt: skip


def _imported_when_used(module: str, function: str) -> Engine:
    """The engine ``module.function``, imported at its first run (SimPy or numba load only for the engine used)."""

    def run(
        program: Program, machine: MachineSpec, tile_memory_bytes: np.ndarray, *, max_steps: int, progress: bool = False,
        **options: Any,
    ) -> RunResult:  # fmt: skip
        engine = getattr(importlib.import_module(module), function)
        return engine(program, machine, tile_memory_bytes, max_steps=max_steps, progress=progress, **options)

    return run


ENGINES: dict[str, Engine] = {
    "des": _imported_when_used("mimdsim.engines.des", "simulate_des"),
    "fast": _imported_when_used("mimdsim.engines.fast", "simulate_fast"),
}
"""The engines by name; every one an :class:`Engine`."""


_SIMULATE_KINDS: dict[str, Kind] = {
    "engine": NAME, "max_steps": POSITIVE_INT, "max_events": POSITIVE_INT_OR_NONE, "progress": FLAG,
    "check_memory_fits": FLAG, "max_timeline_events": POSITIVE_INT,
    "timeline": (lambda v: isinstance(v, bool | str | TimelineRequest), "True, False, 'tiles' or a TimelineRequest"),
}  # fmt: skip
"""The kinds of value :func:`simulate`'s options take (:mod:`mimdsim.arguments`)."""


def simulate(
    program: Program,
    machine: MachineSpec,
    engine: str = DEFAULT_ENGINE,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_events: int | None = None,
    progress: bool = False,
    check_memory_fits: bool = True,
    timeline: bool | str | TimelineRequest = False,
    timeline_tiles: Sequence[int] | None = None,
    timeline_steps: Sequence[tuple[int, int]] | None = None,
    max_timeline_events: int = DEFAULT_MAX_TIMELINE_EVENTS,
) -> RunResult:
    """Simulate ``program`` on ``machine`` with the ``des`` or ``fast`` engine.

    The program is validated (``ProgramError``) and its memory checked
    (``TileMemoryError``, unless ``check_memory_fits=False``) before anything runs. Both
    engines give identical results (docs/concepts.md).

    Timelines (docs/timeline_format.md): ``timeline=True`` records every phase interval
    of every executed step per IPU in ``RunResult.timeline``; ``timeline="tiles"`` adds
    every tile's compute intervals (small machines), and ``timeline_tiles=[...]`` those of
    the listed tiles. ``timeline_steps=[(first, stop), ...]`` (executed-step ranges, e.g.
    from :func:`mimdsim.engines.timeline_detail.iteration_steps`) keeps the intervals of those
    steps only and sums up the others per IPU (``timeline.segments``). Both engines record
    the same intervals; the ``fast`` engine adds counter tracks (``timeline.counters``).
    More than ``max_timeline_events`` intervals raise ``SimulationLimitError``. ``timeline`` may also be a
    :class:`~mimdsim.engines.timeline_detail.TimelineRequest`: these options as one record. The
    figures of the result are the same with or without a timeline.
    """
    check_kinds(locals(), _SIMULATE_KINDS)
    if engine not in ENGINES:
        raise ConfigError(f"engine: {engine!r} is not one of {', '.join(sorted(ENGINES))}")
    if isinstance(timeline, TimelineRequest):  # the options as one record (its iterations resolved in this program)
        if timeline_tiles is not None or timeline_steps is not None:
            raise ConfigError("timeline_tiles, timeline_steps: with a TimelineRequest, give them in the request")
        req = timeline
        timeline, timeline_tiles, timeline_steps = req.detail, req.tiles, req.executed_steps(program)
        max_timeline_events = req.max_events
    machine = _revalidated(machine)
    extra = _timeline_options(machine, timeline, timeline_tiles, max_timeline_events)
    window = None
    if timeline_steps is not None:
        if not extra:
            raise ConfigError("timeline_steps: only with timeline=True")
        window = window_mask(timeline_steps, program.n_executed_steps())
    if engine == "fast" and extra:
        extra["timeline_window"] = window
    check_program(program, machine)
    check_cycle_bound(program, machine)
    if check_memory_fits:
        ledger = check_memory(program, machine)
    else:
        from mimdsim.memory.ledger import memory_ledger

        ledger = memory_ledger(program, machine)
    if max_events is not None:
        if engine != "des":
            raise ConfigError(f"max_events: only the des engine counts tile-events (engine={engine!r})")
        extra["max_events"] = max_events
    result = ENGINES[engine](program, machine, ledger.tile_bytes, max_steps=max_steps, progress=progress, **extra)
    if engine == "des" and window is not None and result.timeline is not None:
        result = replace(result, timeline=apply_window(result.timeline, program, window))
    return result


def _revalidated(machine: MachineSpec) -> MachineSpec:
    """``machine`` checked again: ``model_copy(update=...)`` skips the field and cross-field rules,
    and the kernels index by them (a ladder of an odd number of IPUs has no routes)."""
    from pydantic import ValidationError

    from mimdsim.arch.load import format_validation_error

    try:
        return MachineSpec.model_validate(machine.model_dump())
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"machine {machine.name!r}")) from None


def _timeline_options(
    machine: MachineSpec, timeline: bool | str, tiles: Sequence[int] | None, max_events: int
) -> dict[str, object]:
    """The engine keyword arguments of a timeline request (none without one), checked."""
    if timeline not in (False, True, "tiles"):
        raise ConfigError(f"timeline: expected True, False or 'tiles' (got {timeline!r})")
    if not timeline:
        if tiles is not None:
            raise ConfigError("timeline_tiles: only with timeline=True")
        return {}
    if isinstance(max_events, bool) or not isinstance(max_events, int | np.integer) or max_events < 0:
        raise ConfigError(f"max_timeline_events: expected an integer >= 0 (got {max_events!r})")
    chosen = np.arange(machine.n_tiles) if timeline == "tiles" else np.zeros(0, np.int64)
    if tiles is not None:
        arr = np.asarray(tiles)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ConfigError(f"timeline_tiles: expected a list of tile numbers (got {tiles!r})")
        bad = arr[(arr < 0) | (arr >= machine.n_tiles)]
        if bad.size:
            raise ConfigError(f"timeline_tiles: tile {int(bad[0])} is not on {machine.name} (tiles 0..{machine.n_tiles - 1})")
        chosen = np.union1d(chosen, arr.astype(np.int64))
    return {"timeline": True, "timeline_tiles": chosen, "max_timeline_events": int(max_events)}
