"""Spiking-neural-network BPTT workload: spec, functional model, lowering, estimates, GPU baseline."""

from mimdsim.snn.activity import SpikeActivity, functional_activity, parametric_activity
from mimdsim.snn.activity_file import load_activity, save_activity
from mimdsim.snn.data import SpikeBatch, bin_events, load_nmnist, load_shd, poisson_input, read_nmnist_events
from mimdsim.snn.dense_ref import DenseRun, dense_input, run_dense
from mimdsim.snn.estimate import SNNEstimate, estimate_training_step, make_activity
from mimdsim.snn.functional import SparseRun, connection_mask, init_weights, run_sparse, train_step
from mimdsim.snn.gpu import GpuEstimate, GPUSpec, Kernel, KernelTime, estimate_gpu_step, gpu_kernel_list, load_gpu
from mimdsim.snn.lower import LoweringOptions, lower_snn
from mimdsim.snn.nir import snn_from_nir
from mimdsim.snn.recorded import activity_from_spikes
from mimdsim.snn.spec import LayerSpec, RunHints, SNNSpec, load_snn_model, snn_from_sizes, sparse_size_for_activity

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
    "estimate_training_step",
    "make_activity",
    "SNNEstimate",
    "GPUSpec",
    "GpuEstimate",
    "Kernel",
    "KernelTime",
    "load_gpu",
    "gpu_kernel_list",
    "estimate_gpu_step",
]
