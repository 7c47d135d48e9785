"""Design points per minute of a sweep on each executor (results in docs/performance.md).

The family (a) sweep x 25 activities (0.005 .. 0.5, geometric: 100 points, as in
speed_targets.py) through :func:`mimdsim.sweep.spec_records` with a result store, in one
process (warm Numba cache, activity cache warmed by a first pass):

* ``serial``: in this process (Numba's default threads);
* ``pool1`` / ``pool2``: the local pool with 1 and 2 workers (one Numba thread each): the
  fair 1 -> 2 worker ratio;
* ``dask2``: a Dask LocalCluster of 2 worker processes (when distributed is installed),
  start-up of the cluster included.

Each executor writes its own store, and the rows of every store are compared (they must be
identical). Run (about 2 minutes)::

    .venv/bin/python -m benchmarks.sweep_executors --out benchmarks/results/sweep_executors.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ACTIVITIES = [round(0.005 * 100 ** (i / 24), 6) for i in range(25)]


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="write the JSON here too")
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    from benchmarks._host import emit, host_info
    from mimdsim.sweep import PAPER_FAMILY_A_MODELS, SweepSpec, read_store, spec_records

    spec = SweepSpec.from_dict({"name": "bench", "base": {"machine": "bow", "gpu": "a100", "engine": "fast"},
                                "grid": {"model": list(PAPER_FAMILY_A_MODELS), "max_activity": ACTIVITIES}})  # fmt: skip
    n = len(spec.points())
    result: dict[str, object] = {"host": host_info(), "points": n}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MIMDSIM_CACHE_DIR"] = str(Path(tmp) / "cache")
        spec_records(spec, progress=False)  # warm the activity cache (and this process)
        runs: dict[str, dict[str, object]] = {"serial": {}, "pool1": {"processes": 1}, "pool2": {"processes": 2}}
        stores = {}
        for name, kw in runs.items():
            store = Path(tmp) / f"{name}.jsonl"
            t = time.perf_counter()
            if name == "pool1":
                from mimdsim.sweep import local_executor

                with local_executor(1, n) as ex:
                    spec_records(spec, out=store, executor=ex, progress=False)
            else:
                spec_records(spec, out=store, progress=False, **kw)  # type: ignore[arg-type]
            dt = time.perf_counter() - t
            result[f"{name}_s"] = round(dt, 2)
            result[f"{name}_points_per_min"] = round(n / dt * 60)
            stores[name] = store
            print(name, round(dt, 2), flush=True)
        if not args.skip_dask:
            try:
                from mimdsim.sweep import dask_executor

                t = time.perf_counter()
                with dask_executor(local_workers=2) as ex:
                    spec_records(spec, out=Path(tmp) / "dask2.jsonl", executor=ex, progress=False)
                dt = time.perf_counter() - t
                result["dask2_s"], result["dask2_points_per_min"] = round(dt, 2), round(n / dt * 60)
                stores["dask2"] = Path(tmp) / "dask2.jsonl"
            except Exception as err:
                result["dask2_error"] = f"{type(err).__name__}: {err}"
        rows = {k: sorted(json.dumps(e["record"], sort_keys=True) for e in read_store(p)[1]) for k, p in stores.items()}
        result["rows_identical"] = len({tuple(v) for v in rows.values()}) == 1
    result["pool_speedup_2_over_1"] = round(float(result["pool1_s"]) / float(result["pool2_s"]), 2)  # type: ignore[arg-type]
    return emit(result, args.out)


if __name__ == "__main__":
    main()
