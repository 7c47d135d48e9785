"""Cycle estimators of the codelets the sparse SNN training step runs (GSNN PC `Build`/`Build_grad` and CC).

The paper's code registers no cycle estimates (every vertex has the placeholder 1, GSNN CC), so
each estimator here is derived from the codelet's inner loop, in the style of the PopLibs
estimators (GC-PG, POPLIBS): ``overhead + iterations x cycles per iteration``.

Derivation rules, used throughout:

* A worker issues one instruction per *thread cycle* (barrel, GC-BLOG-TLP); a load's 6-cycle
  latency is hidden by the barrel (JIA19), so every instruction counts 1 thread cycle.
* The paper's codelets are C++ (``custom_codelet.cpp``). Loops are counted instruction by
  instruction as the compiler would emit them without bundling: the tut6 calibration
  (T6 profiles (model vs hardware)) found a 4-instruction scalar C++ MAC loop costs about 4 thread
  cycles per element on hardware, i.e. one cycle per instruction.
* Float vectors are 2 wide (64-bit data path, GC-BLOG-TLP): a float2 load/add is 1 instruction.
* ``VERTEX_OVERHEAD_THREAD_CYCLES`` = 20: entry, field pointer loads and exit of a worker
  vertex, the base of PopLibs' UnaryOp2D estimator (GC-PG, POPLIBS).
* Elementwise PopLibs MultiVertex operations use PopLibs' own formula (PL):
  ``11 + 6 x (worker_overhead + ceil(ceil(n/6)/2) x (cycles_per_vector + loop_overhead))``
  tile cycles.

Every function takes numpy arrays of spike counts and returns int64 thread cycles (worker
vertices) or tile cycles (supervisor vertices, named ``*_tile_cycles``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "VERTEX_OVERHEAD_THREAD_CYCLES",
    "state_update_cycles",
    "dense_flags_cycles",
    "dense_to_sparse_cycles",
    "tile_combine_cycles",
    "final_combine_cycles",
    "state_grad_cycles",
    "SoftDoubleOp",
    "SOFT_DOUBLE_OPS",
    "SOFT_DOUBLE_SURROGATE",
    "soft_double_surrogate_cycles",
    "state_out_grad_cycles",
    "weight_grad_cycles",
    "input_grad_cycles",
    "reduce_stage1_cycles",
    "sparse_to_dense_cycles",
    "time_sum_xent_cycles",
]

VERTEX_OVERHEAD_THREAD_CYCLES = 20
"""Entry + field loads + exit of a C++ worker vertex (PopLibs UnaryOp2D base, GC-PG, POPLIBS)."""

# Per-iteration instruction counts (one thread cycle each), from the loop bodies of GSNN CC.
_ID_LOOP = 5
"""Sparse input loop per id and neuron pair: ld32 id, address arithmetic, ld64 weight pair,
f32v2add, loop branch (brnzdec)."""
_STATE_UPDATE_PER_PAIR = 10
"""State update of a neuron pair: ld64 V, 2 compares with theta, 2 selects of the reset
multiplier, f32v2mul by alpha, f32v2 fma of the input, st64 V, pointer increment, branch."""
_FLAG_VERTEX = 6
"""DenseSpikesMultiThresh body: ld V, 2 compares, 2 st32 flags, return."""
_SCAN_PER_FLAG = 3
"""DenseToSparse scan per flag: ld32 flag, test, branch."""
_WRITE_PER_HIT = 2
"""Per listed id: st32 id, increment count."""
_COPY_PER_ID = 3
"""Copying one id between lists: ld32, st32, increment/branch."""
_LIST_OVERHEAD = 5
"""Setting up one source list in a combine: load pointer and count, compare with the cap."""
_SLOT_SCAN = 4
"""State-grad scan per output slot: ld32 id, subtract tile start, unsigned range compare, branch."""
_SUPERSPIKE_FLOAT = 12
"""A slot whose id is on this tile, besides the surrogate's soft-double calls: ld V, sub theta,
abs, mul beta, add 1, ld g, mul, add to dL/dV, st (12). The surrogate
``one / std::pow(beta*|x| + one, 2)`` is the same source as the 2022-09-12 op's and runs in
software double precision likewise (:data:`SOFT_DOUBLE_SURROGATE`)."""
_WGRAD_PER_ID = 6
"""Weight-grad per id and neuron pair: ld32 id, address, ld64 dW, f32v2add of g-hat, st64, branch."""
_WGRAD_PER_SAMPLE = 5
"""Per batch element of a weight-grad vertex: load count, g-hat pair, pointers."""
_IGRAD_PER_ID = 4
"""Input-grad per slot: ld32 id, address, horizontal add of the pair products, st32 (+branch
folded in the pair loop below)."""
_IGRAD_PER_PAIR = 3
"""Input-grad per neuron pair of a slot: ld64 W pair, f32v2mul by g-hat, f32v2add accumulate."""
_REDUCE1_PER_PARTIAL = 2
"""Stage-1 reduce per partial: ld32, f32add."""
_REDUCE1_SKIP = 3
"""Stage-1 reduce vertex of an inactive slot: load count, compare, exit."""


def _ceil_div(a: np.ndarray | int, b: int) -> np.ndarray:
    return -(-np.asarray(a, np.int64) // b)


def state_update_cycles(n_in: np.ndarray, k: int) -> np.ndarray:
    """``LIFStateUpdateInPlace{Two,Multi}NeuronSIMD`` per (tile, batch element).

    ``k/2`` neuron pairs, each looping over the ``n_in`` true input ids (the multi-neuron
    vertex re-reads the ids per pair, GSNN CC) and then updating its state:
    ``20 + ceil(k/2) x (5 n_in + 10)``.

    >>> state_update_cycles(np.array([0, 14]), 2).tolist()
    [30, 100]
    """
    pairs = _ceil_div(k, 2)
    return VERTEX_OVERHEAD_THREAD_CYCLES + pairs * (_ID_LOOP * np.asarray(n_in, np.int64) + _STATE_UPDATE_PER_PAIR)


def dense_flags_cycles() -> int:
    """``DenseSpikesMultiThresh`` per (neuron, batch element): ``20 + 6`` (overhead-dominated)."""
    return VERTEX_OVERHEAD_THREAD_CYCLES + _FLAG_VERTEX


def dense_to_sparse_cycles(slice_len: int | np.ndarray, hits: np.ndarray) -> np.ndarray:
    """``DenseToSparseSpikes`` per (batch, threshold, slice): ``20 + 3 x slice + 2 x hits``."""
    return (
        VERTEX_OVERHEAD_THREAD_CYCLES
        + _SCAN_PER_FLAG * np.asarray(slice_len, np.int64)
        + _WRITE_PER_HIT * np.asarray(hits, np.int64)
    )


def tile_combine_cycles(n_lists: int, n_ids: np.ndarray) -> np.ndarray:
    """Stage 2 ``...Combine_singleThresh`` per spike-gen tile: ``20 + 5 x lists + 3 x ids``."""
    return VERTEX_OVERHEAD_THREAD_CYCLES + _LIST_OVERHEAD * n_lists + _COPY_PER_ID * np.asarray(n_ids, np.int64)


def final_combine_cycles(n_lists: int, n_true: np.ndarray, n_valid: np.ndarray) -> np.ndarray:
    """``LIFOutSpikesMultiThreshsCombine`` per (layer, batch): two passes over ``n_lists`` lists.

    ``20 + 2 x 5 x lists + 3 x valid + 4`` (the true ids and then the gradient-only ids
    are copied, ``valid`` in all; 4 for writing both counts).
    """
    return VERTEX_OVERHEAD_THREAD_CYCLES + 2 * _LIST_OVERHEAD * n_lists + _COPY_PER_ID * np.asarray(n_valid, np.int64) + 4


def state_grad_cycles(n_valid: np.ndarray, hits: np.ndarray, soft_double_cycles: int | None = None) -> np.ndarray:
    """``calcLIFStateGrad_stateWise`` per (tile, batch): ``20 + 4 x valid + (12 + soft_double) x hits``.

    ``hits`` (slots whose id is on this tile) may be fractional: its expectation
    ``valid x k / N`` when only counts are known; the result is rounded up.
    ``soft_double_cycles`` is the surrogate's soft-double part (None: the typical 726).

    >>> state_grad_cycles(np.array([14]), np.array([1.0])).tolist()
    [814]
    """
    sd = soft_double_surrogate_cycles() if soft_double_cycles is None else int(soft_double_cycles)
    v = np.asarray(n_valid, np.int64)
    return (
        VERTEX_OVERHEAD_THREAD_CYCLES
        + _SLOT_SCAN * v
        + np.ceil((_SUPERSPIKE_FLOAT + sd) * np.asarray(hits, float)).astype(np.int64)
    )


# ---- the 2022-09-12 state gradient (GSNN CC@2b0fe90:865-891, ``LIFStateOutGrad``) ------------
@dataclass(frozen=True)
class SoftDoubleOp:
    """Thread cycles of one software double-precision routine on a 32-bit core: (low, typical, high).

    The IPU has no 64-bit floating point ("implemented in software", Poplar and PopLibs User
    Guide, supported types); no cycle figure for its soft-double routines is published. The
    range is counted from the operations a soft-float routine of that kind executes on a
    32-bit integer data path (compiler-rt's ``fp_extend_impl``, ``fp_mul_impl``,
    ``fp_div_impl``, ``fp_add_impl``, ``fp_trunc_impl``, one instruction per thread cycle),
    plus the call, the return and the register-pair moves (about 5): docs/snn.md gives the
    derivation.
    """

    name: str
    low: int
    typical: int
    high: int


SOFT_DOUBLE_OPS: dict[str, SoftDoubleOp] = {
    # unpack sign/exponent/mantissa, rebias, shift the mantissa into a register pair, pack
    "extend": SoftDoubleOp("float -> double (__extendsfdf2)", 15, 22, 30),
    # unpack two register pairs, special cases, 53x53-bit product from 32x32->32 multiplies
    # (the IPU's integer multiply gives 32 bits: 16-bit halves), normalise, round, pack
    "mul": SoftDoubleOp("double multiply (__muldf3)", 60, 100, 150),
    # reciprocal by Newton-Raphson in 32- then 64-bit fixed point (3-4 wide multiplies each),
    # quotient correction, round, pack: the costliest and the most implementation-dependent
    "div": SoftDoubleOp("double divide (__divdf3)", 200, 350, 600),
    # unpack, align by a 64-bit shift of a register pair, add with carry, normalise (clz), round, pack
    "add": SoftDoubleOp("double add (__adddf3)", 50, 75, 110),
    # unpack, rebias, round to nearest even on 29 dropped bits, overflow/denormal checks, pack
    "trunc": SoftDoubleOp("double -> float (__truncdfsf2)", 25, 35, 50),
}
"""The soft-double routines the 2022-09-12 surrogate calls, with their thread-cycle ranges."""

SOFT_DOUBLE_SURROGATE: dict[str, int] = {"extend": 3, "mul": 2, "div": 1, "add": 1, "trunc": 1}
"""Soft-double operations per slot of ``LIFStateOutGrad``: ``one / std::pow(beta*|x| + one, 2)``
returns double (C++11: ``std::pow(float, int)`` promotes), LLVM turns ``pow(y, 2.0)`` into
``y*y``; then the divide, the multiply by the slot's gradient and the add into the float row
run in double, and the sum is truncated back: 3 extensions (y, the gradient, dL/dV[id]),
2 multiplies, 1 divide, 1 add, 1 truncation (GSNN CC@2b0fe90:865-891, built with
``popc -O3`` and no fast-math, Makefile@2b0fe90:6)."""


def soft_double_surrogate_cycles(which: str = "typical") -> int:
    """Thread cycles of the soft-double part of one surrogate slot: ``low``, ``typical`` or ``high``.

    >>> soft_double_surrogate_cycles("low"), soft_double_surrogate_cycles(), soft_double_surrogate_cycles("high")
    (440, 726, 1150)
    """
    return sum(n * getattr(SOFT_DOUBLE_OPS[op], which) for op, n in SOFT_DOUBLE_SURROGATE.items())


_OLD_SLOT_FLOAT = 13
"""``LIFStateOutGrad`` per slot besides the soft-double calls: ld32 id, address, ld V[id],
ld θ1[id], sub, abs, mul β, add 1, ld the slot's gradient, ld dL/dV[id], st32 dL/dV[id],
counter and branch (2)."""


def state_out_grad_cycles(n_valid: np.ndarray, soft_double_cycles: int | None = None) -> np.ndarray:
    """``LIFStateOutGrad`` (the 2022-09-12 op's state gradient, one worker vertex per (layer, sample)):
    a scalar loop over the ``end`` = valid slots, ``20 + valid x (13 + soft_double)``.

    ``soft_double_cycles`` is the soft-double part of a slot (None: the typical
    :func:`soft_double_surrogate_cycles`, 726).

    >>> state_out_grad_cycles(np.array([0, 14])).tolist()
    [20, 10366]
    """
    sd = soft_double_surrogate_cycles() if soft_double_cycles is None else int(soft_double_cycles)
    return VERTEX_OVERHEAD_THREAD_CYCLES + np.asarray(n_valid, np.int64) * (_OLD_SLOT_FLOAT + sd)


def weight_grad_cycles(n_true_per_sample: np.ndarray, k: int) -> np.ndarray:
    """``LIFWeightsGrad{Two,Multi}NeuronSIMD``: one vertex per worker over its batch share.

    ``20 + sum_b (5 + ceil(k/2) x 6 x n_true[b])``, summed over the last axis (the
    worker's samples), so ``[steps, samples]`` gives one cost per step.

    >>> weight_grad_cycles(np.array([[1, 2], [0, 0]]), 2).tolist()
    [48, 30]
    """
    pairs = int(_ceil_div(k, 2))
    n = np.asarray(n_true_per_sample, np.int64)
    return VERTEX_OVERHEAD_THREAD_CYCLES + (_WGRAD_PER_SAMPLE + pairs * _WGRAD_PER_ID * n).sum(axis=-1)


def input_grad_cycles(n_valid_in: np.ndarray, k: int) -> np.ndarray:
    """``LIFInpSpikesGrad{TwoRow,MultiRow}SIMD`` per (tile, batch): ``20 + valid x (4 + 3 ceil(k/2))``."""
    pairs = _ceil_div(k, 2)
    return VERTEX_OVERHEAD_THREAD_CYCLES + np.asarray(n_valid_in, np.int64) * (_IGRAD_PER_ID + _IGRAD_PER_PAIR * pairs)


def reduce_stage1_cycles(group_size: int, active: bool) -> int:
    """``CustomSparseReduceStage1`` per (group, batch, slot): ``20 + 2 g`` if active, else ``20 + 3``."""
    if not active:
        return VERTEX_OVERHEAD_THREAD_CYCLES + _REDUCE1_SKIP
    return VERTEX_OVERHEAD_THREAD_CYCLES + _REDUCE1_PER_PARTIAL * group_size


def sparse_to_dense_cycles(n_slots: int) -> int:
    """``Sparse2Dense`` / ``Sparse2DenseGradMultiThresh`` per (t, b): ``20 + 3 x S``
    (per slot: ld32 id, st32 the one / ld the gradient, branch)."""
    return VERTEX_OVERHEAD_THREAD_CYCLES + _COPY_PER_ID * int(n_slots)


def time_sum_xent_cycles(n_timesteps: int, n_classes: int) -> int:
    """Sum of the dense output spikes over time, softmax cross-entropy and its gradient for one
    sample (TensorFlow's ops on the IPU, one vertex): ``20 + T x ceil(C/2) + 16 x C`` (float2
    adds; per class EXP, LOG, divide and the gradient)."""
    return VERTEX_OVERHEAD_THREAD_CYCLES + n_timesteps * -(-n_classes // 2) + 16 * n_classes
