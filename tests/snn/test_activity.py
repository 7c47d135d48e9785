"""SpikeActivity records: constructors, validation against a spec, trace files and their errors."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mimdsim.errors import ConfigError, TraceFormatError
from mimdsim.snn.activity.counts import SpikeActivity, functional_activity, parametric_activity
from mimdsim.snn.activity.trace_v1 import FORMAT_VERSION, TRACE_KIND, load_activity, save_activity
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.snn.reference.data import poisson_input
from mimdsim.snn.reference.functional import init_weights, run_sparse

REPO = Path(__file__).resolve().parents[2]
SPEC = snn_from_sizes([200, 60, 40, 10], max_activity=0.2, input_sparse_size=16, batch_size=4, n_timesteps=12)


def _check_counts(act: SpikeActivity) -> None:
    for tc, vc, s in zip(act.true_counts, act.valid_counts, act.sparse_sizes, strict=True):
        assert tc.shape == (act.n_timesteps, act.batch_size) and tc.dtype == np.int32
        assert (0 <= tc).all() and (tc <= vc).all() and (vc <= s).all()
    np.testing.assert_array_equal(act.true_counts[0], act.valid_counts[0])


def test_from_run_copies_the_counts() -> None:
    ids, counts = poisson_input(SPEC, 0.05, 0)
    run = run_sparse(SPEC, init_weights(SPEC, 0), ids, counts, None)
    act = SpikeActivity.from_run(SPEC, run, counts)
    _check_counts(act)
    assert act.n_tensors == 4 and act.sparse_sizes == SPEC.sparse_sizes
    np.testing.assert_array_equal(act.true_counts[0], counts)
    for l in range(3):
        np.testing.assert_array_equal(act.true_counts[l + 1], run.counts[l][..., 0])
        np.testing.assert_array_equal(act.valid_counts[l + 1], run.counts[l][..., 1])
    assert not act.true_counts[1].flags.writeable


def test_functional_activity_is_deterministic_and_uses_the_input_rate() -> None:
    a = functional_activity(SPEC, 3, input_rate=0.05)
    b = functional_activity(SPEC, 3, input_rate=0.05)
    _check_counts(a)
    for x, y in zip(a.valid_counts, b.valid_counts, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.true_counts[1].sum() > 0
    low = functional_activity(SPEC, 3, input_rate=0.01)
    assert low.mean_counts()[0][0] < a.mean_counts()[0][0]
    assert "input_rate=0.05" in a.source


def test_parametric_activity_statistics() -> None:
    spec = snn_from_sizes([2000, 1000, 10], max_activity=0.5, input_sparse_size=64, batch_size=8, n_timesteps=50)
    act = parametric_activity(spec, 0.02, seed=1, input_rate=0.01, grad_fraction=1.0)
    _check_counts(act)
    (m_in, _), (m_true, m_valid), _ = act.mean_counts()
    assert m_in == pytest.approx(20, rel=0.1) and m_true == pytest.approx(20, rel=0.1)
    assert m_valid == pytest.approx(40, rel=0.1)
    capped = parametric_activity(spec, 0.9, seed=1)
    assert (capped.true_counts[1] == 500).all() and (capped.true_counts[0] == 64).all()
    same = parametric_activity(spec, 0.02, seed=1, input_rate=0.01, grad_fraction=1.0)
    np.testing.assert_array_equal(same.valid_counts[1], act.valid_counts[1])
    with pytest.raises(ConfigError, match="rate"):
        parametric_activity(spec, 1.5, seed=0)
    with pytest.raises(ConfigError, match="grad_fraction"):
        parametric_activity(spec, 0.1, seed=0, grad_fraction=-1)


def test_check_against_names_the_mismatch() -> None:
    act = parametric_activity(SPEC, 0.1, seed=0)
    act.check_against(SPEC)
    for change, key in [({"batch_size": 5}, "batch_size"), ({"n_timesteps": 3}, "n_timesteps"),
                        ({"input_sparse_size": 8}, "sparse_sizes")]:  # fmt: skip
        other = SPEC.model_copy(update=change)
        with pytest.raises(ConfigError, match=f"activity: {key}: trace has"):
            act.check_against(other)


def test_inconsistent_record_raises() -> None:
    z = np.zeros((2, 3), dtype=np.int32)
    ok = dict(true_counts=(z, z), valid_counts=(z, z), sparse_sizes=(4, 4), n_timesteps=2, batch_size=3)
    SpikeActivity(**ok)
    bad = [
        (dict(true_counts=(z,)), "1/2 tensors"),
        (dict(valid_counts=(z, np.zeros((3, 2), np.int32))), r"valid_counts\[1\]: shape"),
        (dict(true_counts=(z, z + 1)), "true > valid"),
        (dict(true_counts=(z, z + 5), valid_counts=(z, z + 5)), "valid <= S = 4"),
        (dict(valid_counts=(z + 1, z + 1)), "input tensor"),
        (dict(true_counts=(z, z.astype(float))), "not an integer type"),
        (dict(sparse_sizes=(4,), true_counts=(z,), valid_counts=(z,)), "at least one layer"),
    ]
    for change, msg in bad:
        with pytest.raises(TraceFormatError, match=msg):
            SpikeActivity(**(ok | change))


def test_trace_round_trip(tmp_path: Path) -> None:
    act = functional_activity(SPEC, 1, input_rate=0.05)
    path = tmp_path / "act.npz"
    save_activity(path, act)
    back = load_activity(path)
    assert back.sparse_sizes == act.sparse_sizes and back.source == act.source
    for x, y in zip(act.true_counts + act.valid_counts, back.true_counts + back.valid_counts, strict=True):
        np.testing.assert_array_equal(x, y)
    back.check_against(SPEC)


def _write(path: Path, **override: object) -> Path:
    act = parametric_activity(SPEC, 0.1, seed=0)
    data = dict(
        format_version=np.int64(FORMAT_VERSION), kind=np.str_(TRACE_KIND),
        sparse_sizes=np.asarray(act.sparse_sizes), n_timesteps=np.int64(12), batch_size=np.int64(4),
        true_counts=np.stack(act.true_counts), valid_counts=np.stack(act.valid_counts),
    )  # fmt: skip
    for k, v in override.items():
        if v is None:
            del data[k]
        else:
            data[k] = v
    np.savez(path, **data)
    return path


@pytest.mark.parametrize(
    ("override", "msg"),
    [
        ({"format_version": np.int64(2)}, "format_version: .*2.* is not supported \\(allowed: 1\\)"),
        ({"format_version": None}, "key 'format_version' missing"),
        ({"kind": np.str_("something")}, "kind: .* is not an activity trace"),
        ({"valid_counts": None}, "key 'valid_counts' missing"),
        ({"n_timesteps": np.int64(11)}, "true_counts: shape .* is not \\[n_tensors, T, B\\]"),
        ({"sparse_sizes": np.array([16, 0, 8, 2])}, "sparse_sizes: .* positive integers"),
        ({"batch_size": np.float64(4)}, "batch_size: .* positive integer scalar"),
        ({"true_counts": np.full((4, 12, 4), 99)}, "valid <= S"),
    ],
)
def test_bad_trace_files(tmp_path: Path, override: dict[str, object], msg: str) -> None:
    path = _write(tmp_path / "bad.npz", **override)
    with pytest.raises(TraceFormatError, match=msg) as err:
        load_activity(path)
    assert str(path) in str(err.value)


def test_unreadable_trace_files(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="file not found"):
        load_activity(tmp_path / "missing.npz")
    good = _write(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "text.npz"
    text.write_text("not a trace\n")
    for path in (truncated, text):
        with pytest.raises(TraceFormatError, match=f"{path.name}: not a readable .npz"):
            load_activity(path)
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as zf:
        zf.writestr("true_counts.npy", b"garbage")
    with pytest.raises(TraceFormatError, match="other.npz"):
        load_activity(tmp_path / "other.npz")


def test_committed_example_trace() -> None:
    """traces/nmnist_tiny_activity.npz: the paper's 2-hidden-layer NMNIST net, B = 8 (traces/README.md)."""
    path = REPO / "traces" / "nmnist_tiny_activity.npz"
    assert path.stat().st_size < 50_000
    act = load_activity(path)
    spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=8,
                          n_timesteps=100, dataset="nmnist")  # fmt: skip
    act.check_against(spec)
    assert act.source.startswith("functional seed=0")
    assert act.mean_counts()[1][0] > 0


@pytest.mark.benchmark
def test_functional_activity_speed_paper_config() -> None:
    spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=48,
                          n_timesteps=100)  # fmt: skip
    functional_activity(spec, 0)  # numba warm-up
    times = []
    for seed in range(3):
        t0 = time.perf_counter()
        functional_activity(spec, seed)
        times.append(time.perf_counter() - t0)
    assert min(times) < 0.5
