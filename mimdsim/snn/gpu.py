"""Analytic model of the dense SNN BPTT training step on a GPU: the paper's baseline.

The paper compares its sparse IPU implementation with a dense TensorFlow 2 Keras RNN
compiled by XLA, float32, on an A100 (GSNN runfiles and BS @ 3e05811 (benchmark configurations) "GPU counterpart"). This module
writes out every kernel of one such training step -- forward over T time steps, BPTT in
reverse, weight update -- with its FLOP and byte counts, and costs each kernel on a
roofline plus a fixed launch latency::

    time(kernel) = max(flops / peak, bytes / bandwidth) + launches * kernel_latency_s

``peak`` is the TF32 tensor-core or the FP32 CUDA-core rate for matmuls (by
``GPUSpec.matmul_precision``) and the FP32 rate for everything else. The kernels run one
after another on one stream, so the step time is the sum. The kernel list, each formula
and the presets' sources are in docs/gpu_baseline.md.

The model of the step (dense reference of GSNN PC/CC and KU (the LIF model, its thresholds and the loss)), per layer ``l`` of
``N_l`` neurons with input width ``M = N_{l-1}``, batch ``B``, ``c = 10 (1 - alpha)``::

    X_t   = x_t (l = 1)  or  S^{l-1}_{t-1} (l > 1, one-step delay; zeros at t = 0)
    V_t   = alpha * V_{t-1} * (1 - sg(S_{t-1})) + c * X_t @ W        (sg = stop-gradient)
    S_t   = H(V_t - theta1)      surrogate dS/dV = H(V - theta2) / (beta |V - theta1| + 1)^2
    logits = sum_t S^L_t,  loss = mean softmax cross-entropy

Float32 throughout (4 bytes per element). Byte counts add every operand a kernel reads
and every result it writes, once per launch (no cache reuse between kernels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mimdsim.arch.load import load_spec
from mimdsim.snn.spec import SNNSpec

__all__ = [
    "BYTES_PER_FLOAT",
    "GPU_ALIASES",
    "GPUSpec",
    "GpuEstimate",
    "Kernel",
    "KernelTime",
    "estimate_gpu_step",
    "gpu_kernel_list",
    "load_gpu",
]

BYTES_PER_FLOAT = 4
"""float32: every tensor of the dense baseline is float32, spikes included."""

GPU_ALIASES: dict[str, str] = {"a100": "a100_40gb", "h100": "h100_sxm"}
"""Short names accepted by :func:`load_gpu`. ``a100`` is the 40GB part (the paper does not say which)."""

Phase = Literal["fwd", "bwd", "update"]
KernelKind = Literal["matmul", "elementwise", "reduce", "fill"]
Bound = Literal["compute", "memory", "launch"]


class GPUSpec(BaseModel):
    """One GPU: peak rates, memory and the per-kernel launch latency.

    Every preset value names its source in ``models/gpus/*.toml``. ``efficiency`` scales
    both peak FLOP/s and bandwidth; it is 1.0 (the pure roofline) in every preset.
    ``n_sms`` and ``memory_bytes`` are descriptive: the cost model does not use them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    description: str = ""
    fp32_flops_per_s: float = Field(gt=0)
    tf32_flops_per_s: float = Field(gt=0)
    hbm_bytes_per_s: float = Field(gt=0)
    n_sms: int = Field(gt=0)
    memory_bytes: int = Field(gt=0)
    kernel_latency_s: float = Field(ge=0)
    matmul_precision: Literal["fp32", "tf32"] = "tf32"
    efficiency: float = Field(1.0, gt=0, le=1)

    @property
    def matmul_flops_per_s(self) -> float:
        """Peak FLOP/s of a float32 matmul: TF32 tensor cores or FP32 CUDA cores, times ``efficiency``."""
        peak = self.tf32_flops_per_s if self.matmul_precision == "tf32" else self.fp32_flops_per_s
        return peak * self.efficiency

    @property
    def vector_flops_per_s(self) -> float:
        """Peak FP32 (non-tensor) FLOP/s for elementwise and reduction kernels, times ``efficiency``."""
        return self.fp32_flops_per_s * self.efficiency

    @property
    def bytes_per_s(self) -> float:
        """HBM bandwidth times ``efficiency``."""
        return self.hbm_bytes_per_s * self.efficiency


def load_gpu(name_or_path: str | os.PathLike[str] | GPUSpec, **overrides: Any) -> GPUSpec:
    """Load a GPU by preset name (``a100_40gb``, ``a100_80gb``, ``h100_sxm``; aliases ``a100``, ``h100``) or TOML path.

    Keyword ``overrides`` replace fields before validation, e.g.
    ``load_gpu("a100", matmul_precision="fp32", kernel_latency_s=2e-6)``.

    Raises
    ------
    ConfigError
        Unknown preset, unreadable file, unknown or missing key, wrong type or value.
        The message names the file and the dotted field of every problem.

    Examples
    --------
    >>> g = load_gpu("a100")
    >>> (g.name, g.hbm_bytes_per_s, g.matmul_precision)
    ('a100_40gb', 1555000000000.0, 'tf32')
    >>> load_gpu("h100", matmul_precision="fp32").matmul_flops_per_s
    67000000000000.0
    """
    return load_spec(GPUSpec, name_or_path, "gpus", "GPU preset", overrides, GPU_ALIASES)


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

    @property
    def flops_per_launch(self) -> float:
        """FLOPs of one launch."""
        return self.flops / self.launches

    @property
    def bytes_per_launch(self) -> float:
        """Bytes moved by one launch."""
        return self.bytes / self.launches


@dataclass(frozen=True)
class KernelTime:
    """The cost of one :class:`Kernel` on one GPU, in seconds per training step.

    ``roofline_s = max(compute_s, memory_s)``; ``time_s = roofline_s + launch_s``;
    ``bound`` says which of compute or memory sets the roofline term.
    """

    kernel: Kernel
    compute_s: float
    memory_s: float
    launch_s: float

    @property
    def roofline_s(self) -> float:
        """max(compute, memory) time."""
        return max(self.compute_s, self.memory_s)

    @property
    def time_s(self) -> float:
        """Roofline time plus launch latency."""
        return self.roofline_s + self.launch_s

    @property
    def bound(self) -> Literal["compute", "memory"]:
        """``compute`` when FLOPs take at least as long as bytes, else ``memory``."""
        return "compute" if self.compute_s >= self.memory_s else "memory"


@dataclass(frozen=True)
class GpuEstimate:
    """Predicted time of one dense training step (B samples, T steps) on one GPU.

    The step time splits into three disjoint parts: ``compute_bound_s`` (roofline time of
    the compute-bound kernels), ``memory_bound_s`` (of the memory-bound kernels) and
    ``launch_s`` (launches x latency); ``dominant`` names the largest.
    """

    gpu: str
    matmul_precision: str
    batch_size: int
    kernels: tuple[KernelTime, ...]

    @property
    def step_s(self) -> float:
        """Seconds per training step."""
        return sum(k.time_s for k in self.kernels)

    @property
    def ms_per_step(self) -> float:
        """Milliseconds per training step."""
        return 1e3 * self.step_s

    @property
    def samples_per_s(self) -> float:
        """Training throughput, ``batch_size / step_s``."""
        return self.batch_size / self.step_s

    @property
    def total_flops(self) -> int:
        """FLOPs of one step."""
        return sum(k.kernel.flops for k in self.kernels)

    @property
    def total_bytes(self) -> int:
        """Bytes read and written by one step."""
        return sum(k.kernel.bytes for k in self.kernels)

    @property
    def total_launches(self) -> int:
        """Kernel launches of one step."""
        return sum(k.kernel.launches for k in self.kernels)

    @property
    def launch_s(self) -> float:
        """Launch latency of one step."""
        return sum(k.launch_s for k in self.kernels)

    @property
    def compute_bound_s(self) -> float:
        """Roofline time of the compute-bound kernels."""
        return sum(k.roofline_s for k in self.kernels if k.bound == "compute")

    @property
    def memory_bound_s(self) -> float:
        """Roofline time of the memory-bound kernels."""
        return sum(k.roofline_s for k in self.kernels if k.bound == "memory")

    @property
    def dominant(self) -> Bound:
        """Largest of compute-bound, memory-bound and launch time (ties go in that order)."""
        parts: dict[Bound, float] = {
            "compute": self.compute_bound_s,
            "memory": self.memory_bound_s,
            "launch": self.launch_s,
        }
        return max(parts, key=lambda b: parts[b])

    def phase_s(self, phase: Phase) -> float:
        """Seconds of one phase (``fwd``, ``bwd``, ``update``), launches included."""
        return sum(k.time_s for k in self.kernels if k.kernel.phase == phase)

    def to_dict(self) -> dict[str, Any]:
        """Summary as plain numbers (for JSON)."""
        return {
            "gpu": self.gpu,
            "matmul_precision": self.matmul_precision,
            "ms_per_step": self.ms_per_step,
            "samples_per_s": self.samples_per_s,
            "dominant": self.dominant,
            "compute_bound_ms": 1e3 * self.compute_bound_s,
            "memory_bound_ms": 1e3 * self.memory_bound_s,
            "launch_ms": 1e3 * self.launch_s,
            "total_flops": self.total_flops,
            "total_bytes": self.total_bytes,
            "total_launches": self.total_launches,
            "phase_ms": {p: 1e3 * self.phase_s(p) for p in ("fwd", "bwd", "update")},
        }


# FLOPs per element of the fused elementwise kernels (see gpu_kernel_list for the derivations).
LIF_FWD_FLOPS = 6
LIF_BWD_FLOPS = 12
ADAM_FLOPS = 12
SGD_FLOPS = 2


def gpu_kernel_list(spec: SNNSpec) -> list[Kernel]:
    """Every kernel of one dense BPTT training step of ``spec``, in execution order.

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
    >>> from mimdsim.snn.spec import snn_from_sizes
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
        out.append(Kernel(name, phase, flops * t, nbytes * t, t, kind, shape))

    def once(name: str, phase: Phase, kind: KernelKind, shape: str, flops: int, nbytes: int) -> None:
        out.append(Kernel(name, phase, flops, nbytes, 1, kind, shape))

    # forward, per time step: all layers (each reads only the previous step's spikes)
    for li in range(1, n_layers + 1):
        m, n = sizes[li - 1], sizes[li]
        each_step(
            f"fwd_matmul_l{li}", "fwd", "matmul", f"[{b},{m}]x[{m},{n}]", 2 * b * m * n, f * (b * m + m * n + b * n)
        )
        each_step(f"fwd_lif_l{li}", "fwd", "elementwise", f"[{b},{n}]", LIF_FWD_FLOPS * b * n, f * 5 * b * n)
    # readout and loss, once
    once("fwd_readout_sum", "fwd", "reduce", f"[{t},{b},{c}]", t * b * c, f * (t * b * c + b * c))
    once("fwd_loss_xent", "fwd", "reduce", f"[{b},{c}]", 4 * b * c, f * (b * c + b + 1))
    once("bwd_loss_grad", "bwd", "elementwise", f"[{b},{c}]", 5 * b * c, f * (2 * b * c + b))
    for li in range(n_layers, 0, -1):
        m, n = sizes[li - 1], sizes[li]
        once(f"bwd_init_l{li}", "bwd", "fill", f"[{m},{n}]+[{b},{n}]", 0, f * (m * n + b * n))
    # backward, per time step in reverse: layers from the last
    for li in range(n_layers, 0, -1):
        m, n = sizes[li - 1], sizes[li]
        each_step(f"bwd_dv_l{li}", "bwd", "elementwise", f"[{b},{n}]", LIF_BWD_FLOPS * b * n, f * 5 * b * n)
        each_step(
            f"bwd_dw_l{li}",
            "bwd",
            "matmul",
            f"[{m},{b}]x[{b},{n}]",
            2 * b * m * n + m * n,
            f * (b * m + b * n + 2 * m * n),
        )
        if li > 1:
            each_step(
                f"bwd_dx_l{li}", "bwd", "matmul", f"[{b},{n}]x[{n},{m}]", 2 * b * n * m, f * (b * n + n * m + b * m)
            )
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


def estimate_gpu_step(spec: SNNSpec, gpu: GPUSpec | str) -> GpuEstimate:
    """Predict one dense training step of ``spec`` on ``gpu`` (a :class:`GPUSpec` or preset name).

    Each kernel of :func:`gpu_kernel_list` costs
    ``max(flops / peak, bytes / bandwidth) + launches * kernel_latency_s``; the step is the sum.

    Examples
    --------
    >>> from mimdsim.snn.spec import snn_from_sizes
    >>> net = snn_from_sizes([4, 3, 2], max_activity=0.5, input_sparse_size=2, batch_size=2, n_timesteps=2)
    >>> est = estimate_gpu_step(net, load_gpu("a100", kernel_latency_s=5e-6))
    >>> est.total_launches, round(est.ms_per_step, 3), est.dominant
    (26, 0.13, 'launch')
    """
    g = gpu if isinstance(gpu, GPUSpec) else load_gpu(gpu)
    times = []
    for k in gpu_kernel_list(spec):
        peak = g.matmul_flops_per_s if k.kind == "matmul" else g.vector_flops_per_s
        times.append(KernelTime(k, k.flops / peak, k.bytes / g.bytes_per_s, k.launches * g.kernel_latency_s))
    return GpuEstimate(g.name, g.matmul_precision, spec.batch_size, tuple(times))
