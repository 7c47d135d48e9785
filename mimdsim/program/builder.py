"""A mutable, script-friendly builder of BSP programs (:class:`~mimdsim.program.ir.Program`).

The IR is frozen, array-based and awkward to write by hand; the builder collects
tensors, compute sets, exchanges and steps with plain Python values and freezes them
into a :class:`Program` on :meth:`ProgramBuilder.build`. Mistakes that need no machine
to spot (negative cycles, a tile sending to itself, an open ``repeat``) raise
:class:`~mimdsim.errors.ProgramError` at the call that makes them; tile ranges are checked
against a machine by :func:`~mimdsim.program.validate.check_program`
(``build(machine=...)`` or :func:`~mimdsim.engines.simulate`).

Examples
--------
Two tiles exchange 64 bytes each way, compute, and repeat that 10 times; the host
streams the input in first:

>>> b = ProgramBuilder("ping-pong", batch_size=1)
>>> x = b.tensor("x", ([0, 1], 64))
>>> b.host_copy("load x", x)
>>> ex = b.exchange("swap")
>>> ex.send(0, 1, 64)
>>> ex.send(1, 0, 64)
>>> cs = b.compute_set("update").add("Axpy", [0, 1], cycles=40, count=6)
>>> with b.repeat(10):
...     b.superstep("step", exchange=ex, compute=cs)
>>> p = b.build()
>>> p.n_executed_steps()
11
>>> [type(s).__name__ for s in p.body]
['HostCopy', 'Repeat']
>>> cs.add("Axpy", [0], cycles=-1)
Traceback (most recent call last):
...
mimdsim.errors.ProgramError: compute set 'update': add('Axpy'): cycles -1 is negative (must be >= 0)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ProgramError
from mimdsim.program.ir import (
    PROGRAM_OPS,
    TENSOR_KINDS,
    ComputeSet,
    Exchange,
    HostCopy,
    Program,
    Repeat,
    Step,
    Superstep,
    Tensor,
    VertexBlock,
)
from mimdsim.program.validate import check_program

__all__ = ["ProgramBuilder", "ComputeSetBuilder", "ExchangeBuilder", "Placement"]

Placement = Mapping[int, int] | tuple[Any, Any] | Tensor
"""Bytes per tile: ``{tile: nbytes}``, ``(tiles, nbytes)`` with ``nbytes`` one int or one
per tile, or a :class:`Tensor` (its tiles and bytes)."""


def _int_array(where: str, what: str, values: object) -> np.ndarray:
    """``values`` (an int, a range or a sequence/array of ints) as a 1-D int64 array."""
    if isinstance(values, range):
        return np.arange(values.start, values.stop, values.step, dtype=np.int64)
    arr = np.asarray(values)
    if arr.dtype == bool or (arr.size and arr.dtype.kind not in "iu"):
        raise ProgramError(f"{where}: {what} must be integers (got {_short(values)})")
    return arr.astype(np.int64, copy=False).reshape(-1)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _non_negative(where: str, what: str, arr: np.ndarray) -> None:
    if arr.size and arr.min() < 0:
        raise ProgramError(f"{where}: {what} {int(arr.min())} is negative (must be >= 0)")


def _placement(where: str, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    """Tiles and bytes per tile of a placement (see :data:`Placement`)."""
    if isinstance(placement, Tensor):
        return placement.tiles, placement.nbytes
    if isinstance(placement, Mapping):
        tiles = _int_array(where, "tiles", list(placement.keys()))
        nbytes = _int_array(where, "nbytes", list(placement.values()))
    elif isinstance(placement, tuple) and len(placement) == 2:
        tiles = _int_array(where, "tiles", placement[0])
        nbytes = _int_array(where, "nbytes", placement[1])
        if nbytes.size == 1 and tiles.size != 1:
            nbytes = np.full(tiles.shape, nbytes[0], np.int64)
    else:
        raise ProgramError(f"{where}: placement must be {{tile: nbytes}}, (tiles, nbytes) or a Tensor (got {_short(placement)})")
    if tiles.size != nbytes.size:
        raise ProgramError(f"{where}: {tiles.size} tiles but {nbytes.size} byte counts")
    _non_negative(where, "tile", tiles)
    _non_negative(where, "byte count", nbytes)
    return tiles, nbytes


class ComputeSetBuilder:
    """Collects the vertex blocks of one compute set; see :meth:`add`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._blocks: list[VertexBlock] = []
        self._frozen: ComputeSet | None = None

    def add(
        self,
        codelet: str,
        tiles: int | Sequence[int] | np.ndarray | range,
        *,
        cycles: int | Sequence[int] | np.ndarray | None = None,
        count: int | Sequence[int] | np.ndarray = 1,
        worker_cycles: Sequence[int] | np.ndarray | None = None,
        worker_counts: Sequence[int] | np.ndarray | None = None,
        supervisor_cycles: int = 0,
    ) -> ComputeSetBuilder:
        """Place vertices of ``codelet`` on each of ``tiles``; returns ``self`` for chaining.

        Give either ``cycles`` and ``count`` -- ``count`` worker vertices of ``cycles``
        thread cycles on every tile; each may also be one value per tile, and tiles with
        equal values share one block -- or ``worker_cycles`` (and ``worker_counts``): the
        same list of worker vertices, in launch order, on every tile.
        ``supervisor_cycles`` (tile cycles) is charged once per tile.
        """
        where = f"compute set {self.name!r}: add({codelet!r})"
        tile_arr = _int_array(where, "tiles", tiles)
        _non_negative(where, "tile", tile_arr)
        if np.unique(tile_arr).size != tile_arr.size:
            raise ProgramError(f"{where}: a tile appears twice in tiles")
        if not isinstance(supervisor_cycles, int | np.integer) or supervisor_cycles < 0:
            raise ProgramError(f"{where}: supervisor_cycles {supervisor_cycles!r} must be an integer >= 0")
        if worker_cycles is not None:
            if cycles is not None or not (isinstance(count, int) and count == 1):
                raise ProgramError(f"{where}: give either cycles/count or worker_cycles/worker_counts, not both")
            wc = _int_array(where, "worker_cycles", worker_cycles)
            wn = np.ones_like(wc) if worker_counts is None else _int_array(where, "worker_counts", worker_counts)
            if wn.size != wc.size:
                raise ProgramError(f"{where}: {wc.size} worker_cycles but {wn.size} worker_counts")
            _non_negative(where, "cycles", wc)
            _non_negative(where, "count", wn)
            self._append(VertexBlock(codelet, tile_arr, wc, wn, int(supervisor_cycles)))
            return self
        if worker_counts is not None:
            raise ProgramError(f"{where}: worker_counts needs worker_cycles")
        if cycles is None:
            if not supervisor_cycles:
                raise ProgramError(f"{where}: give cycles (thread cycles per worker vertex), worker_cycles or supervisor_cycles")
            self._append(VertexBlock(codelet, tile_arr, supervisor_cycles=int(supervisor_cycles)))
            return self
        cyc = _per_tile(where, "cycles", cycles, tile_arr.size)
        cnt = _per_tile(where, "count", count, tile_arr.size)
        # tiles with the same (cycles, count) share one block, in order of first appearance
        keys = np.stack([cyc, cnt], axis=1)
        uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        for g in np.argsort(first, kind="stable"):
            c, n = int(uniq[g, 0]), int(uniq[g, 1])
            self._append(
                VertexBlock(
                    codelet, tile_arr[inverse == g], np.array([c], np.int64), np.array([n], np.int64), int(supervisor_cycles)
                )
            )
        return self

    def _append(self, block: VertexBlock) -> None:
        self._blocks.append(block)
        self._frozen = None

    def freeze(self) -> ComputeSet:
        """The compute set as it is now (the same object until the next :meth:`add`)."""
        if self._frozen is None:
            self._frozen = ComputeSet(self.name, tuple(self._blocks))
        return self._frozen

    def __repr__(self) -> str:
        return f"ComputeSetBuilder({self.name!r}, {len(self._blocks)} blocks)"


def _per_tile(where: str, what: str, value: object, n_tiles: int) -> np.ndarray:
    arr = _int_array(where, what, value)
    if arr.size == 1:
        arr = np.full(n_tiles, arr[0], np.int64)
    elif arr.size != n_tiles:
        raise ProgramError(f"{where}: {what} has {arr.size} values for {n_tiles} tiles (give one, or one per tile)")
    _non_negative(where, what, arr)
    return arr


class ExchangeBuilder:
    """Collects the transfers of one exchange phase; see :meth:`send` and :meth:`send_many`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._src: list[np.ndarray] = []
        self._dst: list[np.ndarray] = []
        self._n_dst: list[np.ndarray] = []
        self._nbytes: list[np.ndarray] = []
        self._replicable: list[np.ndarray] = []
        self._frozen: Exchange | None = None

    def send(
        self, src: int, dst_tiles: int | Sequence[int] | np.ndarray | range, nbytes: int, *, replicable: bool = False
    ) -> None:
        """``nbytes`` bytes from tile ``src`` to every tile of ``dst_tiles`` (one multicast).

        ``replicable``: the bytes are a scalar (a dynamic slice's offset) that a compiler may
        replicate onto the destinations instead (the ``replicate_offsets`` pass drops it).
        """
        where = f"exchange {self.name!r}: send({src!r}, ...)"
        dst = _int_array(where, "dst_tiles", dst_tiles)
        if not isinstance(src, int | np.integer) or src < 0:
            raise ProgramError(f"{where}: source tile must be an integer >= 0")
        if not isinstance(nbytes, int | np.integer) or nbytes < 0:
            raise ProgramError(f"{where}: nbytes {nbytes!r} must be an integer >= 0")
        if dst.size == 0:
            raise ProgramError(f"{where}: no destination tile")
        _non_negative(where, "destination tile", dst)
        if np.any(dst == src):
            raise ProgramError(f"{where}: tile {src} sends to itself")
        if np.unique(dst).size != dst.size:
            raise ProgramError(f"{where}: a destination tile appears twice")
        self._push(np.array([src], np.int64), dst, np.array([dst.size], np.int64), np.array([nbytes], np.int64), bool(replicable))

    def send_many(
        self, src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray, nbytes: int | Sequence[int] | np.ndarray
    ) -> None:
        """Point-to-point transfers ``src[i] -> dst[i]`` of ``nbytes[i]`` (or ``nbytes``) bytes, vectorised."""
        where = f"exchange {self.name!r}: send_many(...)"
        s = _int_array(where, "src", src)
        d = _int_array(where, "dst", dst)
        if s.size != d.size:
            raise ProgramError(f"{where}: {s.size} sources but {d.size} destinations")
        nb = _per_tile(where, "nbytes", nbytes, s.size) if s.size else np.zeros(0, np.int64)
        _non_negative(where, "tile", s)
        _non_negative(where, "tile", d)
        if np.any(s == d):
            raise ProgramError(f"{where}: tile {int(s[s == d][0])} sends to itself")
        self._push(s, d, np.ones(s.size, np.int64), nb)

    def _push(self, src: np.ndarray, dst: np.ndarray, n_dst: np.ndarray, nbytes: np.ndarray, replicable: bool = False) -> None:
        self._replicable.append(np.full(src.size, replicable))
        self._src.append(src)
        self._dst.append(dst)
        self._n_dst.append(n_dst)
        self._nbytes.append(nbytes)
        self._frozen = None

    @property
    def n_transfers(self) -> int:
        return int(sum(a.size for a in self._src))

    def freeze(self) -> Exchange:
        """The exchange as it is now (the same object until the next send)."""
        if self._frozen is None:
            cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
            n_dst = cat(self._n_dst)
            ptr = np.zeros(n_dst.size + 1, np.int64)
            np.cumsum(n_dst, out=ptr[1:])
            rep = np.concatenate(self._replicable) if self._replicable else np.zeros(0, bool)
            self._frozen = Exchange(self.name, cat(self._src), ptr, cat(self._dst), cat(self._nbytes), replicable=rep)
        return self._frozen

    def __repr__(self) -> str:
        return f"ExchangeBuilder({self.name!r}, {self.n_transfers} transfers)"


class ProgramBuilder:
    """Builds a :class:`Program` step by step (see the module docstring for an example).

    Parameters
    ----------
    name
        Program name (shown in results).
    batch_size
        Samples one run of the program processes (gives samples/s), or None.
    metadata
        Free-form JSON-serialisable information stored in the program.
    """

    def __init__(self, name: str, *, batch_size: int | None = None, metadata: Mapping[str, object] | None = None) -> None:
        if batch_size is not None and (not isinstance(batch_size, int | np.integer) or batch_size <= 0):
            raise ProgramError(f"program {name!r}: batch_size {batch_size!r} must be a positive integer or None")
        self.name = name
        self.batch_size = None if batch_size is None else int(batch_size)
        self.metadata: dict[str, object] = dict(metadata or {})
        self._tensors: list[Tensor] = []
        self._stack: list[tuple[list[Step], int, str]] = [([], 1, "")]

    # ---- memory -------------------------------------------------------------
    def tensor(self, name: str, placement: Placement, *, kind: str = "tensor") -> Tensor:
        """Charge memory to tiles: ``placement`` is ``{tile: nbytes}`` or ``(tiles, nbytes)``.

        ``kind`` is one of ``tensor``, ``vertex_state``, ``code``, ``exchange_buffer``.
        Returns the :class:`Tensor` (which :meth:`host_copy` accepts as a placement).
        """
        where = f"tensor {name!r}"
        if kind not in TENSOR_KINDS:
            raise ProgramError(f"{where}: kind {kind!r} is not one of {', '.join(TENSOR_KINDS)}")
        tiles, nbytes = _placement(where, placement)
        t = Tensor(name, tiles, nbytes, kind)  # type: ignore[arg-type]
        self._tensors.append(t)
        return t

    # ---- phases -------------------------------------------------------------
    def compute_set(self, name: str) -> ComputeSetBuilder:
        """A new, empty compute set; fill it with :meth:`ComputeSetBuilder.add`."""
        return ComputeSetBuilder(name)

    def exchange(self, name: str) -> ExchangeBuilder:
        """A new, empty exchange; fill it with :meth:`ExchangeBuilder.send`."""
        return ExchangeBuilder(name)

    # ---- steps --------------------------------------------------------------
    def superstep(
        self,
        name: str,
        *,
        exchange: ExchangeBuilder | Exchange | None = None,
        compute: ComputeSetBuilder | ComputeSet | None = None,
        sync: str = "internal",
        op: str = "execute",
    ) -> None:
        """Append *sync -> exchange -> compute*; the exchange and compute set are frozen as they are now.

        ``op`` is the Poplar program the step stands for: ``execute`` (a compute set) or
        ``copy`` (a ``Copy``; compiler passes merge consecutive copies, :mod:`mimdsim.program.passes`).
        """
        if sync not in ("internal", "external"):
            raise ProgramError(f"superstep {name!r}: sync {sync!r} is not 'internal' or 'external'")
        if op not in PROGRAM_OPS:
            raise ProgramError(f"superstep {name!r}: op {op!r} is not one of {', '.join(PROGRAM_OPS)}")
        ex = exchange.freeze() if isinstance(exchange, ExchangeBuilder) else exchange
        cs = compute.freeze() if isinstance(compute, ComputeSetBuilder) else compute
        if ex is not None and not isinstance(ex, Exchange):
            raise ProgramError(f"superstep {name!r}: exchange must come from b.exchange() (got {type(ex).__name__})")
        if cs is not None and not isinstance(cs, ComputeSet):
            raise ProgramError(f"superstep {name!r}: compute must come from b.compute_set() (got {type(cs).__name__})")
        self._stack[-1][0].append(Superstep(name, sync, ex, cs, op))  # type: ignore[arg-type]

    def host_copy(self, name: str, placement: Placement, *, direction: str = "to_device") -> None:
        """Append a host stream copy of ``placement``'s bytes (``to_device`` or ``from_device``)."""
        if direction not in ("to_device", "from_device"):
            raise ProgramError(f"host copy {name!r}: direction {direction!r} is not 'to_device' or 'from_device'")
        tiles, nbytes = _placement(f"host copy {name!r}", placement)
        self._stack[-1][0].append(HostCopy(name, tiles, nbytes, direction))  # type: ignore[arg-type]

    @contextmanager
    def repeat(self, count: int, name: str = "repeat") -> Iterator[None]:
        """Steps appended inside ``with b.repeat(count):`` run ``count`` times (nesting allowed)."""
        if not isinstance(count, int | np.integer) or isinstance(count, bool) or count < 0:
            raise ProgramError(f"repeat {name!r}: count {count!r} must be an integer >= 0")
        depth = len(self._stack)
        self._stack.append(([], int(count), name))
        try:
            yield
        except BaseException:
            del self._stack[depth:]
            raise
        body, n, nm = self._stack.pop()
        self._stack[-1][0].append(Repeat(n, tuple(body), nm))

    # ---- result -------------------------------------------------------------
    def build(self, machine: MachineSpec | None = None) -> Program:
        """The frozen :class:`Program`; checked against ``machine`` (``ProgramError``) when given."""
        if len(self._stack) != 1:
            raise ProgramError(f"program {self.name!r}: build() called inside 'with b.repeat(...)'")
        program = Program(self.name, tuple(self._stack[0][0]), tuple(self._tensors), self.batch_size, dict(self.metadata))
        if machine is not None:
            check_program(program, machine)
        return program

    def __repr__(self) -> str:
        return f"ProgramBuilder({self.name!r}, {len(self._stack[0][0])} steps, {len(self._tensors)} tensors)"
