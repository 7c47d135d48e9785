"""``mimdsim snn`` and the SNN ``mimdsim demo``: options, JSON keys, model files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimdsim.cli import main

TINY = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--set", "tiles_per_ipu=32", "--input-sparse-size", "8"]
JSON_KEYS = {
    "ms_per_step",
    "samples_per_s",
    "cycles_per_step",
    "breakdown_cycles",
    "max_tile_memory_bytes",
    "oom_tiles",
    "neurons_per_tile",
    "n_ipus",
    "machine",
    "engine",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("engine", ["des", "fast"])
def test_snn_json_has_the_issue_keys(capsys: pytest.CaptureFixture[str], engine: str) -> None:
    rc, out, err = _run(capsys, "snn", *TINY, "--engine", engine, "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert JSON_KEYS <= data.keys()
    assert set(data["breakdown_cycles"]) == {"compute", "exchange", "global_exchange", "host_exchange", "sync"}
    assert sum(data["breakdown_cycles"].values()) == data["cycles_per_step"]
    assert data["engine"] == engine and data["n_ipus"] == 1 and data["oom_tiles"] == []
    assert data["samples_per_s"] == pytest.approx(6 / (data["ms_per_step"] / 1e3))


def test_snn_engines_agree(capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for engine in ("des", "fast"):
        rc, out, _ = _run(capsys, "snn", *TINY, "--engine", engine, "--json")
        assert rc == 0
        outs.append({k: v for k, v in json.loads(out).items() if k not in ("engine", "input_hash")})  # the engine is an input
    assert outs[0] == outs[1]


def test_snn_table_and_gpu_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "snn", *TINY, "--compare-gpu", "a100")
    assert rc == 0
    assert "Critical-path breakdown" in out and "Top 5 supersteps" in out and "speed-up" in out
    assert "tf-keras-xla" in out and "GPU ideal" in out  # the paper's baseline and the ideal program
    rc, out, _ = _run(capsys, "snn", *TINY, "--compare-gpu", "h100", "--json")
    data = json.loads(out)
    assert data["gpu_framework"] == "tf-keras-xla" and data["gpu_matmul_precision"] == "tf32"
    assert data["speedup_vs_gpu"] == pytest.approx(data["gpu_ms_per_step"] / data["ms_per_step"])
    assert data["speedup_vs_gpu_ideal"] == pytest.approx(data["gpu_ideal_ms_per_step"] / data["ms_per_step"])
    assert data["gpu_host_enqueue_ms"] > 0 and data["gpu_loop_sync_ms"] > 0 and data["gpu_input_copy_ms"] > 0
    assert data["gpu_graph_launch_ms"] == 0
    rc, out, _ = _run(
        capsys, "snn", *TINY, "--compare-gpu", "h100", "--gpu-framework", "cuda-graph", "--gpu-precision", "fp32", "--json"
    )
    graph = json.loads(out)
    assert (graph["gpu_framework"], graph["gpu_matmul_precision"]) == ("cuda-graph", "fp32")
    assert graph["gpu_graph_launch_ms"] > 0 and graph["gpu_host_enqueue_ms"] == graph["gpu_loop_sync_ms"] == 0
    rc, out, err = _run(capsys, "snn", *TINY, "--compare-gpu", "a100", "--gpu-framework", "keras")
    assert rc == 2 and out == "" and "'keras' is not one of tf-keras-xla, cuda-graph, fused" in err


def test_activity_sets_sparse_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "snn", *TINY, "--activity", "0.25", "--json")
    assert json.loads(out)["sparse_sizes"] == [8, 6, 6, 2]  # 2*floor(0.25*24/2) = 6; output at least 2


def test_model_file_with_overrides(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "m.toml"
    model.write_text(
        'name = "m"\nn_inputs = 64\ninput_sparse_size = 8\nlayer_sizes = [24, 4]\nmax_activity = 0.5\n'
        'batch_size = 6\nn_timesteps = 2\n[run]\nmachine = "mk2"\nneurons_per_tile = 4\n'
    )
    rc, out, _ = _run(capsys, "snn", str(model), "--set", "tiles_per_ipu=32", "--json")
    data = json.loads(out)
    assert rc == 0 and data["machine"] == "mk2" and data["neurons_per_tile"] == 4 and data["sparse_sizes"] == [8, 12, 2]
    rc, out, _ = _run(
        capsys, "snn", str(model), "--set", "tiles_per_ipu=32", "--neurons-per-tile", "2", "--timesteps", "3", "--json"
    )
    data = json.loads(out)
    assert data["neurons_per_tile"] == 2 and data["n_timesteps"] == 3


def test_multi_ipu_option(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(
        capsys,
        "snn",
        "--layers",
        "64,40,40,4",
        "--batch",
        "6",
        "--timesteps",
        "2",
        "--set",
        "tiles_per_ipu=24",
        "--n-ipus",
        "2",
        "--json",
    )
    data = json.loads(out)
    assert rc == 0 and data["n_ipus"] == 2 and data["n_ipus_used"] == 2 and data["breakdown_cycles"]["global_exchange"] > 0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--batch", "8"], ["batch_size: 8 is not a multiple of num_worker_contexts = 6"]),
        (["--activity", "1.5"], ["activity: 1.5 is outside (0, 1]"]),
        (["--activity-source", "nope"], ["activity: 'nope'"]),
        (["--activity-source", "parametric"], ["needs a firing rate"]),
        (["--set", "memory_bytes_per_tile=4096"], ["does not fit", "needs at least", "gradient replicas"]),
        (["--set", "tiles_per_ipu=2"], ["do not fit"]),
        (["--dt", "1e-4"], ["--dt 0.0001: the time step applies to a .nir model only"]),  # not silently ignored
    ],
)
def test_bad_input_exit_2_one_line(capsys: pytest.CaptureFixture[str], extra: list[str], words: list[str]) -> None:
    rc, out, err = _run(capsys, "snn", *TINY, *extra)
    assert rc == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("mimdsim: error:")
    for w in words:
        assert w in err


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--passes", "merge_copy"], ["--passes", "'merge_copy' is not a pipeline (as-issued, poplar, fused) or a pass"]),
        (["--program-version", "2022"], ["--program-version", "invalid choice: '2022'"]),
        (["--energy-scope", "rack"], ["--energy-scope", "invalid choice: 'rack'"]),
    ],
)
def test_bad_option_values_exit_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], extra: list[str], words: list[str]
) -> None:
    rc, out, err = _run(capsys, "snn", *TINY, *extra)  # argparse's usage, then the one error line
    assert rc == 2 and out == "" and "Traceback" not in err
    assert all(w in err.splitlines()[-1] for w in words)


def test_energy_lines_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "snn", *TINY, "--compare-gpu", "a100")
    assert rc == 0 and "energy     1 IPU (chip scope):" in out and "GPU / IPU energy" in out and "time model's own error" in out
    rc, out, _ = _run(capsys, "snn", *TINY, "--compare-gpu", "a100", "--energy-scope", "machine", "--json")
    data = json.loads(out)
    assert rc == 0 and data["energy_scope"] == "machine"
    assert data["ipu_energy_low_j"] <= data["ipu_energy_central_j"] <= data["ipu_energy_high_j"]
    assert data["gpu_ipu_energy_ratio_low"] <= data["gpu_ipu_energy_ratio_central"] <= data["gpu_ipu_energy_ratio_high"]


def test_passes_and_program_versions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--passes and --program-version reach the estimate and its record; a saved as-issued program runs under
    `run --passes poplar` as the poplar estimate does; a recording replays with its passes unless told otherwise."""
    ms = {}
    for passes in ("as-issued", "poplar", "fused", "replicate_offsets,merge_copies,local_compute"):
        rc, out, _ = _run(capsys, "snn", *TINY, "--passes", passes, "--json")
        data = json.loads(out)
        assert rc == 0 and data["passes"] == ("poplar" if "," in passes else passes)
        ms[data["passes"]] = data["cycles_per_step"]
    assert ms["as-issued"] > ms["poplar"] >= ms["fused"]
    rc, out, _ = _run(capsys, "snn", *TINY, "--program-version", "2022-09-12", "--json")
    assert rc == 0 and json.loads(out)["program_version"] == "2022-09-12" and json.loads(out)["cycles_per_step"] != ms["poplar"]
    path = tmp_path / "issued.json"
    assert _run(capsys, "snn", *TINY, "--passes", "as-issued", "--save-program", str(path))[0] == 0
    for passes, want in (("as-issued", ms["as-issued"]), ("poplar", ms["poplar"])):
        rc, out, _ = _run(capsys, "run", str(path), "--machine", "bow", "--set", "tiles_per_ipu=32", "--passes", passes, "--json")
        assert rc == 0 and json.loads(out)["total_cycles"] == want
    trace = tmp_path / "t.npz"
    assert _run(capsys, "snn", *TINY, "--passes", "as-issued", "--record", str(trace))[0] == 0
    rc, out, _ = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=32", "--json")
    assert rc == 0 and json.loads(out)["passes"] == "as-issued" and json.loads(out)["cycles_per_step"] == ms["as-issued"]
    rc, out, _ = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=32", "--passes", "poplar", "--json")
    assert rc == 0 and json.loads(out)["cycles_per_step"] == ms["poplar"]


def test_oom_reported_with_allow_oom(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "snn", *TINY, "--set", "memory_bytes_per_tile=30000", "--allow-oom", "--json")
    data = json.loads(out)
    assert rc == 0 and data["oom_tiles"] and data["max_tile_memory_bytes"] > 30000


def test_missing_model_and_both_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _, err = _run(capsys, "snn", str(tmp_path / "none.toml"))
    assert rc == 2 and "none.toml: file not found" in err
    rc, _, err = _run(capsys, "snn")
    assert rc == 2 and "--layers" in err
    rc, _, err = _run(capsys, "snn", str(tmp_path / "none.toml"), "--layers", "4,2")
    assert rc == 2 and "not both" in err


def _tiny_model(tmp_path: Path) -> Path:
    model = tmp_path / "tiny.toml"
    model.write_text(
        'name = "tiny"\nn_inputs = 64\ninput_sparse_size = 8\nlayer_sizes = [24, 24, 4]\nmax_activity = 0.25\n'
        "batch_size = 6\nn_timesteps = 2\n"
    )
    return model


def test_sweep_table_csv_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = _tiny_model(tmp_path)
    csv = tmp_path / "rows.csv"
    rc, out, err = _run(capsys, "sweep", str(model), "--activities", "0.25,0.5", "--set", "tiles_per_ipu=32", "--csv", str(csv))
    assert rc == 0 and err.startswith(f"wrote {csv} (") and err.endswith(", 2 rows)\n")  # every written file is named
    assert "Speed-up over the dense step on a100" in out
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("model,") and len(lines) == 3
    rc, out, _ = _run(capsys, "sweep", str(model), "--activities", "0.5", "--set", "tiles_per_ipu=32", "--json")
    (row,) = json.loads(out)
    assert row["max_activity"] == 0.5 and row["speedup_vs_gpu"] == pytest.approx(row["gpu_ms_per_step"] / row["ms_per_step"])


def test_sweep_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = _run(capsys, "sweep", str(_tiny_model(tmp_path)), "--activities", "2", "--set", "tiles_per_ipu=32")
    assert rc == 2 and out == "" and "outside (0, 1]" in err and len(err.strip().splitlines()) == 1
    rc, _, err = _run(capsys, "sweep", "no_such_model", "--activities", "0.1")
    assert rc == 2 and "no_such_model" in err


def test_gpu_options_without_a_gpu_are_refused_and_a_sweep_can_leave_the_gpu_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for opt, value in (("--gpu-framework", "fused"), ("--gpu-precision", "fp32")):
        rc, out, err = _run(capsys, "snn", *TINY, opt, value)  # no --compare-gpu: nothing they could describe
        assert rc == 2 and out == "" and f"{opt} {value}: only with --compare-gpu GPU" in err
        rc, out, err = _run(capsys, "sweep", str(_tiny_model(tmp_path)), "--activities", "0.5", "--set", "tiles_per_ipu=32",
                            "--compare-gpu", "none", opt, value)  # fmt: skip
        assert rc == 2 and f"{opt} {value}: only with --compare-gpu GPU" in err
    rc, out, err = _run(capsys, "sweep", str(_tiny_model(tmp_path)), "--activities", "0.5", "--set", "tiles_per_ipu=32",
                        "--compare-gpu", "none", "--json")  # fmt: skip
    (row,) = json.loads(out)
    assert rc == 0 and row["gpu"] is None and row["speedup_vs_gpu"] is None and err == ""


def test_saved_program_replays_on_another_machine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "step.json.gz"
    rc, out, _ = _run(capsys, "snn", *TINY, "--save-program", str(path), "--json")
    est = json.loads(out)
    rc2, out2, _ = _run(capsys, "run", str(path), "--machine", "bow", "--set", "tiles_per_ipu=32", "--json")
    assert rc == rc2 == 0 and json.loads(out2)["total_cycles"] == est["cycles_per_step"]
    rc3, out3, _ = _run(
        capsys, "run", str(path), "--machine", "bow", "--set", "tiles_per_ipu=32", "--set", "exchange_bytes_per_cycle=8", "--json"
    )
    assert rc3 == 0 and json.loads(out3)["total_cycles"] < est["cycles_per_step"]


def test_input_data_drives_the_functional_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from tests.snn.test_data import write_shd

    shd = write_shd(tmp_path / "shd.h5", [([0.001 * t for t in range(4)], [1, 2, 3, 4])] * 6, [0] * 6)
    args = [
        "snn",
        "--layers",
        "700,24,4",
        "--batch",
        "6",
        "--timesteps",
        "4",
        "--input-sparse-size",
        "8",
        "--set",
        "tiles_per_ipu=32",
    ]
    rc, out, _ = _run(capsys, *args, "--input-data", str(shd), "--json")
    assert rc == 0 and json.loads(out)["activity_source"] == "functional(shd.h5)"
    rc, _, err = _run(capsys, *args, "--input-data", str(shd), "--activity-source", "saturated")
    assert rc == 2 and "only the functional activity source reads a dataset" in err
    rc, _, err = _run(capsys, *args, "--input-data", str(tmp_path / "none.h5"))
    assert rc == 2 and "none.h5: not found" in err


def test_sweep_store_spec_and_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = _tiny_model(tmp_path)
    store = tmp_path / "r.jsonl"
    args = ["sweep", str(model), "--activities", "0.25,0.5", "--set", "tiles_per_ipu=32", "--out", str(store), "--quiet"]
    rc, out, err = _run(capsys, *args, "--json")
    assert rc == 0 and err == "" and len(json.loads(out)) == 2
    rc, out, err = _run(capsys, *args[:-1])
    assert rc == 0 and "2 run now" not in err and "0 run now, 2 from" in err  # resumed: nothing ran
    before = store.read_bytes()
    rc, out, err = _run(capsys, "sweep", str(model), "--activities", "0.25", "--set", "tiles_per_ipu=32", "--out", str(store))
    assert rc == 2 and out == "" and "written by another sweep spec" in err and store.read_bytes() == before
    rc, out, err = _run(capsys, "export", str(store), str(tmp_path / "r.csv"))
    assert rc == 0 and "wrote" in out and (tmp_path / "r.csv").read_text().count("\n") == 3
    spec = tmp_path / "s.toml"
    spec.write_text(f'name = "s"\n[base]\nmodel = "{model}"\n"machine.tiles_per_ipu" = 32\n[grid]\n"machine.n_ipu" = [1, 2]\n')
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(tmp_path / "s.jsonl"))
    assert rc == 2 and "unknown axis 'machine.n_ipu'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.jsonl").exists()
    rc, _, err = _run(capsys, "sweep", "--spec", str(spec), str(model))
    assert rc == 2 and "give the models and activities in the spec" in err
    rc, _, err = _run(capsys, "sweep", str(model), "--scheduler", "tcp://127.0.0.1:9", "--dask-local", "2")
    assert rc == 2 and "give one of them" in err
    rc, _, err = _run(capsys, "sweep", str(model), "--out", str(tmp_path / "r.json"))
    assert rc == 2 and "a result store is a .jsonl file" in err


def test_plot_diff_and_tile_map(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = _tiny_model(tmp_path)
    store = tmp_path / "r.jsonl"
    rc, _, err = _run(
        capsys, "sweep", str(model), "--activities", "0.25,0.5", "--set", "tiles_per_ipu=32", "--out", str(store), "--quiet"
    )
    assert rc == 0, err
    for extra in (
        ["--x", "max_activity", "--y", "ms_per_step"],
        ["--stack"],
        ["--pareto", "--x", "exchange_cycles", "--y", "ms_per_step"],
    ):
        rc, out, err = _run(capsys, "plot", str(store), "-o", str(tmp_path / "f.png"), *extra)
        assert rc == 0 and "wrote" in out, err
    (tmp_path / "rep").mkdir()
    rc, out, err = _run(capsys, "report", str(store), "-o", str(tmp_path / "rep"))
    page = (tmp_path / "rep" / "report.md").read_text()
    assert rc == 0 and "2 of 2 points stored, 0 failed" in page and "ms_per_step_vs_max_activity.png" in page, err
    assert (tmp_path / "rep" / "cycle_stacks.png").stat().st_size > 0
    rc, _, err = _run(capsys, "report", str(store), "-o", str(tmp_path / "nope"))
    assert rc == 2 and "not an existing folder" in err
    rc, _, err = _run(capsys, "plot", str(store), "-o", str(tmp_path / "f.png"), "--x", "max_activity", "--y", "nope")
    assert rc == 2 and "'nope' is not a column" in err
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path, extra in ((a, []), (b, ["--set", "exchange_bytes_per_cycle=8"])):
        rc, out, _ = _run(capsys, "snn", *TINY, *extra, "--json", "--detail", "--tile-map", str(tmp_path / "t.png"))
        assert rc == 0
        data = json.loads(out)
        assert len(data["tile_busy_cycles"]) == 32 and sum(data["step_kind_cycles"].values()) == data["cycles_per_step"]
        path.write_text(out)
    rc, out, _ = _run(capsys, "diff", str(a), str(b), "--json")
    d = json.loads(out)
    assert rc == 0 and d["cycles_per_step"][2] < 0 and d["step_kinds"][0]["delta_cycles"] < 0
    rc, _, err = _run(capsys, "diff", str(a), str(tmp_path / "missing.json"))
    assert rc == 2 and "missing.json: cannot read" in err
