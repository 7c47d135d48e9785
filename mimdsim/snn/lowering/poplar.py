"""The ``poplar`` lowering: the authors' Poplar program call by call (GSNN PC).

One superstep (sync, exchange, compute) for every program the op
``custom_multi_lif_layer_sparse`` (github.com/jrfinkbeiner/graphcore_snn @ 3e05811,
``custom_lif_multi_layer/custom_lif_layer_vectorize_transpose/poplar_code_stateBasedReset.cpp``,
"PC" below) issues, in its order, on the tiles Poplar's layouts put it on
(:mod:`mimdsim.snn.lowering.poplar_tensors`):

* an ``Execute`` of a compute set is one superstep; if its vertices write tensors held on
  other tiles (the final combine), Poplar exchanges the outputs after the compute phase:
  a second superstep ``<name>.out`` (sync and exchange only);
* a ``Copy`` is one superstep: an exchange for the elements on other tiles and an on-tile
  copy (:func:`mimdsim.poplibs.estimators.on_tile_copy_tile_cycles`) on each tile that
  holds both ends of some elements; ``popops::zero`` is such a copy from a constant
  (PL popops/Fill.cpp:98-108);
* the dynamic slices and updates carry the loop counter (on tile 0) to every vertex
  tile in their exchange (PL popops/DynamicSlice.cpp:468-469);
* PopLibs' vertices are costed with PopLibs' estimators (:mod:`mimdsim.poplibs.estimators`),
  the authors' codelets with :mod:`mimdsim.snn.lowering.codelets`
  (:class:`~mimdsim.snn.lowering.common.LoweringBase`).

Every superstep is marked with the program it stands for (``op``: ``execute`` or ``copy``)
and the loop counter's transfers as ``replicable``: the program is emitted *as issued*,
and what Poplar's lowering does to it (merging copies, no sync where nothing moves,
replicated offsets) is left to the compiler passes (:mod:`mimdsim.program.passes`). The
op version (``SNNSpec.program_version``) changes the backward state gradient
(:mod:`mimdsim.snn.lowering.state_grad_2022`) and the Keras model around the op. The
empty "TransposeInputs" compute set that
``popops::map`` runs before the 1-alpha ops (PL ElementWise.cpp:675-715) holds no vertex and
is left out. The programs around the op (the sparse-to-dense loss, the identity matmul of
the one-IPU model, the optimizer) are lowered by the IPU TensorFlow backend, which the
sources do not describe; they are modelled as the few compute sets and copies they need
(docs/snn.md lists them), once per training step.

Per forward time step: 4L + 8 compute sets and 2(L-1) copies (plus the final combine's
output exchange); per backward step (t >= 1): 7L + 8 compute sets and 3L + 1 copies, at
t = 0: 5L + 7 and 3L (GSNN PC (program steps per time step)), for ``L`` layers with a stage-2 reduction
that needs one compute set.
"""

from __future__ import annotations

import numpy as np

from mimdsim.poplibs import estimators as pl
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder, ProgramBuilder
from mimdsim.program.exchange import Exchange
from mimdsim.program.ir import HostCopy, Repeat, Step, Superstep
from mimdsim.program.unique import unique_ints
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering import state_grad_2022
from mimdsim.snn.lowering.common import WORD_BYTES
from mimdsim.snn.lowering.kept import kept_exchange
from mimdsim.snn.lowering.neuron_bytes import neuron_tensor_bytes
from mimdsim.snn.lowering.poplar_backward import PoplarBackward
from mimdsim.snn.lowering.poplar_programs import copy_transfers
from mimdsim.snn.lowering.poplar_tensors import op_tiles

__all__ = ["PoplarLowering"]


# ---- the loss's exchanges: pure functions of the output layer's layout (kept across lowerings, snn/lowering/kept.py) ----
def _dense_row_reads(
    out_ids: np.ndarray, out_counts: np.ndarray, dense_rows: np.ndarray, n_steps: int, s: int
) -> ExchangeBuilder:
    """Each (t, b) row's vertex reads ids (t, b, :) and counts (t, b, :) of the output layer from the sequence tiles."""
    tr = ExchangeBuilder()
    for cols, per in ((out_ids, s), (out_counts, 2)):
        src = np.tile(cols, n_steps)
        dst = np.repeat(dense_rows, per)
        idx = np.arange(src.size)
        copy_transfers(tr, src, dst, idx, idx)
    return tr


def _rows_and_logits(
    dense_rows: np.ndarray, logits: np.ndarray, n_steps: int, batch: int, c: int, to_logits: bool
) -> ExchangeBuilder:
    """Every (t, b) row of ``c`` floats to the tile of sample b's logits (the sum over time), or, not ``to_logits``,
    from it back to each of the sample's T rows (the loss gradient)."""
    logit_tile = logits[(np.arange(n_steps * batch) % batch) * c]
    src, dst = (dense_rows, logit_tile) if to_logits else (logit_tile, dense_rows)
    tr = ExchangeBuilder()
    tr.unicast(src, dst, WORD_BYTES * c)
    return tr


def _gradient_to_sequences(dense_rows: np.ndarray, out_grad: np.ndarray, n_steps: int, batch: int, s: int) -> ExchangeBuilder:
    """Sparse2DenseGrad's output: row (t, b)'s ``s`` slot gradients into the output gradient's columns (t, b, slot)."""
    tr = ExchangeBuilder()
    row_tile = np.repeat(dense_rows, s)  # (t, b, slot) order
    col = np.tile(np.arange(batch * s), n_steps)
    copy_transfers(tr, row_tile, out_grad[col], np.arange(col.size), np.arange(col.size))
    return tr


class PoplarLowering(PoplarBackward):
    """Builds the ``poplar`` program (see the module docstring): the forward and backward passes of its bases,
    the programs around the op, the whole step and its tensors."""

    # ---- around the op (TensorFlow on the IPU; modelled, see the module docstring) ----
    def loss_forward(self) -> list[Step]:
        """Sparse-to-dense of the output spikes (S2D Build: 2 casts, a zero, performSparse2Dense), sum over time, cross-entropy."""
        te, T, B = self.tens, self.T, self.B
        last = self.layout.layers[-1]
        L1 = self.L - 1
        s, c = last.sparse_size, last.n_neurons
        steps: list[Step] = []
        if self.identity_layer:
            steps.append(self._identity_matmul("loss.identity_matmul"))
        steps.append(self._cast("loss.s2d.cast_ids", te.out_ids[L1], T))
        steps.append(self._cast("loss.s2d.cast_counts", te.out_counts[L1], T))
        dense_tiles, rows = unique_ints(te.dense_rows, return_counts=True)
        steps.append(self.local_copy("loss.s2d.zero", dense_tiles, WORD_BYTES * c * rows))
        s2d = ComputeSetBuilder("loss.s2d")
        s2d.add_repeated("Sparse2Dense", dense_tiles, est.sparse_to_dense_cycles(s), rows)
        steps.append(self.execute("loss.s2d", self._dense_row_inputs("loss.s2d"), s2d))
        # sum over time and the cross-entropy: every (t, b) row of C floats to the logits' tiles
        tr = kept_exchange("loss.sum_time_xent", _rows_and_logits, te.dense_rows, te.logits, T, B, c, True)
        xent = ComputeSetBuilder("loss.sum_time_xent")
        l_tiles, per = unique_ints(te.logits[::c], return_counts=True)
        xent.add_repeated("popops.ReduceAndSoftmaxXent", l_tiles, est.time_sum_xent_cycles(T, c), per)
        steps.append(self.execute("loss.sum_time_xent", tr, xent))
        return steps

    def loss_backward(self) -> list[Step]:
        """The loss gradient broadcast back over time, S2D Build_grad (2 casts, performSparse2DenseGrad)."""
        te, T, B = self.tens, self.T, self.B
        last = self.layout.layers[-1]
        L1 = self.L - 1
        s, c = last.sparse_size, last.n_neurons
        steps: list[Step] = []
        tr = kept_exchange("loss.grad_broadcast", _rows_and_logits, te.dense_rows, te.logits, T, B, c, False)
        steps.append(self.execute("loss.grad_broadcast", tr, None))
        steps.append(self._cast("loss.s2d_grad.cast_ids", te.out_ids[L1], T))
        steps.append(self._cast("loss.s2d_grad.cast_counts", te.out_counts[L1], T))
        dense_tiles, rows = unique_ints(te.dense_rows, return_counts=True)
        g = ComputeSetBuilder("loss.s2d_grad")
        g.add_repeated("Sparse2DenseGrad", dense_tiles, est.sparse_to_dense_cycles(s), rows)
        steps.append(self.execute("loss.s2d_grad", self._dense_row_inputs("loss.s2d_grad"), g))
        out = kept_exchange("loss.s2d_grad.out", _gradient_to_sequences, te.dense_rows, te.out_grad, T, B, s)
        steps.append(self.execute("loss.s2d_grad.out", out, None))
        if self.identity_layer:
            steps.append(self._identity_matmul("loss.identity_matmul_grad"))
            steps.append(self._identity_weight_grad())
        return steps

    def _dense_row_inputs(self, name: str) -> Exchange:
        """A (t, b) vertex reads ids (t, b, :) and counts (t, b, :) of the output layer from the sequence tiles."""
        te, L1 = self.tens, self.L - 1
        s = self.layout.layers[-1].sparse_size
        return kept_exchange(name, _dense_row_reads, te.out_ids[L1], te.out_counts[L1], te.dense_rows, self.T, s)

    def _identity_matmul(self, name: str) -> Superstep:
        """The one-IPU model's trainable identity [S, S] applied to the output ids [T, B, S] (MI:407): a small
        matmul, costed as a float MultiVertex of S multiply-adds per element on each sequence tile (an approximation)."""
        te, T = self.tens, self.T
        s = self.layout.layers[-1].sparse_size
        tiles, cols = unique_ints(te.out_ids[-1], return_counts=True)
        cs = ComputeSetBuilder(name)
        cs.add_supervisor_by(
            "poplin.MatMul", tiles, lambda n: pl.binary_op_1d_tile_cycles(n * T * s, in_place=False, n_workers=self.W), cols
        )
        return self.execute(name, None, cs)

    def _identity_weight_grad(self) -> Superstep:
        """dL/d(identity) = ids^T x grad, a reduction of T B products per entry: partials to one tile (an approximation)."""
        te, T = self.tens, self.T
        s = self.layout.layers[-1].sparse_size
        tiles = unique_ints(te.out_ids[-1])
        tr = ExchangeBuilder()
        tr.multicast_many(tiles, WORD_BYTES * s * s, np.array([int(te.logits[0])]))
        cs = ComputeSetBuilder("loss.identity_weight_grad")
        # each sequence tile first sums its T x columns products (a MultiVertex), then one tile adds the partials
        cols = unique_ints(te.out_ids[-1], return_counts=True)[1]
        cs.add_supervisor_by(
            "poplin.MatMul", tiles, lambda n: pl.binary_op_1d_tile_cycles(n * T * s, in_place=False, n_workers=self.W), cols
        )
        cs.add_table("popops.Reduce", np.array([int(te.logits[0])]), [pl.reduce_strided_cycles(s * s, tiles.size)])
        return self.execute("loss.identity_weight_grad", tr, cs)

    def update(self) -> list[Step]:
        """The optimizer step per weight tensor (BS:405): SGD is ``ScaledSubtractSupervisor``
        (PopLibs' estimator); TensorFlow lowers Adam to elementwise expressions
        (:func:`mimdsim.poplibs.estimators.tf_adam_update_tile_cycles`); one compute set per layer."""
        steps: list[Step] = []
        for li in range(self.L):
            cs = ComputeSetBuilder(f"update.{self.spec.optimizer}[l={li}]")
            for tiles, k, src in self.groups[li]:
                n = src * k
                cyc = (
                    pl.scaled_subtract_supervisor_tile_cycles(n, self.W)
                    if self.spec.optimizer == "sgd"
                    else pl.tf_adam_update_tile_cycles(n, self.W)
                )
                cs.add_supervisor(f"optimizer.{self.spec.optimizer}", tiles, cyc)
            steps.append(self.execute(f"update.{self.spec.optimizer}[l={li}]", None, cs))
        return steps

    # ---- host I/O --------------------------------------------------------------------
    def host_in(self) -> Step:
        """The infeed of one batch (MI:735): ids [B, T, S_in] float32 and counts [B, T, 1] int32 onto
        their sequence tiles, labels [B] int32 onto the logits' tiles."""
        te, T = self.tens, self.T
        t_ids, n_ids = unique_ints(te.in_ids, return_counts=True)
        t_cnt, n_cnt = unique_ints(te.in_counts, return_counts=True)
        t_lab, n_lab = unique_ints(te.logits[:: self.layout.layers[-1].n_neurons], return_counts=True)
        tiles = np.concatenate([t_ids, t_cnt, t_lab])
        nbytes = np.concatenate([WORD_BYTES * T * n_ids, WORD_BYTES * T * n_cnt, WORD_BYTES * n_lab])
        return HostCopy("host.infeed", tiles, nbytes, "to_device")

    def host_out(self) -> Step:
        return HostCopy("host.outfeed", np.array([int(self.tens.logits[0])]), np.array([WORD_BYTES]), "from_device")

    # ---- the whole step --------------------------------------------------------------
    def body(self, include_backward: bool, include_host_io: bool) -> list[Step]:
        T = self.T
        steps: list[Step] = []
        if include_host_io:
            steps.append(self.host_in())
        steps += self.forward_prologue()
        steps.append(Repeat(T, tuple(self.forward_body(np.arange(T))), "fwd.time_loop"))
        steps += self.forward_epilogue()
        steps += self.loss_forward()
        if include_backward:
            steps += self.loss_backward()
            steps += self.backward_prologue()
            steps.append(Repeat(T - 1, tuple(self.backward_body(np.arange(T - 1, 0, -1))) if T > 1 else (), "bwd.time_loop"))
            steps += self.backward_body(np.zeros(1, np.int64))
            steps += self.backward_epilogue()
            steps += self.update()
        if include_host_io:
            steps.append(self.host_out())
        return steps

    # ---- memory ----------------------------------------------------------------------
    def add_tensors(self, b: ProgramBuilder) -> None:
        """Every tensor of the step on the tiles its layout gives it (all live for the whole step), into ``b``."""
        te, B, T, W = self.tens, self.B, self.T, self.W
        put, put_layout = b.tensor_bytes, b.tensor_layout
        for li, lay in enumerate(self.layout.layers):
            k, src, tl = lay.tile_neurons, lay.tile_sources, lay.tiles
            s_in = lay.input_sparse_size
            for name, nb in neuron_tensor_bytes(self.spec, k, src, W, index_list=not lay.dense).items():
                put(name, tl, nb)
            put("input_replica", tl, WORD_BYTES * B * (s_in + (1 if li == 0 else 2)), "exchange_buffer")
            if li >= 1:
                put("input_grad_partials", tl, WORD_BYTES * B * s_in)
            n_vertices = B + k * B + B + W + (B if li >= 1 else 0) + 40
            put("vertex_state", tl, self.vertex_state_bytes * n_vertices, "vertex_state")
            # sequences: uint ids and counts, their float casts, the backward casts; the sliced rows
            put_layout("output_sequences", te.out_ids[li], WORD_BYTES, copies=3 * T)
            put_layout("output_sequences", te.out_counts[li], WORD_BYTES, copies=3 * T)
            put_layout("output_rows", te.out_ids[li], WORD_BYTES, "exchange_buffer", copies=3)
            put_layout("output_rows", te.out_counts[li], WORD_BYTES, "exchange_buffer", copies=3)
            if li >= 1:
                for buf in (te.inp[li], te.inp_counts[li], te.bwd_inp[li], te.bwd_inp_counts[li], te.bwd_inp[li]):
                    put_layout("input_buffers", buf, WORD_BYTES, "exchange_buffer")
            s = lay.sparse_size
            slot_list = WORD_BYTES * (W * (min(s, 64) + 1) + s + 1)
            put("spikegen_lists", lay.slot_tiles.reshape(-1), slot_list, "exchange_buffer")
            put(
                "spikegen_flags",
                lay.slot_tiles.reshape(-1),
                WORD_BYTES * (int(np.diff(lay.slice_bounds).max()) * W + W),
                "exchange_buffer",
            )
            put("combined_spikes", lay.combine_tiles, WORD_BYTES * (2 * lay.spread * (s + 1) + s + 2), "exchange_buffer")
            put("poprand_rows", self._poprand_tiles(li), WORD_BYTES * self._workers_of(li))
            if li >= 1 and lay.stage1_tile is not None and lay.group_of_tile is not None:
                # a vertex per (group, b, slot): its group's partials and two words; per run of vertices on one tile
                seg_tile, g_size, _, s_lo, s_hi, *_ = self.stage1_segments(lay)
                put("reduce_stage1", seg_tile, WORD_BYTES * (g_size + 2) * (s_hi - s_lo), "exchange_buffer")
                put_layout("reduce_stage2_partials", te.bwd_inp[li], WORD_BYTES, "exchange_buffer", copies=lay.n_groups)
        if self.version == "2022-09-12":  # the state gradient's rows, thresholds, ids, gradients and count per vertex tile
            for lay, vt in zip(self.layout.layers, state_grad_2022.vertex_tiles(self), strict=True):
                put("state_grad_rows", vt, WORD_BYTES * (4 * lay.n_neurons + 2 * lay.sparse_size + 1), "exchange_buffer")
        put_layout("input_sequences", te.in_ids, WORD_BYTES, copies=3 * T)
        put_layout("input_sequences", te.in_counts, WORD_BYTES, copies=3 * T)
        put_layout("input_rows", np.concatenate([te.in_ids, te.in_counts]), WORD_BYTES, "exchange_buffer")
        put_layout("output_gradient", te.out_grad, WORD_BYTES, copies=T + 1)
        c = self.layout.layers[-1].n_neurons
        put_layout("dense_output", np.repeat(te.dense_rows, 2 * c), WORD_BYTES)
        put_layout("logits", te.logits, WORD_BYTES, copies=2)
        ipus = sorted({lay.ipu for lay in self.layout.layers})
        all_tiles = np.concatenate([op_tiles(self.machine, i) for i in ipus] + [np.array([0])])
        put("code", unique_ints(all_tiles), self.code_bytes_per_tile, "code")
