"""An upper bound of a program's cycle count on a machine, so that no engine total can wrap.

The engines count cycles in int64. Every entry of a valid program is bounded
(:data:`mimdsim.program.validate.MAX_ITEM`), but a deep nest of repeats of large steps
can still add up past 2^63. :func:`check_cycle_bound` adds up, in floating point (which
does not wrap), a bound of every static step's cycles times its executions and refuses a
program whose bound passes 2^62 before it runs.

>>> from mimdsim.arch import load_machine
>>> from mimdsim.program.ir import ComputeSet, Program, Repeat, Superstep, VertexBlock
>>> cs = ComputeSet("c", (VertexBlock("V", [0], [1 << 40]),))
>>> check_cycle_bound(Program("p", (Repeat(1 << 30, (Superstep("s", compute=cs),)),)), load_machine("mk2"))
Traceback (most recent call last):
...
mimdsim.errors.ProgramError: program 'p': could run for more than 2^62 cycles (an upper bound of 7.1e+21 from its repeat counts and step costs): the engines' 64-bit totals would overflow; use smaller repeat counts or costs
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.sync import sync_cycles
from mimdsim.errors import ProgramError
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep
from mimdsim.program.memo import derived

__all__ = ["LIMIT_CYCLES", "check_cycle_bound", "cycle_upper_bound"]

LIMIT_CYCLES = float(1 << 62)


def _compute_bound(cs: ComputeSet, m: MachineSpec) -> float:
    total = float(m.compute_set_overhead_cycles) * max(cs.n_segments, 1)
    for b in cs.blocks:
        cyc = b.worker_cycles.max(axis=0) if b.worker_cycles.ndim == 2 else b.worker_cycles
        cnt = b.worker_counts.max(axis=0) if b.worker_counts.ndim == 2 else b.worker_counts
        sup = float(np.max(b.supervisor_cycles)) if np.ndim(b.supervisor_cycles) else float(b.supervisor_cycles)
        total += sup + float(
            np.dot(cnt.astype(np.float64), m.num_worker_contexts * cyc.astype(np.float64) + m.worker_launch_cycles)
        )
    return total


def _exchange_bound(ex: Exchange, m: MachineSpec) -> float:
    fan = ex.fanout().astype(np.float64)
    data = float(np.dot(fan, ex.nbytes.astype(np.float64)))
    msgs = float(np.dot(fan, ex.messages.astype(np.float64)))
    slowest = min(m.exchange_bytes_per_cycle, m.link_bytes_per_cycle)
    per_message = 2 * m.exchange_message_cycles + m.n_ipus * m.link_message_cycles  # a message may cross every IPU's links
    return (
        2 * m.exchange_overhead_cycles
        + m.exchange_transit_cycles
        + 2 * data / slowest
        + per_message * msgs
        + m.n_ipus * m.link_latency_cycles
    )


def _host_bound(hc: HostCopy, m: MachineSpec) -> float:
    return m.host_overhead_cycles + float(hc.nbytes.sum()) / min(m.host_bytes_per_cycle, m.exchange_bytes_per_cycle)


def cycle_upper_bound(program: Program, m: MachineSpec) -> float:
    """An upper bound (float) of ``program``'s total cycles on ``m``."""
    s_ext = float(sync_cycles(m, "external"))
    memo: dict[int, float] = {}

    def step_bound(s: Step) -> float:
        key = id(s)
        if key not in memo:
            if isinstance(s, Superstep):
                b = s_ext
                if s.compute is not None:
                    b += _compute_bound(s.compute, m)
                if s.exchange is not None:
                    b += _exchange_bound(s.exchange, m)
            else:
                b = s_ext + _host_bound(s, m)  # type: ignore[arg-type]
            memo[key] = b
        return memo[key]

    def walk(steps: tuple[Step, ...]) -> float:
        return sum(float(s.count) * walk(s.body) if isinstance(s, Repeat) else step_bound(s) for s in steps)

    return walk(program.body)


def check_cycle_bound(program: Program, machine: MachineSpec) -> None:
    """Raise :class:`ProgramError` if ``program`` could run past 2^62 cycles on ``machine``."""
    key: tuple[Any, ...] = ("cycle_bound", *machine.model_dump().values())
    bound = derived(program, key, lambda: cycle_upper_bound(program, machine))
    if bound > LIMIT_CYCLES:
        raise ProgramError(
            f"program {program.name!r}: could run for more than 2^62 cycles (an upper bound of {bound:.2g} from its repeat "
            "counts and step costs): the engines' 64-bit totals would overflow; use smaller repeat counts or costs"
        )
