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

from dataclasses import dataclass, fields

import numpy as np
from numba import njit

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.sync import sync_cycles
from mimdsim.errors import ProgramError
from mimdsim.program.flat_blocks import flat_blocks
from mimdsim.program.ir import HostCopy, Program, Repeat, Step, Superstep
from mimdsim.program.memo import derived

__all__ = ["LIMIT_CYCLES", "BoundTerms", "bound_terms", "check_cycle_bound", "cycle_upper_bound"]

LIMIT_CYCLES = float(1 << 62)


@dataclass(frozen=True)
class BoundTerms:
    """The machine-independent sums a program's cycle bound is made of, each over every execution of every step:
    the bound on a machine is one linear combination of them (:meth:`cycles`), so a machine what-if costs nothing."""

    steps: float = 0.0  # executed supersteps and host copies (each ends with a sync)
    segments: float = 0.0  # compute-set segments (at least one per compute set)
    supervisor: float = 0.0  # supervisor cycles of the costliest row
    worker: float = 0.0  # worker vertices x thread cycles
    vertices: float = 0.0  # worker vertices (each launched once)
    exchanges: float = 0.0  # exchange phases
    exchange_bytes: float = 0.0  # bytes x destinations
    messages: float = 0.0  # messages x destinations
    host_copies: float = 0.0
    host_bytes: float = 0.0

    def cycles(self, m: MachineSpec) -> float:
        """The bound on ``m``: every step's sync, compute at its costliest row, exchange at the slowest port and
        every message crossing every IPU's links, host copies at the slower of link and port."""
        slowest = min(m.exchange_bytes_per_cycle, m.link_bytes_per_cycle)
        per_message = 2 * m.exchange_message_cycles + m.n_ipus * m.link_message_cycles
        return (
            self.steps * float(sync_cycles(m, "external"))
            + self.segments * m.compute_set_overhead_cycles
            + self.supervisor
            + self.worker * m.num_worker_contexts
            + self.vertices * m.worker_launch_cycles
            + self.exchanges * (2 * m.exchange_overhead_cycles + m.exchange_transit_cycles + m.n_ipus * m.link_latency_cycles)
            + 2 * self.exchange_bytes / slowest
            + per_message * self.messages
            + self.host_copies * m.host_overhead_cycles
            + self.host_bytes / min(m.host_bytes_per_cycle, m.exchange_bytes_per_cycle)
        )


@njit(cache=True)
def _block_sums(
    nvtx: np.ndarray, cyc_ptr: np.ndarray, cyc_rows: np.ndarray, cnt_ptr: np.ndarray, cnt_rows: np.ndarray,
    sup_ptr: np.ndarray, sup_rows: np.ndarray, cyc: np.ndarray, cnt: np.ndarray, sup: np.ndarray,
) -> tuple[float, float, float]:  # fmt: skip
    """Over the blocks of a compute set (:func:`~mimdsim.program.flat_blocks.flat_blocks`): the largest row's
    supervisor cycles, and worker vertices x thread cycles and worker vertices, each vertex at its largest row."""
    supervisor = worker = vertices = 0.0
    for k in range(nvtx.size):
        top = 0.0
        for r in range(sup_rows[k]):
            top = max(top, float(sup[sup_ptr[k] + r]))
        supervisor += top
        n = nvtx[k]
        for j in range(n):
            c = 0.0
            for r in range(cyc_rows[k]):
                c = max(c, float(cyc[cyc_ptr[k] + r * n + j]))
            m = 0.0
            for r in range(cnt_rows[k]):
                m = max(m, float(cnt[cnt_ptr[k] + r * n + j]))
            worker += m * c
            vertices += m
    return supervisor, worker, vertices


_N_TERMS = len(fields(BoundTerms))
_SEGMENTS, _SUPERVISOR, _WORKER, _VERTICES, _EXCHANGES, _EXCHANGE_BYTES, _MESSAGES, _HOST_COPIES, _HOST_BYTES = range(1, _N_TERMS)


def _step_terms(s: Step, memo: dict[int, np.ndarray]) -> np.ndarray:
    """One execution of ``s`` as :class:`BoundTerms`' fields, in order; the sums of a compute set or exchange that
    several steps share are made once (``memo``, by identity)."""
    out = np.zeros(_N_TERMS)
    out[0] = 1.0  # every step ends with a sync
    if isinstance(s, HostCopy):
        out[_HOST_COPIES], out[_HOST_BYTES] = 1.0, float(s.nbytes.sum())
    elif isinstance(s, Superstep):
        cs, ex = s.compute, s.exchange
        if cs is not None:
            if id(cs) not in memo:
                tables = flat_blocks(cs).cost_tables()  # all but the segments
                memo[id(cs)] = np.array([max(cs.n_segments, 1), *_block_sums(*tables[:7], *tables[8:])])
            out[_SEGMENTS : _VERTICES + 1] = memo[id(cs)]
        if ex is not None:
            if id(ex) not in memo:
                # integer dot products (exact, and no BLAS call: a float one wakes OpenBLAS's threads, which then
                # spin as long again as the whole estimate; docs/performance.md)
                fan = ex.fanout()
                memo[id(ex)] = np.array([1.0, int(np.dot(fan, ex.nbytes)), int(np.dot(fan, ex.messages))], np.float64)
            out[_EXCHANGES : _MESSAGES + 1] = memo[id(ex)]
    return out


def bound_terms(program: Program) -> BoundTerms:
    """:class:`BoundTerms` of ``program`` (kept while the program lives: they do not depend on the machine)."""

    return derived(program, ("cycle_bound_terms",), lambda: BoundTerms(*_body_terms(program.body, {}).tolist()))


def _body_terms(steps: tuple[Step, ...], memo: dict[int, np.ndarray]) -> np.ndarray:
    """The terms of ``steps`` (repeats expanded), each step's own terms computed once (``memo``, by identity; the
    objects it names live as long as the program, so no id is reused meanwhile). A module function: a closure that
    calls itself would be a reference cycle."""
    total = np.zeros(_N_TERMS)
    for s in steps:
        if isinstance(s, Repeat):
            total += float(s.count) * _body_terms(s.body, memo)
        else:
            if id(s) not in memo:
                memo[id(s)] = _step_terms(s, memo)
            total += memo[id(s)]
    return total


def cycle_upper_bound(program: Program, m: MachineSpec) -> float:
    """An upper bound (float) of ``program``'s total cycles on ``m``."""
    return bound_terms(program).cycles(m)


def check_cycle_bound(program: Program, machine: MachineSpec) -> None:
    """Raise :class:`ProgramError` if ``program`` could run past 2^62 cycles on ``machine``."""
    bound = cycle_upper_bound(program, machine)
    if bound > LIMIT_CYCLES:
        raise ProgramError(
            f"program {program.name!r}: could run for more than 2^62 cycles (an upper bound of {bound:.2g} from its repeat "
            "counts and step costs): the engines' 64-bit totals would overflow; use smaller repeat counts or costs"
        )
