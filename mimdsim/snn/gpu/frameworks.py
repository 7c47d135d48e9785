"""How a GPU framework runs the dense step: the paper's TF2/Keras/XLA baseline and ideal programs.

:func:`mimdsim.snn.gpu.kernels.gpu_kernel_list` lists the step's arithmetic kernels. A framework
decides what else runs and how the kernels are issued (docs/gpu_baseline.md):

* ``tf-keras-xla`` -- what the paper ran (GSNN KU, BS: ``tf.keras.layers.RNN`` over the
  authors' dense cell, ``jit_compile=True``, ``unroll=False``, float32). Keras' RNN is a
  ``tf.while_loop`` over TensorArrays, and its gradient a second while loop with TensorList
  accumulators, so every time step adds loop kernels (the condition, the counter, the
  input read; per layer the output write and the pushes of the saved V and S; in the
  gradient loop the output-gradient read and the pops). XLA's GPU runtime of 2022 copied
  each iteration's loop predicate to the host and waited (``while_thunk.cc``; jax-ml/jax#2491),
  so an iteration costs ``loop_sync + max(kernels x host launch, device time)``: the host
  enqueues the next kernels only after the round trip, and while it enqueues slower than
  the device runs, the launches set the pace. ``next(iterator)`` is outside the compiled
  step, so the dense float32 input batch (``B T N_in 4`` bytes) is copied over PCIe every
  step. The authors' GPU cell has one threshold (its two-threshold variant is commented
  out), so the surrogate has no θ2 mask.
* ``cuda-graph`` -- the same kernels captured as one CUDA graph per step and replayed:
  one graph launch plus a small cost per node, no per-iteration round trip; the input copy
  stays. An ideal program, not the paper's.
* ``fused`` -- the roofline of the arithmetic kernels plus a fixed latency per launch
  (:func:`mimdsim.snn.gpu.model.estimate_gpu_step`'s original model), no loop kernels, no copy.

Every constant of :data:`PROFILES` names its source; none is fitted to the paper's speed-up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from mimdsim.errors import ConfigError
from mimdsim.snn.model.spec import SNNSpec

__all__ = [
    "FRAMEWORKS", "PAPER_FRAMEWORK", "IDEAL_FRAMEWORK", "FrameworkProfile", "PROFILES", "SENSITIVITY", "Uncertainty",
    "loop_kernel_counts", "profile",
]  # fmt: skip

Framework = Literal["tf-keras-xla", "cuda-graph", "fused"]
FRAMEWORKS: tuple[str, ...] = ("tf-keras-xla", "cuda-graph", "fused")
PAPER_FRAMEWORK = "tf-keras-xla"
"""The paper's baseline: the default of every comparison with the paper."""
IDEAL_FRAMEWORK = "fused"
"""The ideal GPU program the paper's baseline is also compared with."""


@dataclass(frozen=True)
class FrameworkProfile:
    """How one framework issues the step (all times in seconds, rates in bytes/s)."""

    name: str
    loop_kernels: bool
    """Add the Keras RNN loop's own kernels (loop control, TensorArray/TensorList traffic)."""
    loop_sync_s: float
    """Host round trip per loop iteration (0: none)."""
    host_launch_s: float
    """Host enqueue time per kernel when the host sets the pace (0: a fixed device-side latency model)."""
    graph_launch_s: float
    """Fixed cost of one CUDA-graph replay per step (0: no graph)."""
    graph_node_s: float
    """Cost per graph node."""
    input_copy_bytes_per_s: float
    """Host-to-device rate of the per-step input copy (0: no copy)."""
    two_thresholds: bool
    """The surrogate gates on θ2 (the IPU op does; the authors' GPU cell does not)."""


PROFILES: dict[str, FrameworkProfile] = {
    # loop sync 15 us: a host round trip per while-loop iteration (XLA while_thunk.cc, 2022; jax-ml/jax#2491);
    #   8 us per iteration is a floor measured for an almost empty lax.scan body on a current stack
    #   (QuantEcon lecture-python-programming #437), 10-25 us the range for a real body; 15 the middle.
    # host launch 7 us: 6.3-7.5 us per launch when launches are followed by a sync (ahrefs/ocannl#488);
    #   5-20 us in Meta's HolisticTraceAnalysis documentation.
    # input copy 16 GB/s: PCIe 4.0 x16 of an A100 host, 12-25 GB/s effective for pageable to pinned memory.
    "tf-keras-xla": FrameworkProfile("tf-keras-xla", True, 15e-6, 7e-6, 0.0, 0.0, 16e9, False),
    # graph replay: about 15 us fixed plus 0.58 us per node (ahrefs/ocannl#488); the same kernels and input copy.
    "cuda-graph": FrameworkProfile("cuda-graph", True, 0.0, 0.0, 15e-6, 0.58e-6, 16e9, False),
    # the roofline plus GPUSpec.kernel_latency_s per launch: the original ideal model
    "fused": FrameworkProfile("fused", False, 0.0, 0.0, 0.0, 0.0, 0.0, True),
}


@dataclass(frozen=True)
class Uncertainty:
    """The published range of one ``tf-keras-xla`` constant (a sensitivity study varies it)."""

    field: str
    low: float
    high: float
    source: str


SENSITIVITY: tuple[Uncertainty, ...] = (
    Uncertainty("host_launch_s", 5e-6, 20e-6, "HolisticTraceAnalysis docs: CPU-side launch 'usually between 5-20 us'"),
    Uncertainty(
        "loop_sync_s", 8e-6, 25e-6, "QuantEcon #437: 8 us per near-empty lax.scan iteration (floor); 10-25 us with a body"
    ),
    Uncertainty("input_copy_bytes_per_s", 12e9, 25e9, "PCIe 4.0 x16, pageable to pinned host memory: 12-25 GB/s effective"),
)
"""The ranges of the paper profile's constants; the GEMM precision (TF32 or FP32, tf#44887 and
PR #58877: which one the paper's TF used is not recorded) is the fourth uncertainty."""


def profile(framework: str | FrameworkProfile, **overrides: float) -> FrameworkProfile:
    """A framework profile by name, with optional field overrides (a sensitivity study)."""
    if isinstance(framework, FrameworkProfile):
        base = framework
    elif framework in PROFILES:
        base = PROFILES[framework]
    else:
        raise ConfigError(f"gpu framework: {framework!r} is not one of {', '.join(FRAMEWORKS)}")
    bad = [k for k in overrides if k not in base.__dataclass_fields__ or k == "name"]
    if bad:
        raise ConfigError(f"gpu framework: {bad[0]!r} is not a profile field")
    return replace(base, **overrides)  # type: ignore[arg-type]


def loop_kernel_counts(spec: SNNSpec) -> dict[str, int]:
    """The Keras RNN loop's own kernels per time step (forward and gradient loops) of ``spec``.

    Forward iteration: the loop condition, the counter increment and the input TensorArray
    read (3); per layer the output TensorArray write and the pushes of the saved V and S
    (3 x L). Gradient iteration: the condition, the counter and the output-gradient read
    (3); per layer the pops of V and S (2 x L).

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> loop_kernel_counts(snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=48, n_timesteps=100))
    {'fwd': 12, 'bwd': 9}
    """
    n_layers = len(spec.layers)
    return {"fwd": 3 + 3 * n_layers, "bwd": 3 + 2 * n_layers}
