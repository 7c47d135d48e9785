"""Predicted training-step time of the seed paper's family (a) (sparsity x depth on one IPU).

For each model ``models/snn/nmnist_a_{2,3,4,5}hidden.toml`` and each maximum activity of
``--activities`` (default 0.01, 0.05, 0.1; the activity sets every sparse size,
``S = 2 floor(a N / 2)``), run :func:`mimdsim.studies.estimate.estimate_training_step` on the
model's machine (bow) with the functional activity (seed ``--seed``, default 0) and the
``--engine`` (fast). Prints a Markdown table of ms/step, its critical-path breakdown
(compute / exchange / sync / host; global exchange is 0 on one IPU and shown only if
non-zero), samples/s and, with ``--gpu`` (default a100; ``none`` to skip), the dense GPU
baseline and the speedup over it; ``--out`` also writes the rows as JSON::

    .venv/bin/python -m benchmarks.snn_family_a [--out benchmarks/results/snn_family_a.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mimdsim.arch import load_machine
from mimdsim.snn.model.spec import load_snn_model
from mimdsim.studies.estimate import estimate_training_step

REPO = Path(__file__).resolve().parents[1]
DEPTHS = (2, 3, 4, 5)


def family_a(
    activities: tuple[float, ...] = (0.01, 0.05, 0.1), *, seed: int = 0, engine: str = "fast", gpu: str | None = "a100"
) -> list[dict[str, object]]:
    """One row per (depth, activity): the estimate's figures, times in ms."""
    rows = []
    for depth in DEPTHS:
        for act in activities:
            spec, hints = load_snn_model(REPO / f"models/snn/nmnist_a_{depth}hidden.toml", max_activity=act)
            machine = load_machine(hints.machine)
            t0 = time.perf_counter()
            est = estimate_training_step(spec, machine, activity_source="functional", seed=seed, engine=engine, gpu=gpu)
            wall = time.perf_counter() - t0
            hz = machine.tile_clock_hz
            b = est.breakdown_cycles
            row: dict[str, object] = {
                "model": spec.name,
                "hidden_layers": depth,
                "activity": act,
                "layers": list(spec.layer_sizes),
                "sparse_sizes": list(spec.sparse_sizes),
                "neurons_per_tile": est.neurons_per_tile,
                "ms_per_step": est.ms_per_step,
                "compute_ms": b["compute"] / hz * 1e3,
                "exchange_ms": b["exchange"] / hz * 1e3,
                "global_exchange_ms": b["global_exchange"] / hz * 1e3,
                "sync_ms": b["sync"] / hz * 1e3,
                "host_ms": b["host_exchange"] / hz * 1e3,
                "samples_per_s": est.samples_per_s,
                "max_tile_memory_kib": est.ledger.max_tile_bytes / 1024,
                "oom_tiles": len(est.oom_tiles),
                "top_supersteps": [(k.name, round(k.cycles_per_timestep)) for k in est.top_step_kinds(3)],
                "estimate_wall_s": wall,
            }
            if est.gpu is not None:
                row["gpu"] = gpu
                row["gpu_ms_per_step"] = float(est.gpu.ms_per_step)  # type: ignore[attr-defined]
                row["gpu_framework"] = est.gpu.framework  # type: ignore[attr-defined]
                row["speedup_vs_gpu"] = est.speedup_vs_gpu
                row["gpu_ideal_ms_per_step"] = float(est.gpu_ideal.ms_per_step)  # type: ignore[union-attr]
                row["speedup_vs_gpu_ideal"] = est.speedup_vs_gpu_ideal
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    has_gpu = any("gpu_ms_per_step" in r for r in rows)
    has_global = any(float(r["global_exchange_ms"]) > 0 for r in rows)  # type: ignore[arg-type]
    head = ["hidden", "act", "S (in, hidden..., out)", "ms/step", "compute", "exchange"]
    head += ["global"] if has_global else []
    head += ["sync", "host", "samples/s"]
    gpu = rows[0].get("gpu", "gpu")
    head += [f"{gpu} ms ({rows[0].get('gpu_framework')})", "speedup", f"{gpu} ms (fused)", "speedup (fused)"] if has_gpu else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            str(r["hidden_layers"]),
            f"{r['activity']:g}",
            ", ".join(str(s) for s in r["sparse_sizes"]),  # type: ignore[union-attr]
            f"{r['ms_per_step']:.3f}",
            f"{r['compute_ms']:.3f}",
            f"{r['exchange_ms']:.3f}",
        ]
        cells += [f"{r['global_exchange_ms']:.3f}"] if has_global else []
        cells += [f"{r['sync_ms']:.3f}", f"{r['host_ms']:.3f}", f"{r['samples_per_s']:,.0f}"]
        if has_gpu:
            cells += [
                f"{r['gpu_ms_per_step']:.2f}",
                f"{r['speedup_vs_gpu']:.1f}x",
                f"{r['gpu_ideal_ms_per_step']:.2f}",
                f"{r['speedup_vs_gpu_ideal']:.1f}x",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--activities", default="0.01,0.05,0.1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine", default="fast")
    ap.add_argument("--gpu", default="a100", help="GPU preset for the dense baseline, or 'none'")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    acts = tuple(float(a) for a in args.activities.split(","))
    rows = family_a(acts, seed=args.seed, engine=args.engine, gpu=None if args.gpu == "none" else args.gpu)
    print(markdown(rows))
    for r in rows:
        print(f"{r['model']} act={r['activity']:g}: k={r['neurons_per_tile']}, max tile memory {r['max_tile_memory_kib']:.0f} KiB, "
              f"top supersteps (cycles per time step) {r['top_supersteps']}, estimate took {r['estimate_wall_s']:.1f} s")  # fmt: skip
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
