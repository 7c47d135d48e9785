"""The dense SNN BPTT step on a GPU, the paper's baseline: the model (:mod:`~mimdsim.snn.gpu.model`), its kernels and the frameworks that run them."""

from mimdsim.snn.gpu.model import (  # the package's API: what the module of this name held before the split
    BYTES_PER_FLOAT,
    GPU_ALIASES,
    GpuEstimate,
    GPUSpec,
    Kernel,
    KernelTime,
    estimate_gpu_step,
    gpu_kernel_list,
    load_gpu,
)

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
