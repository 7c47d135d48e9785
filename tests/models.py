"""Small SNN model files for tests: written by the tests themselves into their temporary folders."""

from __future__ import annotations

from pathlib import Path

TINY = """
name = "tiny"
n_inputs = 64
input_sparse_size = 8
layer_sizes = [24, 24, 4]
max_activity = 0.25
batch_size = 6
n_timesteps = 3
optimizer = "sgd"
"""
"""A 64-24-24-4 network, B 6, T 3: a step of a fraction of a second on 64 tiles."""


def write_tiny(folder: Path) -> Path:
    """``folder/tiny.toml`` holding :data:`TINY`."""
    p = folder / "tiny.toml"
    p.write_text(TINY)
    return p
