"""Fuzzing the files mimdsim writes and reads back (result stores, diff inputs, traces, count tables, profiles,
mappings): any one field set to any odd value gives exit 2 with one line naming the file, or a valid result --
never a traceback (issue 23). The size refusals are bounded in time and memory."""

from __future__ import annotations

import csv
import json
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimdsim.cli import main
from tests.test_fuzz_input import FUZZ, ODD, mutate, outcome

TINY = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--input-sparse-size", "8", "--set", "tiles_per_ipu=32"]
MODEL = 'name = "tiny"\nn_inputs = 64\nlayer_sizes = [24, 24, 4]\nmax_activity = 0.25\ninput_sparse_size = 8\nbatch_size = 6\nn_timesteps = 3\n'


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One estimate's files: its JSON (with detail), its trace, a store line, a mapping, the model."""
    d = tmp_path_factory.mktemp("made")
    (d / "tiny.toml").write_text(MODEL)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert (
            main(["snn", str(d / "tiny.toml"), "--set", "tiles_per_ipu=32", "--json", "--detail", "--record", str(d / "t.npz")])
            == 0
        )
    est = json.loads(out.getvalue())
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["partition", str(d / "tiny.toml"), "--set", "tiles_per_ipu=32", "--methods", "contiguous",
                     "--save-mapping", str(d / "m.npz")]) == 0  # fmt: skip
    from mimdsim.studies.record import record_fields

    record = {k: v for k, v in est.items() if k in record_fields()}
    header = {"mimdsim_store": 1, "n_points": 1, "schema_version": 1, "spec_hash": "0123456789abcdef", "spec_name": "fuzz"}
    line = {"i": 0, "input_hash": record["input_hash"], "point": {"model": "tiny"}, "record": record, "wall_s": 0.1}
    return {"dir": d, "est": est, "header": header, "line": line}


def _write_npz(path: Path, arrays: dict[str, Any]) -> None:
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})


def _arrays(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _set_or_drop(arrays: dict[str, Any], key: str, odd: Any) -> None:
    """``arrays[key]`` set to ``odd``, or removed when ``odd`` is None."""
    if odd is None:
        del arrays[key]
    else:
        arrays[key] = odd


@FUZZ
@given(st.data())
def test_store_lines(capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    line = mutate(made["line"], data.draw)
    store = tmp_path / "s.jsonl"
    store.write_text(json.dumps(made["header"]) + "\n" + json.dumps({k: v for k, v in line.items() if v is not None}) + "\n")
    outcome(capsys, "export", str(store), str(tmp_path / "out.csv"))


@FUZZ
@given(st.data())
def test_diff_inputs(capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(made["est"]))
    b.write_text(json.dumps({k: v for k, v in mutate(made["est"], data.draw).items() if v is not None}, allow_nan=True))
    outcome(capsys, "diff", str(a), str(b), "--json")


@FUZZ
@given(st.data())
def test_traces(capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    arrays = _arrays(made["dir"] / "t.npz")
    key = data.draw(st.sampled_from(sorted(arrays)))
    if key.endswith("_json"):
        doc = json.loads(str(arrays[key]))
        arrays[key] = np.str_(json.dumps(mutate(doc, data.draw) if isinstance(doc, dict) else data.draw(ODD)))
    else:
        _set_or_drop(arrays, key, data.draw(ODD))
    _write_npz(tmp_path / "t.npz", arrays)
    outcome(capsys, "replay", str(tmp_path / "t.npz"), "--set", "tiles_per_ipu=32", "--json")


@FUZZ
@given(st.data(), st.sampled_from([".csv", ".parquet"]))
def test_count_tables(
    capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, data: st.DataObject, suffix: str
) -> None:
    rows = [{"layer": 1, "step": 0, "sample": s, "true": 2, "grad_only": 1} for s in range(6)]
    rows = mutate(rows, data.draw)
    rows = [r for r in rows if isinstance(r, dict)]
    path = tmp_path / f"c{suffix}"
    cols = ["layer", "step", "sample", "true", "grad_only"]
    if suffix == ".csv":
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    else:
        import pandas as pd

        try:
            pd.DataFrame(rows, columns=cols).to_parquet(path)
        except Exception:
            return
    outcome(capsys, "snn", str(made["dir"] / "tiny.toml"), "--set", "tiles_per_ipu=32", "--activity-source", str(path), "--json")


@FUZZ
@given(st.data())
def test_profiles(capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    kinds = made["est"]["step_kind_cycles"]
    first = next(iter(kinds))
    prof = {"format": "mimdsim.profile", "version": 1, "source": "fuzz", "steps": [{"name": first, "cycles": 2 * kinds[first]}],
            "tile_cycles": made["est"]["tile_busy_cycles"]}  # fmt: skip
    p = tmp_path / "p.json"
    p.write_text(json.dumps({k: v for k, v in mutate(prof, data.draw).items() if v is not None}))
    outcome(capsys, "compare", str(p), str(made["dir"] / "tiny.toml"), "--set", "tiles_per_ipu=32", "--json")


@FUZZ
@given(st.data())
def test_mappings(capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    arrays = _arrays(made["dir"] / "m.npz")
    key = data.draw(st.sampled_from(sorted(arrays)))
    _set_or_drop(arrays, key, data.draw(ODD | st.lists(st.integers(-5, 40), max_size=30)))
    _write_npz(tmp_path / "m.npz", arrays)
    outcome(
        capsys, "snn", str(made["dir"] / "tiny.toml"), "--set", "tiles_per_ipu=32", "--mapping", str(tmp_path / "m.npz"), "--json"
    )


# ---- size refusals: bounded in time and memory --------------------------------------------------------------------


def _huge_member_npz(path: Path, arrays: dict[str, Any], huge: str, shape: tuple[int, ...]) -> None:
    """``arrays`` as an .npz whose member ``huge`` claims ``shape`` (int32) in its header and holds no data: what a
    file that decompresses to gigabytes looks like before it is read."""
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as zf, zf.open(f"{huge}.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<i4", "fortran_order": False, "shape": shape})


def _bounded(capsys: pytest.CaptureFixture[str], *argv: str, message: str) -> None:
    tracemalloc.start()
    t0 = time.perf_counter()
    rc = main(list(argv))
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _, err = capsys.readouterr()
    assert rc == 2 and message in err and err.count("\n") == 1, err
    assert seconds < 2 and peak < 200 * 2**20, (seconds, peak)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("trace_bigger_than_its_shape", "a trace of its T, B and tensor sizes holds at most"),
        ("mapping_of_gigabytes", "a mapping is read only up to"),
        ("replay_huge_timesteps", "does not fit bow"),
        ("timeline_tiles_range", "--timeline-tiles: tile 32 is not on bow"),
    ],
)
def test_size_refusals_are_bounded(
    capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, case: str, message: str
) -> None:
    d = made["dir"]
    if case == "trace_bigger_than_its_shape":
        arrays = {k: v for k, v in _arrays(d / "t.npz").items() if k != "true_counts"}
        _huge_member_npz(tmp_path / "t.npz", arrays, "true_counts", (3, 100_000, 700))
        _bounded(capsys, "replay", str(tmp_path / "t.npz"), "--set", "tiles_per_ipu=32", message=message)
    elif case == "mapping_of_gigabytes":
        arrays = {k: v for k, v in _arrays(d / "m.npz").items() if k != "neuron_tiles_0"}
        _huge_member_npz(tmp_path / "m.npz", arrays, "neuron_tiles_0", (400_000_000,))
        _bounded(
            capsys,
            "snn",
            str(d / "tiny.toml"),
            "--set",
            "tiles_per_ipu=32",
            "--mapping",
            str(tmp_path / "m.npz"),
            message=message,
        )
    elif case == "replay_huge_timesteps":
        _bounded(capsys, "replay", str(d / "t.npz"), "--timesteps", "16777216", message=message)
    else:
        _bounded(capsys, "snn", str(d / "tiny.toml"), "--set", "tiles_per_ipu=32", "--timeline", str(tmp_path / "x.json"),
                 "--timeline-tiles", "0-20000000", message=message)  # fmt: skip


# ---- messages name what the user gave; legitimate networks run; the same rules for every form ------------------------


@pytest.mark.parametrize(("machine", "shape"), [(["--set", "tiles_per_ipu=16"], "1 IPU(s) x 16 tiles"), ([], "1 IPU(s) x 1472 tiles"),
                                                (["--set", "tiles_per_ipu=32", "--set", "n_ipus=2"], None)])  # fmt: skip
def test_a_mapping_names_the_machine_shape_it_was_made_for(
    capsys: pytest.CaptureFixture[str], made: dict[str, Any], machine: list[str], shape: str | None
) -> None:
    """The mapping was made for 1 IPU x 32 tiles: another tiles-per-IPU is refused naming the file and both shapes;
    a larger machine of the same IPU shape takes it."""
    rc = main(["snn", str(made["dir"] / "tiny.toml"), *machine, "--mapping", str(made["dir"] / "m.npz")])
    _, err = capsys.readouterr()
    if shape is None:
        assert rc == 0, err
    else:
        assert rc == 2 and "m.npz: made for a machine of 1 IPU(s) x 32 tiles" in err and shape in err, err


@FUZZ
@given(
    density=st.sampled_from([0.001, 0.01, 0.05, 0.3]),
    k=st.integers(1, 4),
    seed=st.integers(0, 3),
    engine=st.sampled_from(["fast", "des"]),
)
def test_every_sparse_connectivity_lowers(
    tmp_path_factory: pytest.TempPathFactory, density: float, k: int, seed: int, engine: str
) -> None:
    """Any connection density the model format accepts lowers and runs, tiles whose neurons have no connected input
    included (they hold no weight, so no replica is reduced there)."""
    from mimdsim.arch import load_machine
    from mimdsim.snn.model.spec import LayerSpec, SNNSpec
    from mimdsim.studies import estimate_training_step

    spec = SNNSpec(n_inputs=64, input_sparse_size=8, batch_size=6, n_timesteps=2, layers=[
        LayerSpec(n_neurons=24, sparse_size=6, connection_density=density, connection_seed=seed),
        LayerSpec(n_neurons=24, sparse_size=6, connection_density=density, connection_seed=seed + 1),
        LayerSpec(n_neurons=4, sparse_size=2)])  # fmt: skip
    est = estimate_training_step(
        spec, load_machine("bow", tiles_per_ipu=64), activity_source="saturated", neurons_per_tile=k, engine=engine
    )
    assert est.cycles_per_step > 0 and est.oom_tiles == []


@pytest.mark.parametrize("cell", ["1.7", "2.0", "2.5", "True", "x", ""])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_count_table_cells_follow_one_rule(
    capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, cell: str, suffix: str
) -> None:
    """A count must be an integer in a CSV and in a Parquet table alike: not rounded, not read as 1."""
    value: Any = cell
    if suffix == ".parquet":
        import pandas as pd

        value = {"1.7": 1.7, "2.0": 2.0, "2.5": "2.5", "True": True, "x": "x", "": None}[cell]
        path = tmp_path / "c.parquet"
        pd.DataFrame({"layer": [1], "step": [0], "sample": [0], "true": [value], "grad_only": [0]}).to_parquet(path)
    else:
        path = tmp_path / "c.csv"
        path.write_text(f"layer,step,sample,true,grad_only\n1,0,0,{cell},0\n")
    rc = main(["snn", str(made["dir"] / "tiny.toml"), "--set", "tiles_per_ipu=32", "--activity-source", str(path)])
    _, err = capsys.readouterr()
    assert rc == 2 and "every column must hold an integer" in err and path.name in err, err


@pytest.mark.parametrize("top", ["-3", "0", "1.5", "x"])
def test_diff_top_is_a_positive_integer(
    capsys: pytest.CaptureFixture[str], made: dict[str, Any], tmp_path: Path, top: str
) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps(made["est"]))
    rc = main(["diff", str(a), str(a), "--top", top])
    assert rc == 2 and "--top" in capsys.readouterr().err
