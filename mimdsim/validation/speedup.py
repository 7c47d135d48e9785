"""Section 1 of docs/validation.md: the paper's speed-up over the A100, from the family (a) sweep.

The sweep's rows carry two speed-ups: over the GPU as the paper ran it (the ``tf-keras-xla``
profile, :mod:`mimdsim.snn.gpu.frameworks`) and over the ideal ``fused`` GPU program. The
paper's band and its maximum are compared with the first; :func:`framework_speedups` adds
the speed-up under every profile. Every sentence of :func:`speedup_findings` is computed
from the rows.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mimdsim.report import PAPER_BAND_ACTIVITIES, PAPER_SOURCE, PAPER_SPEEDUP_BAND, PAPER_SPEEDUP_MAX
from mimdsim.sweep import PAPER_FAMILY_A_ACTIVITIES, PAPER_FAMILY_A_MODELS, snn_sweep
from mimdsim.validation.gpu import (
    _GPU_TERMS,
    _frameworks,
    _gpu_bound_text,
    _gpu_corners,
    framework_speedups,
    framework_table,
)
from mimdsim.validation.rows import band_error
from mimdsim.validation.rows import row as _row

__all__ = ["family_a_sweep", "framework_speedups", "framework_table", "speedup_rows", "speedup_findings"]


def family_a_sweep(
    models: Sequence[str] = PAPER_FAMILY_A_MODELS,
    activities: Sequence[float] = PAPER_FAMILY_A_ACTIVITIES,
    *,
    machine: str = "bow",
    gpu: str = "a100",
    engine: str = "fast",
    processes: int | None = 1,
) -> list[dict[str, Any]]:
    """The family (a) sweep of the comparison: :func:`mimdsim.sweep.snn_sweep` rows."""
    return snn_sweep(list(models), list(activities), machine, gpu, engine, processes=processes)


def _in_band_activity(a: float) -> bool:
    return PAPER_BAND_ACTIVITIES[0] - 1e-12 <= a <= PAPER_BAND_ACTIVITIES[1] + 1e-12


def _top_text(r: Mapping[str, Any], n: int = 3) -> str:
    tops = zip(
        r["top_superstep_names"],
        r["top_superstep_shares"],
        r["top_superstep_bounds"],
        r["top_superstep_critical_layers"],
        strict=True,
    )
    return "; ".join(f"{name} {100 * share:.0f} % ({bound}-bound, critical tile holds {layer} neurons)"
                     for name, share, bound, layer in list(tops)[:n])  # fmt: skip


def _gpu_text(r: Mapping[str, Any]) -> str:
    ms = r["gpu_ms_per_step"]
    parts = [f"device {100 * (r['gpu_compute_bound_ms'] + r['gpu_memory_bound_ms']) / ms:.0f} %"]
    if r["gpu_launch_ms"]:
        parts.append(f"launch latency {100 * r['gpu_launch_ms'] / ms:.0f} %")
    parts += [f"{name} {100 * r[f'gpu_{t}_ms'] / ms:.0f} %" for t, name in _GPU_TERMS if r.get(f"gpu_{t}_ms")]
    text = f"GPU ({r.get('gpu_framework') or 'fused'}) {ms:.2f} ms: {', '.join(parts)} ({r['gpu_launches']:,} launches)"
    if r.get("speedup_vs_gpu_ideal") is not None:
        text += f"; over the ideal fused program ({r['gpu_ideal_ms_per_step']:.2f} ms) {float(r['speedup_vs_gpu_ideal']):.2f}x"
    return text


def _config(r: Mapping[str, Any]) -> str:
    return (
        f"{r['model']}: layers {'-'.join(map(str, r['layers']))}, sparse sizes {'-'.join(map(str, r['sparse_sizes']))}, "
        f"B={r['batch_size']}, T={r['n_timesteps']}; 1 {r['machine']} IPU ({r['neurons_per_tile']} neurons/tile) vs "
        f"{r['gpu']}; engine {r['engine']}; activity {r['activity_source']}"
    )


def speedup_rows(sweep_rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per sweep point (speed-up vs the band or, outside 1-10 % activity, no published figure),
    plus one row for the largest speed-up vs the paper's "up to 38x"."""
    S = "speedup"
    lo, hi = PAPER_SPEEDUP_BAND
    out: list[dict[str, Any]] = []
    usable = [r for r in sweep_rows if not r.get("error") and r.get("speedup_vs_gpu") is not None]
    for r in sweep_rows:
        q = f"speed-up over the A100 ({r.get('gpu_framework') or 'GPU'}), {r.get('depth', '?')} hidden layers, max activity {r['max_activity']:g}"
        if r.get("error"):
            out.append(_row(S, q, PAPER_SOURCE, str(r.get("model")), None, None, "x", f"not estimated: {r['error']}", None))
            continue
        x = float(r["speedup_vs_gpu"])
        T = r["n_timesteps"]
        ipu = f"IPU {r['ms_per_step']:.3f} ms ({r['cycles_per_step'] / T:,.0f} cycles per time step): {_top_text(r)}"
        if _in_band_activity(float(r["max_activity"])):
            err = band_error(x, lo, hi)
            verdict = (
                "inside the band"
                if err == 0
                else (f"below the band ({100 * err:+.0f} %)" if err < 0 else f"above the band ({100 * err:+.0f} %)")
            )
            out.append(
                _row(
                    S,
                    q,
                    f"{PAPER_SOURCE}: 5-10x at max activity 1-10 %",
                    _config(r),
                    x,
                    f"{lo:g}-{hi:g}",
                    "x",
                    f"{verdict}. {ipu}. {_gpu_text(r)}",
                    err,
                )
            )
        else:
            out.append(
                _row(
                    S,
                    q,
                    f"{PAPER_SOURCE}: no figure for this setting",
                    _config(r),
                    x,
                    None,
                    "x",
                    f"outside the 1-10 % range of the band. {ipu}. {_gpu_text(r)}",
                    None,
                )
            )
    if usable:
        best = max(usable, key=lambda r: float(r["speedup_vs_gpu"]))
        x = float(best["speedup_vs_gpu"])
        sparsest = min(float(r["max_activity"]) for r in usable)
        deepest = max(int(r["depth"]) for r in usable)
        where = (
            "the sparsest and deepest setting"
            if (float(best["max_activity"]) == sparsest and int(best["depth"]) == deepest)
            else (f"NOT the sparsest and deepest setting (sparsest {sparsest:g}, deepest {deepest})")
        )
        need_ipu = best["gpu_ms_per_step"] / PAPER_SPEEDUP_MAX
        why = (
            f"largest of the grid at {best['depth']} hidden layers, max activity {best['max_activity']:g}: {where}. "
            f"38x would need an IPU step of {need_ipu:.3f} ms ({need_ipu / best['ms_per_step'] * 100:.0f} % of the "
            f"simulated {best['ms_per_step']:.3f} ms) or a GPU step of {PAPER_SPEEDUP_MAX * best['ms_per_step']:.1f} ms "
            f"({PAPER_SPEEDUP_MAX / x:.1f}x the modelled {best['gpu_ms_per_step']:.2f} ms); see the findings"
        )
        out.append(
            _row(
                S,
                "largest speed-up over the A100",
                f"{PAPER_SOURCE}: 'up to 38x' at higher sparsity (setting not published)",
                _config(best),
                x,
                PAPER_SPEEDUP_MAX,
                "x",
                why,
            )
        )
    return out


def _trend(
    cell: Mapping[tuple[int, float], Mapping[str, Any]], field: str, depths: list[int], acts: list[float], *, along: str,
    holds: Callable[[float, float], bool],
) -> bool:  # fmt: skip
    """Whether ``holds(value, next value)`` of ``field`` for every pair of neighbouring cells along ``depth`` (at each
    activity) or ``activity`` (at each depth), where both were run."""
    if along == "depth":
        pairs = [((d1, a), (d2, a)) for a in acts for d1, d2 in itertools.pairwise(depths)]
    else:
        pairs = [((d, a1), (d, a2)) for d in depths for a1, a2 in itertools.pairwise(acts)]
    return all(holds(float(cell[p][field]), float(cell[q][field])) for p, q in pairs if p in cell and q in cell)


def speedup_findings(sweep_rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Bullet points (Markdown) on the band, the trends, the largest speed-up and what bounds each side.

    Every statement is computed from ``sweep_rows``: a reversed trend or an in-band
    result changes the text.
    """
    rows = [r for r in sweep_rows if not r.get("error") and r.get("speedup_vs_gpu") is not None]
    if not rows:
        return ["No sweep point has a speed-up (every point failed or no GPU was given)."]
    lo, hi = PAPER_SPEEDUP_BAND
    out: list[str] = []
    band = [r for r in rows if _in_band_activity(float(r["max_activity"]))]
    inside = [r for r in band if band_error(float(r["speedup_vs_gpu"]), lo, hi) == 0]
    below = [r for r in band if float(r["speedup_vs_gpu"]) < lo]
    above = [r for r in band if float(r["speedup_vs_gpu"]) > hi]

    def pt(r: Mapping[str, Any]) -> str:
        return f"{r['depth']}L/{r['max_activity']:g} ({float(r['speedup_vs_gpu']):.2f}x)"

    if band:
        xs = [float(r["speedup_vs_gpu"]) for r in band]
        fw = _frameworks(band)
        text = (
            f"**Band.** Over the GPU as the paper ran it ({fw}), at max activity {PAPER_BAND_ACTIVITIES[0]:g}-"
            f"{PAPER_BAND_ACTIVITIES[1]:g}, {len(inside)} of {len(band)} settings fall inside the paper's {lo:g}-{hi:g}x; the "
            f"simulated range is {min(xs):.2f}-{max(xs):.2f}x."
        )
        if below:
            text += " Below the band: " + ", ".join(pt(r) for r in below) + "."
        if above:
            text += " Above the band: " + ", ".join(pt(r) for r in above) + "."
        per_depth = sorted({int(r["depth"]) for r in band})
        text += (
            " Inside, per depth: "
            + ", ".join(
                f"{d}L {sum(int(r['depth']) == d for r in inside)}/{sum(int(r['depth']) == d for r in band)}" for d in per_depth
            )
            + "."
        )
        if inside and not below and not above:
            text += " The model reproduces the band."
        out.append(text)
        ideal = [r for r in band if r.get("speedup_vs_gpu_ideal") is not None]
        if ideal:
            ys = [float(r["speedup_vs_gpu_ideal"]) for r in ideal]
            n_in = sum(band_error(y, lo, hi) == 0 for y in ys)
            ratio = [float(r["gpu_ms_per_step"]) / float(r["gpu_ideal_ms_per_step"]) for r in ideal]
            out.append(
                f"**Two GPU baselines.** Over the ideal fused GPU program (the same arithmetic, no loop kernels, no host "
                f"round trips, no input copy; 5 µs per launch) the speed-up at the same settings is {min(ys):.2f}-{max(ys):.2f}x "
                f"({n_in} of {len(ideal)} inside {lo:g}-{hi:g}x): the paper's baseline takes {min(ratio):.2f}-{max(ratio):.2f}x the "
                "ideal program's time, so about that share of the paper's speed-up is the baseline's framework rather than the "
                "IPU (docs/gpu_baseline.md)."
            )

    depths = sorted({int(r["depth"]) for r in rows})
    acts = sorted({float(r["max_activity"]) for r in rows})
    cell = {(int(r["depth"]), float(r["max_activity"])): r for r in rows}
    falls = _trend(cell, "speedup_vs_gpu", depths, acts, along="activity", holds=operator.ge)
    grows = _trend(cell, "speedup_vs_gpu", depths, acts, along="depth", holds=operator.le)
    ipu_falls = _trend(cell, "ms_per_step", depths, acts, along="depth", holds=operator.ge)
    gpu_grows = _trend(cell, "gpu_ms_per_step", depths, acts, along="depth", holds=operator.lt)
    text = "**Trends.** " + (
        "For every depth the speed-up grows as max activity falls (the paper's trend: the GPU's dense step does not depend on "
        "activity, the IPU's sparse step does). "
        if falls
        else "The speed-up does NOT grow monotonically as activity falls for every depth. "
    )
    if len(depths) > 1:
        text += "At every activity it grows with depth" if grows else "It does NOT grow with depth at every activity"
        why = []
        if gpu_grows:
            launches = {int(r["depth"]): int(r["gpu_launches"]) for r in rows}
            why.append(
                "with the hidden neurons fixed at ~2942, deeper nets launch more GPU kernels per step ("
                + ", ".join(f"{d}L {launches[d]:,}" for d in depths)
                + "), so the dense step gets longer"
            )
        if ipu_falls:
            why.append(
                "the IPU step gets shorter: each layer is narrower, so its sparse size at the same max activity is smaller, "
                "and the layers run concurrently on disjoint tiles"
            )
        text += ": " + "; ".join(why) + "." if why else "."
    out.append(text)

    best = max(rows, key=lambda r: float(r["speedup_vs_gpu"]))
    x = float(best["speedup_vs_gpu"])
    is_corner = float(best["max_activity"]) == acts[0] and int(best["depth"]) == depths[-1]
    out.append(
        f"**Largest speed-up.** {x:.2f}x at {best['depth']} hidden layers, max activity {best['max_activity']:g} "
        + (
            "(the sparsest and deepest setting of the grid; the paper places its maximum at 'higher activation sparsity')"
            if is_corner
            else "(NOT the sparsest and deepest setting of the grid)"
        )
        + f": {PAPER_SPEEDUP_MAX / x:.1f}x short of the paper's 'up to {PAPER_SPEEDUP_MAX:g}x'."
    )

    # why the IPU does not get faster: the floor at the sparsest setting
    sp = [r for r in rows if float(r["max_activity"]) == acts[0]]
    ref = max(sp, key=lambda r: int(r["depth"]))
    T = ref["n_timesteps"]
    crit = dict(zip(ref["critical_layers"], ref["critical_layer_cycles"], strict=True))
    l1 = crit.get("L1", 0) / ref["cycles_per_step"]
    in_true = ref["mean_true_spikes"][0]
    fwd_id, wg_id = _per_id_costs()
    ratios = []
    for d in depths:
        if (d, acts[0]) in cell and (d, acts[-1]) in cell:
            a, b = cell[d, acts[-1]], cell[d, acts[0]]
            hid_a = max(a["sparse_sizes"][1:-1] or [1])
            hid_b = max(b["sparse_sizes"][1:-1] or [1])
            ratios.append(f"{d}L {a['ms_per_step'] / b['ms_per_step']:.2f}x (hidden sparse size {hid_a} -> {hid_b})")
    out.append(
        f"**What bounds the IPU step at low activity.** At max activity {acts[0]:g} ({ref['depth']} hidden layers) the step is "
        f"{ref['ms_per_step']:.3f} ms, {ref['cycles_per_step'] / T:,.0f} cycles per time step; the costliest supersteps are "
        f"{_top_text(ref, 4)}. {100 * l1:.0f} % of the step's cycles are on supersteps whose critical tile holds first-hidden-layer (L1) "
        f"neurons. L1's input is the NMNIST spike stream: S_in = {ref['sparse_sizes'][0]} slots, {in_true:.1f} ids per sample and "
        f"step on average ({ref['activity_source']}), the same at every max activity, because max activity only sets the hidden "
        f"layers' sparse sizes. L1's forward row-adds (LIFStateUpdate, {fwd_id} thread cycles per input id and neuron pair) and "
        f"weight-gradient updates ({wg_id} per id and pair), for {ref['batch_size']} samples on 6 workers, therefore form a floor; "
        f"syncs add {ref['sync_cycles'] / T:,.0f} cycles per time step "
        f"({100 * ref['sync_cycles'] / ref['cycles_per_step']:.0f} %). From max activity {acts[-1]:g} to "
        f"{acts[0]:g} the IPU step falls by only " + ", ".join(ratios) + "."
    )
    out.append(_gpu_bound_text(rows, depths))
    need = best["gpu_ms_per_step"] / PAPER_SPEEDUP_MAX
    slow, fast = _gpu_corners(best)
    reach = "inside" if slow / best["ms_per_step"] >= PAPER_SPEEDUP_MAX else "outside"
    out.append(
        f"**The gap to 38x.** At {best['depth']}L/{best['max_activity']:g}, 38x needs the IPU step at {need:.3f} ms "
        f"({need * 1e-3 * _clock(best) / best['n_timesteps']:,.0f} cycles per time step instead of "
        f"{best['cycles_per_step'] / best['n_timesteps']:,.0f}) or the A100 step at {PAPER_SPEEDUP_MAX * best['ms_per_step']:.1f} ms. "
        "Candidate explanations, none tested against a published timing (the paper publishes none) and no constant tuned: "
        f"(1) the GPU side is a model of the paper's baseline ({best.get('gpu_framework', 'GPU')}), not its measurement: with every "
        "uncertain constant of docs/gpu_baseline.md at the end that slows the GPU (host launch, loop sync and PCIe rate at the "
        f"ends of their published ranges, FP32 GEMMs) its step is {slow:.1f} ms ({slow / best['ms_per_step']:.1f}x), at the "
        f"other end {fast:.1f} ms ({fast / best['ms_per_step']:.1f}x): 38x lies {reach} that range; "
        "(2) the IPU codelet estimators "
        "are instruction counts of the paper's C++ loops, not measured cycles (its code registers none, GSNN PC/PF/CC): a "
        "compiler that bundles or vectorises the id loops would lower the L1 floor; (3) the input stream: the input spikes per "
        "step here come from a Poisson stand-in at rate 0.01 over the 1152 addresses the scripts' downsampling leaves (GSNN NU), "
        "not from the dataset; fewer input ids per step lower the L1 floor; (4) the program structure: even after Poplar's "
        "passes (docs/passes.md) the authors' layouts gather a layer's inputs from the sliceable sequence tensors, one message "
        "of 8 cycles (derived from T6, docs/machine_format.md) per element's tile, and which of the passes Poplar applies is "
        "partly inferred (section 5 shows the step with and without them)."
    )
    return out


def _per_id_costs() -> tuple[int, int]:
    """Thread cycles per input id and neuron pair of the forward row-add and the weight-gradient update."""
    import numpy as np

    from mimdsim.snn.lowering.codelets import state_update_cycles, weight_grad_cycles

    fwd = int(state_update_cycles(np.array([1]), 2)[0] - state_update_cycles(np.array([0]), 2)[0])
    return fwd, weight_grad_cycles(np.array([1]), 2) - weight_grad_cycles(np.array([0]), 2)


def _clock(r: Mapping[str, Any]) -> float:
    return float(r["cycles_per_step"]) / (float(r["ms_per_step"]) * 1e-3)
