"""The forward pass of the ``poplar`` lowering: the op's prologue, one time step's programs and the epilogue
(GSNN PC; see :mod:`mimdsim.snn.lowering.poplar`)."""

from __future__ import annotations

import numpy as np

from mimdsim.poplibs import estimators as pl
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder
from mimdsim.program.ir import Step
from mimdsim.program.unique import unique_ints
from mimdsim.snn.lowering.common import WORD_BYTES
from mimdsim.snn.lowering.poplar_programs import PoplarPrograms

__all__ = ["PoplarForward"]


class PoplarForward(PoplarPrograms):
    """The forward programs (see the module docstring)."""

    # ---- forward ---------------------------------------------------------------------
    def forward_prologue(self) -> list[Step]:
        """PC Build 2195-2494 before the loop (GSNN PC `Build` 2195-2494)."""
        te, T, B = self.tens, self.T, self.B
        steps: list[Step] = []
        for li in range(self.L):
            steps.append(self._elementwise(f"fwd.one_minus_decay[l={li}]", li, 1, in_place=False))
            steps.append(self._elementwise(f"fwd.scale_decay[l={li}]", li, 1, in_place=True))
        for li in range(self.L):
            if li == 0:
                steps.append(self._cast("fwd.cast.input_ids[l=0]", te.in_ids, T))
            else:
                steps.append(self._cast(f"fwd.cast.input_ids[l={li}]", te.inp[li], 1))
        for li in range(self.L):  # INT -> UNSIGNED_INT is a Copy (PL Cast.cpp:98-117)
            col = te.in_counts if li == 0 else te.inp_counts[li]
            steps.append(self._cols_local_copy(f"fwd.cast.input_counts[l={li}]", col, T if li == 0 else 1))
        for li in range(self.L):
            steps.append(self._neuron_copy(f"fwd.copy.initial_state[l={li}]", li, WORD_BYTES * B))
        for li in range(1, self.L):
            steps.append(self.layout_copy(f"fwd.copy.initial_ids[l={li}]", te.inp[li], te.out_ids[li - 1]))
            steps.append(self.layout_copy(f"fwd.copy.initial_counts[l={li}]", te.inp_counts[li], te.out_counts[li - 1][0::2]))
        steps.append(self.local_copy("fwd.counter.init", np.array([te.counter_tile]), WORD_BYTES))
        return steps

    def forward_body(self, ts: np.ndarray) -> list[Step]:
        """PC loop body 2427-2461: the programs of one forward time step; tables over ``ts``."""
        te, B = self.tens, self.B
        steps: list[Step] = [
            self.dynamic_slice("fwd.slice.input_ids", te.in_ids),
            self.dynamic_slice("fwd.slice.input_counts", te.in_counts),
        ]
        for li in range(1, self.L):  # PC:2436-2439: layer l-1's ids and counts column 0 into layer l's input buffers
            steps.append(self.layout_copy(f"fwd.handoff.ids[l={li}]", te.out_ids[li - 1], te.inp[li]))
            steps.append(
                self.layout_copy(
                    f"fwd.handoff.counts[l={li}]",
                    te.out_counts[li - 1][0::2],
                    te.inp_counts[li],
                    np.arange(0, 2 * B, 2),
                )
            )
        upd = ComputeSetBuilder("fwd.state_update")
        self.add_state_update(upd, ts)
        steps.append(self.execute("fwd.state_update", self._state_update_inputs(), upd))
        flags = ComputeSetBuilder("fwd.dense_flags")
        self.add_dense_flags(flags)
        steps.append(self.execute("fwd.dense_flags", None, flags))
        for li in range(self.L):  # PC:706: one poprand::uniform per layer, its result unused (CC:628-681)
            cs = ComputeSetBuilder(f"fwd.poprand[l={li}]")
            cs.add_supervisor(
                "poprand.Uniform", self._poprand_tiles(li), pl.poprand_uniform_int_tile_cycles(self._workers_of(li), self.W)
            )
            steps.append(self.execute(f"fwd.poprand[l={li}]", None, cs))
        d2s = ComputeSetBuilder("fwd.dense_to_sparse")
        comb1 = ComputeSetBuilder("fwd.tile_combine")
        comb2 = ComputeSetBuilder("fwd.final_combine")
        self.add_spike_generation(d2s, comb1, comb2, ts)
        steps += [
            self.execute("fwd.dense_to_sparse", self._flag_inputs(), d2s),
            self.execute("fwd.tile_combine", None, comb1),
            self.execute("fwd.final_combine", self._combine_inputs(), comb2),
            self.execute("fwd.final_combine.out", self._combine_outputs(), None),
        ]
        for li in range(self.L):
            steps.append(self._state_slice(f"fwd.update.state[l={li}]", li))
            steps.append(self.dynamic_slice(f"fwd.update.ids[l={li}]", te.out_ids[li]))
            steps.append(self.dynamic_slice(f"fwd.update.counts[l={li}]", te.out_counts[li]))
        steps.append(self._scalar_op("fwd.loop.increment"))
        return steps

    def forward_epilogue(self) -> list[Step]:
        """PC:2468-2475: the output ids and counts cast back to float for TensorFlow."""
        te, T = self.tens, self.T
        steps: list[Step] = []
        for li in range(self.L):
            steps.append(self._cast(f"fwd.cast.output_ids[l={li}]", te.out_ids[li], T))
            steps.append(self._cast(f"fwd.cast.output_counts[l={li}]", te.out_counts[li], T))
        return steps

    def _workers_of(self, li: int) -> int:
        lay = self.layout.layers[li]
        return int(lay.slice_bounds.size - 1)

    def _poprand_tiles(self, li: int) -> np.ndarray:
        """The poprand reference rows of layer ``li`` sit on its first 2B slots (PC:697-704)."""
        return unique_ints(self.layout.layers[li].slot_tiles.reshape(-1)[: 2 * self.B])

    def _state_update_inputs(self) -> ExchangeBuilder:
        """Every tile of layer l reads all of its input ids [B, S_{l-1}] and counts [B, 1] (PF:474-599)."""
        te, B = self.tens, self.B
        tr = ExchangeBuilder()
        for li, lay in enumerate(self.layout.layers):
            ids = te.in_ids if li == 0 else te.inp[li]
            cnt = te.in_counts if li == 0 else te.inp_counts[li]
            self.gather(tr, ids, np.arange(ids.size), lay.tiles)
            self.gather(tr, cnt, np.arange(B), lay.tiles)
        return tr

    def _flag_inputs(self) -> ExchangeBuilder:
        """Each ``DenseToSparseSpikes`` reads its slice's flags [n, b, thr] (stride 2B: one message per
        neuron) from the neuron tiles, and its random offset from the layer's poprand row."""
        tr = ExchangeBuilder()
        B = self.B
        for li, lay in enumerate(self.layout.layers):
            neuron_tile = self.tens.neuron[li]
            bounds = lay.slice_bounds
            ref = lay.slot_tiles.reshape(-1)[: 2 * B]
            for j in range(lay.spread):
                a, z = lay.slot_slices(j)
                lo, hi = int(bounds[a]), int(bounds[z])
                if hi <= lo:
                    continue
                src, n_flags = unique_ints(neuron_tile[lo:hi], return_counts=True)
                dst = lay.slot_tiles[:, :, j].reshape(-1)  # (b, thr) order
                tr.scatter_many(src, WORD_BYTES * n_flags, n_flags, dst)
                # the slot's workers read their offsets, contiguous in row (b, thr) of the poprand result
                row = np.arange(dst.size)
                tr.unicast(ref[row % ref.size], dst, WORD_BYTES * (z - a))
        return tr

    def _combine_inputs(self) -> ExchangeBuilder:
        """The final combine of (l, b) reads the 2 f_l per-tile lists (min(S, ceil(N/f)) + 1 words each) of its slots."""
        tr = ExchangeBuilder()
        for lay in self.layout.layers:
            words = min(lay.sparse_size, -(-lay.n_neurons // lay.spread)) + 1
            comb = np.repeat(lay.combine_tiles, 2 * lay.spread)
            tr.unicast(lay.slot_tiles.reshape(-1), comb, WORD_BYTES * words)
        return tr

    def _combine_outputs(self) -> ExchangeBuilder:
        """The final combine writes ids[b] and counts[b] into the sliced output buffers on the sequence tiles."""
        te = self.tens
        tr = ExchangeBuilder()
        for li, lay in enumerate(self.layout.layers):
            s = lay.sparse_size
            for cols, per in ((te.out_ids[li], s), (te.out_counts[li], 2)):
                src = np.repeat(lay.combine_tiles, per)
                self.copy_transfers(tr, src, cols, np.arange(cols.size), np.arange(cols.size))
        return tr
