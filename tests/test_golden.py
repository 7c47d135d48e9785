"""Golden end-to-end SNN estimates (tests/golden/README.md): the whole pipeline, pinned."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from mimdsim import load_machine
from mimdsim.snn.model.spec import load_snn_model
from mimdsim.studies.estimate import estimate_training_step

GOLDEN = Path(__file__).parent / "golden" / "snn_estimates.json"
MODELS = Path(__file__).parents[1] / "models" / "snn"
KEYS = ("cycles_per_step", "breakdown_cycles", "max_tile_memory_bytes", "neurons_per_tile", "n_ipus_used", "sparse_sizes")


def estimate(name: str) -> dict[str, Any]:
    """The pinned figures of one model, as its ``[run]`` table asks (fast engine, A100 baseline)."""
    spec, hints = load_snn_model(MODELS / f"{name}.toml")
    machine = load_machine(hints.machine, **({"n_ipus": hints.n_ipus} if hints.n_ipus else {}))
    est = estimate_training_step(spec, machine, neurons_per_tile=hints.neurons_per_tile, seed=hints.seed, gpu="a100")
    d = est.to_dict()
    out = {k: d[k] for k in KEYS}
    out["gpu_framework"] = d["gpu_framework"]
    out["gpu_ms_per_step"] = round(float(d["gpu_ms_per_step"]), 6)
    out["gpu_ideal_ms_per_step"] = round(float(d["gpu_ideal_ms_per_step"]), 6)
    out["top_superstep_names"] = d["top_superstep_names"]
    return out


@pytest.mark.parametrize("name", sorted(json.loads(GOLDEN.read_text())))
def test_snn_estimate_matches_golden(name: str) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    got = json.loads(json.dumps(estimate(name)))  # same JSON types as the file
    diffs = [f"{k}: golden {expected[k]!r}, now {got[k]!r}" for k in expected if expected[k] != got[k]]
    assert not diffs, f"{name} moved (see tests/golden/README.md):\n" + "\n".join(diffs)


if __name__ == "__main__" and sys.argv[1:] == ["--regenerate"]:
    names = sorted(json.loads(GOLDEN.read_text()))
    GOLDEN.write_text(json.dumps({n: estimate(n) for n in names}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
