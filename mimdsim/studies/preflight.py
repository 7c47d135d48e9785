"""Refuse an SNN estimate that cannot work before anything large is allocated.

What the fullest tile must hold is known from the spec alone (the lowering's ledger,
docs/snn.md §4): a neuron tile of layer ``l`` with ``k`` neurons holds at least its neuron
tensors (:func:`mimdsim.snn.lowering.neuron_bytes.neuron_tensor_bytes`, the formula the lowering's
ledger uses): the state history ``4 T B k`` bytes, the states, the weights ``4 N_{l-1} k`` and one
weight-gradient replica per worker context ``W x 4 N_{l-1} k`` (Adam adds ``2 x 4 N_{l-1} k``).
With ``k`` at least what the tiles force (``ceil(sum N_l / tiles)``, or the given
neurons-per-tile), a spec whose lower bound exceeds the tile is refused at once
(:class:`TileMemoryError`) instead of after minutes of functional model and lowering.

The host side is bounded the same way: the functional model's largest weight matrix
(float64 while drawn, float32 kept), the spike sequences and the lowering's per-time-step
tables; an estimate that would need more than the host has is refused
(:class:`ConfigError`), even with ``allow_oom``.

>>> from mimdsim.arch import load_machine
>>> from mimdsim.snn.model.spec import snn_from_sizes
>>> spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=48, n_timesteps=10_000)
>>> preflight(spec, load_machine("bow"))
Traceback (most recent call last):
...
mimdsim.errors.TileMemoryError: snn: does not fit bow at any neurons per tile: a tile of layer 1 (k = 2) needs at least 4,009,576 B (state history 4 x T x B x k = 3,840,000 B) of 638,976 B; use fewer time steps, a smaller batch or more IPUs
"""

from __future__ import annotations

import itertools
import os

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError, TileMemoryError
from mimdsim.snn.lowering.neuron_bytes import NEURON_TENSOR_LABELS, neuron_tensor_bytes
from mimdsim.snn.model.connectivity import is_sparse_layer
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["preflight", "tile_bytes_lower_bound", "host_bytes_estimate"]


def _min_k(spec: SNNSpec, machine: MachineSpec, neurons_per_tile: int | None) -> int:
    if neurons_per_tile is not None:
        return neurons_per_tile
    usable = machine.n_tiles - 1  # tile 0 holds the loop counter and the sequences' first rows
    total = sum(lay.n_neurons for lay in spec.layers)
    return max(1, -(-total // max(usable, 1)))


def tile_bytes_lower_bound(spec: SNNSpec, machine: MachineSpec, k: int) -> tuple[int, int, dict[str, int]]:
    """``(bytes, layer, parts)``: the fullest neuron tile's lower bound at ``k`` neurons per tile."""
    best: tuple[int, int, dict[str, int]] = (-1, 0, {})
    for l, lay in enumerate(spec.layers):
        n_in = 0 if is_sparse_layer(spec, l) else spec.layer_sizes[l]  # sparse: sources unknown, 0 is a bound
        by_tensor = neuron_tensor_bytes(spec, min(k, lay.n_neurons), n_in, machine.num_worker_contexts)
        parts = {NEURON_TENSOR_LABELS[name]: nb for name, nb in by_tensor.items()}
        total = sum(parts.values())
        if total > best[0]:
            best = (total, l, parts)
    return best


def host_bytes_estimate(spec: SNNSpec) -> int:
    """A rough lower bound of the host memory an estimate needs (functional model and program tables)."""
    sizes = spec.layer_sizes
    T, B = spec.n_timesteps, spec.batch_size
    weights = max(12 * a * b for a, b in itertools.pairwise(sizes))  # float64 drawn, float32 kept
    spikes = 8 * T * B * sum(spec.sparse_sizes)  # ids and counts of every layer
    tables = 8 * 16 * T * B * len(spec.layers)  # per-time-step cycle tables of the lowering
    return weights + spikes + tables


def _host_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def preflight(
    spec: SNNSpec,
    machine: MachineSpec,
    *,
    neurons_per_tile: int | None = None,
    allow_oom: bool = False,
    host_bytes: int | None = None,
) -> None:
    """Raise before any allocation if ``spec`` cannot fit ``machine`` (tile memory) or this host.

    Raises
    ------
    TileMemoryError
        Even the fewest neurons per tile the tiles allow need more than a tile holds
        (not with ``allow_oom``).
    ConfigError
        The estimate would need more memory than this host has (``host_bytes``, default:
        its physical memory).
    """
    k = _min_k(spec, machine, neurons_per_tile)
    need, layer, parts = tile_bytes_lower_bound(spec, machine, k)
    if need > machine.memory_bytes_per_tile and not allow_oom:
        name, size = max(parts.items(), key=lambda kv: kv[1])
        at = f"at {neurons_per_tile} neurons per tile" if neurons_per_tile is not None else "at any neurons per tile"
        raise TileMemoryError(
            f"{spec.name}: does not fit {machine.name} {at}: a tile of layer {layer + 1} (k = {min(k, spec.layers[layer].n_neurons)}) "
            f"needs at least {need:,} B ({name} = {size:,} B) of {machine.memory_bytes_per_tile:,} B; use fewer time steps, "
            "a smaller batch or more IPUs",
            needed_bytes=need,
        )
    host = host_bytes if host_bytes is not None else _host_memory()
    est = host_bytes_estimate(spec)
    if host is not None and est > host:
        raise ConfigError(
            f"{spec.name}: the estimate needs at least {est / 2**30:,.1f} GiB of host memory (the functional model's "
            f"largest weight matrix and the spike sequences of T = {spec.n_timesteps:,}, B = {spec.batch_size:,}); "
            f"this host has {host / 2**30:,.1f} GiB"
        )
