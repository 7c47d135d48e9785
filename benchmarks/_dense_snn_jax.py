"""The dense SNN training step in JAX, run two ways: the paper's loop and an ideal program.

* ``scan`` -- the structure of the paper's GPU baseline (GSNN KU, BS: a ``tf.keras.layers.RNN``
  over the authors' dense cell, ``jit_compile=True``, ``unroll=False``): the cell steps every
  layer once per time step inside ``jax.lax.scan``, which XLA compiles to a while loop, and
  its gradient to a second while loop that reads the saved intermediates back. The input
  batch is copied from host memory every step (Keras' ``next(iterator)`` runs outside the
  compiled step). The surrogate has one threshold, as in the authors' GPU cell.
* ``unrolled`` -- the same arithmetic with the time loop unrolled at trace time, so XLA sees
  one straight-line program it can fuse; the input stays on the device. An ideal program,
  not the paper's.

A current XLA may run the while loop without the per-iteration host round trip of the 2022
runtime (command buffers, a trip count it can prove), so ``scan`` measured today is a lower
bound on the paper's baseline, not a replay of it (docs/gpu_baseline.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

LOOPS = ("scan", "unrolled")


def import_jax() -> Any:
    """The ``jax`` module, or None when it is not installed."""
    try:
        import jax
    except ImportError:
        return None
    return jax


def make_jax_trainer(
    problem: Any, optimizer: str, loop: str, precision: str, consts: dict[str, float]
) -> tuple[Callable[[], float], str, Callable[[], list[np.ndarray]]]:
    """Return ``(step, device_name, weights)``: ``step()`` runs one training step and returns the
    loss (synchronised); ``weights()`` copies the current weights to the host (for the tests)."""
    import jax
    import jax.numpy as jnp

    if loop not in LOOPS:
        raise ValueError(f"loop: {loop!r} is not one of {', '.join(LOOPS)}")
    alpha, th1, th2, beta = consts["alpha"], consts["theta1"], consts["theta2"], consts["beta"]
    c = consts["input_scale"] * (1.0 - alpha)
    two_thresholds = loop == "unrolled"  # the authors' GPU cell gates on theta1 only

    @jax.custom_vjp
    def spike(v: Any) -> Any:
        return (v > th1).astype(v.dtype)

    def spike_fwd(v: Any) -> tuple[Any, Any]:
        return spike(v), v

    def spike_bwd(v: Any, g: Any) -> tuple[Any]:
        s = g / (beta * jnp.abs(v - th1) + 1.0) ** 2
        return (s * (v > th2) if two_thresholds else s,)

    spike.defvjp(spike_fwd, spike_bwd)

    def cell(ws: list[Any], state: tuple[list[Any], list[Any]], x_t: Any) -> tuple[tuple[list[Any], list[Any]], Any]:
        vs, ss = state
        new_v, new_s = [], []
        for li, w in enumerate(ws):
            inp = x_t if li == 0 else ss[li - 1]  # the layer below's spikes of step t-1
            v = alpha * vs[li] * (1.0 - jax.lax.stop_gradient(ss[li])) + c * (inp @ w)
            new_v.append(v)
            new_s.append(spike(v))
        return (new_v, new_s), new_s[-1]

    def loss_fn(ws: list[Any], x: Any, y: Any) -> Any:
        b = x.shape[1]
        zeros = [jnp.zeros((b, w.shape[1]), x.dtype) for w in ws]
        state = (zeros, list(zeros))
        if loop == "scan":
            _, out = jax.lax.scan(lambda st, xt: cell(ws, st, xt), state, x)
            logits = out.sum(axis=0)
        else:
            logits = jnp.zeros((b, ws[-1].shape[1]), x.dtype)
            for t in range(x.shape[0]):
                state, s_last = cell(ws, state, x[t])
                logits = logits + s_last
        logp = jax.nn.log_softmax(logits)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    lr, b1, b2, eps = consts["lr"], consts["adam_b1"], consts["adam_b2"], consts["adam_eps"]

    def train_step(ws: list[Any], m: list[Any], v: list[Any], t: Any, x: Any, y: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(ws, x, y)
        if optimizer == "sgd":
            return [w - lr * g for w, g in zip(ws, grads, strict=True)], m, v, t, loss
        t = t + 1.0
        lr_t = lr * jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        m = [b1 * mi + (1.0 - b1) * g for mi, g in zip(m, grads, strict=True)]
        v = [b2 * vi + (1.0 - b2) * g * g for vi, g in zip(v, grads, strict=True)]
        ws = [w - lr_t * mi / (jnp.sqrt(vi) + eps) for w, mi, vi in zip(ws, m, v, strict=True)]
        return ws, m, v, t, loss

    jax_precision = "tensorfloat32" if precision == "tf32" else "float32"
    with jax.default_matmul_precision(jax_precision):
        compiled = jax.jit(train_step)
    dev = jax.devices()[0]
    state: dict[str, Any] = {
        "ws": [jax.device_put(w) for w in problem.weights],
        "m": [jnp.zeros(w.shape, w.dtype) for w in problem.weights],
        "v": [jnp.zeros(w.shape, w.dtype) for w in problem.weights],
        "t": jnp.zeros((), problem.weights[0].dtype),
    }
    x_host = np.ascontiguousarray(problem.x)
    x_dev = jax.device_put(x_host)
    y_dev = jax.device_put(problem.y.astype(np.int32))

    def step() -> float:
        x = jax.device_put(x_host) if loop == "scan" else x_dev  # Keras copies the batch every step
        with jax.default_matmul_precision(jax_precision):
            ws, m, v, t, loss = compiled(state["ws"], state["m"], state["v"], state["t"], x, y_dev)
        state.update(ws=ws, m=m, v=v, t=t)
        return float(loss)  # blocks until the step is done

    def weights() -> list[np.ndarray]:
        return [np.asarray(w) for w in state["ws"]]

    return step, f"{dev.platform}:{getattr(dev, 'device_kind', dev.platform)}", weights
