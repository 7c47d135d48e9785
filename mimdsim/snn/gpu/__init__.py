"""The dense SNN BPTT step on a GPU, the paper's baseline: the model (:mod:`~mimdsim.snn.gpu.model`), its kernels and the frameworks that run them."""
