"""Sparse functional model: hand-computed cases, overflow rule, masks, invariants, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ConfigError
from mimdsim.snn.model.spec import LayerSpec, SNNSpec, snn_from_sizes
from mimdsim.snn.reference.data import poisson_input
from mimdsim.snn.reference.functional import (
    connection_mask,
    init_weights,
    run_sparse,
    sparse_to_dense,
    superspike,
    train_step,
)

ALPHA = 0.95
C = 10 * (1 - ALPHA)


def surr(v: float) -> float:
    return 1.0 / (10 * abs(v - 1.0) + 1) ** 2


def softmax_grad(logits: list[float], label: int) -> np.ndarray:
    p = np.exp(logits) / np.exp(logits).sum()
    p[label] -= 1
    return p


def one_layer(n: int, s: int, t: int = 2) -> SNNSpec:
    return SNNSpec(n_inputs=1, input_sparse_size=1, layers=[LayerSpec(n_neurons=n, sparse_size=s)],
                   batch_size=1, n_timesteps=t)  # fmt: skip


def always_on(t: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((t, 1, 1), np.int32), np.ones((t, 1), np.int32)


@pytest.mark.parametrize("w0", [1.5, 2.5])
def test_two_step_single_layer_by_hand(w0: float) -> None:
    # w0 = 1.5: neuron 0 stays below θ1 at t=0, spikes at t=1. w0 = 2.5: spikes at both steps,
    # so its t=1 value is c·w0 (reset) and the leak gradient is still α (straight-through reset).
    spec = one_layer(2, 2)
    w = np.array([[w0, 0.2]])
    run = run_sparse(spec, [w], *always_on(2), np.array([0]), second_threshold=-100.0)
    v0 = C * w[0]
    v1 = np.where(v0 > 1, 0.0, ALPHA * v0) + C * w[0]
    np.testing.assert_allclose(run.states[0][:, 0], [v0, v1], rtol=1e-12)
    logits = [float(v0[0] > 1) + float(v1[0] > 1), 0.0]
    np.testing.assert_array_equal(run.logits[0], logits)
    dlog = softmax_grad(logits, 0)
    d1 = dlog * np.array([surr(v1[0]), surr(v1[1])])
    d0 = ALPHA * d1 + dlog * np.array([surr(v0[0]), surr(v0[1])])
    np.testing.assert_allclose(run.weight_grads[0][0], C * (d0 + d1), rtol=1e-12)
    assert run.loss == pytest.approx(-np.log(np.exp(logits[0]) / np.exp(logits).sum()))


def test_one_step_delay_and_hidden_slot_gradient() -> None:
    spec = SNNSpec(n_inputs=1, input_sparse_size=1, batch_size=1, n_timesteps=3,
                   layers=[LayerSpec(n_neurons=1, sparse_size=1), LayerSpec(n_neurons=2, sparse_size=2)])  # fmt: skip
    ids, counts = always_on(3)
    counts[1:] = 0  # one input spike, at t=0
    ws = [np.array([[4.0]]), np.array([[3.0, 0.5]])]
    run = run_sparse(spec, ws, ids, counts, np.array([1]), second_threshold=-100.0)
    np.testing.assert_allclose(run.states[0][:, 0, 0], [2.0, 0.0, 0.0], atol=1e-12)
    v_out = np.array([[0.0, 0.0], C * ws[1][0], ALPHA * C * ws[1][0] * [0, 1]])
    np.testing.assert_allclose(run.states[1][:, 0], v_out, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(run.counts[0][:, 0], [[1, 1], [0, 1], [0, 1]])
    np.testing.assert_array_equal(run.logits[0], [1, 0])
    # layer 0's spike at t=0 is layer 1's input at t=1: its slot gradient is W1[0]·ĝ1_1
    dlog = softmax_grad([1.0, 0.0], 1)
    d2 = dlog * [surr(v) for v in v_out[2]]
    d1 = ALPHA * d2 + dlog * [surr(v) for v in v_out[1]]
    assert run.spike_grads[0][0, 0, 0] == pytest.approx(float(ws[1][0] @ (C * d1)), rel=1e-12)
    assert run.spike_grads[0][2, 0, 0] == 0.0  # nothing downstream of the last step
    np.testing.assert_allclose(run.weight_grads[1][0], C * d1, rtol=1e-12)


@pytest.mark.parametrize(
    ("v0", "s", "ids", "counts"),
    [
        ([0.95, 1.5, 0.92, 1.2, 0.5, 0.97, 1.1, 2.0], 4, [1, 3, 6, 7], [4, 4]),
        ([0.95, 1.5, 0.92, 1.2, 0.5, 0.97, 1.1, 2.0], 3, [1, 3, 6], [3, 3]),
        ([0.95, 1.5, 0.92, 0.5, 0.5, 0.97, 0.3, 0.2], 3, [1, 0, 2], [1, 3]),
        ([0.95, 1.5, 0.92, 0.5, 0.5, 0.97, 0.3, 0.2], 8, [1, 0, 2, 5], [1, 4]),
    ],
)
def test_overflow_true_first_low_index_wins(v0: list[float], s: int, ids: list[int], counts: list[int]) -> None:
    w = np.array([v0]) / C
    run = run_sparse(one_layer(8, s, 1), [w], *always_on(1), None)
    assert run.counts[0][0, 0].tolist() == counts
    assert run.ids[0][0, 0, : counts[1]].tolist() == ids


def test_init_weights_bounds_seed_and_dtype() -> None:
    spec = snn_from_sizes([300, 50, 10], max_activity=0.1, input_sparse_size=8, batch_size=1, n_timesteps=1)
    w = init_weights(spec, 3)
    lim = np.sqrt(6 / 300) * 2.0
    assert w[0].dtype == np.float32 and w[0].min() >= -lim + 0.001 - 1e-6 and w[0].max() <= lim + 0.001 + 1e-6
    assert abs(w[0].mean() - 0.001) < 0.01 and w[0].std() > 0.8 * lim / np.sqrt(3)
    np.testing.assert_array_equal(w[1], init_weights(spec, 3)[1])
    assert not np.array_equal(w[1], init_weights(spec, 4)[1])
    assert init_weights(spec, 3, dtype=np.float64)[0].dtype == np.float64
    with pytest.raises(ConfigError, match="dtype"):
        init_weights(spec, 0, dtype=np.int32)


def test_connection_mask_zeroes_weights_and_gradients() -> None:
    spec = SNNSpec(n_inputs=40, input_sparse_size=10, batch_size=2, n_timesteps=15,
                   layers=[LayerSpec(n_neurons=30, sparse_size=30, connection_density=0.3, connection_seed=5),
                           LayerSpec(n_neurons=4, sparse_size=4)])  # fmt: skip
    mask = connection_mask(spec, 0)
    assert connection_mask(spec, 1) is None
    np.testing.assert_array_equal(mask, connection_mask(spec, 0))
    assert 0.25 < mask.mean() < 0.35
    ws = init_weights(spec, 0, dtype=np.float64)
    assert (ws[0][~mask] == 0).all() and (ws[0][mask] != 0).all()
    ids, counts = poisson_input(spec, 0.25, 0)
    run = run_sparse(spec, ws, ids, counts, np.array([0, 3]), second_threshold=-100.0)
    assert (run.weight_grads[0][~mask] == 0).all() and np.abs(run.weight_grads[0][mask]).max() > 0
    with pytest.raises(ConfigError, match="layer"):
        connection_mask(spec, 2)


def test_float32_close_to_float64_and_forward_only() -> None:
    spec = snn_from_sizes([50, 20, 5], max_activity=0.5, input_sparse_size=10, batch_size=2, n_timesteps=10)
    ids, counts = poisson_input(spec, 0.2, 1)
    w64 = init_weights(spec, 1, dtype=np.float64)
    r64 = run_sparse(spec, w64, ids, counts, np.array([1, 2]))
    r32 = run_sparse(spec, [w.astype(np.float32) for w in w64], ids, counts, np.array([1, 2]))
    assert r32.states[0].dtype == np.float32 and r32.weight_grads[1].dtype == np.float32
    np.testing.assert_allclose(r32.states[0], r64.states[0], atol=1e-4)
    fwd = run_sparse(spec, w64, ids, counts, None, keep_states=False)
    assert fwd.loss is None and fwd.weight_grads is None and fwd.states == ()
    np.testing.assert_array_equal(fwd.counts[1], r64.counts[1])


def test_superspike_and_sparse_to_dense() -> None:
    np.testing.assert_allclose(superspike(np.array([0.9, 1.0, 1.3]), 1.0, 10.0), [0.25, 1.0, 1 / 16])
    dense = sparse_to_dense(np.array([[[2, 0, 1]]]), np.array([[[1, 3]]]), 4)
    np.testing.assert_array_equal(dense, [[[0, 0, 1, 0]]])


def test_bad_input_raises_config_error() -> None:
    spec = snn_from_sizes([10, 6, 3], max_activity=0.5, input_sparse_size=4, batch_size=2, n_timesteps=3)
    ws = init_weights(spec, 0)
    ids, counts = poisson_input(spec, 0.3, 0)
    y = np.array([0, 1])
    cases = [
        (dict(input_ids=ids[:2]), "input_ids: shape"),
        (dict(input_counts=counts + 5), "input_counts: values"),
        (dict(input_ids=np.full_like(ids, 10), input_counts=np.ones_like(counts)), "outside 0..9"),
        (dict(input_ids=ids.astype(float)), "not integer"),
        (dict(labels=np.array([0, 3])), "labels: values"),
        (dict(labels=np.array([0])), "labels: need 2"),
        (dict(weights=ws[:1]), "1 arrays given for 2 layers"),
        (dict(weights=[ws[0].T, ws[1]]), r"weights\[0\]: shape"),
        (dict(weights=[ws[0], ws[1].astype(np.float64)]), r"weights\[1\]: dtype"),
        (dict(weights=[w.astype(np.int64) for w in ws]), r"weights\[0\]: dtype int64 is not supported"),
    ]
    for override, msg in cases:
        args = dict(weights=ws, input_ids=ids, input_counts=counts, labels=y) | override
        with pytest.raises(ConfigError, match=msg):
            run_sparse(spec, args["weights"], args["input_ids"], args["input_counts"], args["labels"])
    with pytest.raises(ConfigError, match="second_threshold"):
        run_sparse(spec, ws, ids, counts, y, second_threshold=1.5)
    with pytest.raises(ConfigError, match="3 values given for 2 layers"):
        run_sparse(spec, ws, ids, counts, y, second_threshold=[0.5, 0.5, 0.5])
    with pytest.raises(ConfigError, match="keep_states"):
        run_sparse(spec, ws, ids, counts, y, keep_states=False)


@st.composite
def networks(draw: st.DrawFn) -> tuple[SNNSpec, float, int, float]:
    n_in = draw(st.integers(1, 30))
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 20))
        layers.append(LayerSpec(n_neurons=n, sparse_size=draw(st.integers(1, n))))
    spec = SNNSpec(
        n_inputs=n_in, input_sparse_size=draw(st.integers(1, n_in)), layers=layers,
        batch_size=draw(st.integers(1, 3)), n_timesteps=draw(st.integers(1, 6)),
        decay=draw(st.floats(0.5, 0.99)), weight_mul=draw(st.floats(0.5, 6.0)),
    )  # fmt: skip
    return spec, draw(st.floats(0.0, 1.0)), draw(st.integers(0, 2**16)), draw(st.sampled_from([-1.0, 0.5, 0.9, 1.0]))


@settings(max_examples=40, deadline=None)
@given(networks())
def test_sparse_output_invariants(case: tuple[SNNSpec, float, int, float]) -> None:
    spec, rate, seed, th2 = case
    ws = init_weights(spec, seed, dtype=np.float64)
    ids, counts = poisson_input(spec, rate, seed)
    labels = np.zeros(spec.batch_size, dtype=np.int64)
    run = run_sparse(spec, ws, ids, counts, labels, second_threshold=th2)
    assert np.isfinite(run.loss) and all(np.isfinite(g).all() for g in run.weight_grads)
    for lay, lids, lcounts, v in zip(spec.layers, run.ids, run.counts, run.states, strict=True):
        assert lids.dtype == np.int32 and lcounts.dtype == np.int32
        true, valid = lcounts[..., 0], lcounts[..., 1]
        assert ((0 <= true) & (true <= valid) & (valid <= lay.sparse_size)).all()
        for t in range(spec.n_timesteps):
            for b in range(spec.batch_size):
                k0, k1 = lcounts[t, b]
                vb = v[t, b]
                true_all = np.nonzero(vb > 1.0)[0]
                grad_all = np.nonzero((vb > th2) & (vb <= 1.0))[0]
                assert lids[t, b, :k0].tolist() == true_all[:k0].tolist()  # sorted, unique, lowest first
                assert k0 == min(len(true_all), lay.sparse_size)
                assert lids[t, b, k0:k1].tolist() == grad_all[: k1 - k0].tolist()
                assert k1 == min(len(true_all) + len(grad_all), lay.sparse_size)
                assert (lids[t, b, :k1] < lay.n_neurons).all()


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_training_reduces_the_loss(optimizer: str) -> None:
    # two classes told apart by which half of the inputs fires
    spec = SNNSpec(n_inputs=20, input_sparse_size=10, batch_size=8, n_timesteps=20, optimizer=optimizer,
                   layers=[LayerSpec(n_neurons=16, sparse_size=8, connection_density=0.8),
                           LayerSpec(n_neurons=2, sparse_size=2)])  # fmt: skip
    rng = np.random.default_rng(0)
    labels = np.arange(8) % 2
    ids = np.zeros((20, 8, 10), np.int32)
    counts = np.zeros((20, 8), np.int32)
    for t, b in np.ndindex(20, 8):
        pick = np.sort(rng.choice(10, 4, replace=False)) + 10 * labels[b]
        ids[t, b, :4], counts[t, b] = pick, 4
    ws = init_weights(spec, 0, dtype=np.float64)
    mask = connection_mask(spec, 0)
    state, losses = None, []
    for _ in range(30):
        ws, state, run = train_step(spec, ws, ids, counts, labels, lr=0.02 if optimizer == "adam" else 5.0,
                                    state=state, second_threshold=-100.0)  # fmt: skip
        losses.append(run.loss)
    assert state.step == 30 and losses[-1] < 0.5 * losses[0]
    assert (ws[0][~mask] == 0).all()
