"""The GPU side of docs/validation.md's section 1: what the paper's baseline is made of, its
uncertainty corners, and the speed-up of every sweep point under every framework profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mimdsim.snn.gpu.frameworks import PAPER_FRAMEWORK

__all__ = ["framework_speedups", "framework_table"]

_GPU_TERMS = (("host_enqueue", "host enqueue"), ("loop_sync", "loop syncs"), ("graph_launch", "graph launch"),
              ("input_copy", "input copy"))  # fmt: skip


def _frameworks(rows: Sequence[Mapping[str, Any]]) -> str:
    return "/".join(sorted({str(r.get("gpu_framework") or "fused") for r in rows}))


def _gpu_bound_text(rows: Sequence[Mapping[str, Any]], depths: Sequence[int]) -> str:
    """The finding on what the GPU step is made of (shares of each term, per depth)."""
    fw = _frameworks(rows)
    gd = sorted({str(r["gpu_dominant"]) for r in rows})
    flat = all(len({round(float(r["gpu_ms_per_step"]), 9) for r in rows if int(r["depth"]) == d}) == 1 for d in depths)

    def term_ms(r: Mapping[str, Any], key: str) -> float:
        return (
            float(r["gpu_compute_bound_ms"] + r["gpu_memory_bound_ms"])
            if key == "device"
            else float(r.get(f"gpu_{key}_ms") or 0.0)
        )

    shares = []
    for key, name in (("device", "device"), ("launch", "per-launch latency"), *_GPU_TERMS):
        xs = [term_ms(r, key) / r["gpu_ms_per_step"] for r in rows]
        if max(xs) > 0:
            shares.append(f"{name} {100 * min(xs):.0f}-{100 * max(xs):.0f} %")
    g_ms = sorted({(int(r["depth"]), round(float(r["gpu_ms_per_step"]), 2)) for r in rows})
    no_compute = all(r["gpu_compute_bound_ms"] == 0 for r in rows)
    return (
        f"**What bounds the GPU step.** The A100 model of the paper's baseline ({fw}) is {'/'.join(gd)}-dominated at every "
        f"point; shares of the step: {', '.join(shares)}"
        + ("; no kernel is compute-bound at B = 48" if no_compute else "")
        + (". The step is the same at every activity (dense): " if flat else ". Per depth: ")
        + ", ".join(f"{d}L {ms:.2f} ms" for d, ms in g_ms)
        + " (docs/gpu_baseline.md)."
    )


def _gpu_corners(r: Mapping[str, Any]) -> tuple[float, float]:
    """The paper-baseline GPU step of row ``r`` (ms) with every uncertainty at its slow and at its fast end."""
    from mimdsim.snn.gpu.frameworks import SENSITIVITY, profile
    from mimdsim.snn.gpu.model import estimate_gpu_step, load_gpu
    from mimdsim.snn.model.spec import load_snn_model

    spec = load_snn_model(r["model_path"], max_activity=float(r["max_activity"]))[0]
    fw = str(r.get("gpu_framework") or PAPER_FRAMEWORK)
    slow = {u.field: (u.low if u.field.endswith("bytes_per_s") else u.high) for u in SENSITIVITY}
    fast = {u.field: (u.high if u.field.endswith("bytes_per_s") else u.low) for u in SENSITIVITY}
    return (
        estimate_gpu_step(spec, load_gpu(str(r["gpu"]), matmul_precision="fp32"), profile(fw, **slow)).ms_per_step,
        estimate_gpu_step(spec, load_gpu(str(r["gpu"]), matmul_precision="tf32"), profile(fw, **fast)).ms_per_step,
    )


def framework_speedups(sweep_rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The speed-up of every sweep point over the GPU step of every framework profile.

    One dict per usable row: ``depth``, ``activity``, ``ms_per_step`` and, per profile,
    ``<framework>_ms`` and ``<framework>_speedup``.
    """
    from mimdsim.snn.gpu.frameworks import FRAMEWORKS
    from mimdsim.snn.gpu.model import estimate_gpu_step, load_gpu
    from mimdsim.snn.model.spec import load_snn_model

    out = []
    for r in sweep_rows:
        if r.get("error") or r.get("gpu") is None:
            continue
        spec = load_snn_model(r["model_path"], max_activity=float(r["max_activity"]))[0]
        gpu = load_gpu(
            str(r["gpu"]), **({"matmul_precision": r["gpu_matmul_precision"]} if r.get("gpu_matmul_precision") else {})
        )
        d: dict[str, Any] = {
            "depth": int(r["depth"]),
            "max_activity": float(r["max_activity"]),
            "ms_per_step": float(r["ms_per_step"]),
        }
        for fw in FRAMEWORKS:
            ms = estimate_gpu_step(spec, gpu, fw).ms_per_step
            d[f"{fw}_ms"] = ms
            d[f"{fw}_speedup"] = ms / d["ms_per_step"]
        out.append(d)
    return out


def framework_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: one line per point, the GPU step and the speed-up under every profile."""
    from mimdsim.snn.gpu.frameworks import FRAMEWORKS

    head = "| hidden layers | max activity | IPU ms | " + " | ".join(f"`{fw}` ms (speed-up)" for fw in FRAMEWORKS) + " |"
    lines = [head, "|---:|---:|---:|" + "---:|" * len(FRAMEWORKS)]
    for d in sorted(rows, key=lambda d: (d["depth"], d["max_activity"])):
        cells = " | ".join(f"{d[f'{fw}_ms']:.2f} ({d[f'{fw}_speedup']:.2f}x)" for fw in FRAMEWORKS)
        lines.append(f"| {d['depth']} | {d['max_activity']:g} | {d['ms_per_step']:.3f} | {cells} |")
    return "\n".join(lines)
