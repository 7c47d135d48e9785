"""mimdsim.sweep: grids, the spawn process pool, and the SNN estimate sweep."""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mimdsim.arch import load_machine
from mimdsim.errors import ConfigError, TileMemoryError
from mimdsim.snn.model.spec import load_snn_model
from mimdsim.studies.estimate import estimate_training_step
from mimdsim.studies.record import record_hash
from mimdsim.sweep import (
    PAPER_FAMILY_A_ACTIVITIES,
    PAPER_FAMILY_A_MODELS,
    expand_grid,
    resolve_snn_model,
    run_sweep,
    snn_point,
    snn_points,
    snn_sweep,
)
from tests.models import write_tiny

_MARKER = "module"
"""Changed at run time by a test; a spawned worker re-imports this module and sees the original."""


def _worker_info(point: dict) -> dict:
    import numba

    return {"x": point["x"], "pid": os.getpid(), "threads": numba.get_num_threads(), "marker": _MARKER}


def _fail_on_two(point: dict) -> int:
    if point["x"] == 2:
        raise ValueError("two is bad")
    return point["x"]


def _square(point: dict) -> int:
    return point["x"] ** 2


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny(tmp_path)


@pytest.fixture(scope="module")
def small_bow():
    return load_machine("bow", tiles_per_ipu=64)


# ---------------------------------------------------------------- expand_grid
def test_expand_grid_is_the_product_first_axis_slowest() -> None:
    pts = expand_grid({"engine": "fast", "a": 0}, {"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(pts) == 6
    assert [(p["a"], p["b"]) for p in pts] == [(1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]
    assert all(p["engine"] == "fast" for p in pts)


def test_expand_grid_without_axes_is_the_base() -> None:
    base = {"k": 1}
    out = expand_grid(base, {})
    assert out == [{"k": 1}]
    out[0]["k"] = 2
    assert base == {"k": 1}  # a copy


@pytest.mark.parametrize("axis", [[], "abc", 3])
def test_expand_grid_rejects_bad_axes(axis: object) -> None:
    with pytest.raises(ConfigError, match="sweep axis 'a'"):
        expand_grid({}, {"a": axis})  # type: ignore[dict-item]


# ---------------------------------------------------------------- run_sweep
def test_run_sweep_serial_in_order_with_progress() -> None:
    seen: list[tuple[int, int]] = []
    out = run_sweep([{"x": i} for i in range(5)], _square, progress=lambda d, n: seen.append((d, n)))
    assert out == [0, 1, 4, 9, 16]
    assert seen == [(i, 5) for i in range(1, 6)]


def test_run_sweep_spawn_pool() -> None:
    globals()["_MARKER"] = "changed in parent"
    try:
        seen: list[int] = []
        out = run_sweep([{"x": i} for i in range(6)], _worker_info, processes=2, progress=lambda d, n: seen.append(d))
    finally:
        globals()["_MARKER"] = "module"
    assert [r["x"] for r in out] == list(range(6))  # input order
    assert {r["threads"] for r in out} == {1}  # numba.set_num_threads(1) in every worker
    assert os.getpid() not in {r["pid"] for r in out}
    assert 1 <= len({r["pid"] for r in out}) <= 2
    assert {r["marker"] for r in out} == {"module"}  # spawned: the module was imported afresh, not forked
    assert sorted(seen) == list(range(1, 7))


def test_run_sweep_with_a_given_executor() -> None:
    with ThreadPoolExecutor(3) as ex:
        assert run_sweep([{"x": i} for i in range(7)], _square, executor=ex) == [i * i for i in range(7)]


@pytest.mark.parametrize("processes", [1, 2])
def test_run_sweep_reraises_with_the_point(processes: int) -> None:
    with pytest.raises(ValueError, match="two is bad") as info:
        run_sweep([{"x": i} for i in range(4)], _fail_on_two, processes=processes)
    assert any("sweep point 2" in n and "'x': 2" in n for n in getattr(info.value, "__notes__", []))


@pytest.mark.parametrize("processes", [0, -1, 1.5, True, "2"])
def test_run_sweep_rejects_bad_process_counts(processes: object) -> None:
    with pytest.raises(ConfigError, match="processes"):
        run_sweep([{"x": 1}], _square, processes=processes)  # type: ignore[arg-type]


def test_run_sweep_empty_and_none_processes() -> None:
    assert run_sweep([], _square, processes=2) == []
    assert run_sweep([{"x": 3}], _square, processes=None) == [9]


# ---------------------------------------------------------------- SNN sweeps
def test_family_a_presets_resolve() -> None:
    assert len(PAPER_FAMILY_A_MODELS) == 4 and PAPER_FAMILY_A_ACTIVITIES == (0.005, 0.01, 0.02, 0.05, 0.1)
    for m in PAPER_FAMILY_A_MODELS:
        assert resolve_snn_model(m).is_file()


def test_resolve_snn_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown SNN model 'nope'.*nmnist_a_2hidden"):
        resolve_snn_model("nope")
    with pytest.raises(ConfigError, match="file not found"):
        resolve_snn_model(tmp_path / "missing.toml")


def test_snn_points_order_and_checks(tiny: Path) -> None:
    pts = snn_points(["nmnist_a_2hidden", tiny], [0.01, 0.1], "bow", "a100", "fast")
    assert [(Path(p["model"]).stem, p["max_activity"]) for p in pts] == [
        ("nmnist_a_2hidden", 0.01),
        ("nmnist_a_2hidden", 0.1),
        ("tiny", 0.01),
        ("tiny", 0.1),
    ]
    with pytest.raises(ConfigError, match="outside"):
        snn_points([tiny], [0.0])
    with pytest.raises(ConfigError, match="no models"):
        snn_points([], [0.1])
    with pytest.raises(ConfigError, match="on_error"):
        snn_points([tiny], [0.1], on_error="ignore")


def test_snn_point_matches_estimate_training_step(tiny: Path, small_bow) -> None:  # type: ignore[no-untyped-def]
    row = snn_point({"model": str(tiny), "activity": 0.5, "machine": small_bow, "gpu": "a100", "engine": "fast"})
    spec, _ = load_snn_model(tiny, max_activity=0.5)
    est = estimate_training_step(spec, small_bow, gpu="a100", engine="fast")
    assert row["model"] == "tiny" and row["depth"] == 2 and row["layers"] == [64, 24, 24, 4]
    assert row["sparse_sizes"] == list(spec.sparse_sizes)
    assert row["cycles_per_step"] == est.cycles_per_step and row["input_hash"] == record_hash(est.input_hash, 0.5)
    assert row["ms_per_step"] == pytest.approx(est.ms_per_step)
    assert row["gpu_ms_per_step"] == pytest.approx(est.gpu.ms_per_step)  # type: ignore[union-attr]
    assert row["speedup_vs_gpu"] == pytest.approx(est.speedup_vs_gpu)
    assert row["gpu_framework"] == "tf-keras-xla" and row["speedup_vs_gpu_ideal"] == pytest.approx(est.speedup_vs_gpu_ideal)
    assert row["gpu_loop_sync_ms"] == pytest.approx(2 * spec.n_timesteps * 15e-3)
    parts = ("compute", "exchange", "global_exchange", "host_exchange", "sync")
    assert sum(row[f"{c}_cycles"] for c in parts) == row["cycles_per_step"]
    phases = ("fwd_cycles", "bwd_cycles", "update_cycles", "host_phase_cycles", "other_phase_cycles")
    assert sum(row[k] for k in phases) == row["cycles_per_step"]
    assert sum(row["critical_layer_cycles"]) == row["cycles_per_step"] and len(row["critical_layers"]) == len(
        row["critical_layer_cycles"]
    )
    assert 0 < len(row["top_superstep_names"]) <= 6
    assert row["top_superstep_cycles"] == sorted(row["top_superstep_cycles"], reverse=True)
    assert len(row["mean_true_spikes"]) == len(spec.sparse_sizes)
    assert all(t <= v for t, v in zip(row["mean_true_spikes"], row["mean_valid_spikes"], strict=True))
    assert row["gpu_launches"] == est.gpu.total_launches  # type: ignore[union-attr]
    assert row == est.record(model_path=str(tiny), max_activity=0.5).to_dict()  # one builder
    assert pickle.loads(pickle.dumps(row)) == row


def test_snn_points_refuse_a_bad_gpu_setting_first(tiny: Path) -> None:
    with pytest.raises(ConfigError, match="is not one of tf-keras-xla"):
        snn_points([tiny], [0.1], gpu="a100", gpu_framework="xla")
    with pytest.raises(ConfigError, match="matmul_precision"):
        snn_points([tiny], [0.1], gpu="a100", gpu_precision="fp16")
    (p,) = snn_points([tiny], [0.1], gpu="a100", gpu_framework="fused")
    assert p["gpu_framework"] == "fused" and p["gpu_precision"] is None


def test_snn_point_without_gpu_and_file_activity(tiny: Path, small_bow) -> None:  # type: ignore[no-untyped-def]
    row = snn_point({"model": str(tiny), "activity": None, "machine": small_bow, "gpu": None, "engine": "fast"})
    assert row["max_activity"] == 0.25  # the file's max_activity
    assert row["speedup_vs_gpu"] is None and row["gpu"] is None and row["gpu_framework"] is None


def test_snn_point_records_or_raises_errors(tiny: Path) -> None:
    full = load_machine("bow", tiles_per_ipu=64, memory_bytes_per_tile=2048)
    point = {"model": str(tiny), "activity": 0.5, "machine": full, "gpu": "a100", "engine": "fast"}
    with pytest.raises(TileMemoryError):
        snn_point(point)
    row = snn_point({**point, "on_error": "record"})
    assert row["error"].startswith("TileMemoryError: tiny: does not fit") and row["model"] == "tiny"
    assert "\n" not in row["error"] and row["speedup_vs_gpu"] is None and row["ms_per_step"] is None
    assert row["input_hash"] == snn_point({**point, "on_error": "record"})["input_hash"]


def test_snn_sweep_parallel_equals_serial(tiny: Path, small_bow) -> None:  # type: ignore[no-untyped-def]
    kw = dict(machine=small_bow, gpu="a100", engine="fast")
    serial = snn_sweep([tiny], [0.25, 0.5], **kw)
    parallel = snn_sweep([tiny], [0.25, 0.5], processes=2, **kw)
    assert serial == parallel  # no wall-clock time in a record: equal inputs, equal rows
    assert [r["max_activity"] for r in serial] == [0.25, 0.5]
    assert serial[0]["sparse_sizes"] != serial[1]["sparse_sizes"]
