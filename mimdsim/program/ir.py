"""BSP program IR: passive, immutable data that workloads produce and engines read.

A program is a sequence of steps. A :class:`Superstep` is *sync -> exchange -> compute*;
a :class:`HostCopy` is a host sync followed by a host stream transfer; a :class:`Repeat`
runs its body ``count`` times. Arrays are stored as read-only numpy arrays so that large
programs (1472 tiles x thousands of supersteps) stay compact:

* a :class:`ComputeSet` holds :class:`VertexBlock` s, each placing *the same list of
  vertices* on every tile of a set of tiles (vertices of one codelet on many tiles are one
  block; identical consecutive vertices are one entry with a count); a block's costs may
  be a *cycle table* with one row per iteration of the loop that runs it, so that loops
  whose costs change from one iteration to the next stay loops;
* an :class:`Exchange` holds transfers in CSR form: transfer ``i`` goes from tile
  ``src[i]`` to tiles ``dst[dst_ptr[i]:dst_ptr[i+1]]`` (a multicast is one transfer) and
  carries ``nbytes[i]`` bytes; or, when many sources send to one group of tiles, each
  transfer names a shared destination list (:mod:`mimdsim.program.exchange`).

Nothing here computes a cost: see :mod:`mimdsim.cost`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mimdsim.program.exchange import Exchange
from mimdsim.program.frozen import frozen_array

__all__ = [
    "FORMAT_VERSION",
    "SyncScope",
    "ProgramOp",
    "TensorKind",
    "Tensor",
    "VertexBlock",
    "ComputeSet",
    "Exchange",
    "Superstep",
    "HostCopy",
    "Repeat",
    "Step",
    "Program",
    "frozen_array",
]

FORMAT_VERSION = 3
"""Version of the program file format written (docs/program_format.md); versions 1 and 2 are still read."""

SyncScope = Literal["internal", "external"]
ProgramOp = Literal["execute", "copy"]
PROGRAM_OPS: tuple[str, ...] = ("execute", "copy")
TensorKind = Literal["tensor", "vertex_state", "code", "exchange_buffer"]
TENSOR_KINDS: tuple[str, ...] = ("tensor", "vertex_state", "code", "exchange_buffer")


@dataclass(frozen=True, eq=False)
class Tensor:
    """Memory charged to tiles: ``nbytes[i]`` bytes on tile ``tiles[i]``.

    ``kind`` says what the memory holds (data tensor, vertex state, code, exchange
    buffer); the memory ledger reports it per kind.
    """

    name: str
    tiles: np.ndarray
    nbytes: np.ndarray
    kind: TensorKind = "tensor"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiles", frozen_array(self.tiles, np.int64).reshape(-1))
        object.__setattr__(self, "nbytes", frozen_array(self.nbytes, np.int64).reshape(-1))

    @property
    def total_bytes(self) -> int:
        return int(self.nbytes.sum())


@dataclass(frozen=True, eq=False)
class VertexBlock:
    """The same vertex list placed on every tile in ``tiles``.

    ``worker_cycles[j]`` is the cost in *thread cycles* of worker vertex ``j`` and
    ``worker_counts[j]`` how many identical copies of it follow one another in launch
    order. ``supervisor_cycles`` is the cost in *tile cycles* of the supervisor
    vertices of this block on each tile.

    **Cycle tables.** Costs that change from one iteration of a loop to the next (an
    SNN's spike counts) are given as tables: ``worker_cycles`` and/or ``worker_counts``
    of shape ``[n_rows, n_vertices]`` and/or ``supervisor_cycles`` of shape
    ``[n_rows]``. Row ``r`` is what the block costs in iteration ``r`` of the innermost
    :class:`Repeat` around the superstep that runs it (docs/concepts.md); a 1-D
    ``worker_cycles``/``worker_counts`` or an integer ``supervisor_cycles`` is the same
    in every row. A block without a table has ``n_rows == 1``.

    **Segments.** ``segment`` numbers the compute sets that one compute phase runs one
    after another on each tile without a sync between them (what a compiler pass makes of
    a compute set whose inputs are all local, :mod:`mimdsim.program.passes`): on a tile,
    the vertices of segment ``s`` start when every vertex of the tile's earlier segments
    has finished, and each segment pays the compute-set overhead. Blocks are listed in
    non-decreasing segment order; a compute set as a program issues it has segment 0 only.
    """

    codelet: str
    tiles: np.ndarray
    worker_cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    worker_counts: np.ndarray = None  # type: ignore[assignment]  # None -> ones in __post_init__
    supervisor_cycles: int | np.ndarray = 0
    segment: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment", int(self.segment))
        object.__setattr__(self, "tiles", frozen_array(self.tiles, np.int64).reshape(-1))
        cyc = _table(self.worker_cycles)
        object.__setattr__(self, "worker_cycles", cyc)
        counts = np.ones(cyc.shape[-1:], np.int64) if self.worker_counts is None else self.worker_counts
        object.__setattr__(self, "worker_counts", _table(counts))
        sup = self.supervisor_cycles
        if np.ndim(sup) == 0:
            object.__setattr__(self, "supervisor_cycles", int(sup))
        else:
            object.__setattr__(self, "supervisor_cycles", frozen_array(sup, np.int64).reshape(-1))

    @classmethod
    def of_frozen(
        cls,
        codelet: str,
        tiles: np.ndarray,
        worker_cycles: np.ndarray,
        worker_counts: np.ndarray,
        supervisor_cycles: int | np.ndarray = 0,
        segment: int = 0,
    ) -> VertexBlock:
        """A block of arrays that are already what :meth:`__post_init__` makes of them (read-only, C-contiguous
        int64; ``tiles`` 1-D, the tables 1-D or 2-D, ``supervisor_cycles`` an int or a 1-D array): no checks, no
        copies. The vectorised builder forms (:class:`~mimdsim.program.compute_builder.ComputeSetBuilder`) make
        thousands of blocks a program; :func:`~mimdsim.program.validate.check_program` checks them all at once."""
        block = object.__new__(cls)
        block.__dict__.update(  # what the frozen dataclass's __init__ would set, without its checks
            codelet=codelet, tiles=tiles, worker_cycles=worker_cycles, worker_counts=worker_counts,
            supervisor_cycles=supervisor_cycles, segment=int(segment),
        )  # fmt: skip
        return block

    @property
    def n_rows(self) -> int:
        """Rows of the block's cycle table (1 when it has none)."""
        rows = [a.shape[0] for a in (self.worker_cycles, self.worker_counts) if a.ndim == 2]
        if isinstance(self.supervisor_cycles, np.ndarray):
            rows.append(self.supervisor_cycles.size)
        return max(rows, default=1)

    @property
    def is_table(self) -> bool:
        """True when some cost of the block changes from row to row."""
        return self.worker_cycles.ndim == 2 or self.worker_counts.ndim == 2 or isinstance(self.supervisor_cycles, np.ndarray)

    @property
    def n_vertex_kinds(self) -> int:
        """Entries of the vertex list (each with its count)."""
        return int(self.worker_cycles.shape[-1])

    def row(self, r: int) -> VertexBlock:
        """The block as it runs in row ``r`` of its table (the block itself when it has none)."""
        if not self.is_table:
            return self
        counts = self.worker_counts
        cyc = self.worker_cycles[r] if self.worker_cycles.ndim == 2 else self.worker_cycles
        cnt = counts[r] if counts.ndim == 2 else counts
        sup = self.supervisor_cycles
        sup_r = int(sup[r]) if isinstance(sup, np.ndarray) else sup
        return VertexBlock(self.codelet, self.tiles, cyc, cnt, sup_r, self.segment)

    def in_segment(self, segment: int) -> VertexBlock:
        """The same block in compute-phase segment ``segment``."""
        if segment == self.segment:
            return self
        return VertexBlock.of_frozen(
            self.codelet, self.tiles, self.worker_cycles, self.worker_counts, self.supervisor_cycles, segment
        )

    @property
    def n_vertices_per_tile(self) -> int:
        """Worker vertices on each tile (supervisor vertices not counted; the largest row of a table)."""
        per_row = self.worker_counts.sum(axis=-1)  # an array after __post_init__
        return int(np.max(per_row)) if np.ndim(per_row) else int(per_row)

    @property
    def thread_cycles_per_tile(self) -> int:
        """Sum of worker thread cycles on each tile (the largest row of a table)."""
        per_row = (self.worker_cycles * self.worker_counts).sum(axis=-1)
        return int(np.max(per_row)) if np.ndim(per_row) else int(per_row)


def _table(values: object) -> np.ndarray:
    """A vertex list (1-D) or a cycle table (2-D) as a frozen int64 array."""
    arr = frozen_array(values, np.int64)
    return arr if arr.ndim in (1, 2) else arr.reshape(-1)


@dataclass(frozen=True, eq=False)
class ComputeSet:
    """Vertices that run in one BSP compute phase.

    ``n_rows`` is the number of rows of its blocks' cycle tables (1 when none has one);
    every block with a table must have that many rows (checked by
    :func:`~mimdsim.program.validate.check_program`).
    """

    name: str
    blocks: tuple[VertexBlock, ...] = ()
    n_rows: int = field(init=False, repr=False, compare=False)
    is_table: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        rows = -1  # the most rows of a block with a table (-1: none has one): VertexBlock.n_rows, inlined
        for b in self.blocks:
            cyc, cnt, sup = b.worker_cycles, b.worker_counts, b.supervisor_cycles
            if cyc.ndim == 2:
                rows = max(rows, cyc.shape[0])
            if cnt.ndim == 2:
                rows = max(rows, cnt.shape[0])
            if isinstance(sup, np.ndarray):
                rows = max(rows, sup.size)
        object.__setattr__(self, "is_table", rows >= 0)
        object.__setattr__(self, "n_rows", rows if rows >= 0 else 1)

    def row(self, r: int) -> ComputeSet:
        """The compute set of row ``r`` (itself when no block has a table)."""
        if not self.is_table:
            return self
        return ComputeSet(self.name, tuple(b.row(r) for b in self.blocks))

    @property
    def n_segments(self) -> int:
        """Compute sets this phase runs one after another (1 for a compute set as issued; 0 when empty)."""
        return self.blocks[-1].segment + 1 if self.blocks else 0


@dataclass(frozen=True, eq=False)
class Superstep:
    """Sync (``internal``: each IPU on its own; ``external``: all IPUs), then exchange, then compute.

    ``op`` says which kind of Poplar program the superstep stands for: ``execute`` (a
    compute set, with the exchange of its vertices' remote inputs) or ``copy`` (a
    ``Copy``: an exchange of the elements held elsewhere and an on-tile copy of the rest).
    Engines ignore it; compiler passes (:mod:`mimdsim.program.passes`) read it.
    """

    name: str
    sync: SyncScope = "internal"
    exchange: Exchange | None = None
    compute: ComputeSet | None = None
    op: ProgramOp = "execute"


@dataclass(frozen=True, eq=False)
class HostCopy:
    """A host stream copy: host sync, then ``nbytes[i]`` bytes between the host and ``tiles[i]``."""

    name: str
    tiles: np.ndarray
    nbytes: np.ndarray
    direction: Literal["to_device", "from_device"] = "to_device"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiles", frozen_array(self.tiles, np.int64).reshape(-1))
        object.__setattr__(self, "nbytes", frozen_array(self.nbytes, np.int64).reshape(-1))


@dataclass(frozen=True, eq=False)
class Repeat:
    """Run ``body`` ``count`` times (``count`` >= 0).

    A superstep directly in ``body`` (not in a nested repeat) whose compute set has cycle
    tables runs row ``i`` of them in iteration ``i``; such tables have ``count`` rows.
    """

    count: int
    body: tuple[Step, ...]
    name: str = "repeat"

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", tuple(self.body))


Step = Superstep | HostCopy | Repeat


def _static_steps(steps: tuple[Step, ...], out: list[Step]) -> None:
    """Append every Superstep/HostCopy of ``steps`` to ``out`` in program order (recursion by a module function: a
    closure that calls itself is a reference cycle, which would keep the steps alive until the collector's next pass)."""
    for s in steps:
        if isinstance(s, Repeat):
            _static_steps(s.body, out)
        else:
            out.append(s)


def _count_uses(steps: tuple[Step, ...], times: int, out: dict[int, tuple[object, int]]) -> None:
    """Add the compute sets, exchanges and host copies of ``steps``, run ``times`` times, to ``out`` (by identity)."""
    for s in steps:
        if isinstance(s, Repeat):
            _count_uses(s.body, times * s.count, out)
            continue
        for obj in (s.compute, s.exchange) if isinstance(s, Superstep) else (s,):
            if obj is not None and times:
                out[id(obj)] = (obj, out.get(id(obj), (obj, 0))[1] + times)


def _n_executed(step: Step) -> int:
    """Supersteps and host copies ``step`` executes, repeats expanded."""
    return step.count * sum(_n_executed(s) for s in step.body) if isinstance(step, Repeat) else 1


@dataclass(frozen=True, eq=False)
class Program:
    """A BSP program for a machine of at least ``n_tiles`` tiles.

    ``batch_size`` is the number of samples one run of the program processes (it turns
    cycles into samples/s); ``metadata`` is free-form, JSON-serialisable information.
    """

    name: str
    body: tuple[Step, ...]
    tensors: tuple[Tensor, ...] = ()
    batch_size: int | None = None
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", tuple(self.body))
        object.__setattr__(self, "tensors", tuple(self.tensors))

    def iter_static(self) -> list[Step]:
        """Every Superstep/HostCopy in program order, each once (repeat bodies not expanded)."""
        out: list[Step] = []
        _static_steps(self.body, out)
        return out

    def use_counts(self) -> dict[int, tuple[object, int]]:
        """Every distinct compute set, exchange and host copy that runs, with how many times it runs (repeats
        expanded), by identity (a repeat of count 0 runs nothing)."""
        out: dict[int, tuple[object, int]] = {}
        _count_uses(self.body, 1, out)
        return out

    def n_executed_steps(self) -> int:
        """Supersteps and host copies executed, with repeats expanded."""
        return sum(_n_executed(s) for s in self.body)

    def top_level_starts(self) -> np.ndarray:
        """First executed step of each top-level item of ``body``, then the total (length ``len(body) + 1``).

        >>> s = Superstep("s")
        >>> Program("p", (s, Repeat(3, (s, s)), s)).top_level_starts().tolist()
        [0, 1, 7, 8]
        """
        out = np.zeros(len(self.body) + 1, np.int64)
        np.cumsum([_n_executed(s) for s in self.body], out=out[1:])
        return out
