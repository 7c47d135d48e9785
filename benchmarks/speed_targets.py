"""The simulator-speed targets, measured (results in docs/performance.md).

Five measurements, each as a user meets it:

* ``main_job``: ``mimdsim snn models/snn/nmnist_a_2hidden.toml --json`` as a fresh
  process, warm Numba cache; wall time of the whole call (the first call, which fills
  the activity cache, is reported apart as ``main_job_first_call_s``).
* ``reestimate``: in one warm process, :func:`~mimdsim.studies.estimate.estimate_training_step`
  of the same network after one on ``bow``, on other machine descriptions (``mk2``, ``bow``
  with twice the exchange bandwidth, ``bow`` with 11 extra cycles of launch cost per
  worker vertex, ``mk2`` with 2 IPUs' worth of link latency): wall time per call.
* ``ipu64``: the family (c) pattern on 64 IPUs (3 hidden layers of ~980 per IPU, 188,290
  neurons, B 24, T 10; the TOML is written by ``models/snn/generate.py``'s rules) as a
  fresh ``mimdsim snn`` process: wall time and peak RSS, with a cold and a warm activity
  cache.
* ``sweep``: ``mimdsim sweep`` of family (a) x 25 activities (0.005 .. 0.5, geometric:
  100 points) on 1 and 2 processes, cold and warm activity cache: points per minute of the
  whole call, and the 2-process speed-up.
* ``des_vs_fast``: both engines on the main job's program in one process, every cost
  computed afresh (``mimdsim.program.memo.forget()`` before each run): the ratio of the
  medians, and the same for the whole ``mimdsim snn`` call.

Run (about 3 minutes)::

    .venv/bin/python -m benchmarks.speed_targets --out benchmarks/results/speed_targets.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._host import emit, host_info

REPO = Path(__file__).resolve().parent.parent

MIMDSIM = str(Path(sys.executable).with_name("mimdsim"))
MAIN_JOB = str(REPO / "models/snn/nmnist_a_2hidden.toml")
ACTIVITIES = ",".join(f"{0.005 * 100 ** (k / 24):.4g}" for k in range(25))


def run_cli(args: list[str], cache_dir: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one ``mimdsim`` process."""
    env = dict(os.environ, MIMDSIM_CACHE_DIR=cache_dir)
    t = time.perf_counter()
    proc = subprocess.Popen([MIMDSIM, *args], stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mimdsim {' '.join(args)} failed")
    return wall, usage.ru_maxrss / 1024


def main_job(runs: int, cache_dir: str) -> dict[str, object]:
    first, _ = run_cli(["snn", MAIN_JOB, "--json"], cache_dir)
    walls = [run_cli(["snn", MAIN_JOB, "--json"], cache_dir)[0] for _ in range(runs)]
    return {
        "main_job_first_call_s": round(first, 3),
        "main_job_s": walls,
        "main_job_median_s": round(statistics.median(walls), 3),
    }


def reestimate(runs: int) -> dict[str, object]:
    from mimdsim.arch import load_machine
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import estimate_training_step

    spec, _ = load_snn_model(MAIN_JOB)
    estimate_training_step(spec, load_machine("bow"))
    variants = {
        "mk2": load_machine("mk2"),
        "bow_exchange_x2": load_machine("bow", exchange_bytes_per_cycle=8),
        "bow_launch_22": load_machine("bow", worker_launch_cycles=22),
        "mk2_link_latency_40": load_machine("mk2", link_latency_cycles=40),
    }
    out: dict[str, object] = {}
    for name, m in variants.items():
        walls = []
        for _ in range(runs):
            t = time.perf_counter()
            estimate_training_step(spec, m)
            walls.append(time.perf_counter() - t)
        out[name] = round(statistics.median(walls) * 1000, 2)
    return {"reestimate_ms": out, "reestimate_max_ms": max(out.values())}  # type: ignore[type-var]


def ipu64(runs: int, tmp: Path) -> dict[str, object]:
    from benchmarks._host import models_generate

    generate = models_generate()

    model = generate.family_c((64,))[0]
    path = tmp / "nmnist_c_64ipu.toml"
    path.write_text(model.render())
    cold = str(tmp / "cache-ipu64")
    first = run_cli(["snn", str(path), "--json"], cold)
    warm = [run_cli(["snn", str(path), "--json"], cold) for _ in range(runs)]
    return {
        "ipu64_neurons": sum(sum(h) for h in model.hidden) + 10,
        "ipu64_cold_cache_s": round(first[0], 3),
        "ipu64_cold_cache_rss_mib": round(first[1], 1),
        "ipu64_warm_cache_median_s": round(statistics.median(w for w, _ in warm), 3),
        "ipu64_max_rss_mib": round(max(r for _, r in [first, *warm]), 1),
    }


def sweep(tmp: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for procs in (1, 2):
        cache = str(tmp / f"cache-sweep-{procs}")
        cold, _ = run_cli(["sweep", "--activities", ACTIVITIES, "--processes", str(procs), "--json"], cache)
        warm, _ = run_cli(["sweep", "--activities", ACTIVITIES, "--processes", str(procs), "--json"], cache)
        out[f"sweep_{procs}p_cold_points_per_min"] = round(100 / cold * 60)
        out[f"sweep_{procs}p_warm_points_per_min"] = round(100 / warm * 60)
        out[f"sweep_{procs}p_cold_s"] = round(cold, 2)
        out[f"sweep_{procs}p_warm_s"] = round(warm, 2)
    out["sweep_speedup_cold"] = round(out["sweep_1p_cold_s"] / out["sweep_2p_cold_s"], 2)  # type: ignore[operator]
    out["sweep_speedup_warm"] = round(out["sweep_1p_warm_s"] / out["sweep_2p_warm_s"], 2)  # type: ignore[operator]
    return out


def des_vs_fast(runs: int, cache_dir: str) -> dict[str, object]:
    from mimdsim.arch import load_machine
    from mimdsim.engines import simulate
    from mimdsim.program.memo import forget
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import estimate_training_step

    spec, _ = load_snn_model(MAIN_JOB)
    m = load_machine("bow")
    program = estimate_training_step(spec, m).program
    walls: dict[str, list[float]] = {"fast": [], "des": []}
    for _ in range(runs):
        for engine in ("fast", "des"):
            forget()
            t = time.perf_counter()
            simulate(program, m, engine, check_memory_fits=False)
            walls[engine].append(time.perf_counter() - t)
    fast, des = statistics.median(walls["fast"]), statistics.median(walls["des"])
    cli = {
        e: statistics.median(run_cli(["snn", MAIN_JOB, "--json", "--engine", e], cache_dir)[0] for _ in range(3))
        for e in ("fast", "des")
    }
    return {
        "engine_fast_ms": round(fast * 1000, 1),
        "engine_des_ms": round(des * 1000, 1),
        "des_over_fast_engine": round(des / fast, 2),
        "des_over_fast_cli": round(cli["des"] / cli["fast"], 2),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="repetitions of each timed call (median reported)")
    ap.add_argument("--out", type=Path, help="write the JSON here too")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    result: dict[str, object] = {"host": host_info()}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = str(tmp / "cache-main")
        for part in (
            main_job(args.runs, cache),
            reestimate(args.runs),
            ipu64(args.runs, tmp),
            sweep(tmp),
            des_vs_fast(args.runs, cache),
        ):
            result.update(part)
            print(json.dumps(part), flush=True)
    result["host_after"] = {"load_average": os.getloadavg()}
    return emit(result, args.out)


if __name__ == "__main__":
    main()
