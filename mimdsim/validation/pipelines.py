"""A section of docs/validation.md: family (a) under each compiler pipeline and op version, and the
inferred behaviours and unpublished quantities switched on and off.

The only measured IPU timings of the authors' op (kept aside, not in this repository) were produced by
the op as of 2022-09-12 under Poplar 2.6's lowering; what Poplar's lowering does is partly inferred
(docs/passes.md). So the page shows the estimate both ways for every such behaviour: each pipeline
(``as-issued``, ``poplar``, ``fused``) with each op version; the soft-double surrogate of the
2022-09-12 state gradient at the low and high ends of its range; and the per-message IPU-Link cost
on the multi-IPU family (c). Nothing here is compared with a measurement; the trends in depth and
activity are stated from the rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from mimdsim.sweep import PAPER_FAMILY_A_MODELS
from mimdsim.sweep.executors import run_sweep
from mimdsim.sweep.snn import resolve_snn_model, snn_point

__all__ = [
    "PIPELINE_ACTIVITIES",
    "VARIANTS",
    "pipeline_points",
    "pipeline_rows",
    "pipeline_table",
    "pipeline_findings",
    "sensitivity_points",
    "sensitivity_table",
    "tut6_under_pipelines",
    "tut6_pipelines_text",
]

PIPELINE_ACTIVITIES: tuple[float, ...] = (0.01, 0.05, 0.1)
"""The three maximum activities of the measured 2022-09-12 run."""

VARIANTS: tuple[tuple[str, str], ...] = (
    ("final", "as-issued"), ("final", "poplar"), ("final", "fused"),
    ("2022-09-12", "as-issued"), ("2022-09-12", "poplar"), ("2022-09-12", "fused"),
)  # fmt: skip
"""(op version, pipeline) pairs of the table."""


def pipeline_points(
    models: Sequence[str] = PAPER_FAMILY_A_MODELS, activities: Sequence[float] = PIPELINE_ACTIVITIES
) -> list[dict[str, Any]]:
    """Family (a) on bow for every (version, pipeline), models x activities (no GPU: IPU figures only)."""
    paths = [str(resolve_snn_model(m)) for m in models]
    return [
        {
            "model": p,
            "max_activity": a,
            "machine": "bow",
            "gpu": None,
            "engine": "fast",
            "passes": passes,
            "program_version": version,
        }
        for version, passes in VARIANTS
        for p in paths
        for a in activities
    ]


def pipeline_rows(
    models: Sequence[str] = PAPER_FAMILY_A_MODELS, activities: Sequence[float] = PIPELINE_ACTIVITIES, *, processes: int | None = 1
) -> list[dict[str, Any]]:
    """The records of :func:`pipeline_points`, in their order."""
    return run_sweep(pipeline_points(models, activities), snn_point, processes=processes)


def _ms(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, int, float], float]:
    return {(r["program_version"], r["passes"], int(r["depth"]), float(r["max_activity"])): float(r["ms_per_step"]) for r in rows}


def pipeline_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """ms per step: one row per (version, pipeline, activity), one column per depth; sync share in brackets."""
    depths = sorted({int(r["depth"]) for r in rows})
    acts = sorted({float(r["max_activity"]) for r in rows})
    by = {(r["program_version"], r["passes"], int(r["depth"]), float(r["max_activity"])): r for r in rows}
    head = "| op version | passes | max activity | " + " | ".join(f"{d} hidden" for d in depths) + " | deeper is |"
    lines = [head, "|---|---|---:|" + "---:|" * len(depths) + "---|"]
    for version, passes in VARIANTS:
        for a in acts:
            cells = [by.get((version, passes, d, a)) for d in depths]
            ms = [None if c is None else float(c["ms_per_step"]) for c in cells]
            text = [
                ""
                if c is None
                else f"{float(c['ms_per_step']):.3f} ({100 * int(c['sync_cycles']) / int(c['cycles_per_step']):.0f} % sync)"
                for c in cells
            ]
            lines.append(
                f"| {version} | {passes} | {a:g} | " + " | ".join(text) + f" | {_trend([m for m in ms if m is not None])} |"
            )
    return "\n".join(lines)


def _trend(ms: Sequence[float]) -> str:
    if len(ms) < 2:
        return ""
    if all(b < a for a, b in itertools.pairwise(ms)):
        return "faster"
    if all(b > a for a, b in itertools.pairwise(ms)):
        return "slower"
    return "faster" if ms[-1] < ms[0] else "slower" if ms[-1] > ms[0] else "flat"


def pipeline_findings(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Bullet points computed from the rows: trends in depth and activity per variant, and what the passes save."""
    ms = _ms(rows)
    depths = sorted({k[2] for k in ms})
    acts = sorted({k[3] for k in ms})
    out: list[str] = []
    for version, passes in VARIANTS:
        trends = [_trend([ms[(version, passes, d, a)] for d in depths if (version, passes, d, a) in ms]) for a in acts]
        act_ok = all(
            ms[(version, passes, d, acts[0])] < ms[(version, passes, d, acts[-1])]
            for d in depths
            if (version, passes, d, acts[0]) in ms
        )
        out.append(
            f"`{version}` op, `{passes}`: spreading the hidden neurons over more layers makes the step "
            + ", ".join(f"{t} at activity {a:g}" for t, a in zip(trends, acts, strict=True))
            + f"; lower activity is {'faster at every depth' if act_ok else 'not faster at every depth'}."
        )
    for version in ("final", "2022-09-12"):

        def saving(a: float, d: int, base: str, by: str, version: str = version) -> float | None:
            k, b = (version, by, d, a), (version, base, d, a)
            return 1 - ms[k] / ms[b] if k in ms and b in ms else None

        saved = [x for d in depths for a in acts if (x := saving(a, d, "as-issued", "poplar")) is not None]
        fused = [x for d in depths for a in acts if (x := saving(a, d, "poplar", "fused")) is not None]
        if saved:
            grows = all(
                (lo := saving(a, depths[0], "as-issued", "poplar")) is not None
                and (hi := saving(a, depths[-1], "as-issued", "poplar")) is not None
                and hi > lo
                for a in acts
            )
            why = " (more for deeper nets, which issue more programs per time step)" if grows and len(depths) > 1 else ""
            out.append(
                f"`{version}` op: Poplar's passes take {100 * min(saved):.0f}-{100 * max(saved):.0f} % off the as-issued step{why}; "
                f"`fused` takes {100 * min(fused, default=0):.1f}-{100 * max(fused, default=0):.1f} % more off `poplar`."
            )
    old = [
        ms[("2022-09-12", "poplar", d, a)] / ms[("final", "poplar", d, a)]
        for d in depths
        for a in acts
        if ("2022-09-12", "poplar", d, a) in ms
    ]
    if old:
        out.append(
            f"Under `poplar`, the 2022-09-12 op's step is {min(old):.2f}-{max(old):.2f}x the final op's: its state gradient gathers "
            "whole-layer rows on one tile per (layer, sample) and runs the surrogate in software double precision, a cost that "
            "grows with the layer's width, so it weighs most on the shallowest net."
        )
    return out


def sensitivity_points() -> list[tuple[str, dict[str, Any]]]:
    """(label, point) for the switchable quantities: the soft-double range and the per-message link cost."""
    two = str(resolve_snn_model("nmnist_a_2hidden_2022-09-12"))
    c = [str(resolve_snn_model(f"nmnist_c_{n}ipu")) for n in (2, 16)]
    base: dict[str, Any] = {"gpu": None, "engine": "fast", "machine": "bow"}
    out: list[tuple[str, dict[str, Any]]] = []
    for label, sd in (
        ("soft-double low (440 per slot)", 440),
        ("soft-double typical (726, the default)", None),
        ("soft-double high (1150)", 1150),
    ):
        point: dict[str, Any] = {**base, "model": two, "passes": "poplar"}
        if sd is not None:
            point["soft_double_slot_cycles"] = sd
        out.append((f"2022-09-12 run (nmnist_a_2hidden_2022-09-12), {label}", point))
    for path, n in zip(c, (2, 16), strict=True):
        for cycles in (0, 16):
            out.append((f"nmnist_c_{n}ipu, link_message_cycles {cycles}{' (preset)' if cycles == 16 else ' (per-byte only)'}",
                        {**base, "model": path, "machine.n_ipus": n, "machine.link_message_cycles": cycles}))  # fmt: skip
    return out


def sensitivity_table(labelled: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    lines = ["| configuration | ms/step | global exchange ms | sync ms |", "|---|---:|---:|---:|"]
    for label, r in labelled:
        hz = float(r["tile_clock_hz"])
        lines.append(
            f"| {label} | {float(r['ms_per_step']):.3f} | {1e3 * int(r['global_exchange_cycles']) / hz:.3f} | {1e3 * int(r['sync_cycles']) / hz:.3f} |"
        )
    return "\n".join(lines)


def tut6_under_pipelines() -> list[tuple[str, str, int]]:
    """(configuration, pipeline, total cycles) of Poplar tutorial 6 as validated, under every pipeline."""
    from mimdsim.engines import simulate
    from mimdsim.program.passes import PIPELINES, apply_passes
    from mimdsim.validation.tut6 import REARRANGES_MATRIX, TUT6_CONFIGS, build_tut6_program, tut6_machine

    out = []
    for config in TUT6_CONFIGS:
        m = tut6_machine(config)
        program = build_tut6_program(m, rearrange_matrix=REARRANGES_MATRIX[config])
        out += [(config, name, simulate(apply_passes(program, name), m, "fast").total_cycles) for name in PIPELINES]
    return out


def tut6_pipelines_text(rows: Sequence[tuple[str, str, int]]) -> str:
    """One sentence: whether any pipeline changes the tutorial's cycles (computed from ``rows``)."""
    by: dict[str, set[int]] = {}
    for config, _, cycles in rows:
        by.setdefault(config, set()).add(cycles)
    same = [c for c, v in by.items() if len(v) == 1]
    if len(same) == len(by):
        return (
            "Under every pipeline of compiler passes (docs/passes.md) the tutorial's program is unchanged in all "
            f"{len(by)} configurations: its compute sets each read remote inputs (each keeps its sync and exchange) and it "
            "issues no consecutive copies, so these rows hold for `as-issued`, `poplar` and `fused` alike."
        )
    moved = ", ".join(f"{c} ({min(v):,}-{max(v):,} cycles)" for c, v in by.items() if len(v) > 1)
    return f"The pipelines of compiler passes (docs/passes.md) change the tutorial's cycles in: {moved}."
