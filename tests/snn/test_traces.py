"""Trace format 2, record and replay, resampling and count tables: exact round trips and strict reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.arch import load_machine
from mimdsim.cli import main
from mimdsim.errors import ConfigError, TraceFormatError
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.activity.trace_file import activity_from_table, read_trace, resample, save_trace
from mimdsim.snn.activity.trace_v1 import save_activity
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.studies.estimate import estimate_training_step

ROOT = Path(__file__).resolve().parents[2]
SPEC = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3, optimizer="sgd")
MACHINE = load_machine("bow", tiles_per_ipu=64)
FIGURES = ("cycles_per_step", "ms_per_step", "compute_cycles", "exchange_cycles", "sync_cycles", "max_tile_memory_bytes",
           "top_superstep_names", "top_superstep_cycles", "breakdown_cycles", "profile_cycles", "neurons_per_tile")  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("engine", ["fast", "des"])
def test_record_then_replay_gives_every_figure(engine: str, tmp_path: Path) -> None:
    est = estimate_training_step(SPEC, MACHINE, engine=engine)
    save_trace(tmp_path / "t.npz", est.activity, SPEC, {"seed": 0, "lowering": "poplar"})
    tr = read_trace(tmp_path / "t.npz")
    assert tr.version == 2 and tr.spec == SPEC and tr.run["seed"] == 0 and tr.provenance["model_hash"]
    again = estimate_training_step(tr.spec, MACHINE, activity_source=tr.activity, engine=engine)
    a, b = est.to_dict(), again.to_dict()
    assert {k: a[k] for k in FIGURES} == {k: b[k] for k in FIGURES}
    assert np.array_equal(est.result.tile_compute_cycles, again.result.tile_compute_cycles)


def test_cli_record_and_replay_on_the_same_and_another_machine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--input-sparse-size", "8", "--set", "tiles_per_ipu=64"]
    trace = tmp_path / "t.npz"
    rc, out, err = _run(capsys, "snn", *args, "--json", "--record", str(trace))
    assert rc == 0, err
    orig = json.loads(out)
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--json")
    assert rc == 0, err
    rep = json.loads(out)
    assert {k: orig[k] for k in FIGURES} == {k: rep[k] for k in FIGURES}
    rc, out, _ = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--set", "exchange_bytes_per_cycle=8", "--json")
    assert rc == 0 and json.loads(out)["exchange_cycles"] < orig["exchange_cycles"]  # the what-if
    rc, out, _ = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--batch", "12", "--timesteps", "6", "--json")
    big = json.loads(out)
    assert rc == 0 and (big["batch_size"], big["n_timesteps"]) == (12, 6) and big["cycles_per_step"] > orig["cycles_per_step"]
    rc, out, _ = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--partition", "contiguous", "--json")
    assert rc == 0 and {k: json.loads(out)[k] for k in FIGURES} == {k: orig[k] for k in FIGURES}
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--partition", "bogus")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "'bogus' is not one of contiguous" in err
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--timeline", str(tmp_path / "r.pftrace"),
                        "--timeline-iterations", "1:2")  # fmt: skip
    assert rc == 0 and (tmp_path / "r.pftrace").stat().st_size > 0, err
    v1 = tmp_path / "v1.npz"
    save_activity(v1, read_trace(trace).activity)
    rc, _, err = _run(capsys, "replay", str(v1))
    assert rc == 2 and "version-1 trace holds no network" in err
    rc, _, err = _run(capsys, "snn", *args, "--record", str(tmp_path / "missing" / "t.npz"))
    assert rc == 2 and "does not exist" in err


def test_version_1_traces_still_drive_an_estimate(tmp_path: Path) -> None:
    est = estimate_training_step(SPEC, MACHINE)
    save_activity(tmp_path / "v1.npz", est.activity)
    again = estimate_training_step(SPEC, MACHINE, activity_source=tmp_path / "v1.npz")
    assert again.cycles_per_step == est.cycles_per_step and read_trace(tmp_path / "v1.npz").version == 1


def _act(T: int, B: int, seed: int = 0) -> SpikeActivity:
    rng = np.random.default_rng(seed)
    true = tuple(rng.integers(0, 3, (T, B)).astype(np.int32) for _ in range(3))
    valid = (true[0], true[1] + 1, true[2])
    return SpikeActivity(true, valid, (4, 4, 4), T, B)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))
def test_resample_takes_recorded_counts_in_the_documented_order(T: int, B: int, T2: int, B2: int) -> None:
    a = _act(T, B)
    r = resample(a, batch_size=B2, n_timesteps=T2)
    for k in range(3):
        for t in range(T2):
            for b in range(B2):
                assert r.true_counts[k][t, b] == a.true_counts[k][(t * T) // T2, b % B]
                assert r.valid_counts[k][t, b] == a.valid_counts[k][(t * T) // T2, b % B]
    assert resample(a).true_counts[1].tolist() == a.true_counts[1].tolist()
    with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
        resample(a, batch_size=0)


def _write_v2(path: Path, **changes: object) -> None:
    """A valid trace of SPEC, then ``changes`` applied to its arrays."""
    est_act = _act(3, 6)
    spec = snn_from_sizes([8, 4, 4], max_activity=1.0, input_sparse_size=4, batch_size=6, n_timesteps=3)
    act = SpikeActivity(est_act.true_counts, est_act.valid_counts, tuple(spec.sparse_sizes), 3, 6)
    save_trace(path, act, spec)
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files}
    data.update(changes)  # type: ignore[arg-type]
    data = {k: v for k, v in data.items() if v is not None}
    np.savez(path, **data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"true_counts": None}, "key 'true_counts' missing"),
        ({"format_version": np.int64(3)}, "format_version"),
        ({"kind": np.str_("other")}, "is not an activity trace"),
        ({"layer_sizes": np.array([8, 4], np.int64)}, "disagree"),
        ({"grad_only_counts": np.full((3, 3, 6), 9, np.int32)}, "counts[tensor 0, step 0, sample 0]: true"),
        ({"true_counts": np.full((3, 3, 5), 1, np.int32)}, "is not an integer array [n_tensors, T, B]"),
        ({"spec_json": np.str_("{not json")}, "spec_json/run_json/provenance_json: not valid"),
    ],
)
def test_bad_traces_name_the_file_and_the_first_bad_record(tmp_path: Path, changes: dict, message: str) -> None:
    p = tmp_path / "bad.npz"
    _write_v2(p, **changes)
    with pytest.raises(TraceFormatError) as err:
        read_trace(p)
    assert str(err.value).startswith(f"{p}: ") and message in str(err.value)


def test_truncated_and_missing_traces(tmp_path: Path) -> None:
    p = tmp_path / "t.npz"
    _write_v2(p)
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(TraceFormatError, match="not a readable .npz trace"):
        read_trace(p)
    with pytest.raises(TraceFormatError, match="file not found"):
        read_trace(tmp_path / "none.npz")


def test_a_count_table_drives_an_estimate(tmp_path: Path) -> None:
    est = estimate_training_step(SPEC, MACHINE)
    act = est.activity
    lines = ["layer,step,sample,true,grad_only"]
    for k in range(len(SPEC.sparse_sizes)):
        for t in range(SPEC.n_timesteps):
            for b in range(SPEC.batch_size):
                tr, v = int(act.true_counts[k][t, b]), int(act.valid_counts[k][t, b])
                if v:  # zero rows may be left out
                    lines.append(f"{k},{t},{b},{tr},{v - tr}")
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    again = estimate_training_step(SPEC, MACHINE, activity_source=tmp_path / "c.csv")
    assert again.cycles_per_step == est.cycles_per_step and again.activity_source == "table:c.csv"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("layer,step,sample,true\n0,0,0,1\n", "column 'grad_only' missing"),
        ("layer,step,sample,true,grad_only\n9,0,0,1,0\n", ":2: layer 9 is outside"),
        ("layer,step,sample,true,grad_only\n0,0,0,1,0\n0,0,0,1,0\n", ":3: layer 0, step 0, sample 0 is given twice"),
        ("layer,step,sample,true,grad_only\n1,0,0,5,4\n", ":2: true 5 + grad_only 4 must be within 0..6"),
        ("layer,step,sample,true,grad_only\n0,0,0,1,1\n", "the input (layer 0) has no gradient-only entries"),
        ("layer,step,sample,true,grad_only\n0,0,x,1,0\n", ":2: every column must hold an integer"),
    ],
)
def test_bad_count_tables_name_the_row(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "c.csv"
    p.write_text(body)
    with pytest.raises(TraceFormatError) as err:
        activity_from_table(p, SPEC)
    assert message in str(err.value) and str(p) in str(err.value)


SAMPLES = {"tiny_v2.npz": ["--set", "tiles_per_ipu=64"], "nmnist_a_2hidden_v2.npz": []}
"""The version-2 samples of traces/ and the machine each was recorded on (traces/README.md)."""


def test_the_committed_sample_traces_replay_as_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    assert {p.name for p in (ROOT / "traces").glob("*_v2.npz")} == set(SAMPLES)
    for name, args in SAMPLES.items():
        rc, out, err = _run(capsys, "replay", str(ROOT / "traces" / name), *args, "--json")
        assert rc == 0, err
        rec = json.loads(out)
        assert rec["cycles_per_step"] > 0 and rec["activity_source"].startswith(f"trace:{name} (functional")


def test_per_neuron_counts_are_recorded_and_add_up(tmp_path: Path) -> None:
    est = estimate_training_step(SPEC, MACHINE, cache=False)
    act = est.activity
    assert act.neuron_counts is not None and [c.size for c in act.neuron_counts] == list(SPEC.layer_sizes)
    for c, t in zip(act.neuron_counts, act.true_counts, strict=True):
        assert int(c.sum()) == int(t.sum())
    save_trace(tmp_path / "t.npz", act, SPEC)
    back = read_trace(tmp_path / "t.npz").activity
    assert back.neuron_counts is not None and all(
        np.array_equal(a, b) for a, b in zip(back.neuron_counts, act.neuron_counts, strict=True)
    )
    cached = estimate_training_step(SPEC, MACHINE).activity  # through the disk cache (format 1 keeps them too)
    assert cached.neuron_counts is not None and all(
        np.array_equal(a, b) for a, b in zip(cached.neuron_counts, act.neuron_counts, strict=True)
    )
    assert resample(act, batch_size=12).neuron_counts is None and resample(act).neuron_counts is not None
    bad = tmp_path / "bad.npz"
    with np.load(tmp_path / "t.npz") as npz:
        data = {k: npz[k] for k in npz.files}
    data["neuron_counts_1"] = data["neuron_counts_1"] + 1
    np.savez(bad, **data)
    with pytest.raises(TraceFormatError, match=r"neuron_counts\[1\]: sums to"):
        read_trace(bad)


def test_spike_ids_are_recorded_read_back_and_checked(tmp_path: Path) -> None:
    act = estimate_training_step(SPEC, MACHINE, cache=False).activity
    assert act.spike_ids is not None and act.neuron_counts is not None
    B = act.batch_size
    for k, (ids, t, n) in enumerate(zip(act.spike_ids, act.true_counts, act.neuron_counts, strict=True)):
        assert ids.size == int(t.sum()) and np.array_equal(np.bincount(ids, minlength=n.size), n)
        # step t, sample b: its ids follow those of the earlier (step, sample) pairs, ascending
        ptr = np.concatenate(([0], np.cumsum(t.ravel())))
        for j in range(t.size):
            chunk = ids[ptr[j] : ptr[j + 1]]
            assert np.all(np.diff(chunk) > 0), (k, divmod(j, B))
    save_trace(tmp_path / "t.npz", act, SPEC)
    back = read_trace(tmp_path / "t.npz").activity
    assert back.spike_ids is not None and all(np.array_equal(a, b) for a, b in zip(back.spike_ids, act.spike_ids, strict=True))
    with np.load(tmp_path / "t.npz") as npz:
        data = {k: npz[k] for k in npz.files}
    assert data["spike_ids_1"].dtype == np.uint16
    cached = estimate_training_step(SPEC, MACHINE).activity  # through the disk cache
    assert cached.spike_ids is not None and all(
        np.array_equal(a, b) for a, b in zip(cached.spike_ids, act.spike_ids, strict=True)
    )
    assert resample(act, n_timesteps=SPEC.n_timesteps + 1).spike_ids is None and resample(act).spike_ids is not None
    cases = {
        "moved": (lambda d: d.update(spike_ids_0=_moved(d["spike_ids_0"])), r"spike_ids_0: neuron \d+ spikes"),
        "short": (
            lambda d: d.update(spike_ids_0=d["spike_ids_0"][:-1]),
            r"spike_ids_0: \d+ ids for the tensor's \d+ true spikes",
        ),
        "missing": (lambda d: d.pop("spike_ids_0"), r"spike_ids_0: missing"),
    }
    for name, (change, match) in cases.items():
        bad = dict(data)
        change(bad)
        np.savez(tmp_path / f"{name}.npz", **bad)
        with pytest.raises(TraceFormatError, match=match):
            read_trace(tmp_path / f"{name}.npz")
    without_counts = {k: v for k, v in data.items() if not k.startswith("neuron_counts_")}
    without_counts["spike_ids_0"] = without_counts["spike_ids_0"] + np.uint16(SPEC.layer_sizes[0])
    np.savez(tmp_path / "range.npz", **without_counts)
    with pytest.raises(TraceFormatError, match=r"spike_ids_0: neuron \d+ is not in tensor 0"):
        read_trace(tmp_path / "range.npz")


def _moved(ids: np.ndarray) -> np.ndarray:
    """``ids`` with the first spike moved to another neuron."""
    out = ids.copy()
    out[0] = (int(out[0]) + 1) % (int(out.max()) + 2)
    return out


def test_replay_takes_every_estimate_option_snn_takes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """One set of estimate options (limits, placement, energy scope) on snn and replay, one spelling each."""
    for opt in ("--max-steps", "--max-events", "--allow-oom", "--energy-scope", "--partitioner", "--passes", "--compare-gpu", "--timeline",
                "--mapping", "--record", "--save-program", "--tile-map", "--detail"):  # fmt: skip
        for cmd in ("snn", "replay"):
            main([cmd, "--help"])
            assert opt in capsys.readouterr().out, (cmd, opt)
    args = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--input-sparse-size", "8", "--set", "tiles_per_ipu=64"]
    trace = tmp_path / "t.npz"
    assert _run(capsys, "snn", *args, "--record", str(trace))[0] == 0
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--engine", "des", "--max-events", "10")
    assert rc == 2 and out == "" and "more than max_events=10 tile-events" in err  # the limit the error names is there to raise
    rc, out, _ = _run(
        capsys,
        "replay",
        str(trace),
        "--set",
        "tiles_per_ipu=64",
        "--partitioner",
        "contiguous",
        "--energy-scope",
        "machine",
        "--json",
    )
    rec = json.loads(out)
    assert rc == 0 and rec["energy_scope"] == "machine" and rec["activity_source"].startswith("trace:t.npz (functional")
    rc, out, err = _run(
        capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--set", "memory_bytes_per_tile=4096", "--json"
    )
    assert rc == 2 and "does not fit" in err and "allow_oom" in err
    rc, out, _ = _run(
        capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--set", "memory_bytes_per_tile=4096", "--allow-oom", "--json"
    )
    assert rc == 0 and json.loads(out)["oom_tiles"]


def test_diff_names_the_inputs_that_differ_between_a_run_and_its_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--input-sparse-size", "8", "--set", "tiles_per_ipu=64"]
    trace, a, b = tmp_path / "t.npz", tmp_path / "a.json", tmp_path / "b.json"
    rc, out, err = _run(capsys, "snn", *args, "--json", "--detail", "--record", str(trace))
    assert rc == 0, err
    a.write_text(out)
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--set", "exchange_bytes_per_cycle=8",
                        "--engine", "des", "--json", "--detail")  # fmt: skip
    assert rc == 0, err
    b.write_text(out)
    rc, out, err = _run(capsys, "diff", str(a), str(b), "--json")
    inputs = {i["name"]: (i["a"], i["b"]) for i in json.loads(out)["inputs"]}
    assert rc == 0 and inputs["engine"] == ("fast", "des") and inputs["machine.exchange_bytes_per_cycle"] == (4, 8)
    assert inputs["activity_source"][1].startswith("trace:t.npz") and "tiles_per_ipu" not in inputs and "seed" not in inputs
    rc, out, _ = _run(capsys, "diff", str(a), str(b))
    assert rc == 0 and out.startswith("inputs that differ:\n") and "machine.exchange_bytes_per_cycle" in out
    rc, out, _ = _run(capsys, "diff", str(a), str(a))
    assert rc == 0 and out.startswith("inputs: the same")
    for cmd in (["snn", *args], ["replay", str(trace), "--set", "tiles_per_ipu=64"]):
        rc, out, err = _run(capsys, *cmd, "--detail")
        assert rc == 2 and out == "" and "--detail: adds fields to the JSON object: give --json too" in err


def test_replay_writes_what_snn_writes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A replay re-recorded is the same trace's step; its program runs; its tile map is drawn; a mapping places it."""
    args = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--input-sparse-size", "8", "--set", "tiles_per_ipu=64"]
    trace = tmp_path / "t.npz"
    rc, out, err = _run(capsys, "snn", *args, "--json", "--record", str(trace))
    orig = json.loads(out)
    again, prog, png = tmp_path / "again.npz", tmp_path / "p.json", tmp_path / "m.png"
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--json", "--record", str(again),
                        "--save-program", str(prog), "--tile-map", str(png))  # fmt: skip
    assert rc == 0, err
    assert all(f"wrote {p} (" in err for p in (again, prog, png)) and png.stat().st_size > 0
    rc, out, err = _run(capsys, "replay", str(again), "--set", "tiles_per_ipu=64", "--json")
    assert rc == 0 and {k: json.loads(out)[k] for k in FIGURES} == {k: orig[k] for k in FIGURES}  # a replay of a replay
    rc, out, err = _run(capsys, "run", str(prog), "--machine", "bow", "--set", "tiles_per_ipu=64", "--json")
    assert rc == 0 and json.loads(out)["total_cycles"] == orig["cycles_per_step"], err
    mapping = tmp_path / "map.npz"
    from tests.models import write_tiny  # the same 64-24-24-4 layers

    rc, _, err = _run(capsys, "partition", str(write_tiny(tmp_path)), "--set", "tiles_per_ipu=64", "--methods", "contiguous",
                      "--save-mapping", str(mapping))  # fmt: skip
    assert rc == 0, err
    rc, out, err = _run(capsys, "replay", str(trace), "--set", "tiles_per_ipu=64", "--mapping", str(mapping), "--json")
    assert rc == 0 and json.loads(out)["cycles_per_step"] == orig["cycles_per_step"], err  # the recorded contiguous placement
    rc, out, err = _run(capsys, "replay", str(trace), "--mapping", str(mapping), "--partitioner", "metis")
    assert rc == 2 and "give either --mapping or --partitioner" in err
