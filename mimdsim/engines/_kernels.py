"""Numba kernels of the ``fast`` engine: plain int64 arrays in, arrays out, no Python objects.

The semantics are those of docs/concepts.md. Every cost comes from the kernels of
:mod:`mimdsim.cost`, which :mod:`mimdsim.engines.fast` calls once per distinct compute
set and exchange; the kernels here only read their results.

NOTE: no kernel here calls a :mod:`mimdsim.cost` kernel. Numba's cache (``cache=True``)
compiles callees into the caller's cache entry and invalidates it only when the
caller's own file changes, so an edit to a cost formula would leave a cached caller
running the old formula (numba issue #1833); calling the cost kernels from Python keeps
each formula in its own, correctly invalidated, cache entry.

Why the step loop needs one clock per IPU, not one per tile
-----------------------------------------------------------
Every tile takes part in every sync, and after a superstep tile ``t`` on IPU ``i`` is at
``b_i + S + G + E_i + C_t``: its previous clock survives only through the barrier
``b_i``, which is a max. So the only thing the next step (and the record) ever reads of
the per-tile clocks is, per IPU, their maximum ``b_i + S + G + E_i + max_t C_t`` and the
lowest tile reaching it; both depend on the static step and the row of its compute set's
cycle tables alone, and are computed once per distinct (compute set, row), a *variant*
(:func:`mimdsim.cost.compute.compute_costs`). The step loop (:func:`run_steps`)
therefore keeps ``clock[i] = max(ready[t] for t on IPU i)``, an exact reformulation.
The per-tile accumulators follow in closed form (:func:`tile_totals` and
:mod:`mimdsim.engines.fast`): a tile's compute, exchange, global and host cycles are sums
over static steps and variants of (executions x that cost), and its sync is the rest of
the total, since the semantics make every tile's categories add up to the total.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "run_steps",
    "split_increment",
    "tile_totals",
    "REC_N",
    "REC_CYCLES",
    "REC_COMPUTE",
    "REC_EXCHANGE",
    "REC_GLOBAL",
    "REC_HOST",
    "REC_SYNC",
    "REC_BEST",
    "REC_CRITICAL",
    "REC_BOUND",
    "N_REC_FIELDS",
    "N_REC_SUMS",
    "ST_PC",
    "ST_DEPTH",
    "ST_MAX",
    "ST_STEP",
    "N_STATE",
    "LOG_STEP",
    "LOG_ROW",
    "LOG_CLOCK",
]

# rows of the record table ``rec[field, static_step]``; the first N_REC_SUMS are sums
REC_N = 0
REC_CYCLES = 1
REC_COMPUTE = 2
REC_EXCHANGE = 3
REC_GLOBAL = 4
REC_HOST = 5
REC_SYNC = 6
N_REC_SUMS = 7
REC_BEST = 7  # largest increment so far
REC_CRITICAL = 8
REC_BOUND = 9  # index into CATEGORIES
N_REC_FIELDS = 10

# entries of the resumable loop state
ST_PC = 0
ST_DEPTH = 1
ST_MAX = 2
ST_STEP = 3  # executed steps so far (extrapolated ones included)
N_STATE = 4

# columns of the step log ``log[k]`` of executed step ``k``: static step, row of its
# tables, then every IPU's clock before it (``LOG_CLOCK + i``)
LOG_STEP = 0
LOG_ROW = 1
LOG_CLOCK = 2

# static-step table columns and codes: literal copies of mimdsim.program.arrays (tested)
_KIND = 0
_SCOPE = 1
_CS = 2
_EX = 3
_HOST = 4
_ROWS = 5
_STEP_HOST_COPY = 1
_SCOPE_EXTERNAL = 1
# op table columns and codes: literal copies of mimdsim.program.arrays (tested)
_OP_KIND = 0
_OP_ARG = 1
_OP_LINK = 2
_OP_LO = 3
_OP_HI = 4
_OP_SNAP = 5
_OP_VARIES = 6
_OP_STEP = 0
_OP_BEGIN = 1


@njit(cache=True)
def split_increment(inc: int, c_cyc: int, e_cyc: int, g_cyc: int, h_cyc: int) -> tuple[int, int, int, int, int]:
    """How far a step moved the slowest tile's end (``inc``), split into (compute, exchange, global,
    host, sync): the tail of the critical IPU's phases, which run sync -> global -> exchange ->
    compute (host copies: sync -> host). Compute takes what it can of ``inc``, then exchange, global
    and host; sync (with any wait) gets the rest. An IPU that started the step behind the slowest one
    overlapped part of it with earlier steps, so only its tail counts and no category is negative.

    >>> split_increment(100, 30, 20, 0, 0), split_increment(40, 30, 20, 5, 0)
    ((30, 20, 0, 0, 50), (30, 10, 0, 0, 0))
    """
    rest = inc
    c = max(0, min(c_cyc, rest))
    rest -= c
    e = max(0, min(e_cyc, rest))
    rest -= e
    g = max(0, min(g_cyc, rest))
    rest -= g
    h = max(0, min(h_cyc, rest))
    rest -= h
    return c, e, g, h, rest


@njit(cache=True)
def _execute_step(
    s: int,
    row: int,
    step_table: np.ndarray,
    var_ptr: np.ndarray,
    var_max: np.ndarray,
    var_crit: np.ndarray,
    ex_phase: np.ndarray,
    ex_global: np.ndarray,
    host_cycles: np.ndarray,
    sync_internal: int,
    sync_external: int,
    tiles_per_ipu: int,
    clock: np.ndarray,
    old: int,
    rec: np.ndarray,
) -> int:
    """Run static step ``s`` once (``row`` of its compute set's tables) from IPU clocks ``clock``
    (max ``old``); record it; return the new max."""
    n_ipus = clock.shape[0]
    if step_table[s, _KIND] == _STEP_HOST_COPY:
        h = host_cycles[step_table[s, _HOST]]
        new = old + sync_external + h
        for i in range(n_ipus):
            clock[i] = new
        c_cyc = 0
        e_cyc = 0
        g_cyc = 0
        crit = 0
    else:
        h = 0
        external = step_table[s, _SCOPE] == _SCOPE_EXTERNAL
        sync = sync_external if external else sync_internal
        cs = step_table[s, _CS]
        ex = step_table[s, _EX]
        var = var_ptr[cs] + row if cs >= 0 else -1
        g_cyc = ex_global[ex] if ex >= 0 else 0
        new = np.iinfo(np.int64).min
        best = 0
        for i in range(n_ipus):
            v = (old if external else clock[i]) + sync + g_cyc
            if ex >= 0:
                v += ex_phase[ex, i]
            if var >= 0:
                v += var_max[var, i]
            clock[i] = v
            if v > new:  # strict: the lowest IPU, hence the lowest tile, wins ties
                new = v
                best = i
        c_cyc = var_max[var, best] if var >= 0 else 0
        e_cyc = ex_phase[ex, best] if ex >= 0 else 0
        crit = var_crit[var, best] if var >= 0 else best * tiles_per_ipu
    inc = new - old
    c_cyc, e_cyc, g_cyc, h, y_cyc = split_increment(inc, c_cyc, e_cyc, g_cyc, h)
    rec[REC_N, s] += 1
    rec[REC_CYCLES, s] += inc
    rec[REC_COMPUTE, s] += c_cyc
    rec[REC_EXCHANGE, s] += e_cyc
    rec[REC_GLOBAL, s] += g_cyc
    rec[REC_HOST, s] += h
    rec[REC_SYNC, s] += y_cyc
    if rec[REC_N, s] == 1 or inc > rec[REC_BEST, s]:
        rec[REC_BEST, s] = inc
        rec[REC_CRITICAL, s] = crit
        # the largest category; ties go to the first in CATEGORIES order
        bound = 0
        top = c_cyc
        if e_cyc > top:
            bound = 1
            top = e_cyc
        if g_cyc > top:
            bound = 2
            top = g_cyc
        if h > top:
            bound = 3
            top = h
        if y_cyc > top:
            bound = 4
        rec[REC_BOUND, s] = bound
    return new


@njit(cache=True)
def run_steps(
    ops: np.ndarray,
    step_table: np.ndarray,
    var_ptr: np.ndarray,
    var_max: np.ndarray,
    var_crit: np.ndarray,
    ex_phase: np.ndarray,
    ex_global: np.ndarray,
    host_cycles: np.ndarray,
    sync_internal: int,
    sync_external: int,
    tiles_per_ipu: int,
    extrapolate: bool,
    clock: np.ndarray,
    state: np.ndarray,
    stack: np.ndarray,
    snap_clock: np.ndarray,
    snap_rec: np.ndarray,
    rec: np.ndarray,
    log: np.ndarray,
    budget: int,
) -> int:
    """Run the op list from ``state`` until it ends or ``budget`` steps have run; return the steps run.

    ``clock[i]`` is the latest tile clock of IPU ``i`` (see the module docstring) and
    ``rec[field, s]`` the record table of static step ``s`` (``REC_*`` rows, zeros at
    the start). Compute set ``c`` in row ``r`` is variant ``var_ptr[c] + r`` of
    ``var_max``/``var_crit``; a step whose compute set has tables runs row ``i`` in
    iteration ``i`` of its innermost repeat. ``state`` (``ST_PC``, ``ST_DEPTH``, ``ST_MAX``), ``stack[depth] =
    (begin op, iteration)`` and ``clock``/``rec`` carry everything between calls, so a
    caller can run a long program in chunks (progress bar); the program has ended when
    ``state[ST_PC] == len(ops)``. Extrapolated iterations count towards ``budget`` and the
    returned number.

    The first ``log.shape[0]`` executed steps are logged: ``log[k]`` holds executed step
    ``k``'s static step, row and every IPU's clock before it (``LOG_*`` columns), from
    which :mod:`mimdsim.engines.fast_timeline` rebuilds every phase interval. No
    iteration that would be logged is extrapolated.

    NOTE: repeat extrapolation (``extrapolate``). For ``Repeat(count > 2)`` iterations 1
    and 2 are simulated. If iteration 2 moved every IPU clock by the same ``d`` (always
    true on one IPU, or with an external sync or host copy in the body), the state after
    it is the state before it shifted by ``d``. Every step is shift-invariant (barriers
    are maxima, costs are static, records read only differences and relative order), so
    each later iteration repeats iteration 2 exactly, shifted by ``d``: the engine adds
    ``count - 2`` times iteration 2's record deltas (executions, cycles and categories;
    critical tile and bound keep the first of equal increments, so they do not change)
    and ``(count - 2) * d`` to the clocks instead of simulating them. Otherwise (IPUs
    drifting apart under internal syncs, or a body that runs cycle tables, whose
    iterations differ) every iteration is simulated. The result is identical either way.
    """
    n_ops = ops.shape[0]
    n_ipus = clock.shape[0]
    pc = state[ST_PC]
    depth = state[ST_DEPTH]
    cur = state[ST_MAX]
    k_exec = state[ST_STEP]
    n_log = log.shape[0]
    done = 0
    while pc < n_ops and done < budget:
        kind = ops[pc, _OP_KIND]
        if kind == _OP_STEP:
            s = ops[pc, _OP_ARG]
            row = stack[depth - 1, 1] - 1 if step_table[s, _ROWS] > 1 else 0
            if k_exec < n_log:
                log[k_exec, LOG_STEP] = s
                log[k_exec, LOG_ROW] = row
                for i in range(n_ipus):
                    log[k_exec, LOG_CLOCK + i] = clock[i]
            cur = _execute_step(
                s,
                row,
                step_table,
                var_ptr,
                var_max,
                var_crit,
                ex_phase,
                ex_global,
                host_cycles,
                sync_internal,
                sync_external,
                tiles_per_ipu,
                clock,
                cur,
                rec,
            )
            done += 1
            k_exec += 1
            pc += 1
        elif kind == _OP_BEGIN:
            if ops[pc, _OP_ARG] == 0:
                pc = ops[pc, _OP_LINK] + 1
            else:
                stack[depth, 0] = pc
                stack[depth, 1] = 1
                depth += 1
                pc += 1
        else:
            begin = ops[pc, _OP_LINK]
            count = ops[begin, _OP_ARG]
            it = stack[depth - 1, 1]
            lo = ops[begin, _OP_LO]
            hi = ops[begin, _OP_HI]
            off = ops[begin, _OP_SNAP] - lo
            if ops[begin, _OP_VARIES]:
                pass  # iterations differ: simulate every one
            elif extrapolate and count > 2 and it == 1:
                for i in range(n_ipus):
                    snap_clock[depth - 1, i] = clock[i]
                for f in range(N_REC_SUMS):
                    for s in range(lo, hi):
                        snap_rec[f, off + s] = rec[f, s]
            elif extrapolate and count > 2 and it == 2 and k_exec >= n_log:
                d = clock[0] - snap_clock[depth - 1, 0]
                uniform = True
                for i in range(1, n_ipus):
                    if clock[i] - snap_clock[depth - 1, i] != d:
                        uniform = False
                        break
                if uniform:
                    k = count - 2
                    for s in range(lo, hi):
                        skipped = k * (rec[REC_N, s] - snap_rec[REC_N, off + s])
                        done += skipped
                        k_exec += skipped
                        for f in range(N_REC_SUMS):
                            rec[f, s] += k * (rec[f, s] - snap_rec[f, off + s])

                    for i in range(n_ipus):
                        clock[i] += k * d
                    cur += k * d
                    depth -= 1
                    pc += 1
                    continue
            if it < count:
                stack[depth - 1, 1] = it + 1
                pc = begin + 1
            else:
                depth -= 1
                pc += 1
    state[ST_PC] = pc
    state[ST_DEPTH] = depth
    state[ST_MAX] = cur
    state[ST_STEP] = k_exec
    return done


@njit(cache=True)
def tile_totals(
    step_table: np.ndarray,
    rec_n: np.ndarray,
    compute: np.ndarray,
    compute_excl: np.ndarray,
    ex_phase: np.ndarray,
    ex_global: np.ndarray,
    host_cycles: np.ndarray,
    total: int,
    n_tiles: int,
    tiles_per_ipu: int,
) -> np.ndarray:
    """Per-tile accumulators ``out[k, t]``, ``k`` = compute, compute_excl_idle, exchange,
    global_exchange, host_exchange, sync, from each static step's executions ``rec_n``.

    ``compute``/``compute_excl`` are the tiles' compute totals (summed over compute-set
    variants by the caller); the exchange, global and host parts are sums over static
    steps of executions x the step's (static) cost; ``sync`` is ``total`` minus a tile's
    other categories (docs/concepts.md: they add up to the total, the trailing wait
    included).
    """
    n_ipus = n_tiles // tiles_per_ipu
    ex_ipu = np.zeros(n_ipus, np.int64)
    g = 0
    h = 0
    for s in range(step_table.shape[0]):
        n = rec_n[s]
        if step_table[s, _KIND] == _STEP_HOST_COPY:
            h += n * host_cycles[step_table[s, _HOST]]
            continue
        ex = step_table[s, _EX]
        if ex >= 0:
            g += n * ex_global[ex]
            for i in range(n_ipus):
                ex_ipu[i] += n * ex_phase[ex, i]
    out = np.zeros((6, n_tiles), np.int64)
    for t in range(n_tiles):
        out[0, t] = compute[t]
        out[1, t] = compute_excl[t]
        out[2, t] = ex_ipu[t // tiles_per_ipu]
        out[3, t] = g
        out[4, t] = h
        out[5, t] = total - compute[t] - out[2, t] - g - h
    return out
