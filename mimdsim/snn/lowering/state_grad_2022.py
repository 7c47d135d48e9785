"""The backward state gradient of the authors' op as of 2022-09-12 (GSNN @ 2b0fe90).

The op of that commit produced the only measured IPU timings of this workload; it differs
from the final op (3e05811) in the backward state gradient alone (B5). Sources: GSNN
``poplar_code_stateBasedReset.cpp``@2b0fe90 ``calcLIFStateGrad`` (PC:1040-1081), called
from ``performLIFStepBackwardPass`` (PC:1576-1583); ``determine_start_tile_spike_gen``
(``poplar_functions.cpp``@2b0fe90:662-665); codelet ``LIFStateOutGrad``
(``custom_codelet.cpp``@2b0fe90:865-891).

* The per-layer ``mulInPlace(dLdState[l], alpha)`` compute sets come first, as in the final
  op (B4; the lowering's ``bwd.alpha_mul``).
* Then ONE compute set with one ``LIFStateOutGrad`` worker vertex per (layer ``l``, sample
  ``b``), placed -- "totally bogus tile mapping, must be improved", say the authors -- on
  tile ``1 + B x (index of the layer on its IPU) + b`` of the layer's IPU.
* Its fields: ``fwdState[l][b]`` (the state row at t, N_l floats) and the InOut
  ``dLdState[l][b]`` (N_l floats), both one region per neuron tile of the layer;
  ``thresholds[l]`` ([2, N_l]: two regions per neuron tile, the same for every sample);
  the slot gradients ``dLdoutSpikes[l][b]`` (S_l floats), the output ids
  ``fwd_out_spikes_ids[b]`` (S_l) and ``end`` (count column 1). So every backward step
  each vertex tile gathers whole-layer rows from the P_l neuron tiles -- traffic that
  grows with the layer's width, not with activity or depth -- and after the compute the
  InOut row goes back to the neuron tiles (the ``.out`` exchange).
* The vertex loops over the ``end`` valid slots in software double precision
  (:func:`mimdsim.snn.lowering.codelets.state_out_grad_cycles`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder
from mimdsim.program.ir import Step
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering.common import WORD_BYTES

if TYPE_CHECKING:
    from mimdsim.snn.lowering.poplar_backward import PoplarBackward
    from mimdsim.snn.lowering.poplar_programs import PoplarPrograms

__all__ = ["vertex_tiles", "state_grad_inputs", "state_grad_writeback", "state_grad_steps"]


def vertex_tiles(low: PoplarPrograms) -> list[np.ndarray]:
    """Per layer, the tile of each sample's ``LIFStateOutGrad`` vertex: ``1 + B x (layer's index on its IPU) + b``."""
    B, tpi = low.B, low.machine.tiles_per_ipu
    out: list[np.ndarray] = []
    seen: dict[int, int] = {}
    for li, lay in enumerate(low.layout.layers):
        index = seen.get(lay.ipu, 0)
        seen[lay.ipu] = index + 1
        start = 1 + B * index
        if start + B > tpi:
            raise ConfigError(
                f"program_version 2022-09-12: the state gradient of layer {li} goes on tiles {start}..{start + B - 1} of IPU "
                f"{lay.ipu} (1 + B x its index on the IPU + b, PF@2b0fe90:662-665), past the IPU's {tpi} tiles"
            )
        out.append(lay.ipu * tpi + start + np.arange(B, dtype=np.int64))
    return out


def state_grad_inputs(low: PoplarPrograms) -> ExchangeBuilder:
    """The vertex of (l, b) reads the state and dL/dV rows b (one region per neuron tile each), the
    thresholds [2, N_l] (two regions per neuron tile, multicast to the layer's B vertices), and the
    ids, count column 1 and slot gradients of sample b."""
    te, B = low.tens, low.B
    tr = ExchangeBuilder()
    for li, (lay, vt) in enumerate(zip(low.layout.layers, vertex_tiles(low), strict=True)):
        row_bytes = WORD_BYTES * lay.tile_neurons  # the k floats of one row on each neuron tile
        tr.scatter_many(lay.tiles, 2 * row_bytes, np.full(lay.tiles.size, 2), vt)  # state and dL/dV rows: distinct per sample
        for _ in range(2):  # θ1 and θ2 rows of the thresholds: the same data for every sample
            tr.multicast_many(lay.tiles, row_bytes, vt)
        S = lay.sparse_size
        grad = te.out_grad if li == low.L - 1 else te.bwd_inp[li + 1]
        per_sample = np.repeat(vt, S)
        idx = np.arange(B * S, dtype=np.int64)
        low.copy_transfers(tr, te.out_ids[li], per_sample, idx, idx)
        low.copy_transfers(tr, grad, per_sample, idx, idx)
        tr.unicast(te.out_counts[li][1::2], vt, WORD_BYTES)
    return tr


def state_grad_writeback(low: PoplarPrograms) -> ExchangeBuilder:
    """After the compute the InOut dL/dV row b goes back from the vertex tile to the layer's neuron tiles."""
    tr = ExchangeBuilder()
    for lay, vt in zip(low.layout.layers, vertex_tiles(low), strict=True):
        n = lay.tiles.size
        tr.unicast(np.repeat(vt, n), np.tile(lay.tiles, vt.size), np.tile(WORD_BYTES * lay.tile_neurons, vt.size))
    return tr


def state_grad_steps(low: PoplarBackward, ts: np.ndarray, soft_double_cycles: int | None) -> list[Step]:
    """The state gradient of one backward time step (``ts``: the steps of its loop): the compute set
    with its input exchange, then the write-back exchange."""
    cs = ComputeSetBuilder("bwd.state_grad")
    for li, vt in enumerate(vertex_tiles(low)):
        valid = low.valid_out(li, ts)  # [rows, B]: the vertex of sample b loops over its `end` valid slots
        cyc = est.state_out_grad_cycles(valid, soft_double_cycles)
        for b in range(low.B):
            cs.add_table("LIFStateOutGrad", vt[b : b + 1], cyc[:, b : b + 1], unique=True)
    shared = low.shared_backward()
    return [
        low.superstep("bwd.state_grad", shared["bwd.state_grad.inputs"].exchange, cs),
        shared["bwd.state_grad.out"],
    ]
