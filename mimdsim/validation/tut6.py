"""Poplar tutorial 6 (optimised matrix-vector product) rebuilt as a mimdsim program.

This is the simulator's calibration case (``T6``): a
``rows x cols`` fp32 matrix times a ``cols`` fp32 vector on one IPU, the default
10000 x 1000 of the tutorial. Everything here follows the tutorial's own code:

* :func:`plan_tut6` is the tutorial's planner: every row is cut into ``S`` column
  segments, ``S = 1 .. cols-1`` is tried, the first strictly cheapest wins (ties go to
  the smaller ``S``) and the largest cost seen is recorded ("Worst cost seen").
* :func:`tut6_mapping` is its tile mapping: segment ``i`` covers
  ``[floor(i*C/S), floor((i+1)*C/S))``; dot vertex ``k = i*R + r`` (segment-major) sits on
  tile ``floor(k*T/(S*R))`` with its matrix slice and partial sum; the reduce vertex and
  output of row ``r`` on tile ``floor(r*T/R)``; input-vector element ``j`` on tile
  ``floor(j*T/C)``.
* :func:`build_tut6_program` turns it into the BSP program the tutorial's engine runs:
  host copies of the vector and the matrix (with ``rearrange_matrix``, followed by the
  on-device rearrangement of the streamed matrix, :func:`matrix_rearrangement`),
  superstep ``mulCS`` (sync, exchange E1 = one multicast per source tile of its vector
  words to every other tile whose dot vertices read them, then the dot products),
  superstep ``reduceCS`` (sync, exchange E2 = partial sums to the reducer tiles, point to
  point, then the reductions) and the host copy of the result.

Vertex costs (thread cycles, one vertex per worker context):

* ``vertex_cost="estimate"`` (default): the tutorial's registered estimates, which are
  what the Poplar IPU Model charges: DotProductVertex ``5 + floor((n+1)/2)`` for a slice
  of ``n`` elements, ReduceVertex ``5 + floor((S+1)/2)``.
* ``vertex_cost="hardware"``: a **fitted calibration knob**, not a derived cost. On a
  real Mk2 the compiled scalar C++ loops run instead of the estimates and the profile
  shows 7.4x more compute (T6 profiles (model vs hardware)): about 590 thread cycles per
  143-element dot vertex, i.e. about 4 thread cycles per element. The knob charges
  ``5 + HARDWARE_THREAD_CYCLES_PER_ELEMENT * n`` (``n`` elements of either vertex) with
  ``HARDWARE_THREAD_CYCLES_PER_ELEMENT = 4`` read off that one profile; it has no
  other support and should not be reused for other codelets.

:mod:`mimdsim.validation.tut6_rows` compares the simulation with every published
figure (``python -m mimdsim.validation.tut6_rows --markdown docs/validation_tut6.md``);
:mod:`mimdsim.validation.tut6_exchange` derives the per-message exchange cost from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mimdsim.arch import MachineSpec, load_machine
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder, ProgramBuilder
from mimdsim.program.ir import Exchange, Program

__all__ = [
    "WORD_BYTES",
    "VERTEX_OVERHEAD_THREAD_CYCLES",
    "HARDWARE_THREAD_CYCLES_PER_ELEMENT",
    "PlanCost",
    "Tut6Plan",
    "plan_cost",
    "plan_tut6",
    "Tut6Mapping",
    "tut6_mapping",
    "dot_vertex_cycles",
    "reduce_vertex_cycles",
    "build_tut6_program",
    "tut6_machine",
    "TUT6_CONFIGS",
    "PUBLISHED",
    "REARRANGES_MATRIX",
    "matrix_rearrangement",
]

VertexCost = Literal["estimate", "hardware"]

WORD_BYTES = 4
"""Bytes of one fp32 element."""

VERTEX_OVERHEAD_THREAD_CYCLES = 5
"""Fixed part of both registered estimates (``5 + ...``)."""

HARDWARE_THREAD_CYCLES_PER_ELEMENT = 4
"""Fitted knob of ``vertex_cost="hardware"``: thread cycles per element of the compiled
C++ loops, read off the tut6 Mk2 hardware profile (28,300 / 48 ~ 590 thread cycles per
143-element dot vertex; T6 profiles (model vs hardware)). Not derived from anything else."""


# ---------------------------------------------------------------------------
# planner
# ---------------------------------------------------------------------------
def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PlanCost:
    """The planner's cost terms (tile cycles) for one split ``S``."""

    split: int
    total: int
    compute: int
    exchange: int
    reduce_exchange: int
    reduce_compute: int

    def terms(self) -> tuple[int, int, int, int]:
        """``(compute, exchange, reduce_exchange, reduce_compute)``, in the tutorial's print order."""
        return (self.compute, self.exchange, self.reduce_exchange, self.reduce_compute)


def plan_cost(split: int, rows: int, cols: int, n_tiles: int, n_workers: int = 6, bytes_per_cycle: int = 4) -> PlanCost:
    """The tutorial planner's estimate for cutting every row into ``split`` segments.

    >>> plan_cost(7, 10000, 1000, 1472).terms()
    (3696, 143, 49, 108)
    """
    vmax = max(_ceil_div(rows * split, n_tiles), 1)
    seg = _ceil_div(cols, split)
    c_dot = VERTEX_OVERHEAD_THREAD_CYCLES + (seg + 1) // 2
    compute = _ceil_div(vmax, n_workers) * n_workers * c_dot
    exchange = _ceil_div(vmax, rows) * seg * WORD_BYTES // bytes_per_cycle
    vr = max(_ceil_div(rows, n_tiles), 1)
    c_red = VERTEX_OVERHEAD_THREAD_CYCLES + (split + 1) // 2
    reduce_compute = _ceil_div(vr, n_workers) * n_workers * c_red
    reduce_exchange = vr * split * WORD_BYTES // bytes_per_cycle
    total = compute + exchange + reduce_exchange + reduce_compute
    return PlanCost(split, total, compute, exchange, reduce_exchange, reduce_compute)


@dataclass(frozen=True)
class Tut6Plan:
    """The planner's choice: the best split, its four terms and the worst cost seen."""

    rows: int
    cols: int
    n_tiles: int
    n_workers: int
    bytes_per_cycle: int
    best: PlanCost
    worst: PlanCost
    candidates: tuple[PlanCost, ...]

    @property
    def split(self) -> int:
        return self.best.split

    @property
    def total(self) -> int:
        return self.best.total

    @property
    def compute(self) -> int:
        return self.best.compute

    @property
    def exchange(self) -> int:
        return self.best.exchange

    @property
    def reduce_exchange(self) -> int:
        return self.best.reduce_exchange

    @property
    def reduce_compute(self) -> int:
        return self.best.reduce_compute

    @property
    def worst_cost(self) -> int:
        """The tutorial's "Worst cost seen"."""
        return self.worst.total

    def nearest(self, n: int = 6) -> list[PlanCost]:
        """The ``n`` cheapest splits, cheapest first (ties to the smaller split)."""
        return sorted(self.candidates, key=lambda c: (c.total, c.split))[:n]


def plan_tut6(rows: int, cols: int, n_tiles: int, n_workers: int = 6, bytes_per_cycle: int = 4) -> Tut6Plan:
    """The tutorial's planner: try ``S = 1 .. cols-1``, keep the first strictly cheapest.

    >>> p = plan_tut6(10000, 1000, 1472)
    >>> (p.split, p.total, p.worst_cost)
    (7, 3996, 53807)
    """
    if rows < 1 or cols < 2 or n_tiles < 1:
        raise ValueError(f"plan_tut6 needs rows >= 1, cols >= 2, n_tiles >= 1 (got {rows}, {cols}, {n_tiles})")
    cands = tuple(plan_cost(s, rows, cols, n_tiles, n_workers, bytes_per_cycle) for s in range(1, cols))
    best = cands[0]
    worst = cands[0]
    for c in cands[1:]:
        if c.total < best.total:
            best = c
        if c.total > worst.total:
            worst = c
    return Tut6Plan(rows, cols, n_tiles, n_workers, bytes_per_cycle, best, worst, cands)


# ---------------------------------------------------------------------------
# mapping
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Tut6Mapping:
    """Where every tensor element and vertex of the tutorial lives, and what E1/E2 move.

    Arrays: ``seg_start`` (``S+1`` segment boundaries), ``dot_tile[k]`` for dot vertex
    ``k = i*R + r``, ``reduce_tile[r]``, ``vec_tile[j]``. E1 is given as one multicast per
    (source tile, segment): ``e1_src[m]`` sends ``e1_words[m]`` words to tiles
    ``e1_dst[e1_ptr[m]:e1_ptr[m+1]]``; E2 as point-to-point pairs ``(e2_src, e2_dst)`` of
    ``e2_words`` words.
    """

    rows: int
    cols: int
    n_tiles: int
    split: int
    seg_start: np.ndarray
    dot_tile: np.ndarray
    reduce_tile: np.ndarray
    vec_tile: np.ndarray
    e1_src: np.ndarray
    e1_ptr: np.ndarray
    e1_dst: np.ndarray
    e1_words: np.ndarray
    e2_src: np.ndarray
    e2_dst: np.ndarray
    e2_words: np.ndarray

    @property
    def seg_len(self) -> np.ndarray:
        return np.diff(self.seg_start)

    @property
    def dot_segment(self) -> np.ndarray:
        """Segment of dot vertex ``k``."""
        return np.repeat(np.arange(self.split, dtype=np.int64), self.rows)

    def segment_counts(self) -> np.ndarray:
        """``[tile, segment]`` -> dot vertices of that segment on that tile."""
        flat = self.dot_tile * self.split + self.dot_segment
        return np.bincount(flat, minlength=self.n_tiles * self.split).reshape(self.n_tiles, self.split)

    def dot_vertices_per_tile(self) -> np.ndarray:
        return np.bincount(self.dot_tile, minlength=self.n_tiles)

    def reduce_rows_per_tile(self) -> np.ndarray:
        return np.bincount(self.reduce_tile, minlength=self.n_tiles)

    def boundary_tiles(self) -> np.ndarray:
        """Tiles whose dot vertices belong to two or more segments."""
        return np.flatnonzero((self.segment_counts() > 0).sum(axis=1) > 1)

    def matrix_bytes_per_tile(self) -> np.ndarray:
        return (self.segment_counts() @ self.seg_len) * WORD_BYTES

    def e1_words_received(self) -> np.ndarray:
        """Vector words each tile receives in E1."""
        per_dst = np.repeat(self.e1_words, np.diff(self.e1_ptr))
        return np.bincount(self.e1_dst, weights=per_dst, minlength=self.n_tiles).astype(np.int64)

    def e2_words_received(self) -> np.ndarray:
        """Partial sums each tile receives in E2."""
        return np.bincount(self.e2_dst, weights=self.e2_words, minlength=self.n_tiles).astype(np.int64)


def tut6_mapping(rows: int, cols: int, n_tiles: int, split: int) -> Tut6Mapping:
    """The tutorial's tile mapping for ``split`` segments per row, with E1 and E2.

    >>> m = tut6_mapping(10000, 1000, 1472, 7)
    >>> m.boundary_tiles().tolist()
    [210, 420, 630, 841, 1051, 1261]
    """
    R, C, T, S = rows, cols, n_tiles, split
    if not 1 <= S <= C:
        raise ValueError(f"split must be in 1..{C} (got {S})")
    seg_start = (np.arange(S + 1, dtype=np.int64) * C) // S
    k = np.arange(S * R, dtype=np.int64)
    dot_tile = (k * T) // (S * R)
    reduce_tile = (np.arange(R, dtype=np.int64) * T) // R
    vec_tile = (np.arange(C, dtype=np.int64) * T) // C

    # E1: every word of segment i goes to every tile running a dot vertex of segment i
    # (dot tiles of a segment form a contiguous range, dot_tile being monotonic), except
    # the tile that already holds it. One multicast per (source tile, segment).
    e1_src: list[int] = []
    e1_words: list[int] = []
    e1_dsts: list[np.ndarray] = []
    for i in range(S):
        a, b = int(seg_start[i]), int(seg_start[i + 1])
        if a == b:
            continue
        lo, hi = int(dot_tile[i * R]), int(dot_tile[(i + 1) * R - 1])
        need = np.arange(lo, hi + 1, dtype=np.int64)
        srcs, counts = np.unique(vec_tile[a:b], return_counts=True)
        for s, c in zip(srcs.tolist(), counts.tolist(), strict=True):
            d = need[need != s]
            if d.size:
                e1_src.append(s)
                e1_words.append(c)
                e1_dsts.append(d)
    e1_ptr = np.zeros(len(e1_dsts) + 1, np.int64)
    e1_ptr[1:] = np.cumsum([d.size for d in e1_dsts])
    e1_dst = np.concatenate(e1_dsts) if e1_dsts else np.zeros(0, np.int64)

    # E2: partial (r, i) from its dot tile to row r's reducer, aggregated per tile pair.
    src = dot_tile
    dst = np.tile(reduce_tile, S)
    remote = src != dst
    pair = src[remote] * T + dst[remote]
    pairs, counts = np.unique(pair, return_counts=True)
    return Tut6Mapping(
        R,
        C,
        T,
        S,
        seg_start,
        dot_tile,
        reduce_tile,
        vec_tile,
        np.array(e1_src, np.int64),
        e1_ptr,
        e1_dst,
        np.array(e1_words, np.int64),
        pairs // T,
        pairs % T,
        counts.astype(np.int64),
    )


# ---------------------------------------------------------------------------
# program
# ---------------------------------------------------------------------------
def dot_vertex_cycles(n: int, vertex_cost: VertexCost = "estimate") -> int:
    """Thread cycles of one DotProductVertex over ``n`` elements.

    >>> dot_vertex_cycles(142), dot_vertex_cycles(143), dot_vertex_cycles(143, "hardware")
    (76, 77, 577)
    """
    if vertex_cost == "estimate":
        return VERTEX_OVERHEAD_THREAD_CYCLES + (n + 1) // 2
    if vertex_cost == "hardware":
        return VERTEX_OVERHEAD_THREAD_CYCLES + HARDWARE_THREAD_CYCLES_PER_ELEMENT * n
    raise ValueError(f"vertex_cost must be 'estimate' or 'hardware' (got {vertex_cost!r})")


def reduce_vertex_cycles(n: int, vertex_cost: VertexCost = "estimate") -> int:
    """Thread cycles of one ReduceVertex summing ``n`` partials (``9`` for ``n = 7``)."""
    return dot_vertex_cycles(n, vertex_cost)


def _add_blocks(cs: ComputeSetBuilder, codelet: str, per_tile: dict[int, tuple[tuple[int, int], ...]]) -> ComputeSetBuilder:
    """One block per distinct vertex list, in order of its first tile; ``per_tile[t]`` = ((cycles, count), ...)."""
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for t, lst in per_tile.items():
        if lst:
            groups.setdefault(lst, []).append(t)
    for lst, tiles in sorted(groups.items(), key=lambda kv: kv[1][0]):
        cs.add(codelet, tiles, worker_cycles=[c for c, _ in lst], worker_counts=[n for _, n in lst])
    return cs


def _runs(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Merge consecutive entries of equal cycles (launch order is kept)."""
    out: list[list[int]] = []
    for c, n in pairs:
        if n == 0:
            continue
        if out and out[-1][0] == c:
            out[-1][1] += n
        else:
            out.append([c, n])
    return tuple((c, n) for c, n in out)


def matrix_rearrangement(rows: int, cols: int, n_tiles: int, split: int) -> Exchange:
    """The streamed matrix moved from its landing buffer to the dot-product tiles (T6 profiles (model vs hardware)).

    A hypothesis of the tutorial notes: with the default stream ``Copy`` the data lands in
    stream (host) order in a buffer mapped linearly over the tiles (``mapTensorLinearly``
    with 2-float grains: ``ceil(rows*cols/2/n_tiles)*2`` floats per tile) and is then moved
    on chip; slice (row r, segment i) goes to the tile of dot vertex ``i*rows + r``, one
    message per landing tile it spans.

    >>> ex = matrix_rearrangement(10000, 1000, 1472, 7)
    >>> ex.n_transfers > 70000, int(ex.nbytes.sum()) <= 40_000_000
    (True, True)
    """
    m = tut6_mapping(rows, cols, n_tiles, split)
    seg = m.seg_start
    grains = -(-rows * cols // 2)
    per = -(-grains // n_tiles) * 2
    k = np.arange(split * rows, dtype=np.int64)
    i, r = k // rows, k % rows
    a, b = r * cols + seg[i], r * cols + seg[i + 1]
    dst = m.dot_tile
    first, last = a // per, (b - 1) // per
    two = first != last
    src = np.concatenate([first, last[two]])
    to = np.concatenate([dst, dst[two]])
    words = np.concatenate([np.minimum(b, (first + 1) * per) - a, b[two] - last[two] * per])
    keep = (src != to) & (words > 0)
    ex = ExchangeBuilder("matrix_rearrangement")
    ex.send_many(src[keep], to[keep], WORD_BYTES * words[keep])
    return ex.freeze()


def build_tut6_program(
    machine: MachineSpec,
    rows: int = 10000,
    cols: int = 1000,
    split: int | None = None,
    include_host: bool = True,
    vertex_cost: VertexCost = "estimate",
    rearrange_matrix: bool = False,
) -> Program:
    """The tutorial's program on ``machine`` (all its tiles), split chosen by the planner.

    ``include_host=False`` leaves out the three host stream copies (two supersteps only);
    ``rearrange_matrix`` adds the on-device rearrangement of the streamed matrix after its
    host copy (:func:`matrix_rearrangement`; needs ``include_host``).
    ``vertex_cost="hardware"`` is the fitted calibration knob described in the module
    docstring, not a derived cost.

    >>> from mimdsim.arch import load_machine
    >>> p = build_tut6_program(load_machine("mk2"), include_host=False)
    >>> [s.name for s in p.body], p.metadata["split"]
    (['mulCS', 'reduceCS'], 7)
    """
    dot_vertex_cycles(1, vertex_cost)  # validates vertex_cost
    T = machine.n_tiles
    plan = plan_tut6(rows, cols, T, machine.num_worker_contexts, machine.exchange_bytes_per_cycle)
    S = plan.split if split is None else int(split)
    m = tut6_mapping(rows, cols, T, S)
    seg_len = m.seg_len
    seg_cyc = [dot_vertex_cycles(int(n), vertex_cost) for n in seg_len]
    red_cyc = reduce_vertex_cycles(S, vertex_cost)

    counts = m.segment_counts()
    dot_lists = {t: _runs([(seg_cyc[i], int(counts[t, i])) for i in range(S)]) for t in range(T)}
    rows_per_tile = m.reduce_rows_per_tile()
    red_lists = {t: _runs([(red_cyc, int(rows_per_tile[t]))]) for t in range(T)}
    b = ProgramBuilder(f"tut6_{rows}x{cols}_S{S}")
    mul_cs = _add_blocks(b.compute_set("mulCS"), "DotProductVertex", dot_lists)
    red_cs = _add_blocks(b.compute_set("reduceCS"), "ReduceVertex", red_lists)
    e1 = b.exchange("E1_vector_segments")
    e1.send_lists(m.e1_src, m.e1_ptr, m.e1_dst, m.e1_words * WORD_BYTES)
    e2 = b.exchange("E2_partials")
    e2.send_many(m.e2_src, m.e2_dst, m.e2_words * WORD_BYTES)
    scope = "internal" if machine.n_ipus == 1 else "external"

    dot_per_tile = m.dot_vertices_per_tile()
    matrix_bytes = m.matrix_bytes_per_tile()
    vector_bytes = np.bincount(m.vec_tile, minlength=T) * WORD_BYTES
    out_bytes = rows_per_tile * WORD_BYTES
    received = {"E1_vector_segment_copies": m.e1_words_received(), "E2_partials_received": m.e2_words_received()}
    for name, per_tile in (("matrix", matrix_bytes), ("vector", vector_bytes), ("partials", dot_per_tile * WORD_BYTES),
                           ("out", out_bytes), *((k, v * WORD_BYTES) for k, v in received.items())):  # fmt: skip
        tiles = np.flatnonzero(per_tile)
        b.tensor(name, (tiles, per_tile[tiles]), kind="exchange_buffer" if name in received else "tensor")

    def host(name: str, per_tile: np.ndarray, direction: str) -> None:
        tiles = np.flatnonzero(per_tile)
        b.host_copy(name, (tiles, per_tile[tiles]), direction=direction)

    if include_host:
        host("host_to_device_vector", vector_bytes, "to_device")
        host("host_to_device_matrix", matrix_bytes, "to_device")
        if rearrange_matrix:
            b.superstep("matrix_rearrangement", exchange=matrix_rearrangement(rows, cols, T, S), sync=scope)
    b.superstep("mulCS", exchange=e1, compute=mul_cs, sync=scope)
    b.superstep("reduceCS", exchange=e2, compute=red_cs, sync=scope)
    if include_host:
        host("device_to_host_out", out_bytes, "from_device")
    meta: dict[str, object] = {
        "example": "poplar-tut6",
        "rows": rows,
        "cols": cols,
        "split": S,
        "planned_split": plan.split,
        "plan_terms": {
            "total": plan.total,
            "compute": plan.compute,
            "exchange": plan.exchange,
            "reduce_exchange": plan.reduce_exchange,
            "reduce_compute": plan.reduce_compute,
            "worst_cost": plan.worst_cost,
        },
        "vertex_cost": vertex_cost,
        "include_host": include_host,
        "rearrange_matrix": rearrange_matrix and include_host,
    }
    b.metadata.update(meta)
    return b.build()


# ---------------------------------------------------------------------------
# machines of the published runs
# ---------------------------------------------------------------------------
TUT6_CONFIGS: dict[str, str] = {
    "ipu_model_mk2": "IPU Model ipu2: mk2 preset, 1.33 GHz, sync delays 0, exchange overhead 0, no worker-launch cost, "
    "no supertile double-rate receive, host link 8.0 GB/s, the matrix rearranged on the device",
    "ipu_model_mk1": "IPU Model ipu1: mk1 preset (1.6 GHz, host 7.8 GB/s), sync delays 0, exchange overhead 0, "
    "no worker-launch cost, no supertile double-rate receive, no matrix rearrangement (an older SDK)",
    "hardware_mk2": "Mk2 hardware: mk2 preset as shipped, clock 1.33 GHz (the profile's conversion), the matrix rearranged on the device",
}


def tut6_machine(config: str = "ipu_model_mk2", **overrides: object) -> MachineSpec:
    """The machine of one published run (keys of :data:`TUT6_CONFIGS`).

    The IPU-Model configurations switch off what the tutorial's IPUModel switches off
    (``minIPUSyncDelay = 0``, ``NO_DELAY``; no global sync) and the fixed exchange
    overhead, charge no worker-launch cost (the IPU Model charges exactly the registered
    estimates, T6 codelets), and use the plain 4 B/cycle receive model (no supertile double-rate
    receive), under which E1's receive bound is 285 cycles (T6 tile mapping (tut6.cpp); T6). Their
    host-link bandwidths (8.0 / 7.8 GB/s) were derived from the same profiles (T6 README). Every
    configuration keeps the preset's per-message exchange cost, which was derived from
    these profiles (:mod:`mimdsim.validation.tut6_exchange`).
    """
    zero_sync = dict(
        min_ipu_sync_delay=0,
        max_ipu_sync_delay=0,
        global_sync_cycles=0,
        global_sync_hop_cycles=0,
        exchange_overhead_cycles=0,
        exchange_transit_cycles=0,
        supports_supertile_send_receive=False,
        worker_launch_cycles=0,
    )
    if config == "ipu_model_mk2":
        kw: dict[str, object] = dict(zero_sync, tile_clock_hz=1.33e9, host_bytes_per_s=8.0e9)
        gen = "mk2"
    elif config == "ipu_model_mk1":
        kw = dict(zero_sync)
        gen = "mk1"
    elif config == "hardware_mk2":
        kw = dict(tile_clock_hz=1.33e9)
        gen = "mk2"
    else:
        raise ValueError(f"unknown tut6 config {config!r} (one of {', '.join(TUT6_CONFIGS)})")
    kw.update(overrides)
    return load_machine(gen, **kw)


# ---------------------------------------------------------------------------
# published figures of the runs
# ---------------------------------------------------------------------------
REARRANGES_MATRIX: dict[str, bool] = {"ipu_model_mk2": True, "hardware_mk2": True, "ipu_model_mk1": False}
"""Whether a run's SDK rearranges the streamed matrix on the device (T6 profiles (model vs hardware): the
Mk1-era SDK's 793 exchange cycles per tile are below the rearrangement's bytes alone)."""

PUBLISHED: dict[str, dict[str, float]] = {
    # T6 README (graphcore/tutorials b7ffa4de), IPUModel "ipu2", per-tile averages
    "ipu_model_mk2": {
        "total": 6_681_766,
        "compute": 3_801.8,
        "compute_excl_idle": 3_717.6,
        "exchange": 8_697.4,
        "global_exchange": 0.0,
        "host_exchange": 6_663_550.8,
        "sync": 1_134.8,
    },
    # T6 README, --device ipu (SDK 2.2+); no "excluding idle threads" line
    "hardware_mk2": {
        "total": 25_444_984,
        "compute": 28_300.3,
        "exchange": 8_743.1,
        "global_exchange": 0.0,
        "host_exchange": 2_641_488.4,
        "sync": 135_849.6,
    },
    # T7-MK1 README (graphcore/examples 617ed3fa), sums over 1216 tiles / 1216
    "ipu_model_mk1": {
        "total": 8_190_756,
        "compute": 5_513_152 / 1216,
        "compute_excl_idle": 5_334_536 / 1216,
        "exchange": 963_855 / 1216,
        "host_exchange": 9_952_701_003 / 1216,
        "sync": 781_286 / 1216,
    },
}
