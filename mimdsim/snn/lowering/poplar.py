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

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.poplibs import estimators as pl
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder, ProgramBuilder
from mimdsim.program.ir import ComputeSet, HostCopy, ProgramOp, Repeat, Step, Superstep
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering import state_grad_2022
from mimdsim.snn.lowering.common import WORD_BYTES, LoweringBase
from mimdsim.snn.lowering.layout import SNNLayout
from mimdsim.snn.lowering.neuron_bytes import neuron_tensor_bytes
from mimdsim.snn.lowering.poplar_tensors import build_poplar_tensors, op_tiles
from mimdsim.snn.model.spec import SNNSpec

if TYPE_CHECKING:
    from mimdsim.snn.lowering.lower import LoweringOptions

__all__ = ["PoplarLowering", "regions"]


def regions(tile: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Start positions of the maximal runs of elements on one tile with consecutive indices.

    >>> regions(np.array([3, 3, 3, 4, 4]), np.array([0, 1, 5, 6, 7])).tolist()
    [0, 2, 3]
    """
    if tile.size == 0:
        return np.zeros(0, np.int64)
    start = np.ones(tile.size, bool)
    start[1:] = (tile[1:] != tile[:-1]) | (index[1:] != index[:-1] + 1)
    return np.flatnonzero(start)


def _run_lengths(starts: np.ndarray, n: int) -> np.ndarray:
    return np.diff(np.append(starts, n))


class PoplarLowering(LoweringBase):
    """Builds the ``poplar`` program (see the module docstring)."""

    def __init__(
        self,
        spec: SNNSpec,
        machine: MachineSpec,
        layout: SNNLayout,
        act: SpikeActivity,
        options: LoweringOptions,
        mapping: NeuronMapping,
    ) -> None:
        super().__init__(spec, machine, layout, act)
        self.options = options
        self.vertex_state_bytes = options.vertex_state_bytes
        self.code_bytes_per_tile = options.code_bytes_per_tile
        self.version = spec.program_version
        self.soft_double_cycles = options.soft_double_slot_cycles
        self.tens = build_poplar_tensors(spec, machine, layout, [lp.neuron_tile for lp in mapping.layers])
        # the final scripts' one-IPU Keras model has a trainable identity layer after the op (MI:407); the
        # 2022-09-12 run's model summary has none (transpose -> op -> user op -> transpose)
        self.identity_layer = mapping.n_ipus_used == 1 and self.version == "final"
        self._shared: dict[str, Superstep] | None = None
        self._built: dict[tuple[object, ...], Superstep] = {}

    # ---- exchanges -------------------------------------------------------------------
    def gather(
        self, tr: ExchangeBuilder, tile: np.ndarray, index: np.ndarray, dst_tiles: np.ndarray, elem_bytes: int = WORD_BYTES
    ) -> None:
        """Every region of the elements (``tile[e]``, ``index[e]``) multicast to ``dst_tiles`` (a vertex input read by all of them)."""
        starts = regions(tile, index)
        tr.multicast_many(tile[starts], elem_bytes * _run_lengths(starts, tile.size), dst_tiles)

    def copy_transfers(
        self,
        tr: ExchangeBuilder,
        src: np.ndarray,
        dst: np.ndarray,
        src_index: np.ndarray,
        dst_index: np.ndarray,
        elem_bytes: int = WORD_BYTES,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Element ``e`` from tile ``src[e]`` to ``dst[e]``: one message per run of consecutive
        elements between one pair of tiles. Returns the tiles holding both ends of some
        elements and those bytes (their on-tile copy)."""
        n = src.size
        start = np.ones(n, bool)
        if n:
            start[1:] = (
                (src[1:] != src[:-1])
                | (dst[1:] != dst[:-1])
                | (src_index[1:] != src_index[:-1] + 1)
                | (dst_index[1:] != dst_index[:-1] + 1)
            )
        starts = np.flatnonzero(start)
        lengths = _run_lengths(starts, n)
        tr.unicast(src[starts], dst[starts], elem_bytes * lengths)
        local = src[starts] == dst[starts]
        tiles, inv = np.unique(src[starts][local], return_inverse=True)
        return tiles, np.bincount(inv.reshape(-1), weights=elem_bytes * lengths[local], minlength=tiles.size).astype(np.int64)

    def offsets(self, tiles: np.ndarray) -> ExchangeBuilder:
        """The loop counter (or itime), 4 B from tile 0 to every vertex tile of a dynamic slice."""
        tr = ExchangeBuilder()
        tr.multicast(self.tens.counter_tile, np.unique(tiles), WORD_BYTES, replicable=True)
        return tr

    # ---- programs --------------------------------------------------------------------
    def reused(self, name: str, key: tuple[object, ...], make: Callable[[], Superstep]) -> Superstep:
        """``make()`` once per ``key``: programs with the same vertices on the same tiles and the
        same transfers (a slice of one tensor in the forward and backward loops, the two
        multiplies of one layer) share their compute set and exchange objects, which the
        engines then cost once; each keeps its own name."""
        first = self._built.get(key)
        if first is None:
            first = self._built[key] = make()
            return first
        return Superstep(name, first.sync, first.exchange, first.compute, first.op)

    def execute(
        self, name: str, tr: ExchangeBuilder | None, cs: ComputeSetBuilder | ComputeSet | None, op: ProgramOp = "execute"
    ) -> Superstep:
        """``Execute(cs)``: one superstep, its exchange carrying the vertices' remote inputs."""
        ex = tr.freeze(name) if tr else None
        return self.superstep(name, ex, cs, op)

    def copy(self, name: str, tr: ExchangeBuilder, local_tiles: np.ndarray, local_bytes: np.ndarray) -> Superstep:
        """``Copy``: exchange the remote elements, copy the local ones on their tiles."""
        cs = ComputeSetBuilder(name)
        mcp = self.machine.memcpy_bytes_per_cycle
        cs.add_supervisor_by("poplar.OnTileCopy", local_tiles, lambda b: pl.on_tile_copy_tile_cycles(b, mcp), local_bytes)
        return self.execute(name, tr, cs if cs.blocks else None, "copy")

    def layout_copy(self, name: str, src: np.ndarray, dst: np.ndarray, src_index: np.ndarray | None = None) -> Superstep:
        """``Copy`` of a tensor from layout ``src`` to layout ``dst`` (tile of each element)."""
        tr = ExchangeBuilder()
        idx = np.arange(src.size, dtype=np.int64) if src_index is None else src_index
        tiles, nbytes = self.copy_transfers(tr, src, dst, idx, np.arange(dst.size, dtype=np.int64))
        return self.copy(name, tr, tiles, nbytes)

    def local_copy(self, name: str, tiles: np.ndarray, nbytes: np.ndarray | int) -> Superstep:
        """A ``Copy`` (or a zeroing) whose both ends are on the same tiles."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        return self.copy(name, ExchangeBuilder(), tiles, np.broadcast_to(np.asarray(nbytes, np.int64), tiles.shape))

    def broadcast_copy(self, name: str, tile: np.ndarray, index: np.ndarray, dst_tiles: np.ndarray) -> Superstep:
        """``Copy`` of a tensor into one replica per destination tile (``replicate_and_alloc_tensor``)."""
        tr = ExchangeBuilder()
        self.gather(tr, tile, index, dst_tiles)
        holders, n_elems = np.unique(tile, return_counts=True)
        keep = np.isin(holders, dst_tiles)
        return self.copy(name, tr, holders[keep], WORD_BYTES * n_elems[keep])

    def dynamic_slice(self, name: str, col_tiles: np.ndarray, region_per_column: int = 1) -> Superstep:
        """``dynamicSlice`` / ``dynamicUpdate`` of row ``t`` of a sliceable tensor: one
        ``DynamicSlice1D`` per tile over the columns it holds, the offset sent from tile 0."""

        def make() -> Superstep:
            tiles, cols = np.unique(col_tiles, return_counts=True)
            return self._slice(name, tiles, cols * region_per_column)

        return self.reused(name, ("dynamic_slice", id(col_tiles), region_per_column), make)

    def _slice(self, name: str, tiles: np.ndarray, region: np.ndarray) -> Superstep:
        cs = ComputeSetBuilder(name)
        cs.add_supervisor_by("popops.DynamicSlice1D", tiles, lambda r: pl.dynamic_slice_1d_tile_cycles(r, 1, self.W), region)
        return self.execute(name, self.offsets(tiles), cs)

    def _state_slice(self, name: str, li: int) -> Superstep:
        """The dynamic slice or update of row ``t`` of layer ``li``'s state history ``[T, B, k]`` per tile."""
        lay = self.layout.layers[li]
        return self.reused(name, ("state_slice", li), lambda: self._slice(name, lay.tiles, self.B * lay.tile_neurons))

    def _elementwise(self, name: str, li: int, per_neuron: int, in_place: bool) -> Superstep:
        def make() -> Superstep:
            cs = ComputeSetBuilder(name)
            for tiles, k, _ in self.groups[li]:
                cs.add_supervisor(
                    "popops.BinaryOp1D", tiles, pl.binary_op_1d_tile_cycles(per_neuron * k, in_place=in_place, n_workers=self.W)
                )
            return self.execute(name, None, cs)

        return self.reused(name, ("elementwise", li, per_neuron, in_place), make)

    def _scalar_op(self, name: str) -> Superstep:
        """A ``BroadcastScalar1D[InPlace]<ADD|SUBTRACT, unsigned>`` on the loop counter's tile."""

        def make() -> Superstep:
            cs = ComputeSetBuilder(name)
            cs.add_supervisor(
                "popops.BroadcastScalar1D",
                np.array([self.tens.counter_tile]),
                pl.broadcast_scalar_1d_tile_cycles(1, n_workers=self.W),
            )
            return self.execute(name, None, cs)

        return self.reused(name, ("scalar_op",), make)

    def _cast(self, name: str, col_tiles: np.ndarray, rows: int) -> Superstep:
        """``popops::cast`` float <-> unsigned: one ``Cast1D`` per tile over its elements (a clone keeps the mapping)."""

        def make() -> Superstep:
            tiles, cols = np.unique(col_tiles, return_counts=True)
            cs = ComputeSetBuilder(name)
            cs.add_supervisor_by("popops.Cast1D", tiles, lambda c: pl.cast_1d_tile_cycles(c * rows, self.W), cols)
            return self.execute(name, None, cs)

        return self.reused(name, ("cast", id(col_tiles), rows), make)

    def _cols_local_copy(self, name: str, col_tiles: np.ndarray, rows: int) -> Superstep:
        def make() -> Superstep:
            tiles, cols = np.unique(col_tiles, return_counts=True)
            return self.local_copy(name, tiles, WORD_BYTES * cols * rows)

        return self.reused(name, ("cols_local_copy", id(col_tiles), rows), make)

    def _neuron_copy(self, name: str, li: int, per_neuron_bytes: int) -> Superstep:
        """A ``Copy`` (or zeroing) of ``per_neuron_bytes`` per neuron of layer ``li``, on its tiles."""
        return self.reused(
            name,
            ("neuron_copy", li, per_neuron_bytes),
            lambda: self.local_copy(name, *self._neuron_tiles_bytes(li, per_neuron_bytes)),
        )

    def _neuron_tiles_bytes(self, li: int, per_neuron_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        lay = self.layout.layers[li]
        return lay.tiles, per_neuron_bytes * lay.tile_neurons

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
        return np.unique(self.layout.layers[li].slot_tiles.reshape(-1)[: 2 * self.B])

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
                src, n_flags = np.unique(neuron_tile[lo:hi], return_counts=True)
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
            pair, pair_of_seg = np.unique(tile * lay.n_groups + group, return_inverse=True)
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
            tb = np.unique(tile * width + b)
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
            tiles, outs = np.unique(dst, return_counts=True)
            for o in np.unique(outs).tolist():  # the tiles with o outputs share their vertex lists
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
                per = -(-outputs // W)
                n_full, rest = divmod(outputs, per)
                cyc = [pl.reduce_strided_cycles(per, W)] * n_full + ([pl.reduce_strided_cycles(rest, W)] if rest else [])
                cs.add_table("popops.Reduce", tiles, cyc, unique=True)
        return [self.execute("bwd.reduce_replicas", None, cs)]

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
        dense_tiles, rows = np.unique(te.dense_rows, return_counts=True)
        steps.append(self.local_copy("loss.s2d.zero", dense_tiles, WORD_BYTES * c * rows))
        s2d = ComputeSetBuilder("loss.s2d")
        s2d.add_repeated("Sparse2Dense", dense_tiles, est.sparse_to_dense_cycles(s), rows)
        steps.append(self.execute("loss.s2d", self._dense_row_inputs(), s2d))
        # sum over time and the cross-entropy: every (t, b) row of C floats to the logits' tiles
        tr = ExchangeBuilder()
        b_of_row = np.arange(T * B) % B
        logit_tile = te.logits[b_of_row * c]
        tr.unicast(te.dense_rows, logit_tile, WORD_BYTES * c)
        xent = ComputeSetBuilder("loss.sum_time_xent")
        l_tiles, per = np.unique(te.logits[::c], return_counts=True)
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
        tr = ExchangeBuilder()
        b_of_row = np.arange(T * B) % B
        tr.unicast(te.logits[b_of_row * c], te.dense_rows, WORD_BYTES * c)
        steps.append(self.execute("loss.grad_broadcast", tr, None))
        steps.append(self._cast("loss.s2d_grad.cast_ids", te.out_ids[L1], T))
        steps.append(self._cast("loss.s2d_grad.cast_counts", te.out_counts[L1], T))
        dense_tiles, rows = np.unique(te.dense_rows, return_counts=True)
        g = ComputeSetBuilder("loss.s2d_grad")
        g.add_repeated("Sparse2DenseGrad", dense_tiles, est.sparse_to_dense_cycles(s), rows)
        steps.append(self.execute("loss.s2d_grad", self._dense_row_inputs(), g))
        out = ExchangeBuilder()
        row_tile = np.repeat(te.dense_rows, s)  # (t, b, slot) order
        col = np.tile(np.arange(B * s), T)
        self.copy_transfers(out, row_tile, te.out_grad[col], np.arange(col.size), np.arange(col.size))
        steps.append(self.execute("loss.s2d_grad.out", out, None))
        if self.identity_layer:
            steps.append(self._identity_matmul("loss.identity_matmul_grad"))
            steps.append(self._identity_weight_grad())
        return steps

    def _dense_row_inputs(self) -> ExchangeBuilder:
        """A (t, b) vertex reads ids (t, b, :) and counts (t, b, :) of the output layer from the sequence tiles."""
        te, T = self.tens, self.T
        L1 = self.L - 1
        s = self.layout.layers[-1].sparse_size
        tr = ExchangeBuilder()
        for cols, per in ((te.out_ids[L1], s), (te.out_counts[L1], 2)):
            src = np.tile(cols, T)
            dst = np.repeat(te.dense_rows, per)
            idx = np.arange(src.size)
            self.copy_transfers(tr, src, dst, idx, idx)
        return tr

    def _identity_matmul(self, name: str) -> Superstep:
        """The one-IPU model's trainable identity [S, S] applied to the output ids [T, B, S] (MI:407): a small
        matmul, costed as a float MultiVertex of S multiply-adds per element on each sequence tile (an approximation)."""
        te, T = self.tens, self.T
        s = self.layout.layers[-1].sparse_size
        tiles, cols = np.unique(te.out_ids[-1], return_counts=True)
        cs = ComputeSetBuilder(name)
        cs.add_supervisor_by(
            "poplin.MatMul", tiles, lambda n: pl.binary_op_1d_tile_cycles(n * T * s, in_place=False, n_workers=self.W), cols
        )
        return self.execute(name, None, cs)

    def _identity_weight_grad(self) -> Superstep:
        """dL/d(identity) = ids^T x grad, a reduction of T B products per entry: partials to one tile (an approximation)."""
        te, T = self.tens, self.T
        s = self.layout.layers[-1].sparse_size
        tiles = np.unique(te.out_ids[-1])
        tr = ExchangeBuilder()
        tr.multicast_many(tiles, WORD_BYTES * s * s, np.array([int(te.logits[0])]))
        cs = ComputeSetBuilder("loss.identity_weight_grad")
        # each sequence tile first sums its T x columns products (a MultiVertex), then one tile adds the partials
        cols = np.unique(te.out_ids[-1], return_counts=True)[1]
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
        t_ids, n_ids = np.unique(te.in_ids, return_counts=True)
        t_cnt, n_cnt = np.unique(te.in_counts, return_counts=True)
        t_lab, n_lab = np.unique(te.logits[:: self.layout.layers[-1].n_neurons], return_counts=True)
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
        put("code", np.unique(all_tiles), self.code_bytes_per_tile, "code")
