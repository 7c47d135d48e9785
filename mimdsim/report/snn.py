"""Readable report of one SNN training-step estimate (``mimdsim snn`` without ``--json``)."""

from __future__ import annotations

from mimdsim.report.tables import Column, short_step_name, text_table
from mimdsim.studies.step_estimate import SNNEstimate

__all__ = ["format_snn_estimate", "energy_lines"]

_LABELS = {
    "compute": "compute",
    "exchange": "IPU exchange",
    "global_exchange": "global (inter-IPU) exchange",
    "host_exchange": "host exchange",
    "sync": "sync",
}


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def energy_lines(est: SNNEstimate) -> list[str]:
    """The energy bands of an estimate (docs/energy.md): low / central / high J per step and average W, and the ratio."""
    e = est.energy()
    out: list[str] = []
    for label, band, who in (("energy", e.ipu, f"{est.machine.n_ipus} IPU{'s' if est.machine.n_ipus > 1 else ''}"),
                             ("GPU energy", e.gpu, est.gpu.gpu if est.gpu is not None else "")):  # fmt: skip
        if band is not None:
            out.append(
                f"{label:<11}{who} ({e.scope} scope): {band.low:.3g} / {band.central:.3g} / {band.high:.3g} J per step "
                f"(low / central / high), {band.watts('low'):.0f} / {band.watts('central'):.0f} / {band.watts('high'):.0f} W"
            )
    r = e.ratio
    if r is not None:
        side = (
            "the GPU uses more"
            if r[0] > 1
            else "the IPUs use more"
            if r[2] < 1
            else "which side uses more depends on the parameters"
        )
        out.append(f"           GPU / IPU energy {r[0]:.2f}-{r[2]:.2f}x (central {r[1]:.2f}x) across the bands: {side}")
    if out:
        out.append(
            "           (the bands spread the energy parameters at the estimated time; the time model's own error is not in them: docs/validation.md)"
        )
    return out


def format_snn_estimate(est: SNNEstimate) -> str:
    """Summary, critical-path breakdown, memory and the top 5 superstep kinds of a time step."""
    spec, m = est.spec, est.machine
    total = est.cycles_per_step
    lines = [
        f"model      {spec.name}: layers {'-'.join(map(str, spec.layer_sizes))}, sparse sizes "
        f"{'-'.join(map(str, spec.sparse_sizes))}, B={spec.batch_size}, T={spec.n_timesteps}, {spec.optimizer}",
        f"machine    {m.name}: {m.n_ipus} IPU{'s' if m.n_ipus > 1 else ''} x {m.tiles_per_ipu:,} tiles at "
        f"{m.tile_clock_hz / 1e9:g} GHz; {est.neurons_per_tile} neurons per tile ({est.mapping.method}), "
        f"{est.mapping.n_ipus_used} IPU{'s' if est.mapping.n_ipus_used > 1 else ''} used",
        f"engine     {est.engine}; spike activity: {est.activity_source}",
        "",
        f"step       {est.ms_per_step:.4g} ms = {total:,} cycles;  {est.samples_per_s:,.0f} samples/s",
    ]
    if est.gpu is not None:
        gpu = est.gpu
        terms = ", ".join(f"{k.replace('_', ' ')} {1e3 * v:.3g} ms" for k, v in gpu.overhead)
        lines.append(
            f"GPU        {gpu.gpu}, {gpu.framework}, {gpu.matmul_precision} (dense, analytic model): {gpu.ms_per_step:.4g} ms/step, "
            f"{gpu.samples_per_s:,.0f} samples/s ({gpu.dominant}-bound{'; ' + terms if terms else ''}) "
            f"-> speed-up {est.speedup_vs_gpu:.2f}x"
        )
    if est.gpu_ideal is not None and est.gpu is not None and est.gpu_ideal.framework != est.gpu.framework:
        ideal = est.gpu_ideal
        lines.append(
            f"GPU ideal  {ideal.gpu}, {ideal.framework} program: {ideal.ms_per_step:.4g} ms/step "
            f"-> speed-up {est.speedup_vs_gpu_ideal:.2f}x"
        )
    lines += energy_lines(est)
    cap = m.memory_bytes_per_tile
    mem = est.ledger.max_tile_bytes
    oom = est.oom_tiles
    lines.append(
        f"memory     max {mem:,} B on one tile ({_pct(mem, cap)} of {cap:,} B)"
        + (f"; {len(oom)} tile(s) OVER capacity, first {oom[:5]}" if oom else "")
    )
    rows = [{"category": _LABELS[k], "cycles": v, "share": _pct(v, total)} for k, v in est.breakdown_cycles.items()]
    lines += [
        "",
        "Critical-path breakdown of the step",
        text_table(
            rows, (Column("category", "category"), Column("cycles", "cycles", "{:,}"), Column("share", "share", align="right"))
        ),
        "",
        "Top 5 supersteps of a time step (mean over the T steps; bound = what sets their length)",
    ]
    top = [
        {
            "name": short_step_name(k.name),
            "per_t": k.cycles_per_timestep,
            "runs": k.n_executions,
            "share": _pct(k.cycles, total),
            "bound": k.bound,
        }
        for k in est.top_step_kinds(5)
    ]
    cols = (
        Column("name", "superstep"),
        Column("per_t", "cycles/time step", "{:,.0f}"),
        Column("runs", "runs", "{:,}"),
        Column("share", "share of step", align="right"),
        Column("bound", "bound"),
    )
    lines.append(text_table(top, cols))
    return "\n".join(lines)
