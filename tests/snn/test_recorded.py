"""Recorded spike arrays ([T, B, N] per tensor) as spike activity: counts, ids, the sparse cap, gradient-only spikes."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim.errors import ConfigError


def test_recorded_spikes_give_counts_ids_and_the_cap() -> None:
    from mimdsim.snn import activity_from_spikes, snn_from_sizes
    from mimdsim.studies import estimate_training_step

    spec = snn_from_sizes([8, 6, 4], max_activity=0.34, input_sparse_size=3, batch_size=6, n_timesteps=2)
    assert spec.sparse_sizes == (3, 2, 2)
    rng = np.random.default_rng(1)
    spikes = [rng.integers(0, 2, (2, 6, n)) for n in spec.layer_sizes]
    spikes[1][0, 0] = [1, 1, 1, 1, 0, 0]  # four fire, S = 2: neurons 0 and 1 are kept
    act = activity_from_spikes(spec, spikes)
    assert act.true_counts[1][0, 0] == 2 and act.spike_ids[1][:2].tolist() == [0, 1]
    for k, s in enumerate(spec.sparse_sizes):
        assert act.true_counts[k].tolist() == np.minimum(spikes[k].sum(axis=2), s).tolist()
        assert act.neuron_counts[k].sum() == act.true_counts[k].sum() == act.spike_ids[k].size
    # gradient-only spikes from the neurons above theta2, counted up to S with the true ones
    above = [np.ones((2, 6, 6)), np.zeros((2, 6, 4))]
    act2 = activity_from_spikes(spec, spikes, valid_spikes=above)
    assert act2.valid_counts[1].tolist() == [[2] * 6] * 2 and act2.valid_counts[2].tolist() == act2.true_counts[2].tolist()
    est = estimate_training_step(spec, __import__("mimdsim").load_machine("bow", tiles_per_ipu=32), activity_source=act2)
    assert est.activity is act2
    with pytest.raises(ConfigError, match=r"spikes\[1\] \(layer 0\): shape \(2, 6, 5\), expected \[T, B, N\] = \[2, 6, 6\]"):
        activity_from_spikes(spec, [spikes[0], spikes[1][:, :, :5], spikes[2]])
    with pytest.raises(ConfigError, match="spikes: 2 arrays for 3 spike tensors"):
        activity_from_spikes(spec, spikes[:2])
    with pytest.raises(ConfigError, match="negative count"):
        activity_from_spikes(spec, [spikes[0], -spikes[1] - 1, spikes[2]])
