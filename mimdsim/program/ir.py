"""BSP program IR: passive, immutable data that workloads produce and engines read.

A program is a sequence of steps. A :class:`Superstep` is *sync -> exchange -> compute*;
a :class:`HostCopy` is a host sync followed by a host stream transfer; a :class:`Repeat`
runs its body ``count`` times. Arrays are stored as read-only numpy arrays so that large
programs (1472 tiles x thousands of supersteps) stay compact:

* a :class:`ComputeSet` holds :class:`VertexBlock` s, each placing *the same list of
  vertices* on every tile of a set of tiles (vertices of one codelet on many tiles are one
  block; identical consecutive vertices are one entry with a count);
* an :class:`Exchange` holds transfers in CSR form: transfer ``i`` goes from tile
  ``src[i]`` to tiles ``dst[dst_ptr[i]:dst_ptr[i+1]]`` (a multicast is one transfer) and
  carries ``nbytes[i]`` bytes.

Nothing here computes a cost: see :mod:`mimdsim.cost`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "SyncScope",
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

FORMAT_VERSION = 1
"""Version of the program file format (docs/program_format.md)."""

SyncScope = Literal["internal", "external"]
TensorKind = Literal["tensor", "vertex_state", "code", "exchange_buffer"]
TENSOR_KINDS: tuple[str, ...] = ("tensor", "vertex_state", "code", "exchange_buffer")


def frozen_array(values: object, dtype: type) -> np.ndarray:
    """A contiguous, read-only array of ``values`` with ``dtype``.

    An array that is already read-only, contiguous and of that dtype is reused, so blocks
    can share one tiles array; anything else is copied, so callers' arrays stay theirs.
    """
    if (
        isinstance(values, np.ndarray)
        and values.dtype == dtype
        and not values.flags.writeable
        and values.flags.c_contiguous
    ):
        return values
    arr: np.ndarray = np.array(values, dtype=dtype)
    arr.flags.writeable = False
    return arr


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
    """

    codelet: str
    tiles: np.ndarray
    worker_cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    worker_counts: np.ndarray | None = None
    supervisor_cycles: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiles", frozen_array(self.tiles, np.int64).reshape(-1))
        cyc = frozen_array(self.worker_cycles, np.int64).reshape(-1)
        object.__setattr__(self, "worker_cycles", cyc)
        counts = np.ones(cyc.shape, np.int64) if self.worker_counts is None else self.worker_counts
        object.__setattr__(self, "worker_counts", frozen_array(counts, np.int64).reshape(-1))
        object.__setattr__(self, "supervisor_cycles", int(self.supervisor_cycles))

    @property
    def n_vertices_per_tile(self) -> int:
        """Worker vertices on each tile (supervisor vertices not counted)."""
        return int(self.worker_counts.sum())  # type: ignore[union-attr]  # None only before __post_init__

    @property
    def thread_cycles_per_tile(self) -> int:
        """Sum of worker thread cycles on each tile."""
        return int((self.worker_cycles * self.worker_counts).sum())


@dataclass(frozen=True, eq=False)
class ComputeSet:
    """Vertices that run in one BSP compute phase."""

    name: str
    blocks: tuple[VertexBlock, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))


@dataclass(frozen=True, eq=False)
class Exchange:
    """Compiler-scheduled transfers of one exchange phase (CSR multicast form)."""

    name: str
    src: np.ndarray
    dst_ptr: np.ndarray
    dst: np.ndarray
    nbytes: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "src", frozen_array(self.src, np.int64).reshape(-1))
        object.__setattr__(self, "dst_ptr", frozen_array(self.dst_ptr, np.int64).reshape(-1))
        object.__setattr__(self, "dst", frozen_array(self.dst, np.int64).reshape(-1))
        object.__setattr__(self, "nbytes", frozen_array(self.nbytes, np.int64).reshape(-1))

    @classmethod
    def from_transfers(cls, name: str, transfers: list[tuple[int, list[int] | np.ndarray, int]]) -> Exchange:
        """Build from ``[(src_tile, dst_tiles, nbytes), ...]``."""
        src = np.array([t[0] for t in transfers], np.int64)
        dsts = [np.asarray(t[1], np.int64).reshape(-1) for t in transfers]
        ptr = np.zeros(len(transfers) + 1, np.int64)
        ptr[1:] = np.cumsum([len(d) for d in dsts]) if dsts else []
        dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
        nbytes = np.array([t[2] for t in transfers], np.int64)
        return cls(name, src, ptr, dst, nbytes)

    @property
    def n_transfers(self) -> int:
        return int(self.src.shape[0])

    def destinations(self, i: int) -> np.ndarray:
        """Destination tiles of transfer ``i``."""
        return self.dst[self.dst_ptr[i] : self.dst_ptr[i + 1]]


@dataclass(frozen=True, eq=False)
class Superstep:
    """Sync (``internal``: each IPU on its own; ``external``: all IPUs), then exchange, then compute."""

    name: str
    sync: SyncScope = "internal"
    exchange: Exchange | None = None
    compute: ComputeSet | None = None


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
    """Run ``body`` ``count`` times (``count`` >= 0)."""

    count: int
    body: tuple[Step, ...]
    name: str = "repeat"

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", tuple(self.body))


Step = Superstep | HostCopy | Repeat


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

        def walk(steps: tuple[Step, ...]) -> None:
            for s in steps:
                if isinstance(s, Repeat):
                    walk(s.body)
                else:
                    out.append(s)

        walk(self.body)
        return out

    def n_executed_steps(self) -> int:
        """Supersteps and host copies executed, with repeats expanded."""

        def count(steps: tuple[Step, ...]) -> int:
            return sum(s.count * count(s.body) if isinstance(s, Repeat) else 1 for s in steps)

        return count(self.body)
