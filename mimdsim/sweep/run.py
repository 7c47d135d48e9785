"""Run a sweep spec: points resolved and checked first, a store resumed, results as a DataFrame.

Example (docs/sweeps.md runs the same)::

    spec = SweepSpec.from_dict({"base": {"model": "nmnist_a_2hidden", "gpu": "a100"}, "grid": {"max_activity": [0.01, 0.1]}})
    df = run_spec(spec, out="results.jsonl")      # a rerun reads the stored points back
    df[["max_activity", "ms_per_step", "speedup_vs_gpu"]]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from mimdsim.errors import ConfigError, MimdsimError
from mimdsim.sweep.executors import iter_sweep
from mimdsim.sweep.snn import PreparedPoint, by_lowering, prepare_point, run_prepared, snn_point
from mimdsim.sweep.spec import SweepSpec
from mimdsim.sweep.store import ResultStore, store_lock

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SweepRun", "run_spec", "spec_records", "prepared_points", "timed_point", "timed_prepared"]


def prepared_points(points: list[dict[str, Any]]) -> list[PreparedPoint]:
    """Every point resolved (:func:`~mimdsim.sweep.snn.prepare_point`), each with the ``input_hash`` its record will
    have.

    Raises
    ------
    MimdsimError
        A point that cannot run at all (an unknown model or machine, a bad override or
        value), naming the point: the sweep is refused before anything runs or is stored.
        What only the run finds (a network that does not fit) becomes a failed record.
    """
    out = []
    for i, p in enumerate(points):
        try:
            out.append(prepare_point(p))
        except MimdsimError as err:
            shown = ", ".join(
                f"{k}={v}" for k, v in p.items() if k in ("model", "max_activity") or k.startswith(("machine.", "model."))
            )
            raise ConfigError(f"sweep point {i} ({shown}): {err}") from None
    return out


def timed_point(point: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    """The worker of a stored sweep in other processes: the point's record (errors recorded) and its wall time in
    seconds."""
    t0 = time.perf_counter()
    rec = snn_point({**point, "on_error": "record"})
    return rec, time.perf_counter() - t0


def timed_prepared(point: PreparedPoint) -> tuple[dict[str, Any], float]:
    """:func:`timed_point` of a point resolved here already (a sweep that runs in this process)."""
    t0 = time.perf_counter()
    rec = run_prepared(point, on_error="record")
    return rec, time.perf_counter() - t0


class SweepRun:
    """What :func:`spec_records` did: the records in point order, how many ran now, how many came from the store."""

    def __init__(self, spec: SweepSpec, records: list[dict[str, Any]], ran: int, reused: int) -> None:
        self.spec, self.records, self.ran, self.reused = spec, records, ran, reused

    @property
    def failed(self) -> int:
        return sum(1 for r in self.records if r.get("error"))

    def frame(self) -> pd.DataFrame:
        """One row per point: the varying point keys (those that are no record field), then the record's fields."""
        from mimdsim.sweep.frame import records_frame

        return records_frame(self.records, self.spec.points(), self.spec.axes)


def spec_records(
    spec: SweepSpec,
    *,
    out: str | os.PathLike[str] | None = None,
    processes: int | None = 1,
    executor: Executor | None = None,
    progress: bool | None = None,
) -> SweepRun:
    """Run every point of ``spec`` not already in the store ``out``; a failing point is a record with ``error``.

    ``progress``: a bar with rate and ETA on stderr (``None``: only when stderr is a terminal).
    The store gets each point as it finishes, so a sweep killed at any moment loses only the
    points in flight; run it again to finish it.
    """
    from tqdm.auto import tqdm

    from mimdsim.studies.record import record_fields

    points = spec.points()
    prepared = prepared_points(points)  # before the store is opened: a sweep that cannot run leaves it untouched
    hashes = [p.input_hash for p in prepared]
    fields = set(record_fields())
    axes = [a for a in spec.axes if a not in fields]  # the swept keys a record does not hold: every output row carries them

    def with_axes(i: int, rec: dict[str, Any]) -> dict[str, Any]:
        return {**{a: points[i].get(a) for a in axes}, **rec}

    with store_lock(out):  # a second sweep on the same store waits, then finds the points stored
        store = ResultStore(out, spec.name, spec.spec_hash, len(points)) if out is not None else None
        records: list[dict[str, Any] | None] = [None] * len(points)
        held = {e["input_hash"]: e["record"] for e in store.entries()} if store is not None else {}
        todo = []
        for i, h in enumerate(hashes):
            if h in held:
                records[i] = with_axes(i, held[h])
            else:
                todo.append(i)
        reused = len(points) - len(todo)
        todo = by_lowering(todo, prepared)  # each network and activity lowered once, whatever the axes' order
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=len(points), initial=reused, desc=spec.name, unit="pt", disable=not show, file=sys.stderr) as bar:
            here = executor is None and (processes == 1 or len(todo) <= 1)  # iter_sweep runs them in this process
            # points resolved here run as they are; other processes get the point dicts (small) and resolve them
            work = (
                iter_sweep([prepared[i] for i in todo], timed_prepared, processes=processes)
                if here
                else iter_sweep([points[i] for i in todo], timed_point, processes=processes, executor=executor)
            )
            for j, (rec, wall_s) in work:
                i = todo[j]
                records[i] = with_axes(i, rec)
                if store is not None:
                    store.append(i, points[i], rec, wall_s)
                bar.update(1)
    return SweepRun(spec, [r for r in records if r is not None], len(todo), reused)


def run_spec(
    spec: SweepSpec,
    *,
    out: str | os.PathLike[str] | None = None,
    processes: int | None = 1,
    executor: Executor | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """:func:`spec_records` as a pandas DataFrame (one row per point, in point order)."""
    return spec_records(spec, out=out, processes=processes, executor=executor, progress=progress).frame()
