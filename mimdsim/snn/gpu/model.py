"""Analytic model of the dense SNN BPTT training step on a GPU: the paper's baseline.

The paper compares its sparse IPU implementation with a dense TensorFlow 2 Keras RNN
compiled by XLA, float32, on an A100 (GSNN runfiles and BS @ 3e05811, "GPU counterpart").
:func:`mimdsim.snn.gpu.kernels.gpu_kernel_list` writes out every kernel of one such
training step -- forward over T time steps, BPTT in reverse, weight update -- with its FLOP
and byte counts. Each kernel's device time is a roofline::

    device(kernel) = max(flops / peak, bytes / bandwidth)

``peak`` is the TF32 tensor-core or the FP32 CUDA-core rate for matmuls (by
``GPUSpec.matmul_precision``) and the FP32 rate for everything else. How the kernels are
issued -- a fixed latency per launch, a host that enqueues each kernel and syncs every loop
iteration, or one CUDA graph -- is the framework's (:mod:`mimdsim.snn.gpu.frameworks`).
The kernel list, each formula and the presets' sources are in docs/gpu_baseline.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mimdsim.arch.load import load_spec
from mimdsim.arch.spec import Triple
from mimdsim.snn.gpu.frameworks import PAPER_FRAMEWORK, FrameworkProfile, profile
from mimdsim.snn.gpu.kernels import BYTES_PER_FLOAT, Kernel, Phase, gpu_kernel_list
from mimdsim.snn.model.spec import SNNSpec

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

GPU_ALIASES: dict[str, str] = {"a100": "a100_40gb", "h100": "h100_sxm"}
"""Short names accepted by :func:`load_gpu`. ``a100`` is the 40GB part (the paper does not say which)."""


class GPUSpec(BaseModel):
    """One GPU: peak rates, memory and the per-kernel launch latency.

    Every preset value names its source in ``models/gpus/*.toml``. ``efficiency`` scales
    both peak FLOP/s and bandwidth; it is 1.0 (the pure roofline) in every preset.
    ``n_sms`` and ``memory_bytes`` are descriptive: the cost model does not use them.
    ``base_power_w``, ``tdp_w``, ``hbm_byte_pj`` and ``flop_pj`` are the energy model's
    parameters (docs/energy.md), ``[low, central, high]`` bands.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # a rate of inf or nan is no GPU

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
    # energy (docs/energy.md): bands, None where the GPU file gives none
    base_power_w: Triple | None = None
    tdp_w: float | None = Field(None, gt=0, le=1e5, allow_inf_nan=False)
    hbm_byte_pj: Triple | None = None
    flop_pj: Triple | None = None

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
    framework: str = "fused"
    overhead: tuple[tuple[str, float], ...] = ()
    """The framework's terms beyond the kernels' own time, in seconds (``host_enqueue``,
    ``loop_sync``, ``graph_launch``, ``input_copy``: :mod:`mimdsim.snn.gpu.frameworks`)."""

    @property
    def step_s(self) -> float:
        """Seconds per training step: the kernels and the framework's terms."""
        return sum(k.time_s for k in self.kernels) + sum(v for _, v in self.overhead)

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
    def dominant(self) -> str:
        """Largest of compute-bound, memory-bound, launch time and the framework's terms (ties in that order)."""
        parts: dict[str, float] = {
            "compute": self.compute_bound_s,
            "memory": self.memory_bound_s,
            "launch": self.launch_s,
            **dict(self.overhead),
        }
        return max(parts, key=lambda b: parts[b])

    def phase_s(self, phase: Phase) -> float:
        """Seconds of one phase (``fwd``, ``bwd``, ``update``), launches included."""
        return sum(k.time_s for k in self.kernels if k.kernel.phase == phase)

    def to_dict(self) -> dict[str, Any]:
        """Summary as plain numbers (for JSON)."""
        return {
            "gpu": self.gpu,
            "framework": self.framework,
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
            "overhead_ms": {k: 1e3 * v for k, v in self.overhead},
        }


def estimate_gpu_step(spec: SNNSpec, gpu: GPUSpec | str, framework: str | FrameworkProfile = PAPER_FRAMEWORK) -> GpuEstimate:
    """Predict one dense training step of ``spec`` on ``gpu`` run by ``framework``
    (:mod:`mimdsim.snn.gpu.frameworks`: ``tf-keras-xla``, the paper's and the default;
    ``cuda-graph``; ``fused``).

    * ``fused``: each kernel costs ``device + launches x kernel_latency_s``; the step is the sum.
    * ``tf-keras-xla``: the loop kernels are added; an iteration of the forward or the
      gradient loop costs ``loop_sync + max(launches x host_launch, device time)`` and every
      kernel outside the loops ``max(host_launch, device time)`` per launch; plus the input
      copy. The excess of the host over the device is the ``host_enqueue`` term.
    * ``cuda-graph``: the device time of every kernel, one graph launch plus ``graph_node``
      per launch, plus the input copy.

    Examples
    --------
    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> net = snn_from_sizes([4, 3, 2], max_activity=0.5, input_sparse_size=2, batch_size=2, n_timesteps=2)
    >>> est = estimate_gpu_step(net, load_gpu("a100", kernel_latency_s=5e-6), "fused")
    >>> est.total_launches, round(est.ms_per_step, 3), est.dominant
    (26, 0.13, 'launch')
    >>> keras = estimate_gpu_step(net, "a100")        # the paper's framework
    >>> keras.framework, keras.total_launches, keras.dominant   # 2 x (13 fwd + 12 bwd) + 8 once
    ('tf-keras-xla', 58, 'host_enqueue')
    >>> round(1e6 * dict(keras.overhead)["loop_sync"])  # 2 loops x T = 2 iterations x 15 us
    60
    """
    g = gpu if isinstance(gpu, GPUSpec) else load_gpu(gpu)
    prof = profile(framework)
    kernels = gpu_kernel_list(spec, loop_kernels=prof.loop_kernels, two_thresholds=prof.two_thresholds)
    latency_s = g.kernel_latency_s if prof.name == "fused" else 0.0
    times = tuple(
        KernelTime(
            k,
            k.flops / (g.matmul_flops_per_s if k.kind == "matmul" else g.vector_flops_per_s),
            k.bytes / g.bytes_per_s,
            k.launches * latency_s,
        )
        for k in kernels
    )
    return GpuEstimate(g.name, g.matmul_precision, spec.batch_size, times, prof.name, framework_overhead(spec, times, prof))


def framework_overhead(spec: SNNSpec, times: tuple[KernelTime, ...], prof: FrameworkProfile) -> tuple[tuple[str, float], ...]:
    """The terms ``prof`` adds to the kernels' device time, in seconds (see :func:`estimate_gpu_step`)."""
    t = spec.n_timesteps
    out: list[tuple[str, float]] = []
    if prof.host_launch_s or prof.loop_sync_s:
        host_excess_s = 0.0
        for phase in ("fwd", "bwd"):
            loop = [kt for kt in times if kt.kernel.in_loop and kt.kernel.phase == phase]
            host_s = prof.host_launch_s * sum(kt.kernel.launches for kt in loop)
            host_excess_s += max(0.0, host_s - sum(kt.roofline_s for kt in loop))  # T x per-iteration excess
        host_excess_s += sum(
            max(0.0, kt.kernel.launches * prof.host_launch_s - kt.roofline_s) for kt in times if not kt.kernel.in_loop
        )
        out += [("host_enqueue", host_excess_s), ("loop_sync", 2 * t * prof.loop_sync_s)]
    if prof.graph_launch_s or prof.graph_node_s:
        nodes = sum(kt.kernel.launches for kt in times)
        out.append(("graph_launch", prof.graph_launch_s + prof.graph_node_s * nodes))
    if prof.input_copy_bytes_per_s:
        copy_bytes = BYTES_PER_FLOAT * spec.batch_size * t * spec.n_inputs
        out.append(("input_copy", copy_bytes / prof.input_copy_bytes_per_s))
    return tuple(out)
