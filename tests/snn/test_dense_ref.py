"""Dense BPTT reference: exact agreement with the sparse model, finite differences, hand case."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim.errors import ConfigError
from mimdsim.snn.model.spec import LayerSpec, SNNSpec
from mimdsim.snn.reference.data import poisson_input
from mimdsim.snn.reference.dense import dense_input, run_dense
from mimdsim.snn.reference.functional import connection_mask, init_weights, run_sparse, sparse_to_dense


def full_spec(sizes: list[int], batch: int, steps: int, *, density: float = 1.0, **kw: float) -> SNNSpec:
    """A network with S = N everywhere (no truncation)."""
    layers = [LayerSpec(n_neurons=n, sparse_size=n, connection_density=density if i < len(sizes) - 2 else 1.0,
                        connection_seed=i) for i, n in enumerate(sizes[1:])]  # fmt: skip
    return SNNSpec(n_inputs=sizes[0], input_sparse_size=sizes[0], layers=layers, batch_size=batch,
                   n_timesteps=steps, **kw)  # fmt: skip


CASES = [
    # (spec, input rate, θ2): the authors' test size, a deeper net, a masked net, plain θ2 = 0.9
    (full_spec([16, 7, 2], 24, 100, weight_mul=4.0), 0.3, -100.0),
    (full_spec([30, 12, 9, 4], 3, 25, weight_mul=5.0), 0.3, -100.0),
    (full_spec([20, 10, 8, 3], 4, 20, density=0.5, weight_mul=6.0), 0.4, -100.0),
    (full_spec([24, 10, 5], 4, 30, weight_mul=5.0), 0.3, None),
]


@pytest.mark.parametrize(("spec", "rate", "th2"), CASES)
def test_sparse_equals_dense_when_nothing_is_truncated(spec: SNNSpec, rate: float, th2: float | None) -> None:
    ws = init_weights(spec, 7, dtype=np.float64)
    ids, counts = poisson_input(spec, rate, 7)
    labels = np.arange(spec.batch_size) % spec.layers[-1].n_neurons
    sp = run_sparse(spec, ws, ids, counts, labels, second_threshold=th2)
    masks = [connection_mask(spec, l) for l in range(len(spec.layers))]
    de = run_dense(spec, ws, dense_input(ids, counts, spec.n_inputs), labels, second_threshold=th2, masks=masks)
    assert sp.loss == pytest.approx(de.loss, rel=1e-12)
    for l, lay in enumerate(spec.layers):
        spikes = sparse_to_dense(sp.ids[l], sp.counts[l], lay.n_neurons, dtype=np.float64)
        assert spikes.any(), f"layer {l} never spikes: the case does not test anything"
        np.testing.assert_array_equal(spikes, de.spikes[l])
        np.testing.assert_allclose(sp.states[l], de.states[l], rtol=1e-10, atol=1e-12)
        g_sp, g_de = sp.weight_grads[l], de.weight_grads[l]
        assert np.abs(g_de).max() > 0
        assert np.abs(g_sp - g_de).max() <= 1e-5 * np.abs(g_de).max()
        # slot gradients = the dense spike gradient read at the listed ids
        t, b, s = np.nonzero(np.arange(lay.sparse_size) < sp.counts[l][..., 1:2])
        np.testing.assert_allclose(sp.spike_grads[l][t, b, s], de.spike_grads[l][t, b, sp.ids[l][t, b, s]],
                                   rtol=1e-9, atol=1e-15)  # fmt: skip


def test_float32_runs_agree_on_spikes() -> None:
    spec, rate, th2 = CASES[1]
    ws = init_weights(spec, 1)
    ids, counts = poisson_input(spec, rate, 1)
    sp = run_sparse(spec, ws, ids, counts, None, second_threshold=th2)
    de = run_dense(spec, ws, dense_input(ids, counts, spec.n_inputs, dtype=np.float32), None, second_threshold=th2)
    assert de.states[0].dtype == np.float32
    dense = [sparse_to_dense(sp.ids[l], sp.counts[l], spec.layer_sizes[l + 1]) for l in range(3)]
    same = [np.mean(d == s) for d, s in zip(dense, de.spikes, strict=True)]
    assert min(same) > 0.999


def test_dense_gradient_matches_finite_differences_of_smooth_network() -> None:
    spec = full_spec([5, 4, 3], 2, 6, weight_mul=0.5, threshold=2.5)
    rng = np.random.default_rng(0)
    ws = init_weights(spec, 0, dtype=np.float64)
    x = (rng.random((6, 2, 5)) < 0.5).astype(np.float64)
    y = np.array([0, 2])
    run = run_dense(spec, ws, x, y, second_threshold=-100.0, smooth=True)
    # no neuron may reset: there the stop-gradient differs from the true derivative on purpose
    assert max(v.max() for v in run.states) < spec.threshold and min(v.min() for v in run.states) < 0.0
    eps = 1e-6
    for l, w in enumerate(ws):
        fd = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus = [v.copy() for v in ws]
            minus = [v.copy() for v in ws]
            plus[l][idx] += eps
            minus[l][idx] -= eps
            lp = run_dense(spec, plus, x, y, second_threshold=-100.0, smooth=True).loss
            lm = run_dense(spec, minus, x, y, second_threshold=-100.0, smooth=True).loss
            fd[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(run.weight_grads[l], fd, rtol=1e-5, atol=1e-9)


def test_dense_two_step_neuron_by_hand() -> None:
    spec = SNNSpec(n_inputs=1, input_sparse_size=1, layers=[LayerSpec(n_neurons=2, sparse_size=2)],
                   batch_size=1, n_timesteps=2)  # fmt: skip
    a, c = 0.95, 10 * (1 - 0.95)
    w = np.array([[2.5, 0.2]])
    run = run_dense(spec, [w], np.ones((2, 1, 1)), np.array([1]), second_threshold=-100.0)
    v0 = c * w[0]
    v1 = np.array([c * w[0, 0], a * v0[1] + c * w[0, 1]])  # neuron 0 resets, then spikes again
    np.testing.assert_allclose(run.states[0][:, 0], [v0, v1], rtol=1e-12)
    p = np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum()
    dlog = p - [0, 1]

    def surr(v: np.ndarray) -> np.ndarray:
        return 1 / (10 * np.abs(v - 1) + 1) ** 2

    d1 = dlog * surr(v1)
    d0 = a * d1 + dlog * surr(v0)
    np.testing.assert_allclose(run.weight_grads[0][0], c * (d0 + d1), rtol=1e-12)


def test_bad_shapes() -> None:
    spec = full_spec([5, 4, 3], 2, 6)
    ws = init_weights(spec, 0)
    with pytest.raises(ConfigError, match="inputs: shape"):
        run_dense(spec, ws, np.zeros((6, 2, 4)), None)
    with pytest.raises(ConfigError, match="1 arrays given"):
        run_dense(spec, ws[:1], np.zeros((6, 2, 5)), None)
