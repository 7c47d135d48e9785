"""The kernels of one dense SNN BPTT training step on a GPU, with their FLOP and byte counts.

The model of the step (dense reference of GSNN PC/CC and KU: the LIF model, its thresholds
and the loss), per layer ``l`` of ``N_l`` neurons with input width ``M = N_{l-1}``, batch
``B``, ``c = 10 (1 - alpha)``::

    X_t   = x_t (l = 1)  or  S^{l-1}_{t-1} (l > 1, one-step delay; zeros at t = 0)
    V_t   = alpha * V_{t-1} * (1 - sg(S_{t-1})) + c * X_t @ W        (sg = stop-gradient)
    S_t   = H(V_t - theta1)      surrogate dS/dV = H(V - theta2) / (beta |V - theta1| + 1)^2
    logits = sum_t S^L_t,  loss = mean softmax cross-entropy

Float32 throughout (4 bytes per element). Byte counts add every operand a kernel reads
and every result it writes, once per launch (no cache reuse between kernels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from mimdsim.snn.model.spec import SNNSpec

__all__ = ["BYTES_PER_FLOAT", "Kernel", "gpu_kernel_list"]

BYTES_PER_FLOAT = 4
"""float32: every tensor of the dense baseline is float32, spikes included."""

Phase = Literal["fwd", "bwd", "update"]
KernelKind = Literal["matmul", "elementwise", "reduce", "fill"]


@dataclass(frozen=True)
class Kernel:
    """One GPU kernel of the training step, launched ``launches`` times per step.

    ``flops`` and ``bytes`` are totals over all ``launches`` (identical) launches.
    ``kind`` picks the peak: ``matmul`` uses the matmul rate, everything else FP32.
    ``shape`` describes one launch, e.g. ``[48,2312]x[2312,1466]``.
    """

    name: str
    phase: Phase
    flops: int
    bytes: int
    launches: int
    kind: KernelKind = "elementwise"
    shape: str = ""
    in_loop: bool = False
    """Launched inside the forward or the gradient time loop (once or more per iteration)."""

    @property
    def flops_per_launch(self) -> float:
        """FLOPs of one launch."""
        return self.flops / self.launches

    @property
    def bytes_per_launch(self) -> float:
        """Bytes moved by one launch."""
        return self.bytes / self.launches


# FLOPs per element of the fused elementwise kernels (see gpu_kernel_list for the derivations).
LIF_FWD_FLOPS = 6
LIF_BWD_FLOPS = 12
ADAM_FLOPS = 12
SGD_FLOPS = 2


def gpu_kernel_list(spec: SNNSpec, *, loop_kernels: bool = False, two_thresholds: bool = True) -> list[Kernel]:
    """Every kernel of one dense BPTT training step of ``spec``, in execution order.

    ``loop_kernels`` adds the Keras RNN loop's own kernels per time step
    (:func:`mimdsim.snn.gpu.frameworks.loop_kernel_counts`): ``fwd_loop`` (condition,
    counter: 1 FLOP and 8 B each), ``fwd_input_read`` (the TensorArray read of x_t,
    ``8 B N_in`` bytes), per layer ``fwd_out_write_l``, ``fwd_push_v_l``, ``fwd_push_s_l``
    (``8BN`` bytes each); ``bwd_loop`` (2), ``bwd_grad_read`` (``8BC``), per layer
    ``bwd_pop_v_l``, ``bwd_pop_s_l`` (``8BN``). ``two_thresholds=False`` drops the θ2 mask
    from the surrogate (11 FLOPs per element instead of 12): the authors' GPU cell.

    Per time step, forward, for each layer ``l`` (``M = N_{l-1}``, ``N = N_l``, T launches each):

    * ``fwd_matmul_l{l}``: ``I = X_t @ W``, [B,M]x[M,N]. FLOPs ``2BMN``;
      bytes ``4(BM + MN + BN)`` (read X, read W, write I).
    * ``fwd_lif_l{l}``: one XLA loop fusion, ``V_t = alpha V_{t-1} (1 - S_{t-1}) + c I`` then
      ``S_t = V_t > theta1``. FLOPs ``6BN`` (1-S, alpha*V, *(1-S), c*I, +, compare);
      bytes ``20BN`` (read V_{t-1}, S_{t-1}, I; write V_t, S_t -- written straight into the
      [T,B,N] histories that BPTT reads, so no extra store kernel).

    After the loop (1 launch each, C = N_L classes):

    * ``fwd_readout_sum``: ``logits = sum_t S^L_t``. FLOPs ``TBC``; bytes ``4(TBC + BC)``.
    * ``fwd_loss_xent``: mean softmax cross-entropy. FLOPs ``4BC`` (max, subtract, exp, sum);
      bytes ``4(BC + B + 1)`` (read logits, labels; write the loss).
    * ``bwd_loss_grad``: ``dlogits = (softmax - onehot) / B``. FLOPs ``5BC``; bytes ``4(2BC + B)``.
      dL/dS^L_t = dlogits for every t, broadcast into the consumer (no kernel).
    * ``bwd_init_l{l}``: zero the dW accumulator and the dV carry. Bytes ``4(MN + BN)``.

    Per time step, in reverse, for each layer from the last (T launches each):

    * ``bwd_dv_l{l}``: ``dV_t = G_t H(V_t-theta2)/(beta|V_t-theta1|+1)^2 + alpha (1-S_t) dV_{t+1}``,
      with G_t = dlogits (last layer) or dL/dX^{l+1}_{t+1} (from the previous reverse step).
      FLOPs ``12BN`` (surrogate 8: sub, abs, mul, add, square, divide, mask, times G;
      chain 4: 1-S, alpha*, times dV_{t+1}, add); bytes ``20BN`` (read G, V_t, S_t, dV_{t+1};
      write dV_t). The factor c of ``dI = c dV`` is the GEMMs' alpha scalar.
    * ``bwd_dw_l{l}``: ``dW += X_t^T (c dV_t)``, [M,B]x[B,N] with beta = 1. FLOPs ``2BMN + MN``;
      bytes ``4(BM + BN + 2MN)`` (read X, dV; read and write dW).
    * ``bwd_dx_l{l}`` (layers 2..L only; no gradient w.r.t. the data): ``dX = (c dV_t) W^T``,
      [B,N]x[N,M]. FLOPs ``2BNM``; bytes ``4(BN + NM + BM)``.

    Update (1 launch each):

    * ``update_step``: step counter (and, for Adam, the bias-corrected rate). FLOPs 1 (SGD) or
      8 (Adam: t+1, two powers, two 1-x, sqrt, ratio, times lr); bytes 8 or 12.
    * ``update_adam_l{l}``: FLOPs ``12MN`` (m: 3, v: 4, W: sqrt, +eps, divide, times lr, subtract);
      bytes ``28MN`` (read W, g, m, v; write W, m, v). Or ``update_sgd_l{l}``: FLOPs ``2MN``;
      bytes ``12MN`` (read W, g; write W).

    Examples
    --------
    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> net = snn_from_sizes([4, 3, 2], max_activity=0.5, input_sparse_size=2, batch_size=2, n_timesteps=2)
    >>> ks = gpu_kernel_list(net)
    >>> [(k.name, k.flops, k.bytes, k.launches) for k in ks[:2]]
    [('fwd_matmul_l1', 96, 208, 2), ('fwd_lif_l1', 72, 240, 2)]
    >>> sum(k.launches for k in ks)  # (4 fwd + 5 bwd per time step) x 2 steps + 8 once
    26
    """
    f = BYTES_PER_FLOAT
    b, t = spec.batch_size, spec.n_timesteps
    sizes = spec.layer_sizes
    n_layers = len(sizes) - 1
    c = sizes[-1]
    out: list[Kernel] = []

    def each_step(name: str, phase: Phase, kind: KernelKind, shape: str, flops: int, nbytes: int) -> None:
        """A kernel launched once per time step; ``flops`` and ``nbytes`` are per launch."""
        out.append(Kernel(name, phase, flops * t, nbytes * t, t, kind, shape, in_loop=True))

    def once(name: str, phase: Phase, kind: KernelKind, shape: str, flops: int, nbytes: int) -> None:
        out.append(Kernel(name, phase, flops, nbytes, 1, kind, shape))

    # forward, per time step: all layers (each reads only the previous step's spikes)
    if loop_kernels:
        each_step("fwd_loop", "fwd", "elementwise", "[1] x 2", 2, 16)
        out[-1] = replace(out[-1], launches=2 * t)
        each_step("fwd_input_read", "fwd", "fill", f"[{b},{sizes[0]}]", 0, 2 * f * b * sizes[0])
    for li in range(1, n_layers + 1):
        m, n = sizes[li - 1], sizes[li]
        each_step(f"fwd_matmul_l{li}", "fwd", "matmul", f"[{b},{m}]x[{m},{n}]", 2 * b * m * n, f * (b * m + m * n + b * n))
        each_step(f"fwd_lif_l{li}", "fwd", "elementwise", f"[{b},{n}]", LIF_FWD_FLOPS * b * n, f * 5 * b * n)
        if loop_kernels:
            for what in ("out_write", "push_v", "push_s"):
                each_step(f"fwd_{what}_l{li}", "fwd", "fill", f"[{b},{n}]", 0, 2 * f * b * n)
    # readout and loss, once
    once("fwd_readout_sum", "fwd", "reduce", f"[{t},{b},{c}]", t * b * c, f * (t * b * c + b * c))
    once("fwd_loss_xent", "fwd", "reduce", f"[{b},{c}]", 4 * b * c, f * (b * c + b + 1))
    once("bwd_loss_grad", "bwd", "elementwise", f"[{b},{c}]", 5 * b * c, f * (2 * b * c + b))
    for li in range(n_layers, 0, -1):
        m, n = sizes[li - 1], sizes[li]
        once(f"bwd_init_l{li}", "bwd", "fill", f"[{m},{n}]+[{b},{n}]", 0, f * (m * n + b * n))
    # backward, per time step in reverse: layers from the last
    if loop_kernels:
        each_step("bwd_loop", "bwd", "elementwise", "[1] x 2", 2, 16)
        out[-1] = replace(out[-1], launches=2 * t)
        each_step("bwd_grad_read", "bwd", "fill", f"[{b},{c}]", 0, 2 * f * b * c)
    dv_flops = LIF_BWD_FLOPS if two_thresholds else LIF_BWD_FLOPS - 1
    for li in range(n_layers, 0, -1):
        m, n = sizes[li - 1], sizes[li]
        if loop_kernels:
            for what in ("pop_v", "pop_s"):
                each_step(f"bwd_{what}_l{li}", "bwd", "fill", f"[{b},{n}]", 0, 2 * f * b * n)
        each_step(f"bwd_dv_l{li}", "bwd", "elementwise", f"[{b},{n}]", dv_flops * b * n, f * 5 * b * n)
        each_step(
            f"bwd_dw_l{li}",
            "bwd",
            "matmul",
            f"[{m},{b}]x[{b},{n}]",
            2 * b * m * n + m * n,
            f * (b * m + b * n + 2 * m * n),
        )
        if li > 1:
            each_step(f"bwd_dx_l{li}", "bwd", "matmul", f"[{b},{n}]x[{n},{m}]", 2 * b * n * m, f * (b * n + n * m + b * m))
    # optimizer, once
    adam = spec.optimizer == "adam"
    once("update_step", "update", "elementwise", "[1]", 8 if adam else 1, 12 if adam else 8)
    for li in range(1, n_layers + 1):
        m, n = sizes[li - 1], sizes[li]
        if adam:
            once(f"update_adam_l{li}", "update", "elementwise", f"[{m},{n}]", ADAM_FLOPS * m * n, f * 7 * m * n)
        else:
            once(f"update_sgd_l{li}", "update", "elementwise", f"[{m},{n}]", SGD_FLOPS * m * n, f * 3 * m * n)
    return out
