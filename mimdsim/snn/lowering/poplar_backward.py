"""The backward pass of the ``poplar`` lowering: the op's prologue, one time step's programs, the stage-2
reduction and the epilogue (GSNN PC; see :mod:`mimdsim.snn.lowering.poplar`)."""

from __future__ import annotations

import numpy as np

from mimdsim.poplibs import estimators as pl
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder
from mimdsim.program.ir import Step, Superstep
from mimdsim.program.unique import unique_ints
from mimdsim.snn.lowering import state_grad_2022
from mimdsim.snn.lowering.common import WORD_BYTES
from mimdsim.snn.lowering.poplar_forward import PoplarForward

__all__ = ["PoplarBackward"]


class PoplarBackward(PoplarForward):
    """The backward programs (see the module docstring)."""

    # ---- backward --------------------------------------------------------------------
    def backward_prologue(self) -> list[Step]:
        """PC Build_grad 2514-2668 before the loops (GSNN PC `Build_grad` 2514-2810)."""
        te, T, B, W = self.tens, self.T, self.B, self.W
        steps: list[Step] = []
        for li in range(self.L):
            steps.append(self._neuron_copy(f"bwd.copy.initial_state[l={li}]", li, WORD_BYTES * B))
        for li in range(1, self.L):
            steps.append(self.layout_copy(f"bwd.copy.initial_inputs[l={li}]", te.inp[li], te.bwd_inp[li]))
        for li in range(self.L):
            steps.append(self._elementwise(f"bwd.one_minus_decay[l={li}]", li, 1, in_place=False))
            steps.append(self._elementwise(f"bwd.scale_decay[l={li}]", li, 1, in_place=True))
        for li, lay in enumerate(self.layout.layers):
            steps.append(
                self.local_copy(
                    f"bwd.zero.weight_grad_replicas[l={li}]", lay.tiles, W * WORD_BYTES * lay.tile_sources * lay.tile_neurons
                )
            )
        for li in range(self.L):
            steps.append(self._neuron_copy(f"bwd.zero.state_grad[l={li}]", li, WORD_BYTES * B))
        for li in range(self.L):
            if li == 0:
                steps.append(self._cast("bwd.cast.input_ids[l=0]", te.in_ids, T))
                steps.append(self._cols_local_copy("bwd.cast.input_counts[l=0]", te.in_counts, T))
            else:
                steps.append(self._cast(f"bwd.cast.input_ids[l={li}]", te.bwd_inp[li], 1))
                steps.append(self._cols_local_copy(f"bwd.cast.input_counts[l={li}]", te.bwd_inp_counts[li], 1))
            steps.append(self._cast(f"bwd.cast.output_ids[l={li}]", te.out_ids[li], T))
            steps.append(self._cast(f"bwd.cast.output_counts[l={li}]", te.out_counts[li], T))
        for li in range(1, self.L):
            steps.append(self._cols_local_copy(f"bwd.zero.slot_grads[l={li}]", te.bwd_inp[li], 1))
        steps.append(self.local_copy("bwd.itime.init", np.array([te.counter_tile]), WORD_BYTES))
        return steps

    def shared_backward(self) -> dict[str, Superstep]:
        """The backward programs whose costs do not depend on t, built once for both bodies (t >= 1 and t = 0)."""
        if self._shared is None:
            te, B = self.tens, self.B
            steps = [
                self._scalar_op("bwd.itime.decrement"),
                self._scalar_op("bwd.itime_minus_one"),
                self.dynamic_slice("bwd.slice.input_ids", te.in_ids),
                self.dynamic_slice("bwd.slice.input_counts", te.in_counts),
                self.dynamic_slice("bwd.slice.output_grad", te.out_grad),
                *self._state_grad_exchanges(),
                self.broadcast_copy("bwd.replicate.ids[l=0]", te.in_ids, np.arange(te.in_ids.size), self.layout.layers[0].tiles),
                self.broadcast_copy("bwd.replicate.counts[l=0]", te.in_counts, np.arange(B), self.layout.layers[0].tiles),
            ]
            for li in range(self.L):
                steps += [
                    self.dynamic_slice(f"bwd.slice.ids[l={li}]", te.out_ids[li]),
                    self.dynamic_slice(f"bwd.slice.counts[l={li}]", te.out_counts[li]),
                    self._state_slice(f"bwd.slice.state[l={li}]", li),
                    self._elementwise(f"bwd.alpha_mul[l={li}]", li, B, in_place=True),
                    self._neuron_copy(f"bwd.scale.copy[l={li}]", li, WORD_BYTES * B),
                    self._elementwise(f"bwd.scale.mul[l={li}]", li, B, in_place=True),
                ]
            self._shared = {st.name: st for st in steps}
        return self._shared

    def backward_body(self, ts: np.ndarray) -> list[Step]:
        """PC:2673-2711 (t >= 1) or 2717-2759 (t = 0, no input-spike gradient): one backward time step."""
        te, B = self.tens, self.B
        grads = bool(ts[0] >= 1)
        sh = self.shared_backward()
        layers = range(self.L)
        steps: list[Step] = [
            sh[n] for n in ("bwd.itime.decrement", "bwd.itime_minus_one", "bwd.slice.input_ids", "bwd.slice.input_counts")
        ]
        if grads:  # layer l's output at t-1: layer l+1's forward input
            for li in range(self.L - 1):
                steps.append(self.dynamic_slice(f"bwd.slice.prev_ids[l={li}]", te.out_ids[li]))
                steps.append(self.dynamic_slice(f"bwd.slice.prev_counts[l={li}]", te.out_counts[li]))
        steps.append(sh["bwd.slice.output_grad"])
        steps += [sh[f"bwd.slice.{k}[l={li}]"] for li in layers for k in ("ids", "counts", "state")]
        steps += [sh[f"bwd.alpha_mul[l={li}]"] for li in layers]
        if self.version == "2022-09-12":  # one vertex per (layer, sample), gathering whole-layer rows
            steps += state_grad_2022.state_grad_steps(self, ts, self.soft_double_cycles)
        else:
            sgrad = ComputeSetBuilder("bwd.state_grad")
            self.add_state_grad(sgrad, ts)
            steps.append(self.superstep("bwd.state_grad", sh["bwd.state_grad.inputs"].exchange, sgrad))
        steps += [sh[f"bwd.scale.{k}[l={li}]"] for li in layers for k in ("copy", "mul")]
        steps += [sh["bwd.replicate.ids[l=0]"], sh["bwd.replicate.counts[l=0]"]]
        for li, lay in enumerate(self.layout.layers[1:], start=1):  # PC:1942-1943 (PF:984-1008)
            if grads:
                ids, cnt, n_cnt = te.out_ids[li - 1], te.out_counts[li - 1], 2 * B
            else:  # t = 0: the initial (zero) inputs, counts [B, 1]
                ids, cnt, n_cnt = te.bwd_inp[li], te.bwd_inp_counts[li], B
            steps.append(self.broadcast_copy(f"bwd.replicate.ids[l={li}]", ids, np.arange(ids.size), lay.tiles))
            steps.append(self.broadcast_copy(f"bwd.replicate.counts[l={li}]", cnt, np.arange(n_cnt), lay.tiles))
        wgrad = ComputeSetBuilder("bwd.weight_grad")
        self.add_weight_grad(wgrad, ts)
        steps.append(self.execute("bwd.weight_grad", None, wgrad))
        if grads and self.L > 1:
            igrad = ComputeSetBuilder("bwd.input_grad")
            self.add_input_grad(igrad, ts)
            red1 = ComputeSetBuilder("bwd.reduce_stage1")
            self.add_reduce_stage1(red1, ts)
            steps.append(self.execute("bwd.input_grad", None, igrad))
            steps.append(self.execute("bwd.reduce_stage1", self._stage1_inputs(), red1))
            steps += self._stage2()
        return steps

    def _state_grad_exchanges(self) -> list[Superstep]:
        """The state gradient's input exchange (and, in the 2022-09-12 op, its write-back), built once for both backward bodies."""
        if self.version == "2022-09-12":
            return [
                self.execute("bwd.state_grad.inputs", state_grad_2022.state_grad_inputs(self), None),
                self.execute("bwd.state_grad.out", state_grad_2022.state_grad_writeback(self), None),
            ]
        return [self.execute("bwd.state_grad.inputs", self._state_grad_inputs(), None)]

    def _state_grad_inputs(self) -> ExchangeBuilder:
        """Every tile of layer l reads its output ids [B, S_l], counts column 1 and slot gradients [B, S_l] (PC:1363-1419)."""
        te, B = self.tens, self.B
        tr = ExchangeBuilder()
        for li, lay in enumerate(self.layout.layers):
            self.gather(tr, te.out_ids[li], np.arange(te.out_ids[li].size), lay.tiles)
            self.gather(tr, te.out_counts[li][1::2], np.arange(1, 2 * B, 2), lay.tiles)
            grad = te.out_grad if li == self.L - 1 else te.bwd_inp[li + 1]
            self.gather(tr, grad, np.arange(grad.size), lay.tiles)
        return tr

    def _stage1_inputs(self) -> ExchangeBuilder:
        """Stage 1 sums the g partials of (b, slot) from the tiles of its group, and reads num[b][1] of the input."""
        te = self.tens
        tr = ExchangeBuilder()
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            assert lay.group_of_tile is not None
            tile, _, b, s_lo, s_hi, group, _, _ = self.stage1_segments(lay)
            # every run of vertices (one region each) reads its slots' partials from each member of
            # its group: per (stage-1 tile, group) one transfer from each member, a region per run
            pair, pair_of_seg = unique_ints(tile * lay.n_groups + group, return_inverse=True)
            pair_of_seg = pair_of_seg.reshape(-1)
            nbytes = np.bincount(pair_of_seg, weights=WORD_BYTES * (s_hi - s_lo), minlength=pair.size).astype(np.int64)
            regions = np.bincount(pair_of_seg, minlength=pair.size)
            p_tile, p_group = pair // lay.n_groups, pair % lay.n_groups
            order = np.argsort(lay.group_of_tile, kind="stable")
            members = lay.tiles[order]
            size = np.bincount(lay.group_of_tile, minlength=lay.n_groups)
            first = np.concatenate([[0], np.cumsum(size)[:-1]])
            reps = size[p_group]
            k = np.repeat(np.arange(pair.size), reps)
            offset = np.arange(k.size) - np.repeat(np.cumsum(reps) - reps, reps)
            tr.unicast(members[first[p_group[k]] + offset], p_tile[k], nbytes[k], regions[k])
            width = int(b.max()) + 1
            tb = unique_ints(tile * width + b)
            tr.unicast(te.out_counts[li - 1][2 * (tb % width) + 1], tb // width, WORD_BYTES)
        return tr

    def _stage2(self) -> list[Step]:
        """``popops::reduceMany`` per IPU over the groups into the slot-gradient buffers (PC:1425-1476).

        Reductions of one group (a size-1 dimension) are a Copy, sorted first
        (PL Reduction.cpp:576-685, 986); the others share one compute set, reduced at the
        destination (``shouldReduceAtDestination``, ReductionPlan.cpp:183-200, whenever
        ``getMaxIPUSyncDelay`` > 120 cycles) with STRIDED_REDUCE vertices splitting each
        tile's outputs over the workers; a tile with fewer outputs than workers splits the
        partials instead and needs a second compute set (ReductionConnection.cpp:1870-2040).
        """
        te = self.tens
        steps: list[Step] = []
        ipus = sorted({lay.ipu for lay in self.layout.layers[1:]})
        for ipu in ipus:
            tag = "" if len(ipus) == 1 else f"[ipu={ipu}]"
            layers = [li for li, lay in enumerate(self.layout.layers) if li >= 1 and lay.ipu == ipu]
            for li in (li for li in layers if self.layout.layers[li].n_groups == 1):
                src = self.layout.layers[li].stage1_tile[0].reshape(-1)  # type: ignore[index]
                steps.append(self.layout_copy(f"bwd.reduce_stage2.copy[l={li}]", src, te.bwd_inp[li]))
            multi = [li for li in layers if self.layout.layers[li].n_groups >= 2]
            if multi:
                steps += self._reduce_at_destination(multi, tag)
        return steps

    def _reduce_at_destination(self, layers: list[int], tag: str) -> list[Step]:
        te, W = self.tens, self.W
        tr = ExchangeBuilder()
        first = ComputeSetBuilder(f"bwd.reduce_stage2{tag}")
        second = ComputeSetBuilder(f"bwd.reduce_stage2.combine{tag}")
        for li in layers:
            lay = self.layout.layers[li]
            assert lay.stage1_tile is not None
            dst = te.bwd_inp[li]
            assert dst is not None
            g = lay.n_groups
            n = dst.size
            idx = np.tile(np.arange(n, dtype=np.int64), g)  # each group's partials, one copy per group
            self.copy_transfers(tr, lay.stage1_tile.reshape(-1), np.tile(dst, g), idx, idx)
            tiles, outs = unique_ints(dst, return_counts=True)
            for o in unique_ints(outs).tolist():  # the tiles with o outputs share their vertex lists
                t = tiles[outs == o]
                if o >= W:
                    per = -(-o // W)
                    n_full, rest = divmod(o, per)
                    cyc = [pl.reduce_strided_cycles(per, g)] * n_full + ([pl.reduce_strided_cycles(rest, g)] if rest else [])
                    first.add_table("popops.Reduce", t, cyc, unique=True)
                else:  # split every output's partials over W // o workers, then combine them
                    split = max(W // o, 1)
                    first.add_table("popops.Reduce", t, [pl.reduce_strided_cycles(1, -(-g // split))], [o * split], unique=True)
                    second.add_table("popops.Reduce", t, [pl.reduce_strided_cycles(1, split)], [o], unique=True)
        steps: list[Step] = [self.execute(f"bwd.reduce_stage2{tag}", tr, first)]
        if second.blocks:
            steps.append(self.execute(f"bwd.reduce_stage2.combine{tag}", None, second))
        return steps

    def backward_epilogue(self) -> list[Step]:
        """PC:2762-2796: the W weight-gradient replicas reduced into dL/dW, tile-local, all layers in one compute set."""
        W = self.W
        cs = ComputeSetBuilder("bwd.reduce_replicas")
        for li in range(self.L):
            for tiles, k, src in self.groups[li]:
                outputs = src * k
                if outputs == 0:  # neurons with no connected input (a sparse layer): no weight, nothing to reduce
                    continue
                per = -(-outputs // W)
                n_full, rest = divmod(outputs, per)
                cyc = [pl.reduce_strided_cycles(per, W)] * n_full + ([pl.reduce_strided_cycles(rest, W)] if rest else [])
                cs.add_table("popops.Reduce", tiles, cyc, unique=True)
        return [self.execute("bwd.reduce_replicas", None, cs)]
