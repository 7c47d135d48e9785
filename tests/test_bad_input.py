"""Bad input never costs a run, a traceback or a wrong number: one line on stderr and exit
status 2, before any work where the input already shows it cannot work. One parametrized
test per class of bad input."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from mimdsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "models/snn/nmnist_a_2hidden.toml")
TINY = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--set", "tiles_per_ipu=32", "--input-sparse-size", "8"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str, float]:
    t = time.perf_counter()
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err, time.perf_counter() - t


def one_line_error(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.startswith("mimdsim: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)


# ---- 1. sizes that cannot fit are refused before anything is allocated ------------------------
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--timesteps", "1000000"], ["does not fit bow", "state history"]),
        (["--timesteps", "10000"], ["does not fit bow", "state history"]),
        (["--batch", "60000"], ["does not fit bow", "state history"]),
        (["--layers", "2312,100000000,10"], ["does not fit bow", "needs at least 36,000,207,560 B"]),
        (["--timesteps", "1000000", "--allow-oom"], ["GiB of host memory"]),
        (["--layers", "2312,2000000000,10", "--allow-oom"], ["GiB of host memory"]),
    ],
)
def test_sizes_that_cannot_fit_are_refused_at_once(
    capsys: pytest.CaptureFixture[str], extra: list[str], words: list[str]
) -> None:
    args = ["snn", MAIN, *extra] if extra[0] != "--layers" else ["snn", *extra]
    rc, _, err, seconds = run(capsys, *args)
    one_line_error(rc, err, *words)
    assert seconds < 2.0


# ---- 2. output paths are checked before the run ---------------------------------------------
def _bad_paths(tmp_path: Path) -> list[tuple[str, str]]:
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    (tmp_path / "adir").mkdir()
    return [
        (str(tmp_path / "missing" / "x.json"), "does not exist"),
        (str(tmp_path / "adir"), "is a folder"),
        ("", "an empty path"),
    ] + ([] if os.geteuid() == 0 else [(str(ro / "x.json"), "not writable")])


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["snn", *TINY], "--timeline"),
        (["snn", *TINY], "--save-program"),
        (["sweep", "nmnist_a_2hidden", "--activities", "0.01"], "--csv"),
        (["sweep", "nmnist_a_2hidden", "--activities", "0.01"], "--plot"),
    ],
)
def test_output_paths_are_checked_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], option: str
) -> None:
    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("the run started before its output path was checked")

    monkeypatch.setattr("mimdsim.studies.estimate.estimate_training_step", never)
    monkeypatch.setattr("mimdsim.sweep.snn_sweep", never)
    for path, words in _bad_paths(tmp_path):
        rc, _, err, _ = run(capsys, *command, option, path)
        one_line_error(rc, err, option, words)
        if path:
            assert path in err  # the path the user gave, not a temporary file


def test_program_files_are_gzip_iff_named_gz(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name, gz in (("p.json", False), ("p.json.gz", True), ("P.JSON.GZ", True), ("p.gzip", False)):
        rc, _, err, _ = run(capsys, "snn", *TINY, "--save-program", str(tmp_path / name))
        assert rc == 0, err
        assert ((tmp_path / name).read_bytes()[:2] == b"\x1f\x8b") == gz, name
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "P.JSON.GZ",
        "p.gzip",
        "p.json",
        "p.json.gz",
    ]  # nothing renamed or added


# ---- 3. numbers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("tile_clock_hz=inf", ["tile_clock_hz", "finite number"]),
        ("tile_clock_hz=5e-324", ["tile_clock_hz", "greater than or equal to 1000000"]),
        ("tile_clock_hz=nan", ["tile_clock_hz", "finite number"]),
        ("n_ipus=true", ["n_ipus", "valid integer"]),
        ("link_bytes_per_s=1e-300", ["link_bytes_per_s", "greater than or equal to 1000"]),
        ("memory_bytes_per_tile=9223372036854775807", ["memory_bytes_per_tile", "less than or equal to"]),
        ("exchange_bytes_per_cycle=2.5", ["exchange_bytes_per_cycle", "valid integer"]),
    ],
)
def test_machine_numbers_out_of_range(capsys: pytest.CaptureFixture[str], setting: str, words: list[str]) -> None:
    rc, _, err, _ = run(capsys, "snn", *TINY, "--set", setting)
    one_line_error(rc, err, *words)


def _program_file(tmp_path: Path, **changes: object) -> Path:
    data = {
        "format": "mimdsim-program", "version": 2, "name": "p", "batch_size": 1,
        "tensors": [{"name": "x", "kind": "tensor", "tiles": [0], "nbytes": [64]}],
        "compute_sets": [{"name": "c", "blocks": [{"codelet": "V", "tiles": [0], "worker_cycles": [10], "worker_counts": [1], "supervisor_cycles": 0}]}],
        "body": [{"type": "superstep", "name": "s", "sync": "internal", "exchange": None, "compute": 0}],
    }  # fmt: skip
    for key, value in changes.items():
        if key == "cycles":
            data["compute_sets"][0]["blocks"][0]["worker_cycles"] = value  # type: ignore[index]
        elif key == "tensor_bytes":
            data["tensors"][0]["nbytes"] = value  # type: ignore[index]
        elif key == "repeat":
            data["body"] = [{"type": "repeat", "count": value, "body": data["body"]}]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"cycles": [2**62]}, ["vertex cycles 4,611,686,018,427,387,904 is too large"]),
        ({"tensor_bytes": [2**63 - 1]}, ["byte count 9,223,372,036,854,775,807 is too large"]),
        ({"cycles": [2**40], "repeat": 2**40}, ["could run for more than 2^62 cycles"]),
        ({"repeat": True}, ["count"]),
    ],
)
def test_program_numbers_cannot_wrap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: dict[str, object], words: list[str]
) -> None:
    rc, _, err, _ = run(capsys, "run", str(_program_file(tmp_path, **changes)))
    one_line_error(rc, err, *words)


def test_json_output_is_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def refuse(text: str) -> None:
        raise AssertionError(f"non-standard JSON constant {text}")

    empty = tmp_path / "e.json"
    empty.write_text(json.dumps({"format": "mimdsim-program", "version": 2, "name": "e", "body": []}))
    for argv in (["run", str(empty), "--json"], ["run", str(_program_file(tmp_path)), "--json"], ["snn", *TINY, "--json"]):
        rc, out, err, _ = run(capsys, *argv)
        assert rc == 0, err
        json.loads(out, parse_constant=refuse)


# ---- 4. files -------------------------------------------------------------------------------
def test_binary_and_non_utf8_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "p.json").write_bytes(b"\x80\x81{}")
    (tmp_path / "s.toml").write_bytes(b'name = "\xff"')
    rc, _, err, _ = run(capsys, "run", str(tmp_path / "p.json"))
    one_line_error(rc, err, "p.json", "not UTF-8")
    rc, _, err, _ = run(capsys, "snn", *TINY, "--machine", str(tmp_path / "m.toml"))
    one_line_error(rc, err, "m.toml", "not UTF-8")
    rc, _, err, _ = run(capsys, "snn", str(tmp_path / "s.toml"))
    one_line_error(rc, err, "s.toml")


def test_model_file_machine_path_is_relative_to_the_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(ROOT / "models/machines/mk2.toml", folder / "my_machine.toml")
    model = (ROOT / "models/snn/nmnist_b_k2.toml").read_text().replace('machine = "bow"', 'machine = "my_machine.toml"')
    model = model.replace("batch_size = 24", "batch_size = 6").replace("n_timesteps = 10", "n_timesteps = 2")
    (folder / "model.toml").write_text(model)
    monkeypatch.chdir(tmp_path)  # not the model's folder
    rc, out, err, _ = run(capsys, "snn", str(folder / "model.toml"), "--json", "--activity-source", "saturated")
    assert rc == 0, err
    assert json.loads(out)["machine"] == "mk2"


def test_a_models_folder_that_does_not_exist(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMDSIM_MODELS", "/no/such/folder")
    rc, _, err, _ = run(capsys, "machines")
    one_line_error(rc, err, "MIMDSIM_MODELS", "/no/such/folder", "not a folder")


# ---- 5. nothing accepted and then ignored ---------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--rate", "0.1"], ["rate", "only the parametric"]),
        (["--activity-source", "saturated", "--input-rate", "0.1"], ["input_rate", "saturated"]),
        (["--seed", "-1"], ["--seed", "integer >= 0"]),
    ],
)
def test_options_that_do_not_apply(capsys: pytest.CaptureFixture[str], extra: list[str], words: list[str]) -> None:
    rc, _, err, _ = run(capsys, "snn", *TINY, *extra)
    assert rc == 2 and all(w in err for w in words), err


def test_run_hints_are_applied_or_rejected(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = (ROOT / "models/snn/nmnist_a_2hidden.toml").read_text() + "activity = 0.05\n"
    (tmp_path / "m.toml").write_text(model)
    rc, _, err, _ = run(capsys, "snn", str(tmp_path / "m.toml"))
    one_line_error(rc, err, "run.activity", "not a run setting", "max_activity")
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import run_settings

    _, hints = load_snn_model(ROOT / "models/snn/nmnist_c_2ipu.toml")
    machine, kw = run_settings(hints)
    assert machine.n_ipus == 2 and kw["neurons_per_tile"] == 2  # the API applies them as the CLI does


# ---- 6. datasets ------------------------------------------------------------------------------
def test_empty_dataset_samples(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "nmnist" / "3"
    folder.mkdir(parents=True)
    for i in range(6):
        (folder / f"{i}.bin").write_bytes(b"")
    rc, _, err, _ = run(
        capsys, "snn", "--layers", "2312,24,10", "--batch", "6", "--timesteps", "3", "--input-data", str(tmp_path / "nmnist")
    )
    one_line_error(rc, err, "0.bin", "empty file")


# ---- 7. limits the user can raise ---------------------------------------------------------------
def test_every_limit_in_a_message_has_its_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _program_file(tmp_path, repeat=100)
    rc, _, err, _ = run(capsys, "run", str(path), "--max-steps", "10")
    one_line_error(rc, err, "max_steps=10", "--max-steps")
    rc, _, err, _ = run(capsys, "run", str(path), "--max-steps", "1000")
    assert rc == 0, err
    rc, _, err, _ = run(capsys, "run", str(path), "--engine", "des", "--max-events", "5")
    one_line_error(rc, err, "max_events=5", "--max-events")
    rc, _, err, _ = run(capsys, "snn", *TINY, "--max-steps", "3")
    one_line_error(rc, err, "max_steps=3", "--max-steps")


# ---- 8. names that mean one thing ------------------------------------------------------------------
def test_per_tile_means_and_critical_path_have_their_own_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _, _ = run(capsys, "run", str(_program_file(tmp_path)), "--json")
    data = json.loads(out)
    assert rc == 0 and set(data["tile_mean_cycles"]) >= {"compute", "sync"} and "critical_path_cycles" in data
    assert data["breakdown_cycles"] == data["tile_mean_cycles"]  # the old key, kept for this version
    rc, out, _, _ = run(capsys, "snn", *TINY, "--json")
    est = json.loads(out)
    assert sum(est["breakdown_cycles"].values()) == est["cycles_per_step"]  # the SNN estimate's is the critical path
    from mimdsim.snn.model.spec import snn_from_sizes

    with pytest.warns(DeprecationWarning, match="max_activity"):
        snn_from_sizes([8, 4], activity=0.5, input_sparse_size=2, batch_size=6, n_timesteps=1)
