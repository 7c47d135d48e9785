"""The generated tables of docs/gpu_baseline.md: each GPU framework's step, and how the paper's baseline moves.

* :func:`anatomy_rows`: the paper's family (a) 2- and 5-hidden nets (B = 48, T = 100) on
  the A100 preset under every profile of :mod:`mimdsim.snn.gpu.frameworks`: kernels per
  loop iteration, launches per step, and the step split into device time, per-launch
  latency and the framework's terms.
* :func:`sensitivity_rows`: the ``tf-keras-xla`` step and the speed-up of the simulated
  Bow IPU over it with each uncertain constant at the ends of its published range
  (:data:`~mimdsim.snn.gpu.frameworks.SENSITIVITY`) and with FP32 instead of TF32 GEMMs.

``python -m mimdsim.report.gpu_baseline --write docs/gpu_baseline.md`` regenerates the
blocks between ``<!-- gpu:anatomy -->`` / ``<!-- gpu:sensitivity -->`` and their closing
markers; ``tests/report/test_gpu_baseline_page.py`` checks the page holds them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mimdsim.report.pages import replace_block
from mimdsim.snn.gpu.frameworks import FRAMEWORKS, PAPER_FRAMEWORK, SENSITIVITY, loop_kernel_counts, profile
from mimdsim.snn.gpu.model import GPUSpec, estimate_gpu_step, load_gpu
from mimdsim.snn.model.spec import SNNSpec, load_snn_model

__all__ = ["NETS", "anatomy_rows", "anatomy_markdown", "sensitivity_rows", "sensitivity_markdown", "update_page", "main"]

NETS: tuple[str, ...] = ("nmnist_a_2hidden", "nmnist_a_5hidden")
"""The nets of the tables: the shallowest and the deepest of the paper's family (a)."""

_TERMS = ("host_enqueue", "loop_sync", "graph_launch", "input_copy")


def _spec(net: str) -> SNNSpec:
    from mimdsim.arch.load import resolve_preset

    return load_snn_model(resolve_preset(net, "snn", "SNN model"))[0]


def anatomy_rows(gpu: str | GPUSpec = "a100", nets: tuple[str, ...] = NETS) -> list[dict[str, Any]]:
    """One row per net and framework: kernels per iteration, launches and the step's terms in ms."""
    out = []
    for net in nets:
        spec = _spec(net)
        arith = {"fwd": 2 * len(spec.layers), "bwd": 3 * len(spec.layers) - 1}  # GEMM + LIF; dV + dW (+ dX for l > 1)
        loop = loop_kernel_counts(spec)
        for fw in FRAMEWORKS:
            est = estimate_gpu_step(spec, gpu, fw)
            extra = loop if profile(fw).loop_kernels else {"fwd": 0, "bwd": 0}
            terms = dict(est.overhead)
            out.append({
                "net": net, "framework": fw, "kernels_fwd": arith["fwd"] + extra["fwd"], "kernels_bwd": arith["bwd"] + extra["bwd"],
                "launches": est.total_launches, "device_ms": 1e3 * sum(k.roofline_s for k in est.kernels),
                "launch_ms": 1e3 * est.launch_s, **{f"{t}_ms": 1e3 * terms.get(t, 0.0) for t in _TERMS},
                "ms_per_step": est.ms_per_step, "dominant": est.dominant,
            })  # fmt: skip
    return out


def anatomy_markdown(rows: list[dict[str, Any]]) -> str:
    """The anatomy table (Markdown)."""
    lines = [
        "| net | framework | kernels per iteration (fwd / bwd) | launches per step | device | per-launch latency "
        "| host enqueue | loop syncs | graph launch | input copy | **step** | dominant |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ms = [f"{r[k]:.2f}" if r[k] else "-" for k in ("device_ms", "launch_ms", *(f"{t}_ms" for t in _TERMS))]
        lines.append(
            f"| {r['net']} | `{r['framework']}` | {r['kernels_fwd']} / {r['kernels_bwd']} | {r['launches']:,} | "
            + " | ".join(ms)
            + f" | **{r['ms_per_step']:.2f}** | {r['dominant']} |"
        )
    return "\n".join(lines)


def ipu_ms_per_step(net: str) -> float:
    """The simulated Bow IPU step of ``net`` (its file's activity, functional spikes, seed 0)."""
    from mimdsim.arch import load_machine
    from mimdsim.studies.estimate import estimate_training_step

    return estimate_training_step(_spec(net), load_machine("bow")).ms_per_step


def sensitivity_rows(net: str = NETS[0], gpu: str = "a100", ipu_ms: float | None = None) -> list[dict[str, Any]]:
    """The paper's baseline of ``net`` with each uncertainty at its low and its high end.

    Row fields: ``what``, ``low``, ``central``, ``high`` (as printed), ``gpu_ms_low`` /
    ``gpu_ms_high``, ``speedup_low`` / ``speedup_high`` (over the IPU step ``ipu_ms``,
    simulated when not given), ``source``. The first row is the central case.
    """
    spec = _spec(net)
    ipu = ipu_ms_per_step(net) if ipu_ms is None else ipu_ms
    base = load_gpu(gpu)
    central = profile(PAPER_FRAMEWORK)
    mid = estimate_gpu_step(spec, base, central).ms_per_step
    rows = [{"what": "central case", "low": "", "central": "", "high": "", "gpu_ms_low": mid, "gpu_ms_high": mid,
             "speedup_low": mid / ipu, "speedup_high": mid / ipu, "source": "PROFILES of mimdsim/snn/gpu/frameworks.py"}]  # fmt: skip
    for u in SENSITIVITY:
        lo, hi = (estimate_gpu_step(spec, base, profile(central, **{u.field: v})).ms_per_step for v in (u.low, u.high))
        scale, unit = (1e-9, "GB/s") if u.field.endswith("bytes_per_s") else (1e6, "µs")
        rows.append({
            "what": u.field, "low": f"{u.low * scale:g} {unit}", "central": f"{getattr(central, u.field) * scale:g} {unit}",
            "high": f"{u.high * scale:g} {unit}", "gpu_ms_low": lo, "gpu_ms_high": hi, "speedup_low": lo / ipu,
            "speedup_high": hi / ipu, "source": u.source,
        })  # fmt: skip
    tf32, fp32 = (estimate_gpu_step(spec, load_gpu(gpu, matmul_precision=p), central).ms_per_step for p in ("tf32", "fp32"))
    rows.append({"what": "matmul_precision", "low": "tf32", "central": base.matmul_precision, "high": "fp32",
                 "gpu_ms_low": tf32, "gpu_ms_high": fp32, "speedup_low": tf32 / ipu, "speedup_high": fp32 / ipu,
                 "source": "tf#44887 (XLA without TF32, 2020), PR #58877 (with, Dec 2022); the paper's TF version is not recorded"})  # fmt: skip
    return rows


def sensitivity_markdown(rows: list[dict[str, Any]], ipu_ms: float) -> str:
    """The sensitivity table (Markdown), with the direction each uncertainty moves the speed-up."""
    lines = [
        f"| constant | low | central | high | GPU ms (low / high) | speed-up over the IPU's {ipu_ms:.3f} ms (low / high) "
        "| a larger value | source |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        d = r["speedup_high"] - r["speedup_low"]
        way = "-" if abs(d) < 1e-12 else ("raises the speed-up" if d > 0 else "lowers the speed-up")
        lines.append(
            f"| {r['what']} | {r['low']} | {r['central']} | {r['high']} | {r['gpu_ms_low']:.2f} / {r['gpu_ms_high']:.2f} | "
            f"{r['speedup_low']:.2f}x / {r['speedup_high']:.2f}x | {way} | {r['source']} |"
        )
    return "\n".join(lines)


def update_page(text: str) -> str:
    """``text`` with the ``gpu:anatomy`` and ``gpu:sensitivity`` blocks regenerated."""
    for key in ("gpu:anatomy", "gpu:sensitivity"):
        if f"<!-- {key} -->" not in text:  # before any estimate
            raise ValueError(f"the page has no <!-- {key} --> ... <!-- /{key} --> block")
    ipu = ipu_ms_per_step(NETS[0])
    text = replace_block(text, "gpu:anatomy", anatomy_markdown(anatomy_rows()))
    return replace_block(text, "gpu:sensitivity", sensitivity_markdown(sensitivity_rows(ipu_ms=ipu), ipu))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mimdsim.report.gpu_baseline", description=__doc__.split("\n")[0])
    ap.add_argument("--write", type=Path, help="regenerate the GPU tables of this page (docs/gpu_baseline.md)")
    args = ap.parse_args(argv)
    if args.write:
        args.write.write_text(update_page(args.write.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {args.write}")
        return 0
    ipu = ipu_ms_per_step(NETS[0])
    sys.stdout.write(anatomy_markdown(anatomy_rows()) + "\n\n" + sensitivity_markdown(sensitivity_rows(ipu_ms=ipu), ipu) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
