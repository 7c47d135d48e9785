"""Spike activity from recorded spikes: the arrays a snnTorch, Norse or any other simulation records.

:func:`activity_from_spikes` takes one ``[T, B, N]`` array per spike tensor -- the input first, then
every layer -- of 0/1 flags or spike counts (what ``torch.stack(spk_rec).numpy()`` gives), and makes
the same :class:`~mimdsim.snn.activity.counts.SpikeActivity` a trace holds: per step and sample the true
spike counts, each neuron's spikes over the step, and the ids of every spike. As in the authors'
op, a sparse tensor holds at most ``S`` spikes per step and sample: when more neurons fire, the
``S`` lowest ids are kept (the dense-to-sparse scan runs in id order). A neuron that fires (a
count > 0) counts once per step.

Recorded spikes say nothing about the gradient-only spikes of the second threshold (neurons whose
membrane potential crossed θ2 but not θ1); give them as ``valid_spikes`` (the neurons at or above θ2,
the spiking ones included) when the recording has the membrane potentials, otherwise every valid
count equals the true count.

>>> import numpy as np
>>> from mimdsim.snn.model.spec import snn_from_sizes
>>> spec = snn_from_sizes([4, 3, 2], max_activity=1.0, input_sparse_size=2, batch_size=1, n_timesteps=2)
>>> spk = [np.array([[[1, 1, 1, 0]], [[0, 0, 0, 1]]]), np.array([[[0, 1, 0]], [[1, 1, 1]]]), np.zeros((2, 1, 2))]
>>> act = activity_from_spikes(spec, spk)
>>> act.true_counts[0].tolist(), act.true_counts[1].tolist(), act.neuron_counts[0].tolist()
([[2], [1]], [[1], [2]], [1, 1, 0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["activity_from_spikes"]


def _flags(name: str, arr: object, T: int, B: int, N: int) -> np.ndarray:
    a = np.asarray(arr)
    if a.shape != (T, B, N):
        raise ConfigError(f"{name}: shape {a.shape}, expected [T, B, N] = [{T}, {B}, {N}]")
    if a.dtype.kind not in "biuf":
        raise ConfigError(f"{name}: expected 0/1 flags or spike counts, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ConfigError(f"{name}: holds NaN or infinity")
    if a.size and a.min() < 0:
        raise ConfigError(f"{name}: holds a negative count ({a.min()})")
    return a > 0


def activity_from_spikes(
    spec: SNNSpec,
    spikes: Sequence[object],
    *,
    valid_spikes: Sequence[object] | None = None,
    source: str = "recorded spikes",
) -> SpikeActivity:
    """The activity of ``spec`` from recorded spike arrays (see the module docstring).

    ``spikes``: one ``[T, B, N]`` array per tensor, input first (``len(spec.layer_sizes)`` arrays).
    ``valid_spikes``: optionally one per layer (not the input), the neurons at or above θ2.

    Raises :class:`~mimdsim.errors.ConfigError` naming the array and what is wrong.
    """
    T, B = spec.n_timesteps, spec.batch_size
    sizes, caps = spec.layer_sizes, spec.sparse_sizes
    if len(spikes) != len(sizes):
        raise ConfigError(f"spikes: {len(spikes)} arrays for {len(sizes)} spike tensors (the input and {len(sizes) - 1} layers)")
    if valid_spikes is not None and len(valid_spikes) != len(sizes) - 1:
        raise ConfigError(f"valid_spikes: {len(valid_spikes)} arrays for {len(sizes) - 1} layers")
    true_counts, valid_counts, neuron_counts, spike_ids = [], [], [], []
    for k, (arr, n, s) in enumerate(zip(spikes, sizes, caps, strict=True)):
        name = "spikes[0] (input)" if k == 0 else f"spikes[{k}] (layer {k - 1})"
        fired = _flags(name, arr, T, B, n)
        rank = np.cumsum(fired, axis=2)  # the S lowest ids of a step and sample are kept
        kept = fired & (rank <= s)
        true = kept.sum(axis=2).astype(np.int32)
        if k == 0 or valid_spikes is None:
            valid = true
        else:
            above = _flags(f"valid_spikes[{k - 1}] (layer {k - 1})", valid_spikes[k - 1], T, B, n) | fired
            valid = np.minimum(above.sum(axis=2), s).astype(np.int32)
        true_counts.append(true)
        valid_counts.append(np.maximum(valid, true).astype(np.int32))
        neuron_counts.append(kept.sum(axis=(0, 1)).astype(np.int64))
        spike_ids.append(np.nonzero(kept.reshape(T * B, n))[1].astype(np.int32))
    return SpikeActivity(
        tuple(true_counts), tuple(valid_counts), tuple(int(c) for c in caps), T, B, source,
        neuron_counts=tuple(neuron_counts), spike_ids=tuple(spike_ids),
    )  # fmt: skip
