"""Spiking-neural-network BPTT workload: spec, functional model, lowering, GPU baseline."""
