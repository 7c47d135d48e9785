"""Spiking-neural-network BPTT workload, in five sub-packages:

* :mod:`mimdsim.snn.model`: the network (spec, connectivity, NIR import, its workload graph);
* :mod:`mimdsim.snn.reference`: the functional sparse model, the dense reference and the datasets;
* :mod:`mimdsim.snn.activity`: spike counts, trace and count-table files, sources, the cache;
* :mod:`mimdsim.snn.lowering`: the tile layout, the authors' op versions and their codelets' estimators;
* :mod:`mimdsim.snn.gpu`: the dense GPU baseline.

The estimate of a training step (the driver) is :func:`mimdsim.studies.estimate_training_step`.
"""

from mimdsim.snn.activity.counts import SpikeActivity, functional_activity, parametric_activity
from mimdsim.snn.activity.recorded import activity_from_spikes
from mimdsim.snn.activity.trace_v1 import load_activity, save_activity
from mimdsim.snn.gpu.model import GpuEstimate, GPUSpec, Kernel, KernelTime, estimate_gpu_step, gpu_kernel_list, load_gpu
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.model.nir import snn_from_nir
from mimdsim.snn.model.spec import LayerSpec, RunHints, SNNSpec, load_snn_model, snn_from_sizes, sparse_size_for_activity
from mimdsim.snn.reference.data import SpikeBatch, bin_events, load_nmnist, poisson_input, read_nmnist_events
from mimdsim.snn.reference.dense import DenseRun, dense_input, run_dense
from mimdsim.snn.reference.functional import SparseRun, connection_mask, init_weights, run_sparse, train_step
from mimdsim.snn.reference.shd import load_shd

__all__ = [
    "SNNSpec",
    "LayerSpec",
    "RunHints",
    "load_snn_model",
    "snn_from_sizes",
    "sparse_size_for_activity",
    "SpikeActivity",
    "activity_from_spikes",
    "snn_from_nir",
    "functional_activity",
    "parametric_activity",
    "save_activity",
    "load_activity",
    "SpikeBatch",
    "poisson_input",
    "bin_events",
    "read_nmnist_events",
    "load_nmnist",
    "load_shd",
    "init_weights",
    "run_sparse",
    "train_step",
    "connection_mask",
    "SparseRun",
    "run_dense",
    "dense_input",
    "DenseRun",
    "lower_snn",
    "LoweringOptions",
    "GPUSpec",
    "GpuEstimate",
    "Kernel",
    "KernelTime",
    "load_gpu",
    "gpu_kernel_list",
    "estimate_gpu_step",
]

_DRIVER = ("estimate_training_step", "make_activity", "SNNEstimate")
"""Names of :mod:`mimdsim.studies` that ``mimdsim.snn`` exported before the driver had its own layer."""


def __getattr__(name: str) -> object:
    """``mimdsim.snn.estimate_training_step`` (and :data:`_DRIVER`'s other names), for scripts written before the
    split: looked up in :mod:`mimdsim.studies` when asked for. mimdsim's own code imports them from there."""
    if name in _DRIVER:
        import importlib

        return getattr(importlib.import_module("mimdsim.studies.estimate"), name)
    raise AttributeError(f"module 'mimdsim.snn' has no attribute {name!r}")
