"""Tonic-style event arrays as input: structured arrays, (events, label) pairs, .npy/.npz files and folders,
binned as the NMNIST reader bins them; and a NIR graph's own weights driving the functional model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mimdsim.errors import ConfigError, DatasetError
from mimdsim.snn import functional_activity, snn_from_sizes
from mimdsim.snn.reference.data import bin_events, load_input_batch
from mimdsim.snn.reference.events import events_batch, read_event_file

DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])


def _events(rows: list[tuple[int, int, int, int]]) -> np.ndarray:
    return np.array(rows, dtype=DTYPE)


SAMPLE = _events([(1, 0, 0, 0), (2, 1, 1, 500), (1, 0, 0, 1200), (3, 1, 0, 1900)])


def test_addresses_bins_and_labels_by_hand() -> None:
    # sensor 4 x 2 x 2: address (p * 2 + y) * 4 + x -> 1, 14 in window 0; 1, 7 in window 1
    b = events_batch([(SAMPLE, 7), SAMPLE], batch_size=2, n_timesteps=2, sparse_size=3, sensor_size=(4, 2, 2))
    assert b.ids[:, 0].tolist() == [[1, 14, 0], [1, 7, 0]] and b.counts[:, 0].tolist() == [2, 2]
    assert b.labels.tolist() == [7, -1]
    ids, counts = bin_events(SAMPLE["t"], np.array([1, 14, 1, 7]), n_timesteps=2, sparse_size=3)
    assert b.ids[:, 1].tolist() == ids.tolist() and b.counts[:, 1].tolist() == counts.tolist()
    # the sensor size by default: the largest coordinate + 1 (here 4 x 2 x 2 again)
    assert events_batch([SAMPLE], batch_size=1, n_timesteps=2, sparse_size=3).ids.tolist() == b.ids[:, :1].tolist()
    # audio-style events (x and t only: SHD) and downsampling
    shd = np.array([(5, 0), (9, 100)], dtype=[("x", np.int32), ("t", np.int64)])
    assert events_batch([shd], batch_size=1, n_timesteps=1, sparse_size=4, sensor_size=(10, 1, 1)).ids[0, 0].tolist() == [
        5,
        9,
        0,
        0,
    ]
    small = events_batch([SAMPLE], batch_size=1, n_timesteps=2, sparse_size=3, sensor_size=(4, 2, 2), downsample_to=2)
    assert small.ids[:, 0].tolist() == [[0, 7, 0], [0, 3, 0]]  # x -> x // 2, y -> y, (p * 2 + y) * 2 + x


def test_files_and_folders(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", SAMPLE)
    np.savez(
        tmp_path / "b.npz", x=SAMPLE["x"], y=SAMPLE["y"], p=SAMPLE["p"], t=SAMPLE["t"], label=3, sensor_size=np.array([4, 2, 2])
    )
    fields, label, sensor = read_event_file(tmp_path / "b.npz")
    assert label == 3 and sensor == (4, 2, 2) and fields["x"].tolist() == [1, 2, 1, 3]
    b = events_batch(sorted(tmp_path.iterdir()), batch_size=2, n_timesteps=2, sparse_size=3)
    assert b.labels.tolist() == [-1, 3] and b.ids[:, 0].tolist() == b.ids[:, 1].tolist()
    spec = snn_from_sizes([16, 8, 2], max_activity=0.5, input_sparse_size=3, batch_size=2, n_timesteps=2)
    assert load_input_batch(spec, tmp_path).ids.tolist() == b.ids.tolist()
    act = functional_activity(spec, input_data=tmp_path)
    assert act.true_counts[0].tolist() == b.counts.tolist()


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ([SAMPLE], "events: 1 samples, the batch needs 2"),
        ([np.zeros(3), SAMPLE], "sample 0: expected a structured array with fields x, y, p, t"),
        ([np.array([(1, 2)], dtype=[("x", int), ("y", int)]), SAMPLE], "sample 0: the events have no 't'"),
        ([_events([(9, 0, 0, 0)]), SAMPLE], r"sample 0: event 0 at \(x=9, y=0, p=0\) is outside the sensor 4 x 2 x 2"),
        ([_events([(-1, 0, 0, 0)]), SAMPLE], "sample 0: field 'x' holds a negative value"),
    ],
)
def test_bad_samples_are_refused_naming_the_sample(samples: list, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        events_batch(samples, batch_size=2, n_timesteps=2, sparse_size=3, sensor_size=(4, 2, 2))


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="none.npy: file not found"):
        read_event_file(tmp_path / "none.npy")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="bad.npz: not a readable .npz event file"):
        read_event_file(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(DatasetError, match="needs 'events' or the arrays"):
        read_event_file(tmp_path / "other.npz")


def test_a_given_batch_must_fit_the_model() -> None:
    spec = snn_from_sizes([16, 8, 2], max_activity=0.5, input_sparse_size=3, batch_size=1, n_timesteps=2)
    b = events_batch([SAMPLE], batch_size=1, n_timesteps=2, sparse_size=3, sensor_size=(4, 2, 2))
    assert functional_activity(spec, input_data=b).true_counts[0].tolist() == b.counts.tolist()
    with pytest.raises(ConfigError, match=r"the model needs \[T, B, S_in\] = \[2, 1, 4\]"):
        functional_activity(spec.model_copy(update={"input_sparse_size": 4}), input_data=b)
    with pytest.raises(ConfigError, match="input ids reach 14, the model's input has 8 addresses"):
        functional_activity(spec.model_copy(update={"n_input_addresses": 8}), input_data=b)


def test_a_nir_graphs_own_weights_drive_the_functional_model() -> None:
    nir = pytest.importorskip("nir")
    from mimdsim.snn.model.nir import nir_weights, snn_from_nir

    rng = np.random.default_rng(0)
    lif = lambda n: nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))  # noqa: E731
    g = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([16])), "fc0": nir.Linear(weight=rng.normal(0, 2, (8, 16))), "lif0": lif(8),
               "fc1": nir.Linear(weight=rng.normal(0, 2, (2, 8))), "lif1": lif(2), "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc0"), ("fc0", "lif0"), ("lif0", "fc1"), ("fc1", "lif1"), ("lif1", "output")],
    )  # fmt: skip
    spec = snn_from_nir(g, batch_size=6, n_timesteps=5, max_activity=0.5, input_sparse_size=4)
    ws = nir_weights(g)
    assert [w.shape for w in ws] == [(16, 8), (8, 2)] and np.allclose(ws[0], g.nodes["fc0"].weight.T)
    given, drawn = functional_activity(spec, weights=ws), functional_activity(spec)
    assert "given weights" in given.source and given.true_counts[1].tolist() != drawn.true_counts[1].tolist()
