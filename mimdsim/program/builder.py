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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ProgramError
from mimdsim.program.builder_values import Placement, one_or_each, placement_arrays
from mimdsim.program.compute_builder import ComputeSetBuilder
from mimdsim.program.exchange_builder import ExchangeBuilder
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
)
from mimdsim.program.validate import check_program

__all__ = ["ProgramBuilder", "ComputeSetBuilder", "ExchangeBuilder", "Placement"]


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
        self._parts: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
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
        tiles, nbytes = placement_arrays(where, placement)
        t = Tensor(name, tiles, nbytes, kind)  # type: ignore[arg-type]
        self._tensors.append(t)
        return t

    def tensor_bytes(self, name: str, tiles: np.ndarray, nbytes: np.ndarray | int, kind: str = "tensor") -> None:
        """Add ``nbytes`` (one value or one per tile) to tensor ``name`` on each of ``tiles`` (vectorised, for lowerings):
        every call with the same ``name`` and ``kind`` adds to one tensor, a tile listed twice gets both; the tensors
        are summed up on :meth:`build`, after those of :meth:`tensor`."""
        if kind not in TENSOR_KINDS:
            raise ProgramError(f"tensor {name!r}: kind {kind!r} is not one of {', '.join(TENSOR_KINDS)}")
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        nb = one_or_each(nbytes, tiles.shape).reshape(-1)
        self._parts.setdefault((name, kind), []).append((tiles, nb))

    def tensor_layout(
        self, name: str, tile_of_element: np.ndarray, element_bytes: int, kind: str = "tensor", copies: int = 1
    ) -> None:
        """Add a tensor whose element ``e`` lives on ``tile_of_element[e]`` (``copies`` such tensors) to ``name``
        (as :meth:`tensor_bytes` does)."""
        tile_of_element = np.asarray(tile_of_element, np.int64).reshape(-1)
        if not tile_of_element.size:
            return
        low = int(tile_of_element.min())  # a tensor's tiles are usually a few IPUs' worth
        per_tile = np.bincount(tile_of_element - low)
        tiles = np.flatnonzero(per_tile)
        self.tensor_bytes(name, tiles + low, per_tile[tiles] * (element_bytes * copies), kind)

    def _summed_tensors(self) -> list[Tensor]:
        """The tensors of :meth:`tensor_bytes`: bytes per tile added up with numpy (no per-tile Python loop)."""
        out = []
        for (name, kind), parts in self._parts.items():
            tiles = np.concatenate([p[0] for p in parts])
            nb = np.concatenate([p[1] for p in parts])
            listed = np.bincount(tiles)
            uniq = np.flatnonzero(listed)
            total = np.bincount(tiles, weights=nb, minlength=listed.size)[uniq].astype(np.int64)
            out.append(Tensor(name, uniq, total, kind))  # type: ignore[arg-type]
        return out

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

    def step(self, step: Step) -> None:
        """Append a step built elsewhere (a :class:`Superstep`, :class:`HostCopy` or :class:`Repeat` a lowering made
        from frozen builders), as it is."""
        if not isinstance(step, Superstep | HostCopy | Repeat):
            raise ProgramError(f"program {self.name!r}: step() takes a Superstep, HostCopy or Repeat (got {type(step).__name__})")
        self._stack[-1][0].append(step)

    def host_copy(self, name: str, placement: Placement, *, direction: str = "to_device") -> None:
        """Append a host stream copy of ``placement``'s bytes (``to_device`` or ``from_device``)."""
        if direction not in ("to_device", "from_device"):
            raise ProgramError(f"host copy {name!r}: direction {direction!r} is not 'to_device' or 'from_device'")
        tiles, nbytes = placement_arrays(f"host copy {name!r}", placement)
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
        tensors = (*self._tensors, *self._summed_tensors())
        program = Program(self.name, tuple(self._stack[0][0]), tensors, self.batch_size, dict(self.metadata))
        if machine is not None:
            check_program(program, machine)
        return program

    def __repr__(self) -> str:
        return f"ProgramBuilder({self.name!r}, {len(self._stack[0][0])} steps, {len(self._tensors)} tensors)"
