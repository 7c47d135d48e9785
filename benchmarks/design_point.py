"""A design point in a warm process, and a sweep on one process (issue 24's targets; results in docs/performance.md).

* ``activity``: :func:`~mimdsim.studies.estimate.estimate_training_step` of family (a)'s 2-hidden network on ``bow``
  at ten max activities (0.006 .. 0.042) not estimated before in the process, after a first pass over ten others
  (0.004 .. 0.04; numba and memo warm) and with the timed points' spike activity already cached: the median wall
  time per call, and where it goes (lowering, of which the stage-1 reduce; validation; compute
  costs; exchange costs; compiler passes; the rest), summed over the ten calls by wrapping those functions.
* ``machine``: the same network at 0.01 on ten machine descriptions that differ from ``bow`` in one field (the
  exchange bytes per cycle), each a new description: the median wall time per call.
* ``sweep``: ``mimdsim sweep --activities <25: 0.004 .. 0.1> --json`` over family (a) (100 points), after a first
  call that fills the caches, with ``--processes 1`` (its wall and CPU time) and ``--processes 2``: points per minute
  of each whole call, and the peak RSS of the calls.
* ``start``: a fresh process importing the command line and running its first kernel (where Numba starts), with
  Numba's BLAS probe (which imports ``scipy.linalg``) and without it (:func:`mimdsim.numba_setup.skip_blas_probe`,
  as the console script starts), alternately, five times each: the median wall time of each, in the process.
* ``grid``: a sweep spec of 4 exchange bandwidths (the outer axis) x 10 max activities of the 2-hidden network through
  :func:`~mimdsim.sweep.spec_records` in this process, with the points grouped by lowering (as a sweep runs them)
  and in point order (each point lowered again), alternately, twice each: the wall time of each run.

Run (about two minutes)::

    .venv/bin/python -m benchmarks.design_point --out benchmarks/results/design_point.json
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._host import emit, host_info

ACTIVITIES = [0.004 * i for i in range(1, 11)]
SWEEP_ACTIVITIES = ",".join(f"{0.004 * i:.3f}" for i in range(1, 26))


def _spec(a: float) -> Any:
    from mimdsim.snn.model.spec import snn_from_sizes

    return snn_from_sizes([2312, 1466, 1466, 10], max_activity=a, input_sparse_size=32, batch_size=48, n_timesteps=100,
                          optimizer="adam")  # fmt: skip


def _timed(owner: Any, name: str, label: str, acc: dict[str, float]) -> Callable[[], None]:
    """Wrap ``owner.name`` to add its wall time to ``acc[label]``; returns the undo."""
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[label] += time.perf_counter() - t

    setattr(owner, name, run)
    return lambda: setattr(owner, name, fn)


def activity_and_machine() -> dict[str, object]:
    import mimdsim.engines as engines
    import mimdsim.engines.fast as fast
    import mimdsim.snn.lowering.lower as lower
    import mimdsim.studies.estimate as estimate
    from mimdsim import load_machine
    from mimdsim.snn.activity.cache import cached_functional_activity
    from mimdsim.snn.lowering.common import LoweringBase

    bow = load_machine("bow")
    for a in ACTIVITIES:
        estimate.estimate_training_step(_spec(a), bow)
        cached_functional_activity(_spec(a + 0.002))  # the timed points' activity, not their programs
    acc: dict[str, float] = defaultdict(float)
    undo = [
        _timed(estimate, "lower_snn", "lowering", acc),
        _timed(LoweringBase, "add_reduce_stage1", "lowering: stage-1 reduce", acc),
        _timed(lower, "apply_passes", "lowering: compiler passes", acc),
        _timed(engines, "check_program", "validation", acc),
        _timed(fast, "_compute_costs", "compute costs", acc),
        _timed(fast, "_exchange_costs", "exchange costs", acc),
    ]
    times = []
    for a in ACTIVITIES:
        t = time.perf_counter()
        estimate.estimate_training_step(_spec(a + 0.002), bow)  # a max activity not lowered before
        times.append(time.perf_counter() - t)
    for u in undo:
        u()
    spec = _spec(0.01)
    machines = [load_machine("bow", exchange_bytes_per_cycle=v) for v in (2, 3, 5, 6, 7, 8, 9, 10, 12, 16)]
    m_times = []
    for m in machines:
        t = time.perf_counter()
        estimate.estimate_training_step(spec, m)
        m_times.append(time.perf_counter() - t)
    per_call = {k: round(1000 * v / len(ACTIVITIES), 2) for k, v in sorted(acc.items(), key=lambda kv: -kv[1])}
    return {
        "activity_ms_median": round(1000 * statistics.median(times), 2),
        "activity_ms_all": [round(1000 * t, 2) for t in times],
        "activity_ms_per_call_by_part": per_call,
        "machine_ms_median": round(1000 * statistics.median(m_times), 2),
        "machine_ms_all": [round(1000 * t, 2) for t in m_times],
    }


def _children_cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def sweep() -> dict[str, object]:
    cmd = [str(Path(sys.executable).with_name("mimdsim")), "sweep", "--activities", SWEEP_ACTIVITIES, "--json"]
    subprocess.run([*cmd, "--processes", "1"], capture_output=True, check=True)  # fills the activity cache
    out: dict[str, object] = {"points": 100}
    for procs in (1, 2):
        cpu, t = _children_cpu_s(), time.perf_counter()
        subprocess.run([*cmd, "--processes", str(procs)], capture_output=True, check=True)
        wall = time.perf_counter() - t
        key = f"{procs}_process{'es' if procs > 1 else ''}"
        out[f"wall_s_{key}"] = round(wall, 2)
        out[f"points_per_min_{key}"] = round(100 / wall * 60)
        if procs == 1:  # the call's own CPU time (a second busy thread, OpenBLAS's spinning, shows as cpu > wall)
            out["cpu_s_1_process"] = round(_children_cpu_s() - cpu, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)  # the largest call (KiB)
    return out


_START = """
import sys, time
t = time.perf_counter()
import numpy as np
import mimdsim.cli
from mimdsim.numba_setup import skip_blas_probe
from mimdsim.program.unique import unique_ints
if sys.argv[1] == "skip":
    skip_blas_probe()
unique_ints(np.array([3, 1, 2]))
print(time.perf_counter() - t)
"""


def start() -> dict[str, object]:
    walls: dict[str, list[float]] = {"with_probe_s": [], "without_probe_s": []}
    for _ in range(5):
        for key, arg in (("with_probe_s", "probe"), ("without_probe_s", "skip")):
            out = subprocess.run([sys.executable, "-c", _START, arg], capture_output=True, text=True, check=True)
            walls[key].append(round(float(out.stdout), 3))
    return {**walls, **{k.replace("_s", "_median_s"): round(statistics.median(v), 3) for k, v in walls.items()}}


def grid() -> dict[str, object]:
    import mimdsim.sweep.run as run_mod
    from mimdsim.snn.activity import cache
    from mimdsim.sweep import SweepSpec, spec_records

    acts = [round(0.004 * i, 3) for i in range(1, 11)]
    base = {"model": "nmnist_a_2hidden", "machine": "bow", "gpu": None}
    spec = SweepSpec.from_dict({"name": "grid", "base": base,
                                "grid": {"machine.exchange_bytes_per_cycle": [4, 6, 8, 16], "max_activity": acts}})  # fmt: skip
    grouped = run_mod.by_lowering
    spec_records(spec, progress=False)  # activity and numba warm
    walls: dict[str, list[float]] = {"grouped_s": [], "point_order_s": []}
    for _ in range(2):
        for key, order in (("grouped_s", grouped), ("point_order_s", lambda todo, prepared: list(todo))):
            run_mod.by_lowering = order  # type: ignore[assignment]
            cache.clear()
            t = time.perf_counter()
            spec_records(spec, progress=False)
            walls[key].append(round(time.perf_counter() - t, 2))
    run_mod.by_lowering = grouped
    return {"points": 40, **walls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    emit({"host": host_info(), "point": activity_and_machine(), "start": start(), "grid_1_process": grid(),
          "sweep": sweep()}, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
