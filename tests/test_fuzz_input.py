"""Fuzzing the three input files (machine TOML, program JSON, model TOML): any one field set to
any odd value gives exit 2 with one line, or a valid result - never a traceback, never a
number that wrapped."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimdsim.cli import main

ROOT = Path(__file__).resolve().parents[1]

ODD = st.sampled_from([-1, 0, 1, 3, 2**31, 2**62, 2**63 - 1, -(2**63), 1.5, 1e308, -1e308, math.inf, -math.inf, math.nan,
                       True, False, "x", "", [], [1, 2], {"a": 1}, None])  # fmt: skip


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int | str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"  # TOML has no null
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(v)


def toml_text(data: dict[str, Any]) -> str:
    flat = [f"{k} = {toml_value(v)}" for k, v in data.items() if v is not None and not (isinstance(v, dict) and k == "run")]
    tables = [
        f"[{k}]\n" + "\n".join(f"{kk} = {toml_value(vv)}" for kk, vv in v.items() if vv is not None)
        for k, v in data.items()
        if k == "run" and isinstance(v, dict)
    ]
    return "\n".join(flat + tables) + "\n"


def mutate(data: Any, draw: st.DrawFn) -> Any:
    """``data`` with one field (at any depth) set to an odd value, or removed (value None)."""
    if isinstance(data, dict) and data:
        key = draw(st.sampled_from(sorted(data)))
        out = dict(data)
        if draw(st.booleans()) or not isinstance(data[key], dict | list):
            out[key] = draw(ODD)
        else:
            out[key] = mutate(data[key], draw)
        return out
    if isinstance(data, list) and data:
        i = draw(st.integers(0, len(data) - 1))
        out = list(data)
        out[i] = draw(ODD) if draw(st.booleans()) or not isinstance(data[i], dict | list) else mutate(data[i], draw)
        return out
    return draw(ODD)


def outcome(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    if rc == 0:
        if "--json" in argv:
            json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
        return
    assert rc == 2, (rc, err)
    assert err.startswith("mimdsim: error: ") and err.count("\n") == 1, err


PROGRAM = {
    "format": "mimdsim-program", "version": 2, "name": "p", "batch_size": 2,
    "tensors": [{"name": "x", "kind": "tensor", "tiles": [0, 1], "nbytes": [64, 64]}],
    "exchanges": [{"name": "e", "src": [0], "dst_ptr": [0, 2], "dst": [1, 2], "nbytes": [64], "messages": [2]}],
    "compute_sets": [{"name": "c", "blocks": [{"codelet": "V", "tiles": [0, 1], "worker_cycles": [[10], [20]], "worker_counts": [3], "supervisor_cycles": 5}]}],
    "body": [{"type": "repeat", "name": "r", "count": 2, "body": [{"type": "superstep", "name": "s", "sync": "internal", "exchange": 0, "compute": 0}]},
             {"type": "host_copy", "name": "h", "direction": "to_device", "tiles": [0], "nbytes": [8]}],
}  # fmt: skip

MACHINE = tomllib.loads((ROOT / "models/machines/mk2.toml").read_text()) | {"tiles_per_ipu": 4}

MODEL = {
    "name": "fuzz", "n_inputs": 64, "input_sparse_size": 8, "layer_sizes": [24, 4], "max_activity": 0.25, "batch_size": 6,
    "n_timesteps": 2, "optimizer": "sgd", "weight_mul": 2.0, "second_threshold": 0.9,
    "run": {"machine": "bow", "n_ipus": 1, "engine": "fast", "seed": 0},
}  # fmt: skip

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(st.data())
def test_program_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: st.DataObject) -> None:
    doc = mutate(PROGRAM, data.draw)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({k: v for k, v in doc.items() if v is not None}))
    outcome(capsys, "run", str(path), "--machine", "mk2", "--set", "tiles_per_ipu=4", "--json")


@FUZZ
@given(st.data())
def test_machine_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: st.DataObject) -> None:
    doc = mutate(MACHINE, data.draw)
    (tmp_path / "m.toml").write_text(toml_text(doc))
    prog = tmp_path / "p.json"
    prog.write_text(json.dumps(PROGRAM))
    outcome(capsys, "run", str(prog), "--machine", str(tmp_path / "m.toml"), "--json")


@FUZZ
@given(st.data())
def test_model_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: st.DataObject) -> None:
    doc = mutate(MODEL, data.draw)
    (tmp_path / "m.toml").write_text(toml_text(doc))
    outcome(capsys, "snn", str(tmp_path / "m.toml"), "--set", "tiles_per_ipu=32", "--activity-source", "saturated", "--json")
