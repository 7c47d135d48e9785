"""Wall time of one SNN training-step estimate, split into its phases, for each engine.

The model is family (a)'s 2-hidden-layer net (``models/snn/nmnist_a_2hidden.toml``:
[2312, 1466, 1466, 10], B = 48, T = 100, act 0.01) on the machine of its ``[run]`` table
(bow). Each run does what :func:`mimdsim.studies.estimate.estimate_training_step` does, with
``time.perf_counter`` around each phase:

* ``functional``: :func:`mimdsim.snn.activity.counts.functional_activity` (the functional sparse
  LIF forward pass on Poisson input that gives the spike counts);
* ``lowering``: :func:`mimdsim.partition.partition_layers` + :func:`mimdsim.snn.lowering.lower.lower_snn`;
* ``validation+memory``: :func:`mimdsim.program.validate.check_program` +
  :func:`mimdsim.memory.ledger.memory_ledger` (what :func:`mimdsim.engines.simulate` does
  before it calls the engine);
* ``engine``: the engine itself (``mimdsim.engines.ENGINES[name]``), as ``simulate`` calls it.

Wall times (``perf_counter``) are the figures; ``cpu_total`` (``process_time`` of the whole
run) is printed beside them because wall time on a shared machine includes waiting for
the cores.

One warm-up run per engine (numba JIT / cache load, imports) is discarded; the figures are
the median of ``--runs`` (3) runs. The script prints a table and a JSON object (also
written to ``--out`` if given)::

    .venv/bin/python -m benchmarks.snn_estimate [--out benchmarks/results/snn_estimate.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mimdsim.arch import load_machine
from mimdsim.engines import ENGINES
from mimdsim.memory.ledger import memory_ledger
from mimdsim.partition import partition_layers
from mimdsim.program.validate import check_program
from mimdsim.snn.activity.counts import functional_activity
from mimdsim.snn.lowering import kept
from mimdsim.snn.lowering.lower import lower_snn
from mimdsim.snn.model.spec import load_snn_model

REPO = Path(__file__).resolve().parents[1]
PHASES = ("functional", "lowering", "validation+memory", "engine")


def one_run(spec, machine, engine: str, seed: int) -> tuple[dict[str, float], dict[str, object]]:
    c0, t0 = time.process_time(), time.perf_counter()
    act = functional_activity(spec, seed)
    c1, t1 = time.process_time(), time.perf_counter()
    mapping = partition_layers(spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus)
    with kept.bypassed():  # every run lowers and costs afresh, the loss's exchanges included
        program = lower_snn(spec, machine, mapping, act)
    c2, t2 = time.process_time(), time.perf_counter()
    check_program(program, machine)
    ledger = memory_ledger(program, machine)
    c3, t3 = time.process_time(), time.perf_counter()
    result = ENGINES[engine](program, machine, ledger.tile_bytes, max_steps=50_000_000, progress=False)
    c4, t4 = time.process_time(), time.perf_counter()
    t = {"functional": t1 - t0, "lowering": t2 - t1, "validation+memory": t3 - t2, "engine": t4 - t3, "total": t4 - t0}
    # CPU time of this process: less sensitive than wall time to other jobs sharing the cores
    t["cpu_total"] = c4 - c0
    t["cpu"] = {"functional": c1 - c0, "lowering": c2 - c1, "validation+memory": c3 - c2, "engine": c4 - c3}  # type: ignore[assignment]
    info = {
        "total_cycles": result.total_cycles,
        "ms_per_step": result.seconds * 1e3,
        "n_supersteps_executed": result.n_steps_executed,
        "n_static_steps": len(program.body),
        "max_tile_memory_bytes": ledger.max_tile_bytes,
    }
    return t, info


def host_info() -> dict[str, object]:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": sh("nproc"),
        "lscpu": sh("lscpu | head -15"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(REPO / "models/snn/nmnist_a_2hidden.toml"))
    ap.add_argument("--engines", default="fast,des")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)

    spec, hints = load_snn_model(args.model)
    machine = load_machine(hints.machine, **({"n_ipus": hints.n_ipus} if hints.n_ipus else {}))
    out: dict[str, object] = {
        "model": spec.name,
        "machine": machine.name,
        "layers": list(spec.layer_sizes),
        "sparse_sizes": list(spec.sparse_sizes),
        "batch_size": spec.batch_size,
        "n_timesteps": spec.n_timesteps,
        "runs": args.runs,
        "host": host_info(),
        "engines": {},
    }
    for engine in args.engines.split(","):
        one_run(spec, machine, engine, args.seed)  # warm-up: JIT / cache load, first-touch allocations
        runs = [one_run(spec, machine, engine, args.seed) for _ in range(args.runs)]
        med = {k: statistics.median(r[0][k] for r in runs) for k in (*PHASES, "total", "cpu_total")}
        out["engines"][engine] = {"median_s": med, "runs_s": [r[0] for r in runs], **runs[0][1]}  # type: ignore[index]

    print(f"{spec.name} on {machine.name}: layers {list(spec.layer_sizes)}, S {list(spec.sparse_sizes)}, "
          f"B={spec.batch_size}, T={spec.n_timesteps}; median of {args.runs} after a warm-up")  # fmt: skip
    cols = (*PHASES, "total", "cpu_total")
    head = f"{'engine':8s}" + "".join(f"{p:>19s}" for p in cols) + f"{'ms/step':>10s}"
    print(head)
    for engine, d in out["engines"].items():  # type: ignore[union-attr]
        med = d["median_s"]
        print(f"{engine:8s}" + "".join(f"{med[p]:18.3f}s" for p in cols) + f"{d['ms_per_step']:10.3f}")
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
