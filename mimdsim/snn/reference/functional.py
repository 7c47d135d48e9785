r"""Functional sparse SNN model of the seed paper: LIF layers on sparse spike tensors, with BPTT.

This is the numerical model the IPU op computes (GSNN PC and CC), written for a CPU
with numpy and numba. It is the ground truth for spike counts (which drive the simulator's
data-dependent costs) and for the training math; :mod:`mimdsim.snn.reference.dense` checks it.

Sparse spike tensors
--------------------
One layer's output at one step is ``ids[B, S]`` plus ``counts[B, 2]``: ``counts[b, 0]`` true
spikes (``V > θ1``) sit in ``ids[b, :counts[b, 0]]`` and gradient-only entries
(``θ2 < V <= θ1``) follow up to ``counts[b, 1]``. Each block is sorted by neuron index.
Overflow: true spikes are taken first, scanning neurons from index 0, until ``S`` slots are
full; gradient-only entries then fill what is left, again from index 0. So true spikes take
priority and lower neuron indices win. Slots from ``counts[b, 1]`` on hold 0 (padding).
The network input is ``ids[T, B, S_in]`` plus ``counts[T, B]`` (every input entry is a true
spike). Sequences carry a leading time axis: ``ids[T, B, S]``, ``counts[T, B, 2]``.

Forward pass (GSNN CC; KU's dense model is the same)
-------------------
Layer ``l`` (weights ``W[in, out]``, ``c = input_scale·(1-α)``) at step ``t``::

    I_t[n] = Σ_{i < k_t} W[id_i, n]               (true input spikes only)
    V_t    = α·V_{t-1}·(1 - H(V_{t-1} - θ1)) + c·I_t,   V_{-1} = 0
    S_t    = H(V_t - θ1)                           (H(x) = 1 for x > 0)

Layer 0's input at step ``t`` is the data at ``t``; layer ``l >= 1`` receives layer ``l-1``'s
true spikes of step ``t-1`` (nothing at ``t = 0``). Because of this one-step delay, layer
``l``'s whole sequence depends only on layer ``l-1``'s whole sequence, so the code runs the
network layer by layer, each over all ``T`` steps.

Loss (GSNN KU): ``logits[b, n] = Σ_t S^L_t[b, n]`` (true output spikes), and
``L = (1/B)·Σ_b -log softmax(logits[b])[y_b]``.

Backward pass: derivation
-------------------------
The reset is a stop-gradient *subtraction*, as in the authors' dense TF reference
(``V ← V - stop_gradient(V·H(V - θ1))``) and in the IPU op (``dL/dV *= α``)::

    V_t = α·(V_{t-1} - sg(V_{t-1}·S_{t-1})) + c·I_t   ⇒   ∂V_t/∂V_{t-1} = α

(The value equals the multiplicative form above; its derivative is α, not α·(1 - S_{t-1}).)
The spike derivative is the SuperSpike surrogate, kept only for neurons listed in the sparse
output (slot ``i < counts[1]``; the dense equivalent is the mask ``H(V - θ2)``)::

    dS_t/dV_t ≈ σ'(V_t) = 1 / (β·|V_t - θ1| + 1)²

Let ``e^l_t[n] = ∂L/∂S^l_t[n]`` be the gradient arriving directly on the spike output (not
through the layer's own future) and ``δ^l_t = dL/dV^l_t`` the total state gradient. Then,
in reverse time with ``δ^l_T = 0``::

    δ^l_t = α·δ^l_{t+1} + e^l_t·σ'(V^l_t)            (V_{t+1} depends on V_t through the leak;
                                                      S_t through the surrogate)
    ĝ^l_t = c·δ^l_t                                  (= dL/dI^l_t, since ∂V_t/∂I_t = c)
    dL/dW^l[j, n] = Σ_{t, b} x^l_t[b, j]·ĝ^l_t[b, n]   (I_t[n] = Σ_j x_t[j]·W[j, n])
    dL/dx^l_t[b, j] = Σ_n W^l[j, n]·ĝ^l_t[b, n]

with ``x^l_t`` the dense 0/1 input of layer ``l`` at ``t``. In sparse form the weight
gradient adds ``ĝ^l_t[b]`` to row ``W[id, :]`` for each *true* input id, and the input-spike
gradient is computed for every listed input slot ``i < counts[1]`` (gradient-only entries
included: their ``x`` is 0 in the forward pass, but the surrogate gives them a gradient).
The sources of ``e``:

* output layer: ``e^L_t[b, n] = ∂L/∂logits[b, n] = (softmax(logits[b])[n] - [n = y_b]) / B``
  for every ``t``;
* hidden layer ``l < L``: ``S^l_t`` is the input ``x^{l+1}_{t+1}`` (one-step delay), so
  ``e^l_t = dL/dx^{l+1}_{t+1}`` (0 for ``t = T-1``), read per slot.

Connectivity masks (:mod:`mimdsim.snn.model.connectivity`) zero the masked weights at
initialisation and in every gradient, so masked weights stay 0 under any update.

Examples
--------
>>> from mimdsim.snn.model.spec import snn_from_sizes
>>> from mimdsim.snn.reference.data import poisson_input
>>> spec = snn_from_sizes([20, 8, 3], max_activity=0.5, input_sparse_size=6, batch_size=2, n_timesteps=5)
>>> w = init_weights(spec, seed=0)
>>> ids, counts = poisson_input(spec, rate=0.2, seed=0)
>>> run = run_sparse(spec, w, ids, counts, labels=np.array([0, 2]))
>>> run.ids[0].shape, run.counts[1].shape, run.weight_grads[0].shape
((5, 2, 4), (5, 2, 2), (20, 8))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.snn.model.connectivity import connection_mask
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.snn.reference.lif_kernels import backward_layer, forward_layer
from mimdsim.snn.reference.weights import FLOATS, init_weights, iter_weights, seeded_weights

__all__ = [
    "SparseRun",
    "OptimizerState",
    "train_step",
    "connection_mask",
    "init_weights",
    "iter_weights",
    "seeded_weights",
    "run_sparse",
    "sparse_to_dense",
    "superspike",
    "second_thresholds",
]


@dataclass(frozen=True, eq=False)
class SparseRun:
    """Result of :func:`run_sparse`: spike sequences, states, loss and gradients.

    Attributes
    ----------
    ids : tuple of ndarray
        Per layer ``[T, B, S_l]`` int32 spike ids (true spikes, then gradient-only entries).
    counts : tuple of ndarray
        Per layer ``[T, B, 2]`` int32: true spikes, then true + gradient-only entries.
    states : tuple of ndarray
        Per layer ``[T, B, N_l]`` membrane potentials after each step (empty tuple when run
        with ``keep_states=False``).
    logits : ndarray
        ``[B, C]`` true output spikes summed over time (weights' dtype).
    loss : float or None
        Mean softmax cross-entropy; None when no labels were given.
    weight_grads : tuple of ndarray or None
        Per layer ``dL/dW`` ``[N_{l-1}, N_l]``; None without labels.
    spike_grads : tuple of ndarray or None
        Per layer ``[T, B, S_l]`` incoming gradient of each output slot (``e`` in the module
        docstring; 0 beyond ``counts[..., 1]``); None without labels.
    """

    ids: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    states: tuple[np.ndarray, ...]
    logits: np.ndarray
    loss: float | None
    weight_grads: tuple[np.ndarray, ...] | None
    spike_grads: tuple[np.ndarray, ...] | None


def superspike(v: np.ndarray, threshold: float, beta: float) -> np.ndarray:
    """SuperSpike surrogate ``dS/dV = 1 / (β·|V - θ1| + 1)²`` (elementwise, dtype of ``v``).

    >>> superspike(np.array([1.0, 1.5, 0.5]), 1.0, 10.0).tolist()
    [1.0, 0.027777777777777776, 0.027777777777777776]
    """
    v = np.asarray(v)
    d = v.dtype.type(beta) * np.abs(v - v.dtype.type(threshold)) + 1
    return 1 / (d * d)


def second_thresholds(spec: SNNSpec, second_threshold: float | Sequence[float] | None) -> tuple[float, ...]:
    """Per-layer θ2: the spec's (each layer's own or the network's), one override for all layers, or one value per layer.

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([6, 4, 2], max_activity=0.5, input_sparse_size=3, batch_size=1, n_timesteps=1)
    >>> second_thresholds(spec, None), second_thresholds(spec, [0.5, -100])
    ((0.9, 0.9), (0.5, -100.0))
    """
    n = len(spec.layers)
    if second_threshold is None:
        values = list(spec.layer_second_thresholds)
    elif np.isscalar(second_threshold):
        values = [float(second_threshold)] * n  # type: ignore[arg-type]
    else:
        values = [float(v) for v in second_threshold]  # type: ignore[union-attr]
        if len(values) != n:
            raise ConfigError(f"second_threshold: {len(values)} values given for {n} layers")
    for v in values:
        if not v <= spec.threshold:
            raise ConfigError(f"second_threshold: {v!r} exceeds threshold {spec.threshold}")
    return tuple(values)


def sparse_to_dense(ids: np.ndarray, counts: np.ndarray, n_neurons: int, *, dtype: type = np.float32) -> np.ndarray:
    """Dense 0/1 spikes ``[..., N]`` from sparse ``ids[..., S]`` and true counts ``counts[...]``.

    ``counts`` may also be a ``[..., 2]`` layer-output count array (its first column is used).

    >>> sparse_to_dense(np.array([[3, 1, 0]]), np.array([[2, 3]]), 5)
    array([[0., 1., 0., 1., 0.]], dtype=float32)
    """
    ids = np.asarray(ids)
    counts = np.asarray(counts)
    if counts.ndim == ids.ndim:
        counts = counts[..., 0]
    keep = np.arange(ids.shape[-1]) < counts[..., None]
    out = np.zeros((*ids.shape[:-1], n_neurons), dtype=dtype)
    lead = np.nonzero(keep)
    out[(*lead[:-1], ids[keep])] = 1
    return out


def run_sparse(
    spec: SNNSpec,
    weights: Sequence[np.ndarray],
    input_ids: np.ndarray,
    input_counts: np.ndarray,
    labels: np.ndarray | None,
    *,
    second_threshold: float | Sequence[float] | None = None,
    keep_states: bool = True,
) -> SparseRun:
    """Run the sparse network over ``T`` steps; with labels, also the loss and BPTT gradients.

    Parameters
    ----------
    spec : SNNSpec
        Network description (sizes, sparse sizes, α, θ1, θ2, β, input scale).
    weights : sequence of ndarray
        Per layer ``[N_{l-1}, N_l]``, all float32 or all float64; the run uses that dtype.
    input_ids : ndarray
        ``[T, B, S_in]`` integer input spike ids; entries beyond the count are ignored.
    input_counts : ndarray
        ``[T, B]`` number of valid input ids, each in ``0..S_in``.
    labels : ndarray or None
        ``[B]`` class indices in ``0..C-1``; None runs the forward pass only.
    second_threshold : float or sequence of float, optional
        θ2 override (one value, or one per layer); default ``spec.second_threshold``.
    keep_states : bool
        Keep the membrane sequences; must be True when labels are given.

    Returns
    -------
    SparseRun

    Raises
    ------
    ConfigError
        When an array's shape, dtype or values do not fit ``spec``.
    """
    L = len(spec.layers)
    ws = _check_weights(spec, weights)
    dt = ws[0].dtype.type
    in_ids, in_counts = _check_input(spec, input_ids, input_counts)
    y = None if labels is None else _check_labels(spec, labels)
    if y is not None and not keep_states:
        raise ConfigError("keep_states: must be True when labels are given (the backward pass needs the states)")
    ids_seq, counts_seq, states_seq = _forward(spec, ws, in_ids, in_counts, second_threshold, keep_states)
    alpha, scale, th1 = dt(spec.decay), dt(spec.input_scale * (1.0 - spec.decay)), dt(spec.threshold)
    logits = sparse_to_dense(ids_seq[-1], counts_seq[-1], spec.layers[-1].n_neurons, dtype=dt).sum(axis=0)
    if y is None:
        return SparseRun(tuple(ids_seq), tuple(counts_seq), tuple(states_seq), logits, None, None, None)

    loss, dlogits = _softmax_cross_entropy(logits, y)
    slot_grad = _gather_slots(dlogits.astype(dt), ids_seq[-1], counts_seq[-1])
    grads: list[np.ndarray] = [np.empty(0)] * L
    spike_grads: list[np.ndarray] = [np.empty(0)] * L
    beta = dt(spec.surrogate_beta)
    for l in range(L - 1, -1, -1):
        spike_grads[l] = slot_grad
        if l == 0:
            src_ids, src_true, src_valid, shift = in_ids, in_counts, in_counts, 0
        else:
            prev = counts_seq[l - 1]
            src_ids, shift = ids_seq[l - 1], 1
            src_true, src_valid = np.ascontiguousarray(prev[..., 0]), np.ascontiguousarray(prev[..., 1])
        dw = np.zeros_like(ws[l])
        in_grad = np.zeros(src_ids.shape if l > 0 else (0, 0, 0), dtype=dt)
        backward_layer(
            ws[l], src_ids, src_true, src_valid, shift, ids_seq[l], counts_seq[l], states_seq[l], slot_grad,
            alpha, scale, th1, beta, dw, in_grad, l > 0,
        )  # fmt: skip
        mask = connection_mask(spec, l)
        if mask is not None:
            dw *= mask
        grads[l] = dw
        slot_grad = in_grad
    return SparseRun(tuple(ids_seq), tuple(counts_seq), tuple(states_seq), logits, loss, tuple(grads), tuple(spike_grads))


def _forward(
    spec: SNNSpec, weights: Iterable[np.ndarray], in_ids: np.ndarray, in_counts: np.ndarray,
    second_threshold: float | Sequence[float] | None, keep_states: bool,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """The forward pass layer by layer (each layer over all T steps): ids, counts and (if kept) states per layer.

    ``weights`` is consumed one layer at a time, so it may be :func:`iter_weights`.
    """
    T, B = spec.n_timesteps, spec.batch_size
    th2 = second_thresholds(spec, second_threshold)
    ids_seq: list[np.ndarray] = []
    counts_seq: list[np.ndarray] = []
    states_seq: list[np.ndarray] = []
    src_ids, src_true, shift = in_ids, in_counts, 0
    for l, (lay, w) in enumerate(zip(spec.layers, weights, strict=True)):
        dt = w.dtype.type
        alpha, scale, th1 = dt(spec.decay), dt(spec.input_scale * (1.0 - spec.decay)), dt(spec.threshold)
        ids = np.zeros((T, B, lay.sparse_size), dtype=np.int32)
        counts = np.zeros((T, B, 2), dtype=np.int32)
        states = np.zeros((T, B, lay.n_neurons) if keep_states else (0, 0, 0), dtype=dt)
        forward_layer(w, src_ids, src_true, shift, alpha, scale, th1, dt(th2[l]), ids, counts, states, keep_states)
        ids_seq.append(ids)
        counts_seq.append(counts)
        if keep_states:
            states_seq.append(states)
        src_ids, src_true, shift = ids, np.ascontiguousarray(counts[..., 0]), 1
    return ids_seq, counts_seq, states_seq


def forward_spikes(
    spec: SNNSpec, weights: Iterable[np.ndarray], input_ids: np.ndarray, input_counts: np.ndarray,
    *, second_threshold: float | Sequence[float] | None = None,
) -> SparseRun:  # fmt: skip
    """The forward pass only (ids and counts per layer, no states, no loss), with the
    weights taken one layer at a time (:func:`iter_weights`), so at most one layer's
    weights are held. The same ids and counts as :func:`run_sparse` with ``labels=None``.

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> from mimdsim.snn.reference.data import poisson_input
    >>> spec = snn_from_sizes([40, 20, 4], max_activity=0.5, input_sparse_size=8, batch_size=2, n_timesteps=4)
    >>> ids, counts = poisson_input(spec, 0.2, 0)
    >>> a = forward_spikes(spec, iter_weights(spec, 0), ids, counts)
    >>> b = run_sparse(spec, init_weights(spec, 0), ids, counts, None, keep_states=False)
    >>> all(np.array_equal(x, y) for x, y in zip(a.counts, b.counts))
    True
    """
    in_ids, in_counts = _check_input(spec, input_ids, input_counts)
    ids_seq, counts_seq, _ = _forward(spec, _checked_layers(spec, weights), in_ids, in_counts, second_threshold, False)
    logits = sparse_to_dense(ids_seq[-1], counts_seq[-1], spec.layers[-1].n_neurons).sum(axis=0)
    return SparseRun(tuple(ids_seq), tuple(counts_seq), (), logits, None, None, None)


def _checked_layers(spec: SNNSpec, weights: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Each layer's weights checked as it arrives (the checks of :func:`run_sparse`)."""
    sizes = spec.layer_sizes
    dt = None
    n = 0
    for l, w in enumerate(weights):
        n += 1
        w = np.asarray(w)
        if l >= len(spec.layers):
            break
        dt = w.dtype if dt is None else dt
        if dt.type not in FLOATS:
            raise ConfigError(f"weights[0]: dtype {dt} is not supported (allowed: float32, float64)")
        if w.shape != (sizes[l], sizes[l + 1]):
            raise ConfigError(f"weights[{l}]: shape {w.shape} does not match [N_{{l-1}}, N_l] = {(sizes[l], sizes[l + 1])}")
        if w.dtype != dt:
            raise ConfigError(f"weights[{l}]: dtype {w.dtype} differs from weights[0]'s {dt}")
        yield np.ascontiguousarray(w)
    if n != len(spec.layers):
        raise ConfigError(f"weights: {n} arrays given for {len(spec.layers)} layers")


@dataclass(frozen=True, eq=False)
class OptimizerState:
    """Adam moments (empty for SGD) and the number of updates applied so far."""

    step: int
    m: tuple[np.ndarray, ...] = ()
    v: tuple[np.ndarray, ...] = ()


ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-7  # Keras defaults, as the authors' runs used


def train_step(
    spec: SNNSpec,
    weights: Sequence[np.ndarray],
    input_ids: np.ndarray,
    input_counts: np.ndarray,
    labels: np.ndarray,
    *,
    lr: float,
    state: OptimizerState | None = None,
    second_threshold: float | Sequence[float] | None = None,
) -> tuple[list[np.ndarray], OptimizerState, SparseRun]:
    """One training step: :func:`run_sparse`, then an update with ``spec.optimizer``.

    SGD: ``W -= lr·g``. Adam (Kingma & Ba, Keras constants β1 = 0.9, β2 = 0.999,
    ε = 1e-7): ``m = β1·m + (1-β1)·g``, ``v = β2·v + (1-β2)·g²``,
    ``W -= lr·(m / (1-β1^k)) / (sqrt(v / (1-β2^k)) + ε)`` at update ``k``. Masked weights
    have zero gradient, hence zero moments, and stay 0. Returns the new weights (new arrays),
    the optimizer state to pass to the next call, and the run.
    """
    run = run_sparse(spec, weights, input_ids, input_counts, labels, second_threshold=second_threshold)
    assert run.weight_grads is not None
    k = (0 if state is None else state.step) + 1
    ws = [np.asarray(w) for w in weights]
    if spec.optimizer == "sgd":
        new = [w - w.dtype.type(lr) * g for w, g in zip(ws, run.weight_grads, strict=True)]
        return new, OptimizerState(k), run
    ms = [np.zeros_like(w) for w in ws] if state is None or not state.m else list(state.m)
    vs = [np.zeros_like(w) for w in ws] if state is None or not state.v else list(state.v)
    new = []
    for i, (w, g) in enumerate(zip(ws, run.weight_grads, strict=True)):
        ms[i] = ADAM_BETA1 * ms[i] + (1 - ADAM_BETA1) * g
        vs[i] = ADAM_BETA2 * vs[i] + (1 - ADAM_BETA2) * g * g
        m_hat = ms[i] / (1 - ADAM_BETA1**k)
        v_hat = vs[i] / (1 - ADAM_BETA2**k)
        new.append((w - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)).astype(w.dtype))
    return new, OptimizerState(k, tuple(ms), tuple(vs)), run


# --------------------------------------------------------------------------- checks


def _check_weights(spec: SNNSpec, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    return list(_checked_layers(spec, weights))


def _check_input(spec: SNNSpec, ids: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids, counts = np.asarray(ids), np.asarray(counts)
    T, B, S = spec.n_timesteps, spec.batch_size, spec.input_sparse_size
    if ids.shape != (T, B, S):
        raise ConfigError(f"input_ids: shape {ids.shape} does not match [T, B, S_in] = {(T, B, S)}")
    if counts.shape != (T, B):
        raise ConfigError(f"input_counts: shape {counts.shape} does not match [T, B] = {(T, B)}")
    if not (np.issubdtype(ids.dtype, np.integer) and np.issubdtype(counts.dtype, np.integer)):
        raise ConfigError(f"input_ids/input_counts: dtypes {ids.dtype}/{counts.dtype} are not integer")
    if counts.size and (counts.min() < 0 or counts.max() > S):
        raise ConfigError(f"input_counts: values {counts.min()}..{counts.max()} are outside 0..S_in = 0..{S}")
    used = np.where(np.arange(S) < counts[..., None], ids, 0)
    if used.size and (used.min() < 0 or used.max() >= spec.n_inputs):
        raise ConfigError(f"input_ids: ids {used.min()}..{used.max()} are outside 0..{spec.n_inputs - 1}")
    return np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(counts, dtype=np.int32)


def _check_labels(spec: SNNSpec, labels: np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    C = spec.layers[-1].n_neurons
    if y.shape != (spec.batch_size,) or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"labels: need {spec.batch_size} integer class ids, got shape {y.shape} dtype {y.dtype}")
    if y.min() < 0 or y.max() >= C:
        raise ConfigError(f"labels: values {y.min()}..{y.max()} are outside 0..{C - 1}")
    return y.astype(np.int64)


# --------------------------------------------------------------------------- loss


def _softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient ``(softmax - onehot) / B`` (float64)."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    B = len(y)
    loss = float(-logp[np.arange(B), y].mean())
    grad = np.exp(logp)
    grad[np.arange(B), y] -= 1.0
    return loss, grad / B


def _gather_slots(dense_grad: np.ndarray, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-slot gradient ``[T, B, S]``: ``dense_grad[b, id]`` for slots below ``counts[..., 1]``."""
    B = dense_grad.shape[0]
    vals = dense_grad[np.arange(B)[None, :, None], ids]
    valid = np.arange(ids.shape[-1]) < counts[..., 1:2]
    return np.ascontiguousarray(np.where(valid, vals, 0).astype(dense_grad.dtype))
