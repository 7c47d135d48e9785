"""PopLibs' own cycle estimators for the PopLibs vertices a Poplar program runs.

Each function re-derives the formula that PopLibs registers for one vertex
(``graphcore/poplibs`` branch ``sdk-release-2.6``, commit ``d29b6c10``; the file and
function are named in each docstring; no code is copied), for 4-byte elements (float,
int, unsigned) unless a parameter says otherwise. ``n_workers`` is the target's
``getNumWorkerContexts()`` (the machine's ``num_worker_contexts``); the vector width of a
4-byte element on the 64-bit data path is 2.

Units, as in PopLibs: functions named ``*_tile_cycles`` are MultiVertex / supervisor
estimates in tile cycles (``W x`` the per-worker cycles plus a supervisor term); the
others are worker-vertex estimates in thread cycles of one context.

The fixed cost of a Poplar on-tile ``Copy`` is not a PopLibs figure: it comes from a
measurement on an IPU21 (see :data:`ON_TILE_COPY_CYCLES`).
"""

from __future__ import annotations

__all__ = [
    "VECTOR_WIDTH_32BIT",
    "BASIC_OP_SUPERVISOR_OVERHEAD_CYCLES",
    "ON_TILE_COPY_CYCLES",
    "dynamic_slice_1d_tile_cycles",
    "broadcast_scalar_1d_tile_cycles",
    "binary_op_1d_tile_cycles",
    "cast_1d_tile_cycles",
    "poprand_uniform_int_tile_cycles",
    "reduce_strided_cycles",
    "scaled_subtract_supervisor_tile_cycles",
    "on_tile_copy_tile_cycles",
]

VECTOR_WIDTH_32BIT = 2
"""Elements of a 4-byte type per 64-bit vector (``getVectorWidth``)."""

BASIC_OP_SUPERVISOR_OVERHEAD_CYCLES = 11
"""``basicOpSupervisorOverhead`` (popops/PerformanceEstimation.cpp:19-30), without the ScaledPtr64 +2."""

ON_TILE_COPY_CYCLES = 288
"""Tile cycles of a finalized 6-worker local copy of a small tensor, measured on an IPU21
(an unattributed public IPU21 cost model whose comments say its constants come from
``poplar::Target`` and measurements; confidence low-medium). Poplar costs its ``Copy``
programs internally and PopLibs has no estimator for them."""


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def dynamic_slice_1d_tile_cycles(region_size: int, n_sub_elements: int = 1, n_workers: int = 6) -> int:
    """``DynamicSlice1D`` / ``DynamicUpdateSlice1D`` of a 32-bit type (popops/popopsCycleEstimators.cpp
    ``getDynamicSlice1DEstimate`` 1754-1782; the update reuses it at 2114-2117).

    ``25 + W x (35 + (24 + 2c) x s)`` with ``e = ceil(r / W)`` elements per worker and
    ``c = floor(e / 2)`` vectors.

    >>> dynamic_slice_1d_tile_cycles(2), dynamic_slice_1d_tile_cycles(96)   # PL worked values
    (379, 475)
    """
    e = _ceil(region_size, n_workers)
    c = e // VECTOR_WIDTH_32BIT
    return (11 + 1 + 6 + 1 + 6) + n_workers * (35 + (24 + 2 * c) * n_sub_elements)


def broadcast_scalar_1d_tile_cycles(n: int, *, integer: bool = True, n_workers: int = 6) -> int:
    """``BroadcastScalar1D[InPlace]`` (popops/popopsCycleEstimators.cpp 124-190).

    ``W x (20 + ceil(ceil(n/W) / epl) x cpl) + 11``; integer ops ``epl = 1, cpl = 6``,
    float ADD/SUB/MUL ``epl = 2, cpl = 2``.

    >>> broadcast_scalar_1d_tile_cycles(1)   # the loop counter (PL)
    167
    """
    epl, cpl = (1, 6) if integer else (VECTOR_WIDTH_32BIT, 2)
    return n_workers * (20 + _ceil(_ceil(n, n_workers), epl) * cpl) + BASIC_OP_SUPERVISOR_OVERHEAD_CYCLES


def elementwise_1d_tile_cycles(
    n: int, *, worker_overhead: int = 29, cycles_per_vector: int = 1, loop_overhead: int = 2, n_workers: int = 6
) -> int:
    """A float ``BinaryOp1D`` / ``UnaryOp1D`` MultiVertex over ``n`` elements, float2 vectors (popops/popopsCycleEstimators.cpp
    1509-1523, 1613-1661; inner loop ``binaryOpInnerLoopCycles`` 62-83): ``W x (worker_overhead + inner) + 11``,
    ``inner = ceil(ceil(n/W) / 2) x (cycles_per_vector + loop_overhead)``. ADD/SUB/MUL: 1 cycle per vector and 2 of loop
    (the defaults); SQRT and DIVIDE: 10 per vector and 5 of loop.

    >>> elementwise_1d_tile_cycles(96), elementwise_1d_tile_cycles(12, cycles_per_vector=10, loop_overhead=5)
    (329, 275)
    """
    inner = _ceil(_ceil(n, n_workers), VECTOR_WIDTH_32BIT) * (cycles_per_vector + loop_overhead)
    return n_workers * (worker_overhead + inner) + BASIC_OP_SUPERVISOR_OVERHEAD_CYCLES


def binary_op_1d_tile_cycles(n: int, *, in_place: bool, n_workers: int = 6) -> int:
    """``BinaryOp1D[InPlace]`` float ADD/SUB/MUL: :func:`elementwise_1d_tile_cycles` with a worker overhead of ``29``
    (``58`` in place).

    >>> binary_op_1d_tile_cycles(2, in_place=False), binary_op_1d_tile_cycles(96, in_place=True)
    (203, 503)
    """
    return elementwise_1d_tile_cycles(n, worker_overhead=58 if in_place else 29, n_workers=n_workers)


def tf_adam_update_tile_cycles(n_weights: int, n_workers: int = 6) -> int:
    """Adam on a tile holding ``n_weights`` weights, as IPU TensorFlow lowers it: the elementwise ops for ``m``, ``v``
    and ``w`` -- 8 one-cycle ops (6 multiply/add, a square, a subtract) and SQRT and DIVIDE -- each a MultiVertex
    (:func:`elementwise_1d_tile_cycles`); none on a tile with no weights.

    >>> tf_adam_update_tile_cycles(12)
    2174
    """
    if n_weights <= 0:
        return 0
    cheap = 8 * elementwise_1d_tile_cycles(n_weights, n_workers=n_workers)
    costly = 2 * elementwise_1d_tile_cycles(n_weights, cycles_per_vector=10, loop_overhead=5, n_workers=n_workers)
    return cheap + costly


def cast_1d_tile_cycles(n: int, n_workers: int = 6) -> int:
    """``Cast1D`` between int/unsigned and float (popops/PerformanceEstimation.cpp 356-365,
    ``castWorkerCycles`` 206-330): ``12 + W x (19 + 2 ceil(n/W) + 18)``.

    >>> cast_1d_tile_cycles(200), cast_1d_tile_cycles(100), cast_1d_tile_cycles(32)
    (642, 438, 306)
    """
    return 12 + n_workers * (19 + 2 * _ceil(n, n_workers) + 18)


def poprand_uniform_int_tile_cycles(n: int, n_workers: int = 6) -> int:
    """``poprand::Uniform<int>`` (poprand/poprandCycleEstimators.cpp 10-47):
    ``4 + 22 W + 6 floor(n/2) + 2 (n mod 2)``.

    >>> poprand_uniform_int_tile_cycles(24), poprand_uniform_int_tile_cycles(6)
    (208, 154)
    """
    return 4 + 22 * n_workers + 6 * (n // 2) + 2 * (n % 2)


def reduce_strided_cycles(n_outputs: int, n_partials: int, n_outer_strides: int = 1) -> int:
    """``popops::Reduce`` with the STRIDED_REDUCE specialisation, float ADD
    (popops/reduction/CycleEstimationFunctions.cpp 210-288), thread cycles:
    ``16 + ceil(n_out / 2) x (8 + s x (3 + (p - 1)))``.

    >>> reduce_strided_cycles(6, 30), reduce_strided_cycles(771, 6)   # PL worked values
    (136, 6192)
    """
    return 16 + _ceil(n_outputs, 2) * (8 + n_outer_strides * (3 + (n_partials - 1)))


def scaled_subtract_supervisor_tile_cycles(n: int, n_workers: int = 6) -> int:
    """``ScaledSubtractSupervisor<float>`` (popops/PerformanceEstimation.cpp
    ``getScaledArithmeticSupervisorCycleEstimate`` 473-625), data and scale float, not
    memory-constrained: supervisor ``21 + 11 + (7 | 13) + 12 + 6 + 7``; per worker
    ``15 + (6 + 3 (v - 1) if v > 0) + 2 + 1 (+ 8 if a remainder) + 1`` for ``v = floor(floor(n/2) / W)``.

    >>> scaled_subtract_supervisor_tile_cycles(4624)   # PL: layer 0's weights per tile
    7126
    """
    vectors, rem = divmod(n, VECTOR_WIDTH_32BIT)
    v = vectors // n_workers
    sup = 21 + 11 + (7 if rem == 0 else 13) + 12 + 6 + 7
    worker = 15 + (6 + 3 * (v - 1) if v > 0 else 0) + 2 + 1 + (8 if rem else 0) + 1
    return sup + n_workers * worker


def on_tile_copy_tile_cycles(n_bytes: int, memcpy_bytes_per_cycle: int) -> int:
    """A Poplar on-tile ``Copy`` (or a zeroing copy from a constant) of ``n_bytes`` on one tile:
    :data:`ON_TILE_COPY_CYCLES` plus the bytes at ``memcpy_bytes_per_cycle``
    (``getMemcpyBytesPerCycle``). 0 bytes cost nothing.

    >>> on_tile_copy_tile_cycles(384, 8)
    336
    """
    if n_bytes <= 0:
        return 0
    return ON_TILE_COPY_CYCLES + _ceil(n_bytes, memcpy_bytes_per_cycle)
