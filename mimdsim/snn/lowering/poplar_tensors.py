"""Where the authors' op puts its tensors, element by element (GSNN PC (tensor layouts)).

Every layout is an int64 array of the tile of each element (for a ``[T, ...]`` sequence
tensor: of each column, every row being the same), built with PopLibs' rules
(:mod:`mimdsim.poplibs.layout`) on the op's virtual graph of each IPU: tiles
``1 .. 1471`` of IPU 0 and all 1472 tiles of IPU ``i >= 1`` (PC:2384-2389).

* sequence tensors (``createSliceableTensor``, PC:2146-2173, 2405-2406): the input ids
  ``[T, B, S_in]`` and counts ``[T, B, 1]``, each layer's output ids ``[T, B, S_l]`` and
  counts ``[T, B, 2]``, and the incoming gradient of the last layer's ids ``[T, B, S]``
  (its mapping is set by the TensorFlow graph that produces it; taken here as a
  sliceable tensor of that shape, so it lands on the output ids' tiles);
* per-step buffers: the slices of a sequence keep row 0's mapping (``createSliceTensor``,
  PC:2409-2410), so every dynamic slice and update is tile-local; layer ``l >= 1``'s
  input buffers ``[B, S_{l-1}]`` and ``[B, 1]`` are ``alloc_linearly(vg, offset 0)``
  (PC:2416-2417) and the backward pass re-allocates them at offset 1 (PC:2585), where the
  slot-gradient buffers (clones, PC:2653) also live;
* neuron tensors (weights, states, thresholds, decay, flags, replicas) on the layer's
  neuron tiles (GSNN PC);
* the sparse2dense output ``[T, B, C]``: row ``(t, b)`` on tile
  ``floor(t B / q) + floor(b / q)`` with ``q = floor(T B / tiles) + 1`` of the last IPU
  (S2D; GSNN KI), and the logits ``[B, C]`` mapped linearly there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.poplibs.layout import linear_layout, sliceable_columns
from mimdsim.snn.lowering.layout import SNNLayout
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["PoplarTensors", "op_tiles", "build_poplar_tensors"]


def op_tiles(machine: MachineSpec, ipu: int) -> np.ndarray:
    """The op's virtual-graph tiles on ``ipu``: every tile but tile 0 of IPU 0."""
    tpi = machine.tiles_per_ipu
    return np.arange(ipu * tpi + (1 if ipu == 0 else 0), (ipu + 1) * tpi, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class PoplarTensors:
    """Tile of every column / element of the op's tensors (see the module docstring)."""

    in_ids: np.ndarray  # [B S_in] columns of the input ids sequence
    in_counts: np.ndarray  # [B] columns of the input counts sequence
    out_ids: tuple[np.ndarray, ...]  # per layer: [B S_l] columns of its output ids sequence
    out_counts: tuple[np.ndarray, ...]  # per layer: [2B] columns of its counts sequence
    out_grad: np.ndarray  # [B S_{L-1}] columns of dL/d(ids of the last layer)
    inp: tuple[np.ndarray, ...]  # per layer: [B S_{l-1}] forward input buffer (offset 0); empty for layer 0
    inp_counts: tuple[np.ndarray, ...]  # per layer: [B]; empty for layer 0
    bwd_inp: tuple[
        np.ndarray, ...
    ]  # per layer (empty for layer 0): [B S_{l-1}] re-allocated input = slot-gradient buffer (offset 1)
    bwd_inp_counts: tuple[np.ndarray, ...]  # per layer: [B]; empty for layer 0
    neuron: tuple[np.ndarray, ...]  # per layer: [N_l] tile of each neuron
    dense_rows: np.ndarray  # [T B] tile of each (t, b) row of the sparse2dense output
    logits: np.ndarray  # [B C] the time-summed output spikes
    counter_tile: int  # the loop counter and itime (tile 0)


def build_poplar_tensors(spec: SNNSpec, machine: MachineSpec, layout: SNNLayout, neuron_tiles: list[np.ndarray]) -> PoplarTensors:
    """The op's tensor layouts for ``spec`` on ``machine`` (neurons placed by the mapping)."""
    T, B = spec.n_timesteps, spec.batch_size
    lays = layout.layers
    S = spec.sparse_sizes
    out_ids: list[np.ndarray] = []
    out_counts: list[np.ndarray] = []
    inp: list[np.ndarray] = []
    inp_counts: list[np.ndarray] = []
    bwd_inp: list[np.ndarray] = []
    bwd_inp_counts: list[np.ndarray] = []
    for li, lay in enumerate(lays):
        vg = op_tiles(machine, lay.ipu)
        out_ids.append(sliceable_columns((T, B, S[li + 1]), vg))
        out_counts.append(sliceable_columns((T, B, 2), vg))
        if li == 0:
            for lst in (inp, inp_counts, bwd_inp, bwd_inp_counts):
                lst.append(np.zeros(0, np.int64))  # layer 0 reads the input sequence: no input buffer
            continue
        inp.append(linear_layout(B * S[li], vg))
        inp_counts.append(linear_layout(B, vg))
        bwd_inp.append(linear_layout(B * S[li], vg, offset=1))
        bwd_inp_counts.append(linear_layout(B, vg, offset=1))
    vg0 = op_tiles(machine, lays[0].ipu)
    last = lays[-1]
    vg_last = op_tiles(machine, last.ipu)
    n_tiles = machine.tiles_per_ipu
    q = T * B // n_tiles + 1
    t, b = np.divmod(np.arange(T * B, dtype=np.int64), B)
    dense_rows = last.ipu * n_tiles + (t * B) // q + b // q
    return PoplarTensors(
        in_ids=sliceable_columns((T, B, S[0]), vg0),
        in_counts=sliceable_columns((T, B, 1), vg0),
        out_ids=tuple(out_ids),
        out_counts=tuple(out_counts),
        out_grad=sliceable_columns((T, B, S[-1]), vg_last),
        inp=tuple(inp),
        inp_counts=tuple(inp_counts),
        bwd_inp=tuple(bwd_inp),
        bwd_inp_counts=tuple(bwd_inp_counts),
        neuron=tuple(neuron_tiles),
        dense_rows=np.minimum(dense_rows, (last.ipu + 1) * n_tiles - 1),
        logits=linear_layout(B * last.n_neurons, vg_last),
        counter_tile=0,
    )
