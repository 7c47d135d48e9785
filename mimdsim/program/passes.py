"""Compiler passes over the program IR: what Poplar's lowering does to a program sequence.

A workload's lowering emits its program *as issued*: one superstep (sync, exchange,
compute) per Poplar program -- each ``Execute`` of a compute set and each ``Copy``.
Poplar (closed source) does not run that sequence as it stands; what it is documented or
inferred to do is expressed here as passes, each a pure function ``Program -> Program``
that works on any program (a workload's, one from :class:`~mimdsim.program.builder.ProgramBuilder`
or a file), and named pipelines of them (:data:`PIPELINES`):

* ``as-issued``: no pass;
* ``poplar`` (the default of the SNN workload): ``replicate_offsets``, ``merge_copies``,
  ``local_compute`` -- what Poplar 2.x is documented (copy merging) or inferred (the other
  two) to do; docs/passes.md gives the evidence and how sure each piece is;
* ``fused``: the ``poplar`` passes and ``hoist_exchanges``: every step merged into the one
  before it that data dependences allow -- a what-if of a compiler that merged more.

Every pass only moves work between supersteps: the bytes each tile sends and receives
(less the replicated offsets) and the vertices each tile runs are conserved, and both
engines read the result like any other program (tests/program/test_passes.py).

Passes work on each body (the program's and every ``Repeat``'s) on its own: nothing moves
across a loop boundary, so cycle tables keep their rows.

>>> from mimdsim.program.builder import ProgramBuilder
>>> b = ProgramBuilder("p")
>>> for name in ("a", "b"):
...     ex = b.exchange(f"copy {name}")
...     ex.send(0, 1, 64)
...     b.superstep(f"copy {name}", exchange=ex, op="copy")
>>> b.superstep("scale", compute=b.compute_set("scale").add("Mul", [1], cycles=10))
>>> [s.name for s in apply_passes(b.build(), "poplar").body]
['copy a + copy b + scale']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.program.exchange import Exchange, concat_exchanges
from mimdsim.program.ir import ComputeSet, Program, ProgramOp, Repeat, Step, Superstep, SyncScope, VertexBlock

__all__ = [
    "Pass",
    "PASSES",
    "PIPELINES",
    "DEFAULT_PIPELINE",
    "replicate_offsets",
    "merge_copies",
    "local_compute",
    "hoist_exchanges",
    "resolve_passes",
    "apply_passes",
    "passes_label",
]

Pass = Callable[[Program], Program]


# ---- helpers ----------------------------------------------------------------------------
def _map_bodies(program: Program, fn: Callable[[tuple[Step, ...]], tuple[Step, ...]]) -> Program:
    """``program`` with ``fn`` applied to its body and to every repeat's body (innermost first)."""

    return Program(program.name, _walk(program.body, fn), program.tensors, program.batch_size, dict(program.metadata))


def _walk(steps: tuple[Step, ...], fn: Callable[[tuple[Step, ...]], tuple[Step, ...]]) -> tuple[Step, ...]:
    """``fn`` applied to every repeat's body in ``steps`` (innermost first), then to ``steps``. A module function,
    not a closure that calls itself: such a closure is a reference cycle that would keep a pass's merged objects
    (and their arrays) alive until the collector's next full pass."""
    inner = tuple(Repeat(s.count, _walk(s.body, fn), s.name) if isinstance(s, Repeat) else s for s in steps)
    return fn(inner)


def _has_exchange(s: Superstep) -> bool:
    return s.exchange is not None and s.exchange.n_transfers > 0


def _merged_name(names: Sequence[str]) -> str:
    """The name of a step merged from steps named ``names``: their families (``[l=...]`` dropped), each once, in order.

    >>> _merged_name(["fwd.a[l=0]", "fwd.a[l=1]", "fwd.b"]), _merged_name(["x[l=2]"])
    ('fwd.a + fwd.b', 'x[l=2]')
    """
    if len(set(names)) == 1:
        return names[0]
    fams: dict[str, None] = {}  # insertion-ordered, each family once
    for name in names:
        for part in name.split(" + "):
            fams[part[: part.index("[")] if part.endswith("]") and "[" in part else part] = None
    return " + ".join(fams)


def _scope(steps: Sequence[Superstep]) -> SyncScope:
    return "external" if any(s.sync == "external" for s in steps) else "internal"


class _Merger:
    """Builds the merged compute set and exchange of a run of supersteps, once per run of objects within
    one pass (the forward and backward loops share their objects, so their merges are shared too, and the
    engines cost each once)."""

    def __init__(self) -> None:
        self._cs: dict[tuple[int, ...], ComputeSet | None] = {}
        self._ex: dict[tuple[int, ...], Exchange | None] = {}
        self._keep: list[object] = []  # the merged objects' parts stay alive: their ids stay unique

    def compute(self, sets: Sequence[ComputeSet | None]) -> ComputeSet | None:
        """The compute sets one after another in one compute phase: each one's segments follow the previous
        one's (each tile starts the next when its own part of the previous is done; no sync between them)."""
        parts = [c for c in sets if c is not None and c.blocks]
        if len(parts) <= 1:
            return parts[0] if parts else None
        key = tuple(id(c) for c in parts)
        if key not in self._cs:
            blocks: list[VertexBlock] = []
            base = 0
            for c in parts:
                blocks += [blk.in_segment(base + blk.segment) for blk in c.blocks]
                base += c.n_segments
            self._cs[key] = ComputeSet(_merged_name([c.name for c in parts]), tuple(blocks))
            self._keep.append(parts)
        return self._cs[key]

    def exchange(self, exchanges: Sequence[Exchange | None]) -> Exchange | None:
        """Every transfer of ``exchanges`` in one exchange phase."""
        parts = [e for e in exchanges if e is not None and e.n_transfers]
        if len(parts) <= 1:
            return parts[0] if parts else None
        key = tuple(id(e) for e in parts)
        if key not in self._ex:
            self._ex[key] = concat_exchanges(_merged_name([e.name for e in parts]), parts)
            self._keep.append(parts)
        return self._ex[key]

    def merge(self, run: Sequence[Superstep], sync: SyncScope, op: ProgramOp) -> Superstep:
        """The run of supersteps as one: ``sync``, all their transfers in one exchange phase, their compute sets in order."""
        name = _merged_name([s.name for s in run])
        return Superstep(name, sync, self.exchange([s.exchange for s in run]), self.compute([s.compute for s in run]), op)


def _merge_runs(
    program: Program, joins: Callable[[list[Superstep], Superstep], bool], merge: Callable[[list[Superstep]], Superstep]
) -> Program:
    """Group every body into runs: a superstep ``s`` joins the run before it when ``joins(run, s)``; each run of
    two or more supersteps becomes ``merge(run)``."""

    def fold(steps: tuple[Step, ...]) -> tuple[Step, ...]:
        runs: list[list[Superstep] | Step] = []
        for s in steps:
            last = runs[-1] if runs else None
            if isinstance(s, Superstep) and isinstance(last, list) and joins(last, s):
                last.append(s)
            else:
                runs.append([s] if isinstance(s, Superstep) else s)
        return tuple((r[0] if len(r) == 1 else merge(r)) if isinstance(r, list) else r for r in runs)

    return _map_bodies(program, fold)


# ---- the passes ---------------------------------------------------------------------------
def replicate_offsets(program: Program) -> Program:
    """Drop the transfers marked ``replicable``: the scalars Poplar replicates onto their consumers.

    Source: "Offset must be a scalar. It will be replicated over tiles by the small graph
    replication optimisation during lowering" (PopLibs sdk-release-2.6,
    lib/popops/DynamicSlice.cpp:468-469). Reading (inferred): a dynamic slice or update
    whose data are local to its tiles moves nothing in its exchange; the loop counter's
    update is replicated with it. A superstep whose exchange held only such transfers keeps
    its sync and compute (``local_compute`` decides about the sync).
    """
    memo: dict[int, Exchange | None] = {}

    def strip(ex: Exchange) -> Exchange | None:
        if id(ex) not in memo:
            keep = ~ex.replicable
            memo[id(ex)] = None if not keep.any() else ex.select(keep)
        return memo[id(ex)]

    def fold(steps: tuple[Step, ...]) -> tuple[Step, ...]:
        out: list[Step] = []
        for s in steps:
            if isinstance(s, Superstep) and s.exchange is not None and s.exchange.replicable.any():
                s = Superstep(s.name, s.sync, strip(s.exchange), s.compute, s.op)
            out.append(s)
        return tuple(out)

    return _map_bodies(program, fold)


def merge_copies(program: Program) -> Program:
    """Consecutive ``copy`` supersteps become one: one sync, their transfers in one exchange phase,
    their on-tile copies in one compute phase (one copy after another on each tile).

    Sources: PopLibs relies on it ("explicity check if mapping is different if copy merging
    in poplar cannot/does not elide copies", lib/popops/DynamicSlice.cpp:2837; ``addPreRegroupProgs``
    appends Copies back to back so that Poplar can merge them, ibid. 2883-2899); Graphcore's
    TensorFlow backend documents it for stream copies ("As long as the stream copies are
    scheduled right after each other, Poplar will attempt to merge them", ``SendToHostOp``).
    A copy after a compute set is not merged with the next copy. The pass assumes, as
    PopLibs does when it issues copies back to back, that consecutive copies are independent.
    """
    m = _Merger()

    def joins(run: list[Superstep], s: Superstep) -> bool:
        return run[-1].op == "copy" and s.op == "copy"

    def merge(run: list[Superstep]) -> Superstep:
        return m.merge(run, _scope(run), "copy")

    return _merge_runs(program, joins, merge)


def local_compute(program: Program) -> Program:
    """A compute set that needs no exchange runs in the compute phase before it, without a sync.

    Source (inferred, medium-low confidence): PopLibs' own planners charge one sync per
    *exchange*, not per compute set ("We also sync prior to each exchange",
    lib/popnn/CTCLossPlan.cpp:349-351; ``estimateReduceAtDstCost``, lib/popops/reduction/
    ReductionPlan.cpp:89-125, one exchange and one sync). A tile whose inputs are all local
    depends on no other tile, so nothing needs to wait. The compute set becomes the next
    segment of the previous step's compute phase (each tile starts it when its own earlier
    work is done). The first step of a body, and one after a host copy or a loop, keeps
    its sync.
    """
    m = _Merger()

    def joins(run: list[Superstep], s: Superstep) -> bool:
        return not _has_exchange(s) and s.compute is not None and bool(s.compute.blocks)

    def merge(run: list[Superstep]) -> Superstep:  # the first step's sync and exchange, then every compute set
        return m.merge(run, run[0].sync, "copy" if all(s.op == "copy" for s in run) else "execute")

    def drop_empty(p: Program) -> Program:  # a step with neither exchange nor compute moves nothing (and must not start a run)
        def fold(steps: tuple[Step, ...]) -> tuple[Step, ...]:
            return tuple(
                s
                for s in steps
                if not (isinstance(s, Superstep) and not _has_exchange(s) and (s.compute is None or not s.compute.blocks))
            )

        return _map_bodies(p, fold)

    return _merge_runs(drop_empty(program), joins, merge)


def _tiles(ex: Exchange | None, side: str) -> np.ndarray:
    if ex is None or not ex.n_transfers:
        return np.zeros(0, np.int64)
    return np.unique(ex.src if side == "src" else ex.dst)


def _compute_tiles(cs: ComputeSet | None) -> np.ndarray:
    if cs is None or not cs.blocks:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate([b.tiles for b in cs.blocks]))


def hoist_exchanges(program: Program) -> Program:
    """Every superstep whose exchange does not read what the step before it produced joins that step.

    A what-if, not Poplar's documented behaviour: the exchange of ``b`` moves into the
    exchange phase of the step ``a`` before it, and ``b``'s compute runs after ``a``'s as a
    new segment, when no tile that sends in ``b``'s exchange computed in ``a`` or received
    in ``a``'s exchange (a read-after-write dependence at tile granularity, which is
    conservative: a tile's other variables may be independent). Destination buffers are
    taken as distinct variables (no write-after-read check), as a compiler free to
    allocate them would make them. A step with an external sync does not join one with an
    internal sync: its all-IPU sync would move earlier and hold back the IPUs that were
    still computing.
    """
    m = _Merger()
    produced: dict[int, np.ndarray] = {}  # per run (by the id of its list): the tiles its steps computed on or received into

    def written(s: Superstep) -> np.ndarray:
        return np.union1d(_compute_tiles(s.compute), _tiles(s.exchange, "dst"))

    def joins(run: list[Superstep], s: Superstep) -> bool:
        key = id(run)
        if key not in produced or len(run) == 1:
            produced[key] = written(run[0])
        ok = not _has_exchange(s) or (
            not (_scope(run) == "internal" and s.sync == "external")  # an all-IPU sync moved earlier would hold the others back
            and not np.intersect1d(_tiles(s.exchange, "src"), produced[key], assume_unique=True).size
        )
        if ok:
            produced[key] = np.union1d(produced[key], written(s))
        return ok

    def merge(run: list[Superstep]) -> Superstep:
        return m.merge(run, _scope(run), "execute")

    return _merge_runs(program, joins, merge)


PASSES: dict[str, Pass] = {
    "replicate_offsets": replicate_offsets,
    "merge_copies": merge_copies,
    "local_compute": local_compute,
    "hoist_exchanges": hoist_exchanges,
}
"""The passes by name, in the order a pipeline applies them."""

PIPELINES: dict[str, tuple[str, ...]] = {
    "as-issued": (),
    "poplar": ("replicate_offsets", "merge_copies", "local_compute"),
    "fused": ("replicate_offsets", "merge_copies", "local_compute", "hoist_exchanges"),
}
"""Named pipelines (see the module docstring)."""

DEFAULT_PIPELINE = "poplar"


def resolve_passes(passes: str | Sequence[str | Pass]) -> tuple[str | Pass, ...]:
    """A pipeline name, a comma-separated list of pass names, or a sequence of names and callables, as passes.

    Raises :class:`~mimdsim.errors.ConfigError` naming the unknown entry and what is allowed.

    >>> resolve_passes("poplar")
    ('replicate_offsets', 'merge_copies', 'local_compute')
    >>> resolve_passes("merge_copies,local_compute")
    ('merge_copies', 'local_compute')
    >>> resolve_passes("as-issued"), resolve_passes("")
    ((), ())
    """
    if isinstance(passes, str):
        if passes in PIPELINES:
            return PIPELINES[passes]
        items: Sequence[str | Pass] = [p.strip() for p in passes.split(",") if p.strip()]
    else:
        items = passes
    out: list[str | Pass] = []
    for p in items:
        if callable(p) or p in PASSES:
            out.append(p)
        else:
            raise ConfigError(
                f"passes: {p!r} is not a pipeline ({', '.join(PIPELINES)}) or a pass ({', '.join(PASSES)}); give a pipeline name "
                "or a comma-separated list of passes"
            )
    return tuple(out)


def passes_label(passes: str | Sequence[str | Pass]) -> str:
    """A canonical name of ``passes``: the pipeline's name when the passes are one, else the pass names joined by commas.

    >>> passes_label("replicate_offsets,merge_copies,local_compute"), passes_label(()), passes_label("merge_copies")
    ('poplar', 'as-issued', 'merge_copies')
    """
    resolved = resolve_passes(passes)
    names = tuple(getattr(p, "__name__", repr(p)) if callable(p) else p for p in resolved)
    for name, pipeline in PIPELINES.items():
        if names == pipeline:
            return name
    return ",".join(names)


def apply_passes(program: Program, passes: str | Sequence[str | Pass] = DEFAULT_PIPELINE) -> Program:
    """``program`` transformed by ``passes`` (a pipeline name, pass names or callables ``Program -> Program``), in order.

    The result records the passes in ``metadata["passes"]``.
    """
    resolved = resolve_passes(passes)
    out = program
    for p in resolved:
        fn = PASSES[p] if isinstance(p, str) else p
        out = fn(out)
        if not isinstance(out, Program):
            raise ConfigError(f"passes: {getattr(fn, '__name__', fn)!r} returned {type(out).__name__}, not a Program")
    if out is program:
        out = Program(program.name, program.body, program.tensors, program.batch_size, dict(program.metadata))
    out.metadata["passes"] = passes_label(passes)
    return out
