"""Cost of the compiler passes (docs/passes.md) on the SNN programs, and what they save the engine.

For the paper's 2-hidden net (one IPU) and family (c) on 16 IPUs: lower the program as issued once,
then time :func:`mimdsim.program.passes.apply_passes` for each pipeline (median of ``--runs``) and
the fast engine on the result (costs computed afresh each run)::

    .venv/bin/python -m benchmarks.passes_speed [--runs 5] [--out benchmarks/results/passes_speed.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from mimdsim.arch import load_machine
from mimdsim.engines import simulate
from mimdsim.program.memo import forget
from mimdsim.program.passes import PIPELINES, apply_passes
from mimdsim.snn.lowering.lower import LoweringOptions
from mimdsim.snn.model.spec import load_snn_model
from mimdsim.studies.estimate import estimate_training_step

REPO = Path(__file__).resolve().parents[1]
CASES = (("nmnist_a_2hidden", 1), ("nmnist_c_16ipu", 16))


def measure(runs: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, n_ipus in CASES:
        spec, _ = load_snn_model(REPO / "models" / "snn" / f"{name}.toml")
        machine = load_machine("bow", n_ipus=n_ipus)
        issued = estimate_training_step(spec, machine, options=LoweringOptions(passes="as-issued")).program
        assert issued is not None
        for pipeline in PIPELINES:
            t_pass, t_engine = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                program = apply_passes(issued, pipeline)
                t1 = time.perf_counter()
                result = simulate(program, machine, "fast", check_memory_fits=False)
                t2 = time.perf_counter()
                forget(program)
                t_pass.append(t1 - t0)
                t_engine.append(t2 - t1)
            rows.append({
                "model": name, "n_ipus": n_ipus, "pipeline": pipeline, "static_steps": len(program.iter_static()),
                "executed_steps": program.n_executed_steps(), "passes_ms": 1e3 * statistics.median(t_pass),
                "engine_ms": 1e3 * statistics.median(t_engine), "simulated_ms": result.seconds * 1e3,
            })  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = measure(args.runs)
    print("| model | pipeline | static steps | executed steps | passes ms | fast engine ms | simulated ms/step |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['model']} | {r['pipeline']} | {r['static_steps']:,} | {r['executed_steps']:,} | {r['passes_ms']:.1f} | {r['engine_ms']:.1f} | {r['simulated_ms']:.3f} |"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
