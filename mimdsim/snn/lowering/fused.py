"""The ``fused`` lowering: the training step as a compiler that merged the authors' programs would run it.

A what-if, not the default (that is :mod:`mimdsim.snn.lowering.poplar`, the authors'
program call by call). Each phase of the algorithm (GSNN PC `Build`/`Build_grad`) is one
superstep, with every layer in it: a sequence row of each batch element kept whole on one
tile (so slicing step t is local), the hand-off F1 sent straight from the previous layer's
combine tile to the layer's tiles, the slices, copies and multiplies of a time step merged
into one compute set each. The exchanges are built once (their sizes are set by the fixed
sparse sizes S) and shared by every step.

Forward, for t = 0 .. T-1 (one ``Repeat``; all layers in the same compute sets; layer
``l >= 1`` reads layer ``l-1``'s output of step ``t-1``)::

    fwd.state_update   exchange F1 (input ids + count of every layer, broadcast to its tiles)
    fwd.dense_flags
    fwd.rand_offsets   (poprand on the combine tiles; its result is unused by the vertices)
    fwd.dense_to_sparse exchange F2 (flags of 6-slice slots to the spike-generation tiles)
    fwd.tile_combine
    fwd.final_combine  exchange F3 (partial lists to each (layer, batch)'s combine tile)
    fwd.store          exchange F4 (output row to its sequence tile; state history local)
    fwd.loop           counted-loop bookkeeping on tile 0

then ``loss`` (gather of the output sequence, sparse-to-dense, cross-entropy), the
gradient zeroing, the backward steps for t = T-1 .. 1 (one ``Repeat``) and t = 0::

    bwd.slices         dynamic slices of the stored sequences at t and t-1
    bwd.alpha_mul
    bwd.state_grad     exchange B1 (output ids + counts + slot gradients to the layer's tiles)
    bwd.scale
    bwd.replicate      exchange B2 (forward input ids + counts replicated to every tile)
    bwd.weight_grad
    bwd.input_grad     (layers >= 1, t >= 1)
    bwd.reduce_stage1  exchange B3 (partials to the stage-1 tiles)
    bwd.reduce_stage2  exchange B3b (group results to the stage-2 tile)
    bwd.loop

and after the loop ``update.reduce_replicas`` and ``update.optimizer``. A superstep whose
exchange crosses IPUs uses an external sync; every other one an internal sync.
"""

from __future__ import annotations

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.program.ir import ComputeSet, HostCopy, Repeat, Step, Superstep, Tensor
from mimdsim.snn import estimators as est
from mimdsim.snn.activity import SpikeActivity
from mimdsim.snn.layout import LayerLayout, SNNLayout
from mimdsim.snn.lowering.common import WORD_BYTES, ComputeSetBuilder, LoweringBase, MemoryBuilder, Transfers
from mimdsim.snn.spec import SNNSpec

__all__ = ["FusedLowering"]


class FusedLowering(LoweringBase):
    """Builds the ``fused`` program (see the module docstring)."""

    def __init__(
        self, spec: SNNSpec, machine: MachineSpec, layout: SNNLayout, act: SpikeActivity, vertex_state_bytes: int, code_bytes_per_tile: int
    ) -> None:
        super().__init__(spec, machine, layout, act)
        self.vertex_state_bytes = vertex_state_bytes
        self.code_bytes_per_tile = code_bytes_per_tile
        self._build_static_sets()
        self._build_exchanges()

    # ---- static exchanges ---------------------------------------------------------
    def _broadcast(self, tr: Transfers, lay: LayerLayout, src: int, nbytes_dense: int, slots: int) -> None:
        """Send a [slots + extra] word row to every tile of ``lay`` (each tile gets only the
        ids it can use when the layer's connectivity is sparse)."""
        if lay.dense:
            tr.multicast(src, lay.tiles, nbytes_dense)
            return
        extra = nbytes_dense // WORD_BYTES - slots
        per_tile = WORD_BYTES * (np.minimum(slots, lay.tile_sources) + extra)
        tr.unicast(np.full(lay.tiles.size, src), lay.tiles, per_tile)

    def _build_exchanges(self) -> None:
        lay_all, B = self.layout.layers, self.B
        f1, f2, f3, f4, b1, b2, b3, b3b, loss = (Transfers() for _ in range(9))
        for li, lay in enumerate(lay_all):
            s_in, s = lay.input_sparse_size, lay.sparse_size
            for b in range(B):
                src = int(self.layout.input_seq_tiles[b] if li == 0 else lay_all[li - 1].combine_tiles[b])
                self._broadcast(f1, lay, src, WORD_BYTES * (s_in + 1), s_in)
                # B1: output ids + 2 counts, and the slot gradients
                b1.multicast(int(lay.seq_tiles[b]), lay.tiles, WORD_BYTES * (s + 2))
                # stage2_tiles is set on every layer after the first
                gsrc = int(self.layout.loss_tiles[b] if li == self.L - 1 else lay_all[li + 1].stage2_tiles[b])  # type: ignore[index]
                b1.multicast(gsrc, lay.tiles, WORD_BYTES * s)
                # B2: forward input ids + counts replicated on every tile
                if li == 0:
                    self._broadcast(b2, lay, int(self.layout.input_seq_tiles[b]), WORD_BYTES * (s_in + 1), s_in)
                else:
                    self._broadcast(b2, lay, int(lay_all[li - 1].seq_tiles[b]), WORD_BYTES * (s_in + 2), s_in)
            # F2: flags of each slot's neurons, from the neuron tiles to the slot tile
            pos = np.repeat(np.arange(lay.tiles.size), lay.tile_neurons)
            for j in range(lay.spread):
                a, z = lay.slot_slices(j)
                lo, hi = int(lay.slice_bounds[a]), int(lay.slice_bounds[z])
                if hi <= lo:
                    continue
                cnt = np.bincount(pos[lo:hi], minlength=lay.tiles.size)
                src_tiles, n_flags = lay.tiles[cnt > 0], cnt[cnt > 0]
                dst = lay.slot_tiles[:, :, j].reshape(-1)
                f2.unicast(np.tile(src_tiles, dst.size), np.repeat(dst, src_tiles.size), np.tile(WORD_BYTES * n_flags, dst.size))
            # F3: partial lists to the combine tile; F4: output row to its sequence tile
            comb = np.repeat(lay.combine_tiles, 2 * lay.spread)
            f3.unicast(lay.slot_tiles.reshape(-1), comb, WORD_BYTES * (s + 1))
            f4.unicast(lay.combine_tiles, lay.seq_tiles, WORD_BYTES * (s + 2))
            if li >= 1:
                self._reduction_transfers(lay, b3, b3b)
        last = lay_all[-1]
        loss.unicast(last.seq_tiles, self.layout.loss_tiles, WORD_BYTES * self.T * (last.sparse_size + 2))
        self.ex = {
            "f1": f1.build("fwd.handoff"),
            "f2": f2.build("fwd.flags"),
            "f3": f3.build("fwd.partial_lists"),
            "f4": f4.build("fwd.store_rows"),
            "b1": b1.build("bwd.output_slots"),
            "b2": b2.build("bwd.replicate_inputs"),
            "b3": b3.build("bwd.reduce_partials"),
            "b3b": b3b.build("bwd.reduce_groups"),
            "loss": loss.build("loss.gather"),
        }

    def _reduction_transfers(self, lay: LayerLayout, b3: Transfers, b3b: Transfers) -> None:
        """B3: each tile's partials of (b, slots) to the stage-1 tiles of its group; B3b: group
        results to the stage-2 tile. One transfer per run of slots held by one stage-1 tile."""
        assert lay.group_of_tile is not None
        assert lay.stage2_tiles is not None
        tile, _, b, s_lo, s_hi, group, _, _ = self.stage1_segments(lay)
        nbytes = WORD_BYTES * (s_hi - s_lo)
        order = np.argsort(lay.group_of_tile, kind="stable")
        members = lay.tiles[order]
        size = np.bincount(lay.group_of_tile, minlength=lay.n_groups)
        first = np.concatenate([[0], np.cumsum(size)[:-1]])
        reps = size[group]
        seg = np.repeat(np.arange(tile.size), reps)
        offset = np.arange(seg.size) - np.repeat(np.cumsum(reps) - reps, reps)
        b3.unicast(members[first[group[seg]] + offset], tile[seg], nbytes[seg])
        b3b.unicast(tile, lay.stage2_tiles[b], nbytes)

    def step(self, name: str, exchange: str | None, cs: ComputeSetBuilder | ComputeSet | None) -> Superstep:
        return self.superstep(name, self.ex[exchange] if exchange else None, cs)

    def _build_static_sets(self) -> None:
        """Compute sets whose vertices do not depend on spike counts: built once, shared by every step."""
        B, m = self.B, self.machine
        flags = ComputeSetBuilder("fwd.dense_flags")
        rand = ComputeSetBuilder("fwd.rand_offsets")
        store = ComputeSetBuilder("fwd.store")
        slices = ComputeSetBuilder("bwd.slices")
        alpha = ComputeSetBuilder("bwd.alpha_mul")
        scale = ComputeSetBuilder("bwd.scale")
        red2 = ComputeSetBuilder("bwd.reduce_stage2")
        self.add_dense_flags(flags)
        for li, lay in enumerate(self.layout.layers):
            row = est.slice_copy_cycles(np.array([WORD_BYTES * (lay.sparse_size + 2)]))
            for tiles, k, _ in self.groups[li]:
                state_copy = est.copy_tile_cycles(WORD_BYTES * B * k, m.memcpy_bytes_per_cycle)
                store.add("DynamicUpdateState", tiles, [], supervisor=state_copy, unique=True)
                slices.add("DynamicSliceState", tiles, [], supervisor=state_copy, unique=True)
                # in-place MultiVertex: PopLibs BinaryOp1DInPlace worker overhead 58 (GC-PG, POPLIBS)
                alpha.add("popops.MulInPlace", tiles, [], supervisor=est.elementwise_tile_cycles(B * k, worker_overhead=58, n_workers=self.W), unique=True)
                scale.add("popops.CopyMul", tiles, [], supervisor=2 * est.elementwise_tile_cycles(B * k, n_workers=self.W), unique=True)
            rand.add("poprand.Uniform", lay.combine_tiles, [], supervisor=est.elementwise_tile_cycles(1, n_workers=self.W))
            store.add("DynamicUpdateRow", lay.seq_tiles, row)
            # output row at t, and (as the next layer's input) at t-1
            slices.add("DynamicSliceRow", lay.seq_tiles, np.repeat(row, 2 if li < self.L - 1 else 1))
            if li >= 1:
                assert lay.stage2_tiles is not None
                s_in = lay.input_sparse_size
                n_workers = min(self.W, s_in)
                per_worker = -(-s_in // n_workers)
                red2.add("popops.ReduceMany", lay.stage2_tiles, [est.reduce_stage2_cycles(lay.n_groups, per_worker)], [n_workers])
        input_row = est.slice_copy_cycles(np.array([WORD_BYTES * (self.spec.input_sparse_size + 1)]))
        slices.add("DynamicSliceRow", self.layout.input_seq_tiles, input_row)
        slices.add("DynamicSliceRow", self.layout.loss_tiles, est.slice_copy_cycles(np.array([WORD_BYTES * self.layout.layers[-1].sparse_size])))
        counter = np.array([self.layout.counter_tile])
        loops = []
        for name in ("fwd.loop", "bwd.loop"):
            loop = ComputeSetBuilder(name)
            loop.add("CountedLoop", counter, [], supervisor=est.loop_counter_tile_cycles())
            loops.append(loop.build())
        self.static = {
            cs.name: cs
            for cs in (flags.build(), rand.build(), store.build(), slices.build(), alpha.build(), scale.build(), red2.build(), *loops)
        }

    # ---- forward --------------------------------------------------------------------
    def forward_body(self, ts: np.ndarray) -> list[Step]:
        """The forward supersteps of one time step; their count-dependent costs are tables over ``ts``."""
        upd = ComputeSetBuilder("fwd.state_update")
        d2s = ComputeSetBuilder("fwd.dense_to_sparse")
        comb1 = ComputeSetBuilder("fwd.tile_combine")
        comb2 = ComputeSetBuilder("fwd.final_combine")
        self.add_state_update(upd, ts)
        self.add_spike_generation(d2s, comb1, comb2, ts)
        st = self.static
        return [
            self.step("fwd.state_update", "f1", upd),
            self.step("fwd.dense_flags", None, st["fwd.dense_flags"]),
            self.step("fwd.rand_offsets", None, st["fwd.rand_offsets"]),
            self.step("fwd.dense_to_sparse", "f2", d2s),
            self.step("fwd.tile_combine", None, comb1),
            self.step("fwd.final_combine", "f3", comb2),
            self.step("fwd.store", "f4", st["fwd.store"]),
            self.step("fwd.loop", None, st["fwd.loop"]),
        ]

    def loss_step(self) -> Step:
        last = self.layout.layers[-1]
        cs = ComputeSetBuilder("loss")
        cs.add("SparseCrossEntropy", self.layout.loss_tiles, [est.loss_cycles(last.sparse_size, last.n_neurons, self.T)])
        return self.step("loss", "loss", cs)

    # ---- backward -------------------------------------------------------------------
    def zero_grads_step(self) -> Step:
        cs = ComputeSetBuilder("bwd.zero_grads")
        for li in range(self.L):
            for tiles, k, src in self.groups[li]:
                nbytes = WORD_BYTES * (self.W * src * k + 2 * self.B * k)
                cs.add("Fill", tiles, [], supervisor=est.fill_tile_cycles(nbytes, n_workers=self.W), unique=True)
        return self.step("bwd.zero_grads", None, cs)

    def backward_body(self, ts: np.ndarray) -> list[Step]:
        """The backward supersteps of time steps ``ts`` (all >= 1, or the single step 0, which
        computes no input-spike gradient); count-dependent costs are tables over ``ts``."""
        grads = bool(ts[0] >= 1)
        sgrad = ComputeSetBuilder("bwd.state_grad")
        wgrad = ComputeSetBuilder("bwd.weight_grad")
        igrad = ComputeSetBuilder("bwd.input_grad")
        red1 = ComputeSetBuilder("bwd.reduce_stage1")
        self.add_state_grad(sgrad, ts)
        self.add_weight_grad(wgrad, ts)
        if grads:
            self.add_input_grad(igrad, ts)
            self.add_reduce_stage1(red1, ts)
        st = self.static
        steps: list[Step] = [
            self.step("bwd.slices", None, st["bwd.slices"]),
            self.step("bwd.alpha_mul", None, st["bwd.alpha_mul"]),
            self.step("bwd.state_grad", "b1", sgrad),
            self.step("bwd.scale", None, st["bwd.scale"]),
            self.step("bwd.replicate", "b2", None),
            self.step("bwd.weight_grad", None, wgrad),
        ]
        if grads and self.L > 1:
            steps += [
                self.step("bwd.input_grad", None, igrad),
                self.step("bwd.reduce_stage1", "b3", red1),
                self.step("bwd.reduce_stage2", "b3b", st["bwd.reduce_stage2"]),
            ]
        steps.append(self.step("bwd.loop", None, st["bwd.loop"]))
        return steps

    def update_steps(self) -> list[Step]:
        red = ComputeSetBuilder("update.reduce_replicas")
        upd = ComputeSetBuilder("update.optimizer")
        for li in range(self.L):
            for tiles, k, src in self.groups[li]:
                red.add("popops.ReduceReplicas", tiles, [], supervisor=est.reduce_replicas_tile_cycles(src * k, self.W, self.W), unique=True)
                upd.add(
                    f"optimizer.{self.spec.optimizer}",
                    tiles,
                    [],
                    supervisor=est.optimizer_tile_cycles(src * k, self.spec.optimizer, self.W),
                    unique=True,
                )
        return [self.step("update.reduce_replicas", None, red), self.step("update.optimizer", None, upd)]

    # ---- host I/O -------------------------------------------------------------------
    def host_in(self) -> Step:
        tiles = np.concatenate([self.layout.input_seq_tiles, self.layout.loss_tiles])
        nbytes = np.concatenate(
            [np.full(self.B, WORD_BYTES * self.T * (self.spec.input_sparse_size + 1)), np.full(self.B, WORD_BYTES)]
        )
        return HostCopy("host.input_spikes_and_labels", tiles, nbytes, "to_device")

    def host_out(self) -> Step:
        return HostCopy("host.loss", self.layout.loss_tiles[:1], np.array([WORD_BYTES]), "from_device")

    # ---- the whole step -------------------------------------------------------------
    def body(self, include_backward: bool, include_host_io: bool) -> list[Step]:
        T = self.T
        steps: list[Step] = []
        if include_host_io:
            steps.append(self.host_in())
        steps.append(Repeat(T, tuple(self.forward_body(np.arange(T))), "fwd.time_loop"))
        steps.append(self.loss_step())
        if include_backward:
            steps.append(self.zero_grads_step())
            steps.append(Repeat(T - 1, tuple(self.backward_body(np.arange(T - 1, 0, -1))) if T > 1 else (), "bwd.time_loop"))
            steps += self.backward_body(np.zeros(1, np.int64))
            steps += self.update_steps()
        if include_host_io:
            steps.append(self.host_out())
        return steps

    # ---- memory ---------------------------------------------------------------------
    def tensors(self) -> list[Tensor]:
        """Every tensor of the step on its tiles (GSNN PC (tensors of a neuron tile) for the neuron tiles)."""
        B, T, W = self.B, self.T, self.W
        mem = MemoryBuilder()
        put = mem.put
        for li, lay in enumerate(self.layout.layers):
            k = lay.tile_neurons
            src = lay.tile_sources
            s, s_in = lay.sparse_size, lay.input_sparse_size
            tl = lay.tiles
            put("weights", tl, WORD_BYTES * src * k + (0 if lay.dense else WORD_BYTES * src))
            put("weight_grad_replicas", tl, W * WORD_BYTES * src * k)
            if self.spec.optimizer == "adam":
                put("optimizer_state", tl, 2 * WORD_BYTES * src * k)
            put("state", tl, WORD_BYTES * B * k)
            put("state_history", tl, WORD_BYTES * T * B * k)
            put("state_grad", tl, 2 * WORD_BYTES * B * k)
            put("thresholds", tl, 2 * WORD_BYTES * k)
            put("decay", tl, 2 * WORD_BYTES * k)
            put("dense_flags", tl, 2 * WORD_BYTES * B * k)
            put("input_ids", tl, WORD_BYTES * B * (np.minimum(s_in, src) + 1), "exchange_buffer")
            # B2's destination: ids + counts (one count for the network input, two for a layer's output)
            put("input_ids_replica", tl, WORD_BYTES * B * (np.minimum(s_in, src) + (1 if li == 0 else 2)), "exchange_buffer")
            put("output_slots", tl, WORD_BYTES * B * (2 * s + 2), "exchange_buffer")
            if li >= 1:
                put("input_grad_partials", tl, WORD_BYTES * B * s_in)
            n_vertices = B + k * B + B + W + (B if li >= 1 else 0) + 8
            put("vertex_state", tl, self.vertex_state_bytes * n_vertices, "vertex_state")
            # spike generation: the worker lists and the combined list per slot; the final list
            slot_list = WORD_BYTES * (W * (min(s, 64) + 1) + s + 1)
            put("spikegen_lists", lay.slot_tiles.reshape(-1), slot_list, "exchange_buffer")
            put("spikegen_flags", lay.slot_tiles.reshape(-1), WORD_BYTES * int(np.diff(lay.slice_bounds).max()) * W, "exchange_buffer")
            put("combined_spikes", lay.combine_tiles, WORD_BYTES * (2 * lay.spread * (s + 1) + s + 2), "exchange_buffer")
            put("output_sequence", lay.seq_tiles, WORD_BYTES * T * (s + 2))
            if lay.stage1_tile is not None and lay.group_of_tile is not None and lay.stage2_tiles is not None:
                g_sizes = np.bincount(lay.group_of_tile, minlength=lay.n_groups)
                per_vertex = WORD_BYTES * (np.broadcast_to(g_sizes[:, None, None], lay.stage1_tile.shape) + 1)
                put("reduce_stage1", lay.stage1_tile.reshape(-1), per_vertex.reshape(-1), "exchange_buffer")
                put("reduce_stage2", lay.stage2_tiles, WORD_BYTES * (lay.n_groups + 1) * s_in, "exchange_buffer")
        last = self.layout.layers[-1]
        put("input_sequence", self.layout.input_seq_tiles, WORD_BYTES * T * (self.spec.input_sparse_size + 1))
        put("loss_gradient_sequence", self.layout.loss_tiles, WORD_BYTES * T * last.sparse_size)
        put("loss_output_gather", self.layout.loss_tiles, WORD_BYTES * T * (last.sparse_size + 2), "exchange_buffer")
        ipus = sorted({lay.ipu for lay in self.layout.layers})
        tpi = self.machine.tiles_per_ipu
        all_tiles = np.concatenate([np.arange(i * tpi, (i + 1) * tpi) for i in ipus])
        put("code", all_tiles, self.code_bytes_per_tile, "code")
        return mem.tensors()
