"""A neuron's bytes on its tile: the one formula the lowering's memory ledger, the preflight and the workload graph use.

``k`` neurons of a layer on one tile, connected to ``n_inputs`` input neurons, hold (GSNN PC (tile mapping); the
authors' op allocates each per neuron tile): the weights ``4 N_in k`` (with a sparse layer's index list ``4 N_in``),
a gradient replica per worker context ``W x 4 N_in k``, with Adam two moments ``2 x 4 N_in k``, five ``[B, k]``
states (current, initial, the re-allocated initial, dL/dV and its scaled copy), the state history ``4 T B k``, the
sliced state row ``4 B k``, thresholds and decay ``5 x 4 k`` and the two dense flags ``2 x 4 B k``.

>>> from mimdsim.snn.model.spec import snn_from_sizes
>>> spec = snn_from_sizes([10, 4, 2], max_activity=0.5, input_sparse_size=4, batch_size=2, n_timesteps=3)
>>> neuron_tensor_bytes(spec, k=2, n_inputs=10, n_workers=6)["state_history"]  # 4 x T x B x k
48
>>> sum(neuron_tensor_bytes(spec, k=2, n_inputs=10, n_workers=6).values())
936
"""

from __future__ import annotations

from typing import Any

from mimdsim.snn.model.spec import SNNSpec

__all__ = ["WORD_BYTES", "neuron_tensor_bytes", "NEURON_TENSOR_LABELS"]

WORD_BYTES = 4
"""uint32 spike ids and counts, float32 values: every tensor of the authors' op (FB24; GSNN PC (sparse spike tensors))."""

NEURON_TENSOR_LABELS = {
    "weights": "weights 4 x N_in x k",
    "weight_grad_replicas": "gradient replicas W x 4 x N_in x k",
    "optimizer_state": "Adam moments 2 x 4 x N_in x k",
    "states": "states 5 x 4 x B x k",
    "state_history": "state history 4 x T x B x k",
    "state_slice": "state row 4 x B x k",
    "thresholds_decay": "thresholds and decay 5 x 4 x k",
    "dense_flags": "dense flags 2 x 4 x B x k",
}
"""The formula of each part, for messages (the preflight names the largest)."""


def neuron_tensor_bytes(spec: SNNSpec, k: Any, n_inputs: Any, n_workers: int, *, index_list: bool = False) -> dict[str, Any]:
    """Bytes of ``k`` neurons connected to ``n_inputs`` inputs on one tile, by tensor (ints or numpy arrays alike);
    ``index_list``: a sparse layer's ``N_in`` input ids beside its weights. See the module docstring."""
    T, B, W = spec.n_timesteps, spec.batch_size, WORD_BYTES
    parts = {
        "weights": W * n_inputs * k + (W * n_inputs if index_list else 0),
        "weight_grad_replicas": n_workers * W * n_inputs * k,
    }
    if spec.optimizer == "adam":
        parts["optimizer_state"] = 2 * W * n_inputs * k
    parts |= {
        "states": 5 * W * B * k,
        "state_history": W * T * B * k,
        "state_slice": W * B * k,
        "thresholds_decay": 5 * W * k,
        "dense_flags": 2 * W * B * k,
    }
    return parts
