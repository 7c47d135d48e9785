"""Partitioner wall times (results in docs/performance.md, "Partitioning").

* ``full_ipu``: every method but ``refine`` on ``models/snn/sparse/nmnist_sparse_random5.toml``
  at 2 neurons per tile: 733 + 733 + 5 = 1,471 tiles, all of IPU 0, 2,942 units with nets
  from 5 % random masks; wall time of :func:`mimdsim.studies.placement.place` per method (the
  workload graph built once beforehand, as ``mimdsim partition`` does).
* ``ipu64``: ``metis`` on the family (c) pattern on 64 IPUs (188,290 neurons; the TOML is
  written by ``models/snn/generate.py``'s rules), with the graph build included.
* ``refine``: ``refine`` from ``metis`` (16 simulations) on the shuffled local model.

Activity: parametric at the model's sparse sizes' rate (the partitioners' time does not
depend on it). Run (about 5 minutes)::

    .venv/bin/python -m benchmarks.partition_speed --out benchmarks/results/partition_speed.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._host import emit, host_info

REPO = Path(__file__).resolve().parent.parent

SPARSE = REPO / "models" / "snn" / "sparse"


def _setup(path: Path, n_ipus: int | None = None):  # type: ignore[no-untyped-def]
    from mimdsim.snn.activity.counts import parametric_activity
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import run_settings

    spec, hints = load_snn_model(path)
    machine, _ = run_settings(hints, n_ipus=n_ipus)
    return spec, machine, parametric_activity(spec, 0.02, seed=0)


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return round(time.perf_counter() - t, 3)


def full_ipu() -> dict[str, object]:
    from mimdsim.partition import METHODS
    from mimdsim.studies.placement import place

    spec, machine, act = _setup(SPARSE / "nmnist_sparse_random5.toml")
    out: dict[str, float] = {}
    for method in METHODS:
        if method != "refine":
            out[method] = _timed(lambda m=method: place(spec, machine, act, method=m, neurons_per_tile=2))
            print(f"full_ipu {method}: {out[method]} s", file=sys.stderr, flush=True)
    return {"full_ipu_tiles": 1471, "full_ipu_seconds": out, "full_ipu_max_s": max(out.values())}


def ipu64(tmp: Path) -> dict[str, object]:
    from benchmarks._host import models_generate

    generate = models_generate()

    from mimdsim.studies.placement import place

    model = generate.family_c((64,))[0]
    path = tmp / "nmnist_c_64ipu.toml"
    path.write_text(model.render())
    spec, machine, act = _setup(path)
    return {
        "ipu64_neurons": sum(spec.layer_sizes[1:]),
        "ipu64_metis_s": _timed(lambda: place(spec, machine, act, method="metis")),
    }


def refine() -> dict[str, object]:
    from mimdsim.studies.placement import place

    spec, machine, act = _setup(SPARSE / "nmnist_sparse_local_shuffled.toml")
    return {"refine_local_shuffled_s": _timed(lambda: place(spec, machine, act, method="refine", neurons_per_tile=8))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    result: dict[str, object] = {"host": host_info()}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(full_ipu())
        result.update(ipu64(Path(tmp)))
        result.update(refine())
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
