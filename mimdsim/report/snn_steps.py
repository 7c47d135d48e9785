"""The per-program-step table of docs/snn.md: what each step of the SNN training step is, where
it comes from in the authors' code, how often it runs and what it costs.

``python -m mimdsim.report.snn_steps --write docs/snn.md`` regenerates the tables between the
``<!-- steps:PIPELINE -->`` / ``<!-- steps:PIPELINE@VERSION -->`` markers and their closing
``<!-- /steps:... -->`` of the page, one per compiler pipeline and op version (the paper's
2-hidden configuration, ``models/snn/nmnist_a_2hidden.toml`` on ``bow``); a step that the
passes merged from several programs lists each program's source;
``tests/report/test_snn_steps.py`` checks that the page holds what this module generates.
Keys (PC, PF, CC, S2D, KI, MI, PL) are those of docs/sources.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mimdsim.report.pages import replace_block
from mimdsim.studies.step_estimate import SNNEstimate

__all__ = ["STEP_SOURCES", "VERSION_SOURCES", "TABLES", "step_rows", "steps_markdown", "update_page", "estimate_for"]

_EST = "snn/lowering/codelets.py (the authors' codelets, costed from their instructions)"

# step family prefix -> (where in the authors' program, cost source); the longest matching prefix wins
STEP_SOURCES: dict[str, tuple[str, str]] = {
    # poplar: forward
    "fwd.one_minus_decay": ("PC `Build` 2195-2494: `popops::map` 1 - alpha per layer", "PL BinaryOp1D estimator"),
    "fwd.scale_decay": ("PC `Build`: the decay constants scaled in place", "PL BinaryOp1D estimator"),
    "fwd.cast": (
        "PC `Build`: `popops::cast` of the sequences (float <-> unsigned)",
        "PL Cast1D estimator; INT -> UNSIGNED_INT is a Copy (PL Cast.cpp:98-117)",
    ),
    "fwd.copy": ("PC `Build`: initial state and input buffers", "PL Copy: exchange + on-tile copy (IPU21-RUST copy overhead)"),
    "fwd.counter.init": ("PC `Build`: the loop counter zeroed", "on-tile copy"),
    "fwd.slice": (
        "PC loop body 2427-2461: `dynamicSlice` of the input ids / counts at t",
        "PL DynamicSlice1D estimator; offset from tile 0 (PL DynamicSlice.cpp:468-469)",
    ),
    "fwd.handoff": (
        "PC:2436-2439: layer l-1's output (column 0) into layer l's input buffers",
        "PL Copy (exchange from the sequence tiles)",
    ),
    "fwd.state_update": ("PF:474-599 `LIFStateUpdateInPlace`: every tile reads its layer's input ids and counts", _EST),
    "fwd.dense_flags": ("CC `DenseSpikesMultiThresh`", _EST),
    "fwd.poprand": ("PC:706 `poprand::uniform` per layer (result unused, CC:628-681)", "PL poprand Uniform estimator"),
    "fwd.dense_to_sparse": ("CC `DenseToSparseSpikes` (stage 1 of spike generation)", _EST),
    "fwd.tile_combine": ("CC `LIFOutSpikesCombine_singleThresh` (stage 2)", _EST),
    "fwd.final_combine": ("CC `LIFOutSpikesMultiThreshsCombine` (its output written to the sequence tiles)", _EST),
    "fwd.update": ("PC loop body: `dynamicUpdate` of state, ids, counts at t", "PL DynamicSlice1D (update) estimator"),
    "fwd.loop": ("PC loop body: the counter incremented", "PL BroadcastScalar1D estimator"),
    # poplar: backward
    "bwd.copy": ("PC `Build_grad` 2514-2668: initial state and inputs", "PL Copy"),
    "bwd.one_minus_decay": ("PC `Build_grad`: 1 - alpha", "PL BinaryOp1D estimator"),
    "bwd.scale_decay": ("PC `Build_grad`: decay scaled", "PL BinaryOp1D estimator"),
    "bwd.zero": (
        "PC `Build_grad`: gradient replicas, state and slot gradients zeroed",
        "PL Fill = on-tile copy from a constant (PL Fill.cpp:98-108)",
    ),
    "bwd.cast": ("PC `Build_grad`: casts of the sequences", "PL Cast1D estimator / Copy"),
    "bwd.itime": ("PC:2673-2711 / 2717-2759: the reverse time counter", "PL BroadcastScalar1D estimator"),
    "bwd.slice": (
        "PC backward loop bodies: `dynamicSlice` of inputs, outputs, gradients, state at t (and t-1)",
        "PL DynamicSlice1D estimator",
    ),
    "bwd.alpha_mul": ("PC backward loop: the state gradient times alpha", "PL BinaryOp1D estimator"),
    "bwd.state_grad": ("PC:1363-1419 `calcLIFStateGrad`: each tile reads its output ids, counts and slot gradients", _EST),
    "bwd.scale": ("PC backward loop: the scaled copy of the state gradient", "PL Copy + BinaryOp1D"),
    "bwd.replicate": (
        "PC:1942-1943 (PF:984-1008) `replicate_and_alloc_tensor`: the ids and counts copied to every tile of the layer",
        "PL Copy (a gather from the sequence tiles)",
    ),
    "bwd.weight_grad": ("CC `LIFWeightsGrad`: one replica per worker context, B/W samples each", _EST),
    "bwd.input_grad": ("CC `LIFInpSpikesGrad`", _EST),
    "bwd.reduce_stage1": ("CC `CustomSparseReduceStage1` over the tile groups", _EST),
    "bwd.reduce_stage2": (
        "PC:1425-1476 `popops::reduceMany` into the slot-gradient buffers",
        "PL Reduce (strided) estimator, reduced at the destination (ReductionPlan.cpp:183-200)",
    ),
    "bwd.reduce_replicas": ("PC:2762-2796: the W weight-gradient replicas reduced", "PL Reduce estimator"),
    # poplar: around the op (IPU TensorFlow; modelled)
    "loss": (
        "S2D `Build` / `Build_grad`, the sum over time and the cross-entropy (IPU TensorFlow; modelled)",
        "PL Cast1D; snn/lowering/codelets.py (sparse-to-dense, softmax cross-entropy)",
    ),
    "update": (
        "KI: the optimizer (Adam or SGD) on every weight (IPU TensorFlow; modelled)",
        "PL ScaledSubtractSupervisor (SGD); PL elementwise ops (Adam, poplibs/estimators.py tf_adam_update_tile_cycles)",
    ),
    "host": ("MI:735 infeed of one batch; the loss outfeed", "host link (docs/machine_format.md)"),
}

VERSION_SOURCES: dict[str, dict[str, tuple[str, str]]] = {
    "2022-09-12": {
        "bwd.state_grad": (
            "PC@2b0fe90:1040-1081 `calcLIFStateGrad`: one `LIFStateOutGrad` per (layer, sample) on tile 1 + B l + b, gathering the layer's "
            "state, dL/dV and thresholds rows",
            "snn/lowering/codelets.py state_out_grad_cycles (soft-double surrogate, CC@2b0fe90:865-891)",
        ),
        "bwd.state_grad.out": (
            "PC@2b0fe90:1040-1081: the InOut dL/dV rows written back to the neuron tiles",
            "the exchange (docs/machine_format.md)",
        ),
    },
}
"""Steps whose source differs in an older version of the authors' op."""


def _family_source(name: str, version: str) -> tuple[str, str]:
    sources = {**STEP_SOURCES, **VERSION_SOURCES.get(version, {})}
    best = max((p for p in sources if name == p or name.startswith(p + ".") or name.startswith(p + "_")), key=len, default="")
    if not best:
        best = max((p for p in sources if name.startswith(p)), key=len, default="")
    return sources.get(best, ("", ""))


def _source_of(name: str, version: str = "final") -> tuple[str, str]:
    """Where a step comes from and what costs it; a step the passes merged lists each of its programs'."""
    parts = [_family_source(part, version) for part in name.split(" + ")]
    if len(parts) == 1:
        return parts[0]
    wheres = list(dict.fromkeys(w for w, _ in parts if w))
    costs = list(dict.fromkeys(c for _, c in parts if c))
    return "merged: " + "; ".join(wheres), "; ".join(costs)


def step_rows(est: SNNEstimate) -> list[dict[str, object]]:
    """One row per step family (the step name without its ``[...]`` index), costliest first."""
    T = est.spec.n_timesteps
    total = est.cycles_per_step
    rows = []
    for k in est.step_kinds():
        where, source = _source_of(k.name, est.spec.program_version)
        per_t = k.n_executions / T
        rows.append({
            "step": k.name, "where": where, "per_timestep": per_t, "supersteps": k.n_executions, "cycles": k.cycles,
            "share": k.cycles / total if total else 0.0, "bound": k.bound, "source": source,
        })  # fmt: skip
    return rows


def steps_markdown(est: SNNEstimate) -> str:
    rows = step_rows(est)
    lines = [
        "| step | where in the authors' program | per time step | supersteps | cycles | share | bound | cost source |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        n, T = int(r["supersteps"]), est.spec.n_timesteps  # type: ignore[call-overload]
        per_t = f"{n / T:.2f}".rstrip("0").rstrip(".") if n >= T - 1 else f"({n} per training step)"
        lines.append(
            f"| `{r['step']}` | {r['where']} | {per_t} | {r['supersteps']:,} | {r['cycles']:,} | {100 * float(r['share']):.1f} % | {r['bound']} | {r['source']} |"  # type: ignore[arg-type]
        )
    lines.append(
        f"| **total** | | | {sum(int(r['supersteps']) for r in rows):,} | **{est.cycles_per_step:,}** | 100 % | | {est.ms_per_step:.3f} ms at {est.machine.tile_clock_hz / 1e9:g} GHz |"  # type: ignore[call-overload]
    )
    return "\n".join(lines)


TABLES: tuple[str, ...] = ("as-issued", "poplar", "fused", "as-issued@2022-09-12", "poplar@2022-09-12", "fused@2022-09-12")
"""The step tables of docs/snn.md: ``PIPELINE`` (the final op) or ``PIPELINE@VERSION``."""


def estimate_for(table: str) -> SNNEstimate:
    """The paper's 2-hidden configuration on bow with the pipeline (and op version) ``table`` names."""
    from mimdsim.arch import load_machine
    from mimdsim.arch.load import resolve_preset
    from mimdsim.snn.lowering.lower import LoweringOptions
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import estimate_training_step

    passes, _, version = table.partition("@")
    spec, _ = load_snn_model(resolve_preset("nmnist_a_2hidden", "snn", "SNN model"))
    spec = spec.model_copy(update={"program_version": version or "final"})
    return estimate_training_step(spec, load_machine("bow"), options=LoweringOptions(passes=passes))


def update_page(text: str, tables: tuple[str, ...] = TABLES) -> str:
    """``text`` with the blocks between each ``<!-- steps:T -->`` / ``<!-- /steps:T -->`` pair regenerated."""
    for low in tables:
        if f"<!-- steps:{low} -->" not in text:  # before the estimate
            raise ValueError(f"the page has no <!-- steps:{low} --> ... <!-- /steps:{low} --> block")
        text = replace_block(text, f"steps:{low}", steps_markdown(estimate_for(low)))
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mimdsim.report.snn_steps", description=__doc__.split("\n")[0])
    ap.add_argument("--write", type=Path, help="regenerate the step tables of this page (docs/snn.md)")
    ap.add_argument("--table", default="poplar", help="print the table of this pipeline[@version] (without --write)")
    args = ap.parse_args(argv)
    if args.write:
        args.write.write_text(update_page(args.write.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {args.write}")
    else:
        sys.stdout.write(steps_markdown(estimate_for(args.table)) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
