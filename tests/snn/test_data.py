"""Input spikes: Poisson input, event binning, NMNIST and SHD readers on files written here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import DatasetError
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.snn.reference.data import bin_events, load_nmnist, poisson_input, read_nmnist_events
from mimdsim.snn.reference.shd import load_shd


def spec_for(n_in: int, s_in: int, batch: int = 4, steps: int = 10):
    return snn_from_sizes([n_in, 4, 2], max_activity=0.5, input_sparse_size=s_in, batch_size=batch, n_timesteps=steps)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.data(), st.floats(0, 1), st.integers(0, 2**20))
def test_poisson_input_invariants(n_in: int, data: st.DataObject, rate: float, seed: int) -> None:
    s_in = data.draw(st.integers(1, n_in))
    ids, counts = poisson_input(spec_for(n_in, s_in), rate, seed)
    assert ids.dtype == np.int32 and counts.dtype == np.int32
    assert ((0 <= counts) & (counts <= s_in)).all()
    for t, b in np.ndindex(counts.shape):
        row = ids[t, b, : counts[t, b]]
        assert (np.diff(row) > 0).all() and (row < n_in).all() and (row >= 0).all()
        assert (ids[t, b, counts[t, b] :] == 0).all()


def test_poisson_input_rates_and_uniform_subsets() -> None:
    ids, counts = poisson_input(spec_for(1000, 100, 8, 200), 0.03, 0)
    assert counts.mean() == pytest.approx(30, rel=0.05)
    again = poisson_input(spec_for(1000, 100, 8, 200), 0.03, 0)
    np.testing.assert_array_equal(ids, again[0])
    # rate 1 with S_in < n: every step holds a uniform random S_in-subset
    ids, counts = poisson_input(spec_for(5, 2, 20, 200), 1.0, 0)
    assert (counts == 2).all()
    freq = np.bincount(ids.ravel(), minlength=5) / ids.size
    np.testing.assert_allclose(freq, 0.2, atol=0.015)
    with pytest.raises(DatasetError, match="rate"):
        poisson_input(spec_for(5, 2), 1.5, 0)


def test_bin_events_by_hand() -> None:
    t = np.array([5000, 5100, 5100, 6500, 6900, 7999, 9000, 20000])
    a = np.array([3, 1, 3, 2, 2, 0, 4, 1])
    ids, counts = bin_events(t, a, n_timesteps=3, sparse_size=4)
    # windows start at the first event (5000 µs); duplicates merged; events past T windows dropped
    assert counts.tolist() == [2, 1, 1]
    assert ids.tolist() == [[1, 3, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]
    ids, counts = bin_events(t, a, n_timesteps=5, sparse_size=4, bin_us=2000)
    assert counts.tolist() == [3, 1, 1, 0, 0]
    assert ids[:3].tolist() == [[1, 2, 3, 0], [0, 0, 0, 0], [4, 0, 0, 0]]


def test_bin_events_overflow_keeps_seeded_random_subset() -> None:
    t = np.zeros(10)
    a = np.arange(10)
    runs = [bin_events(t, a, n_timesteps=1, sparse_size=3, rng=np.random.default_rng(s)) for s in range(20)]
    picks = {tuple(ids[0]) for ids, _ in runs}
    assert len(picks) > 5 and all(list(p) == sorted(p) for p in picks)
    one = bin_events(t, a, n_timesteps=1, sparse_size=3, rng=np.random.default_rng(4))
    two = bin_events(t, a, n_timesteps=1, sparse_size=3, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(one[0], two[0])
    assert bin_events(np.array([]), np.array([]), n_timesteps=2, sparse_size=3)[1].tolist() == [0, 0]
    with pytest.raises(DatasetError, match="bin_us"):
        bin_events(t, a, n_timesteps=1, sparse_size=3, bin_us=0)
    with pytest.raises(DatasetError, match="negative address"):
        bin_events(t, -a - 1, n_timesteps=1, sparse_size=3)


def write_nmnist(path: Path, events: list[tuple[int, int, int, int]]) -> Path:
    """Write (x, y, p, t_us) events in the Orchard et al. 40-bit big-endian format."""
    raw = bytearray()
    for x, y, p, t in events:
        raw += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(raw))
    return path


def test_read_nmnist_events_bit_fields_and_overflow(tmp_path: Path) -> None:
    events = [(0, 0, 0, 100), (33, 2, 1, 0x7FFFFF), (5, 240, 0, 0), (7, 9, 1, 50)]  # third: overflow marker
    ev = read_nmnist_events(write_nmnist(tmp_path / "a.bin", events))
    assert ev["x"].tolist() == [0, 33, 7] and ev["y"].tolist() == [0, 2, 9] and ev["p"].tolist() == [0, 1, 1]
    assert ev["t_us"].tolist() == [100, 0x7FFFFF, 50 + 2**13]


def test_load_nmnist_batch(tmp_path: Path) -> None:
    a = write_nmnist(tmp_path / "Train" / "3" / "00001.bin", [(1, 2, 0, 1000), (1, 2, 0, 1200), (0, 0, 1, 2500)])
    b = write_nmnist(tmp_path / "misc" / "x.bin", [(33, 33, 1, 7)])
    batch = load_nmnist([a, b], n_timesteps=3, sparse_size=2)
    assert batch.ids.shape == (3, 2, 2) and batch.labels.tolist() == [3, -1]
    assert batch.ids[0, 0, 0] == 2 * 34 + 1  # (p·34 + y)·34 + x
    assert batch.counts[:, 0].tolist() == [1, 1, 0] and batch.ids[1, 0, 0] == 34 * 34  # p=1, x=y=0 at +1.5 ms
    assert batch.counts[0, 1] == 1 and batch.ids[0, 1, 0] == (34 + 33) * 34 + 33


def test_nmnist_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope.bin: file not found"):
        read_nmnist_events(tmp_path / "nope.bin")
    trunc = tmp_path / "t.bin"
    trunc.write_bytes(b"\x00" * 7)
    with pytest.raises(DatasetError, match="t.bin: 7 bytes is not a whole number of 5-byte NMNIST events"):
        read_nmnist_events(trunc)
    bad = write_nmnist(tmp_path / "b.bin", [(1, 1, 0, 0), (40, 1, 0, 0)])
    with pytest.raises(DatasetError, match="b.bin: event 1: address x=40"):
        read_nmnist_events(bad)
    with pytest.raises(DatasetError, match="no NMNIST files"):
        load_nmnist([], n_timesteps=2, sparse_size=2)
    empty = tmp_path / "e.bin"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match="e.bin: empty file"):
        load_nmnist([empty], n_timesteps=2, sparse_size=2)


def write_shd(path: Path, samples: list[tuple[list[float], list[int]]], labels: list[int]) -> Path:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as fh:
        times = fh.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = fh.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, dtype=np.float32)
            units[i] = np.asarray(u, dtype=np.uint16)
        fh.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
    return path


def test_load_shd(tmp_path: Path) -> None:
    path = write_shd(tmp_path / "shd.h5", [([0.01, 0.0102, 0.0125], [699, 3, 3]), ([0.5], [10]), ([2.0], [0])], [7, 19, 0])
    batch = load_shd(path, n_timesteps=4, sparse_size=2)
    assert batch.labels.tolist() == [7, 19, 0] and batch.ids.shape == (4, 3, 2)
    assert batch.counts[:, 0].tolist() == [2, 0, 1, 0] and batch.ids[0, 0].tolist() == [3, 699]
    assert batch.ids[2, 0, 0] == 3 and batch.counts[:, 2].tolist() == [1, 0, 0, 0]
    sub = load_shd(path, n_timesteps=4, sparse_size=2, indices=[1])
    assert sub.labels.tolist() == [19] and sub.counts[0, 0] == 1 and sub.ids[0, 0, 0] == 10


def test_shd_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h5py = pytest.importorskip("h5py")
    with pytest.raises(DatasetError, match="missing.h5: file not found"):
        load_shd(tmp_path / "missing.h5", n_timesteps=2, sparse_size=2)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(DatasetError, match="text.h5: not a readable HDF5 file"):
        load_shd(text, n_timesteps=2, sparse_size=2)
    with h5py.File(tmp_path / "nolabels.h5", "w") as fh:
        fh.create_dataset("spikes/times", data=np.zeros(1))
    with pytest.raises(DatasetError, match="nolabels.h5: key 'spikes/units' missing"):
        load_shd(tmp_path / "nolabels.h5", n_timesteps=2, sparse_size=2)
    path = write_shd(tmp_path / "ok.h5", [([0.0], [1])], [0])
    with pytest.raises(DatasetError, match="indices: 3..3 outside 0..0"):
        load_shd(path, n_timesteps=2, sparse_size=2, indices=[3])
    with pytest.raises(DatasetError, match=r"indices: \['a'\] are not sample numbers"):  # the caller's, not the file's
        load_shd(path, n_timesteps=2, sparse_size=2, indices=["a"])
    for samples, words in (
        ([([], [])], "sample 0: no spikes"),
        ([([0.0, float("nan")], [1, 2])], "sample 0: spike time nan s is not a finite time >= 0"),
        ([([0.0, float("inf")], [1, 2])], "spike time inf s"),
        ([([0.0, -1.0], [1, 2])], "spike time -1.0 s"),
        ([([0.0], [700])], "sample 0: unit 700 outside 0..699"),
    ):
        bad = write_shd(tmp_path / "bad.h5", samples, [0])
        with pytest.raises(DatasetError, match=words):
            load_shd(bad, n_timesteps=2, sparse_size=2)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(DatasetError, match="needs h5py"):
        load_shd(path, n_timesteps=2, sparse_size=2)


def test_a_damaged_shd_file_is_a_dataset_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """h5py reports a damaged file's objects as it meets them, with KeyError or RuntimeError among others (found by
    fuzzing SHD files): each is the file's error, naming it."""
    h5py = pytest.importorskip("h5py")
    path = write_shd(tmp_path / "ok.h5", [([0.0], [1])], [0])
    for err in (KeyError("Unable to synchronously open object (integer offset out of bounds)"),
                RuntimeError("Unable to synchronously check link existence (bad object header version number)")):  # fmt: skip

        def damaged(self: object, key: object, err: Exception = err) -> None:
            raise err

        monkeypatch.setattr(h5py.Dataset, "__getitem__", damaged)
        with pytest.raises(
            DatasetError, match=f"ok.h5: not a readable SHD file \\({type(err).__name__}: .*Unable to synchronously"
        ):
            load_shd(path, n_timesteps=2, sparse_size=2)


# ---- load_input_batch: a dataset a user holds as the functional model's input --------------
def test_load_input_batch_shd_and_nmnist(tmp_path: Path) -> None:
    from mimdsim.snn.reference.data import load_input_batch

    shd = write_shd(tmp_path / "shd.h5", [([0.001, 0.0021], [699, 5]), ([0.003], [1]), ([0.0], [2])], [1, 2, 3])
    spec = snn_from_sizes([700, 8, 2], max_activity=0.5, input_sparse_size=4, batch_size=2, n_timesteps=4)
    batch = load_input_batch(spec, shd)
    assert batch.ids.shape == (4, 2, 4) and batch.labels.tolist() == [1, 2]  # the first B samples
    assert int(batch.counts[:, 0].sum()) == 2 and int(batch.counts[:, 1].sum()) == 1
    for i in range(3):
        write_nmnist(tmp_path / "nm" / str(i) / f"{i}.bin", [(i, 0, 1, 100)])
    nspec = snn_from_sizes([2312, 8, 2], max_activity=0.5, input_sparse_size=4, batch_size=3, n_timesteps=2)
    nb = load_input_batch(nspec, tmp_path / "nm")
    assert nb.labels.tolist() == [0, 1, 2] and nb.ids[0, :, 0].tolist() == [34 * 34 + i for i in range(3)]


def test_load_input_batch_errors(tmp_path: Path) -> None:
    from mimdsim.snn.reference.data import load_input_batch

    write_nmnist(tmp_path / "nm" / "0" / "a.bin", [(33, 33, 1, 100)])
    small = snn_from_sizes([1000, 8, 2], max_activity=0.5, input_sparse_size=4, batch_size=1, n_timesteps=2)
    with pytest.raises(DatasetError, match="the model's input has 1000 addresses"):
        load_input_batch(small, tmp_path / "nm")
    # a 24x24x2 model gets the scripts' denoised, downsampled NMNIST: the corner pixel maps to (23, 23)
    scripts = snn_from_sizes([1152, 8, 2], max_activity=0.5, input_sparse_size=4, batch_size=1, n_timesteps=2)
    batch = load_input_batch(scripts, tmp_path / "nm")
    assert batch.counts.sum() == 1 and batch.ids[0, 0, 0] == (1 * 24 + 23) * 24 + 23
    two = snn_from_sizes([2312, 8, 2], max_activity=0.5, input_sparse_size=4, batch_size=2, n_timesteps=2)
    with pytest.raises(DatasetError, match="1 NMNIST .bin files found, the batch needs 2"):
        load_input_batch(two, tmp_path / "nm")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_input_batch(two, tmp_path / "x.txt")
    with pytest.raises(DatasetError, match="not found"):
        load_input_batch(two, tmp_path / "missing.h5")
