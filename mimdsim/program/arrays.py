"""Struct-of-arrays view of a BSP program, for the numba (``fast``) engine.

:func:`to_arrays` turns the object tree of a :class:`~mimdsim.program.ir.Program` into
flat int64 arrays that numba kernels can read:

* **static steps** (every Superstep/HostCopy once, in program order, as in
  :meth:`Program.iter_static`): ``step_table[s] = (kind, scope, cs, ex, host, rows)`` where
  ``cs``/``ex``/``host`` index the distinct compute sets, exchanges and host copies
  (-1: none) and ``rows`` is the number of rows of the compute set's cycle tables (1:
  the same cost in every iteration; more: row ``i`` in iteration ``i`` of the innermost
  repeat);
* **compute sets**: the distinct :class:`ComputeSet` objects (``compute_sets``), which
  the engines cost with :mod:`mimdsim.cost.compute`;
* **exchanges**: the distinct :class:`Exchange` objects (``exchanges``), which the
  engines cost with :func:`mimdsim.cost.exchange.exchange_costs`;
* **host copies**: tiles and bytes of every distinct :class:`HostCopy`;
* **control flow**: a flat op list ``ops[k] = (kind, arg, link, lo, hi, snap, varies)``:
  ``OP_STEP`` runs static step ``arg``; ``OP_BEGIN`` opens a repeat of ``arg`` iterations
  whose matching ``OP_END`` is op ``link`` and whose body holds static steps
  ``lo:hi``; ``OP_END`` closes the repeat opened at op ``link``. ``snap`` is the offset
  of the repeat's slice of the engine's snapshot buffer (``n_snapshot`` in all);
  ``varies`` is 1 on a ``OP_BEGIN`` whose own body (not a nested repeat's) runs a
  compute set with cycle tables, so that its iterations differ.

Objects are shared by identity: a compute set (exchange, host copy) used by many steps
is flattened once. The IR is immutable, so one object always costs the same.

Examples
--------
>>> from mimdsim.program.ir import ComputeSet, Program, Repeat, Superstep, VertexBlock
>>> cs = ComputeSet("c", (VertexBlock("V", [0, 1], [10], [3]),))
>>> p = Program("p", (Superstep("a", compute=cs), Repeat(4, (Superstep("b", compute=cs),))))
>>> a = to_arrays(p)
>>> a.n_static, a.n_compute_sets, a.n_executed
(2, 1, 5)
>>> a.ops.tolist()   # step 0; repeat x4 of static steps 1:2; end
[[0, 0, -1, 0, 0, -1, 0], [1, 4, 3, 1, 2, 0, 0], [0, 1, -1, 0, 0, -1, 0], [2, 0, 1, 1, 2, -1, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep

__all__ = [
    "ProgramArrays",
    "to_arrays",
    "STEP_SUPERSTEP",
    "STEP_HOST_COPY",
    "SCOPE_INTERNAL",
    "SCOPE_EXTERNAL",
    "OP_STEP",
    "OP_BEGIN",
    "OP_END",
]

STEP_SUPERSTEP = 0
STEP_HOST_COPY = 1
SCOPE_INTERNAL = 0
SCOPE_EXTERNAL = 1
OP_STEP = 0
OP_BEGIN = 1
OP_END = 2


@dataclass(frozen=True, eq=False)
class ProgramArrays:
    """Flat int64 arrays of one program (see the module docstring for the layout)."""

    name: str
    step_names: tuple[str, ...]
    step_table: np.ndarray  # (n_static, 6): kind, scope, cs, ex, host, rows
    compute_sets: tuple[ComputeSet, ...]
    exchanges: tuple[Exchange, ...]
    host_ptr: np.ndarray
    host_tiles: np.ndarray
    host_nbytes: np.ndarray
    ops: np.ndarray  # (n_ops, 7): kind, arg, link, lo, hi, snap, varies
    n_snapshot: int
    max_depth: int
    n_executed: int

    @property
    def n_static(self) -> int:
        return int(self.step_table.shape[0])

    @property
    def n_compute_sets(self) -> int:
        return len(self.compute_sets)

    @property
    def n_exchanges(self) -> int:
        return len(self.exchanges)

    @property
    def n_host_copies(self) -> int:
        return int(self.host_ptr.size - 1)


def _ptr(sizes: list[int]) -> np.ndarray:
    out = np.zeros(len(sizes) + 1, np.int64)
    if sizes:
        np.cumsum(sizes, out=out[1:])
    return out


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)


class _Flattener:
    """Walks the step tree once, collecting distinct objects and the op list (by columns)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.table: tuple[list[int], ...] = ([], [], [], [], [], [])  # kind, scope, cs, ex, host, rows
        self.index: dict[int, int] = {}  # id(object) -> its index in cs_list, ex_list or host_list
        self.cs_list: list[ComputeSet] = []
        self.ex_list: list[Exchange] = []
        self.host_list: list[HostCopy] = []
        self.ops: tuple[list[int], ...] = ([], [], [], [], [], [], [])  # kind, arg, link, lo, hi, snap, varies
        self.rows_of: list[int] = []  # rows of each distinct compute set's cycle tables
        self.n_snapshot = 0
        self.max_depth = 0

    def _intern(self, obj: object, items: list[Any]) -> int:
        k = self.index.get(id(obj))
        if k is None:
            k = self.index[id(obj)] = len(items)
            items.append(obj)
        return k

    def _op(self, kind: int, arg: int, link: int, lo: int, hi: int, snap: int) -> None:
        for col, v in zip(self.ops, (kind, arg, link, lo, hi, snap, 0), strict=True):
            col.append(v)

    def walk(self, steps: tuple[Step, ...], depth: int) -> tuple[int, bool]:
        """Append ``steps``' ops; return how many steps one pass executes and whether one of
        them (not counting nested repeats) runs a compute set with cycle tables."""
        # NOTE: written for speed (programs of 10^5 steps): locals instead of attribute lookups
        self.max_depth = max(self.max_depth, depth)
        names = self.names
        t_kind, t_scope, t_cs, t_ex, t_host, t_rows = self.table
        o_kind, o_arg, o_link, o_lo, o_hi, o_snap, o_vary = self.ops
        index = self.index
        cs_list, ex_list = self.cs_list, self.ex_list
        rows_of = self.rows_of
        n_exec = 0
        varies = False
        for s in steps:
            rows = 1
            if isinstance(s, Superstep):
                cs = -1
                if s.compute is not None:
                    cs = index.get(id(s.compute), -1)
                    if cs < 0:
                        cs = self._intern(s.compute, cs_list)
                        rows_of.append(s.compute.n_rows if s.compute.is_table else 1)
                    rows = rows_of[cs]
                    varies = varies or rows > 1
                ex = -1
                if s.exchange is not None:
                    ex = index.get(id(s.exchange), -1)
                    if ex < 0:
                        ex = self._intern(s.exchange, ex_list)
                kind, scope, host = STEP_SUPERSTEP, SCOPE_EXTERNAL if s.sync == "external" else SCOPE_INTERNAL, -1
            elif isinstance(s, Repeat):
                begin = len(o_kind)
                lo = len(names)
                self._op(OP_BEGIN, int(s.count), -1, lo, lo, -1)
                body_exec, body_varies = self.walk(s.body, depth + 1)
                hi = len(names)
                o_link[begin] = len(o_kind)
                o_hi[begin] = hi
                o_vary[begin] = int(body_varies)
                o_snap[begin] = self.n_snapshot
                self.n_snapshot += hi - lo
                self._op(OP_END, 0, begin, lo, hi, -1)
                n_exec += int(s.count) * body_exec
                continue
            else:
                kind, scope, cs, ex = STEP_HOST_COPY, SCOPE_EXTERNAL, -1, -1
                host = self._intern(s, self.host_list)
            o_kind.append(OP_STEP)
            o_arg.append(len(names))
            o_link.append(-1)
            o_lo.append(0)
            o_hi.append(0)
            o_snap.append(-1)
            o_vary.append(0)
            names.append(s.name)
            t_kind.append(kind)
            t_scope.append(scope)
            t_cs.append(cs)
            t_ex.append(ex)
            t_host.append(host)
            t_rows.append(rows)
            n_exec += 1
        return n_exec, varies


def _columns(cols: tuple[list[int], ...]) -> np.ndarray:
    out = np.empty((len(cols[0]), len(cols)), np.int64)
    for k, col in enumerate(cols):
        out[:, k] = col
    return out


def to_arrays(program: Program) -> ProgramArrays:
    """The struct-of-arrays view of ``program`` (no machine needed, no cost computed).

    The program is assumed valid (:func:`mimdsim.program.validate.check_program`).
    """
    f = _Flattener()
    n_executed, _ = f.walk(program.body, 0)
    table = _columns(f.table)
    ops = _columns(f.ops)
    return ProgramArrays(
        program.name,
        tuple(f.names),
        table,
        tuple(f.cs_list),
        tuple(f.ex_list),
        _ptr([h.tiles.size for h in f.host_list]),
        _cat([h.tiles for h in f.host_list]),
        _cat([h.nbytes for h in f.host_list]),
        ops,
        f.n_snapshot,
        f.max_depth,
        n_executed,
    )
