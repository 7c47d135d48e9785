"""Reproducible speed measurements of the simulator itself: run each as ``python -m benchmarks.<name>`` from the
repository root; results with machine and date in docs/performance.md."""
