"""The functional model's numba kernels: one LIF layer's forward pass over all steps, and its BPTT in reverse time
(the equations are :mod:`mimdsim.snn.reference.functional`'s)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["backward_layer", "forward_layer"]


@njit(cache=True)
def forward_layer(
    w: np.ndarray, in_ids: np.ndarray, in_true: np.ndarray, shift: int,
    alpha: np.floating, scale: np.floating, th1: np.floating, th2: np.floating,
    ids_out: np.ndarray, counts_out: np.ndarray, states_out: np.ndarray, keep_states: bool,
) -> None:  # fmt: skip  # pragma: no cover - numba
    """One layer over all steps; input step for output step ``t`` is ``t - shift``."""
    T, B = in_true.shape
    N = w.shape[1]
    S = ids_out.shape[2]
    v = np.zeros(N, dtype=w.dtype)
    cur = np.zeros(N, dtype=w.dtype)
    for b in range(B):
        v[:] = 0
        for t in range(T):
            cur[:] = 0
            ts = t - shift
            if ts >= 0:
                for k in range(in_true[ts, b]):
                    row = in_ids[ts, b, k]
                    for n in range(N):
                        cur[n] += w[row, n]
            n_true = 0
            for n in range(N):
                x = v[n]
                x = (0 * x if x > th1 else alpha * x) + scale * cur[n]
                v[n] = x
                if x > th1 and n_true < S:
                    ids_out[t, b, n_true] = n
                    n_true += 1
            n_valid = n_true
            if n_valid < S:
                for n in range(N):
                    x = v[n]
                    if x > th2 and not x > th1:
                        ids_out[t, b, n_valid] = n
                        n_valid += 1
                        if n_valid == S:
                            break
            counts_out[t, b, 0] = n_true
            counts_out[t, b, 1] = n_valid
            if keep_states:
                states_out[t, b, :] = v


@njit(cache=True)
def backward_layer(
    w: np.ndarray, in_ids: np.ndarray, in_true: np.ndarray, in_valid: np.ndarray, shift: int,
    out_ids: np.ndarray, out_counts: np.ndarray, states: np.ndarray, slot_grad: np.ndarray,
    alpha: np.floating, scale: np.floating, th1: np.floating, beta: np.floating,
    dw: np.ndarray, in_grad: np.ndarray, want_in_grad: bool,
) -> None:  # fmt: skip  # pragma: no cover - numba
    """BPTT of one layer in reverse time (:mod:`mimdsim.snn.reference.functional`); accumulates ``dw``, fills ``in_grad``."""
    T, B = out_counts.shape[0], out_counts.shape[1]
    N = w.shape[1]
    delta = np.zeros(N, dtype=w.dtype)
    g = np.zeros(N, dtype=w.dtype)
    for b in range(B):
        delta[:] = 0
        for t in range(T - 1, -1, -1):
            for n in range(N):
                delta[n] *= alpha
            for i in range(out_counts[t, b, 1]):
                n = out_ids[t, b, i]
                d = beta * abs(states[t, b, n] - th1) + 1
                delta[n] += slot_grad[t, b, i] / (d * d)
            ts = t - shift
            if ts < 0:
                continue
            for n in range(N):
                g[n] = scale * delta[n]
            for k in range(in_true[ts, b]):
                row = in_ids[ts, b, k]
                for n in range(N):
                    dw[row, n] += g[n]
            if want_in_grad:
                for k in range(in_valid[ts, b]):
                    row = in_ids[ts, b, k]
                    acc = 0 * g[0]
                    for n in range(N):
                        acc += w[row, n] * g[n]
                    in_grad[ts, b, k] = acc
