r"""Dense BPTT reference of the seed paper's network, written independently of the sparse model.

Spikes are dense ``[B, N]`` vectors and every step is a matrix product, the way the authors'
TF reference cell (``pure_tf_lif_step_dense``) computes it. Per layer ``l`` and step ``t``::

    V_t = α·(V_{t-1} - sg(V_{t-1}·H(V_{t-1} - θ1))) + c·(x_t @ W),   c = input_scale·(1 - α)
    S_t = H(V_t - θ1)

with ``x_t`` the data for layer 0 and ``S^{l-1}_{t-1}`` (zeros at ``t = 0``) for ``l >= 1``.
Loss: softmax cross-entropy of ``logits = Σ_t S^L_t``, mean over the batch.

Backward, by the chain rule on that graph (``sg`` has zero derivative)::

    ∂L/∂logits = (softmax(logits) - onehot(y)) / B
    dL/dS^L_t  = ∂L/∂logits                          (every t)
    dL/dS^l_t  = (ĝ^{l+1}_{t+1}) @ W^{l+1}ᵀ           (l < L; 0 at t = T-1)
    δ_t        = α·δ_{t+1} + dL/dS_t · σ'(V_t) · H(V_t - θ2),   δ_T = 0
    ĝ_t        = c·δ_t
    dL/dW      = Σ_t x_tᵀ @ ĝ_t                       (then times the connectivity mask)

``σ'(V) = 1 / (β·|V - θ1| + 1)²`` (SuperSpike) stands in for ``dH/dV``. With ``smooth=True``
the forward spike is ``f(V - θ1)`` with ``f(u) = u / (β·|u| + 1)``, whose exact derivative
is σ'; while no neuron resets (``V <= θ1`` throughout) the gradient above is then the exact
gradient of that smooth network, which the tests check against finite differences. (Where a
neuron resets, the stop-gradient deliberately differs from the true derivative ``α·(1 - H)``.)

Example
-------
>>> from mimdsim.snn.model.spec import snn_from_sizes
>>> spec = snn_from_sizes([4, 3, 2], max_activity=1.0, input_sparse_size=4, batch_size=2, n_timesteps=3)
>>> rng = np.random.default_rng(0)
>>> ws = [rng.normal(size=(4, 3)), rng.normal(size=(3, 2))]
>>> x = (rng.random((3, 2, 4)) < 0.5).astype(float)
>>> run = run_dense(spec, ws, x, np.array([0, 1]))
>>> run.spikes[1].shape, [g.shape for g in run.weight_grads]
((3, 2, 2), [(4, 3), (3, 2)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["DenseRun", "run_dense", "dense_input"]


@dataclass(frozen=True, eq=False)
class DenseRun:
    """Result of :func:`run_dense`.

    Attributes
    ----------
    spikes, states : tuple of ndarray
        Per layer ``[T, B, N_l]``.
    logits : ndarray
        ``[B, C]``.
    loss : float or None
    weight_grads : tuple of ndarray or None
        Per layer ``[N_{l-1}, N_l]``.
    spike_grads : tuple of ndarray or None
        Per layer ``[T, B, N_l]`` gradient arriving on the spike output, ``dL/dS_t``.
    """

    spikes: tuple[np.ndarray, ...]
    states: tuple[np.ndarray, ...]
    logits: np.ndarray
    loss: float | None
    weight_grads: tuple[np.ndarray, ...] | None
    spike_grads: tuple[np.ndarray, ...] | None


def dense_input(ids: np.ndarray, counts: np.ndarray, n_inputs: int, *, dtype: type = np.float64) -> np.ndarray:
    """Dense ``[T, B, n_inputs]`` 0/1 input from sparse ``ids[T, B, S]`` and ``counts[T, B]``.

    >>> dense_input(np.array([[[2, 0]]]), np.array([[1]]), 3)
    array([[[0., 0., 1.]]])
    """
    ids, counts = np.asarray(ids), np.asarray(counts)
    out = np.zeros((*ids.shape[:2], n_inputs), dtype=dtype)
    for t in range(ids.shape[0]):
        for b in range(ids.shape[1]):
            out[t, b, ids[t, b, : counts[t, b]]] = 1
    return out


def run_dense(
    spec: SNNSpec,
    weights: Sequence[np.ndarray],
    inputs: np.ndarray,
    labels: np.ndarray | None,
    *,
    second_threshold: float | Sequence[float] | None = None,
    masks: Sequence[np.ndarray | None] | None = None,
    dtype: type | None = None,
    smooth: bool = False,
) -> DenseRun:
    """Dense forward pass and, with labels, BPTT gradients (formulas in the module docstring).

    Parameters
    ----------
    spec : SNNSpec
    weights : sequence of ndarray
        Per layer ``[N_{l-1}, N_l]``.
    inputs : ndarray
        ``[T, B, n_inputs]`` dense input spikes.
    labels : ndarray or None
        ``[B]`` class ids; None for the forward pass only.
    second_threshold : float or sequence of float, optional
        θ2 (one, or one per layer); default ``spec.layer_second_thresholds``.
    masks : sequence of (ndarray or None), optional
        Per-layer connectivity masks applied to the weight gradients.
    dtype : numpy float type, optional
        Computation dtype; default the first weight's dtype.
    smooth : bool
        Use the smooth spike ``f(V - θ1)`` instead of the step (for gradient checks).
    """
    L, T, B = len(spec.layers), spec.n_timesteps, spec.batch_size
    dt = np.dtype(dtype if dtype is not None else np.asarray(weights[0]).dtype).type
    if len(weights) != L:
        raise ConfigError(f"weights: {len(weights)} arrays given for {L} layers")
    ws = [np.asarray(w, dtype=dt) for w in weights]
    x_in = np.asarray(inputs, dtype=dt)
    if x_in.shape != (T, B, spec.n_inputs):
        raise ConfigError(f"inputs: shape {x_in.shape} does not match [T, B, n_inputs] = {(T, B, spec.n_inputs)}")
    if second_threshold is None:
        th2 = list(spec.layer_second_thresholds)
    elif np.isscalar(second_threshold):
        th2 = [second_threshold] * L  # type: ignore[list-item]  # np.isscalar narrows to numpy scalar types
    else:
        th2 = list(second_threshold)  # type: ignore[arg-type]
    alpha, c = dt(spec.decay), dt(spec.input_scale * (1.0 - spec.decay))
    th1, beta = dt(spec.threshold), dt(spec.surrogate_beta)

    def spike(v: np.ndarray) -> np.ndarray:
        u = v - th1
        return u / (beta * np.abs(u) + 1) if smooth else (u > 0).astype(dt)

    spikes = [np.zeros((T, B, lay.n_neurons), dtype=dt) for lay in spec.layers]
    states = [np.zeros((T, B, lay.n_neurons), dtype=dt) for lay in spec.layers]
    layer_inputs = [x_in] + [np.zeros((T, B, spec.layer_sizes[l]), dtype=dt) for l in range(1, L)]
    for t in range(T):
        for l in range(L):
            if l > 0 and t > 0:
                layer_inputs[l][t] = spikes[l - 1][t - 1]
            v_prev = states[l][t - 1] if t > 0 else np.zeros(spec.layers[l].n_neurons, dtype=dt)
            reset = v_prev * (v_prev > th1)
            v = alpha * (v_prev - reset) + c * (layer_inputs[l][t] @ ws[l])
            states[l][t] = v
            spikes[l][t] = spike(v)

    logits = spikes[-1].sum(axis=0)
    if labels is None:
        return DenseRun(tuple(spikes), tuple(states), logits, None, None, None)

    y = np.asarray(labels)
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = float(-np.log(p[np.arange(B), y]).mean())
    onehot = np.zeros_like(p)
    onehot[np.arange(B), y] = 1
    dlogits = ((p - onehot) / B).astype(dt)

    dS = [np.zeros_like(s) for s in spikes]
    dS[-1][:] = dlogits
    dws = [np.zeros_like(w) for w in ws]
    for l in range(L - 1, -1, -1):
        delta = np.zeros((B, spec.layers[l].n_neurons), dtype=dt)
        for t in range(T - 1, -1, -1):
            v = states[l][t]
            surrogate = 1 / (beta * np.abs(v - th1) + 1) ** 2 * (v > dt(th2[l]))
            delta = alpha * delta + dS[l][t] * surrogate
            ghat = c * delta
            dws[l] += layer_inputs[l][t].T @ ghat
            if l > 0 and t > 0:
                dS[l - 1][t - 1] = ghat @ ws[l].T
        if masks is not None and masks[l] is not None:
            dws[l] *= masks[l]
    return DenseRun(tuple(spikes), tuple(states), logits, loss, tuple(dws), tuple(dS))
