"""Lowering of one sparse SNN BPTT training step to the BSP program IR.

The per-time-step superstep sequence follows the paper's implementation
(snn-on-ipu.md §1.5-1.6, §2.7); placements come from :mod:`mimdsim.snn.layout`,
vertex costs from :mod:`mimdsim.snn.estimators`, spike counts from a
:class:`~mimdsim.snn.activity.SpikeActivity`. The time loop is unrolled because vertex
costs depend on each step's spike counts; the exchanges are static (their sizes are set by
the fixed sparse sizes ``S``) and are built once and shared by every step.

Forward, for t = 0 .. T-1 (all layers in the same compute sets; layer ``l >= 1`` reads
layer ``l-1``'s output of step ``t-1``)::

    fwd.state_update   exchange F1 (input ids + count of every layer, broadcast to its tiles)
    fwd.dense_flags
    fwd.rand_offsets   (poprand on the combine tiles; its result is unused by the vertices)
    fwd.dense_to_sparse exchange F2 (flags of 6-slice slots to the spike-generation tiles)
    fwd.tile_combine
    fwd.final_combine  exchange F3 (partial lists to each (layer, batch)'s combine tile)
    fwd.store          exchange F4 (output row to its sequence tile; state history local)
    fwd.loop           counted-loop bookkeeping on tile 0

then ``loss`` (gather of the output sequence, sparse-to-dense, cross-entropy), the
gradient zeroing, the backward steps for t = T-1 .. 0::

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

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep, SyncScope, Tensor, VertexBlock
from mimdsim.snn import estimators as est
from mimdsim.snn.activity import SpikeActivity
from mimdsim.snn.layout import LayerLayout, SNNLayout, build_layout
from mimdsim.snn.spec import SNNSpec

__all__ = ["LoweringOptions", "lower_snn", "check_batch"]

WORD_BYTES = 4
"""uint32 spike ids and counts, float32 values (snn-on-ipu.md §1.1)."""
N_REPLICAS = 6
"""Weight-gradient replicas, one per worker thread (§1.6 step 5)."""


@dataclass(frozen=True)
class LoweringOptions:
    """Knobs of the lowering.

    ``vertex_state_bytes`` and ``code_bytes_per_tile`` are estimates, not published
    figures: a vertex's state holds a pointer and a size per field (about 3 fields x 8 B),
    and the step's dozen C++ codelets plus PopLibs helpers are assumed to take about
    24 KiB of code on every tile. Both only affect memory, never cycles.
    """

    include_backward: bool = True
    include_host_io: bool = True
    vertex_state_bytes: int = 24
    code_bytes_per_tile: int = 24 * 1024


def check_batch(spec: SNNSpec) -> None:
    """The weight gradient splits the batch over 6 worker threads (§1.6 step 5)."""
    if spec.batch_size % N_REPLICAS:
        raise ConfigError(
            f"batch_size: {spec.batch_size} is not a multiple of {N_REPLICAS} (the weight gradient gives each of the "
            f"{N_REPLICAS} worker threads B/{N_REPLICAS} samples)"
        )


# --------------------------------------------------------------------------- helpers
class _Transfers:
    """Accumulates transfers (one source, one or more destinations) into CSR arrays."""

    def __init__(self) -> None:
        self.src: list[np.ndarray] = []
        self.nbytes: list[np.ndarray] = []
        self.ndst: list[np.ndarray] = []
        self.dst: list[np.ndarray] = []

    def multicast(self, src: int, dsts: np.ndarray, nbytes: int) -> None:
        dsts = dsts[dsts != src]
        if dsts.size and nbytes > 0:
            self.src.append(np.array([src], np.int64))
            self.nbytes.append(np.array([nbytes], np.int64))
            self.ndst.append(np.array([dsts.size], np.int64))
            self.dst.append(dsts.astype(np.int64))

    def unicast(self, src: np.ndarray, dst: np.ndarray, nbytes: np.ndarray | int) -> None:
        src, dst, nbytes = np.broadcast_arrays(np.asarray(src, np.int64), np.asarray(dst, np.int64), np.asarray(nbytes, np.int64))
        keep = (src != dst) & (nbytes > 0)
        if keep.any():
            self.src.append(src[keep])
            self.nbytes.append(nbytes[keep])
            self.ndst.append(np.ones(int(keep.sum()), np.int64))
            self.dst.append(dst[keep])

    def build(self, name: str) -> Exchange:
        if not self.src:
            return Exchange(name, np.zeros(0), np.zeros(1), np.zeros(0), np.zeros(0))
        ptr = np.zeros(sum(a.size for a in self.ndst) + 1, np.int64)
        ptr[1:] = np.cumsum(np.concatenate(self.ndst))
        return Exchange(name, np.concatenate(self.src), ptr, np.concatenate(self.dst), np.concatenate(self.nbytes))


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` as read-only int64 (no copy when it already is), so blocks can share it."""
    if a.dtype != np.int64 or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, np.int64)
    if a.flags.writeable:
        a = a if a.base is None else a.copy()
        a.flags.writeable = False
    return a


_ONES: dict[int, np.ndarray] = {}


def _ones(n: int) -> np.ndarray:
    if n not in _ONES:
        _ONES[n] = _frozen(np.ones(n, np.int64))
    return _ONES[n]


def _vertex_array(values: np.ndarray | list[int]) -> np.ndarray:
    """A vertex list ``[n]`` or a cycle table ``[rows, n]`` as int64."""
    arr = np.asarray(values, np.int64)
    return arr if arr.ndim == 2 else arr.reshape(-1)


def _crosses_ipus(ex: Exchange | None, tiles_per_ipu: int) -> bool:
    if ex is None or ex.src.size == 0:
        return False
    src_of_dst = np.repeat(ex.src, np.diff(ex.dst_ptr))
    return bool(np.any(src_of_dst // tiles_per_ipu != ex.dst // tiles_per_ipu))


class _ComputeSetBuilder:
    """Collects vertex blocks, merging tiles that run identical vertex lists."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.blocks: list[VertexBlock] = []

    def add(
        self,
        codelet: str,
        tiles: np.ndarray,
        cycles: np.ndarray | list[int],
        counts: np.ndarray | list[int] | None = None,
        supervisor: int | np.ndarray = 0,
        *,
        unique: bool = False,
    ) -> None:
        """The same vertex list on every tile of ``tiles`` (a tile listed m times runs it m times).

        ``cycles`` and ``counts`` are a vertex list ``[n]`` or a cycle table ``[rows, n]``
        (one row per iteration of the loop the compute set runs in); ``supervisor`` an
        int or ``[rows]``. ``unique=True`` promises that no tile is listed twice.
        """
        tiles = _frozen(tiles)
        if tiles.size == 0:
            return
        cyc = _frozen(_vertex_array(cycles))
        cnt = _ones(cyc.shape[-1]) if counts is None else _frozen(_vertex_array(counts))
        sup = supervisor if np.ndim(supervisor) == 0 else _frozen(np.asarray(supervisor, np.int64))
        if unique or tiles.size == 1:
            self.blocks.append(VertexBlock(codelet, tiles, cyc, cnt, supervisor_cycles=sup))
            return
        uniq, mult = np.unique(tiles, return_counts=True)
        for m in np.unique(mult).tolist():
            sel = uniq[mult == m]
            reps = (1, m) if cyc.ndim == 2 else m
            cnt_reps = (1, m) if cnt.ndim == 2 else m
            self.blocks.append(VertexBlock(codelet, sel, np.tile(cyc, reps), np.tile(cnt, cnt_reps), supervisor_cycles=sup * m))

    def build(self) -> ComputeSet:
        return ComputeSet(self.name, tuple(self.blocks))


def _tile_groups(lay: LayerLayout) -> list[tuple[np.ndarray, int, int]]:
    """The layer's tiles grouped by (neurons on the tile, connected input neurons)."""
    out = []
    keys = np.stack([lay.tile_neurons, lay.tile_sources], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    for g, (k, src) in enumerate(uniq):
        tiles = lay.tiles[inv.reshape(-1) == g]
        tiles.flags.writeable = False  # shared by every step's blocks without copies
        out.append((tiles, int(k), int(src)))
    return out


# --------------------------------------------------------------------------- lowering
class _Lowering:
    def __init__(self, spec: SNNSpec, machine: MachineSpec, layout: SNNLayout, act: SpikeActivity, opt: LoweringOptions) -> None:
        self.spec, self.machine, self.layout, self.act, self.opt = spec, machine, layout, act, opt
        self.B, self.T = spec.batch_size, spec.n_timesteps
        self.L = len(spec.layers)
        self.groups = [_tile_groups(lay) for lay in layout.layers]
        self._segments: dict[int, tuple[np.ndarray, ...]] = {}
        self.slots_unique = [np.unique(lay.slot_tiles).size == lay.slot_tiles.size for lay in layout.layers]
        self._build_static_sets()
        self._build_exchanges()

    # ---- spike counts: [len(ts), B] for the time steps ts of one loop ----------------
    def true_out(self, li: int, ts: np.ndarray) -> np.ndarray:
        return self.act.true_counts[li + 1][ts].astype(np.int64)

    def valid_out(self, li: int, ts: np.ndarray) -> np.ndarray:
        return self.act.valid_counts[li + 1][ts].astype(np.int64)

    def _delayed(self, counts: tuple[np.ndarray, ...], li: int, ts: np.ndarray) -> np.ndarray:
        """Layer ``li``'s input counts at steps ``ts`` (one-step delay for li >= 1; zeros at t = 0)."""
        if li == 0:
            return counts[0][ts].astype(np.int64)
        out = np.zeros((ts.size, self.B), np.int64)
        late = ts >= 1
        out[late] = counts[li][ts[late] - 1]
        return out

    def true_in(self, li: int, ts: np.ndarray) -> np.ndarray:
        """True input ids layer ``li`` sums at steps ``ts``."""
        return self._delayed(self.act.true_counts, li, ts)

    def valid_in(self, li: int, ts: np.ndarray) -> np.ndarray:
        return self._delayed(self.act.valid_counts, li, ts)

    # ---- static exchanges ---------------------------------------------------------
    def _broadcast(self, tr: _Transfers, lay: LayerLayout, src: int, nbytes_dense: int, slots: int) -> None:
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
        f1, f2, f3, f4, b1, b2, b3, b3b, loss = (_Transfers() for _ in range(9))
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
        tpi = self.machine.tiles_per_ipu
        self.external = {k: _crosses_ipus(v, tpi) for k, v in self.ex.items()}

    def _reduction_transfers(self, lay: LayerLayout, b3: _Transfers, b3b: _Transfers) -> None:
        """B3: each tile's partials of (b, slots) to the stage-1 tiles of its group; B3b: group
        results to the stage-2 tile. One transfer per run of slots held by one stage-1 tile."""
        assert lay.group_of_tile is not None
        assert lay.stage2_tiles is not None
        tile, _, b, s_lo, s_hi, group, _, _ = self._stage1_segments(lay)
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

    def superstep(self, name: str, exchange: str | None, cs: _ComputeSetBuilder | ComputeSet | None) -> Superstep:
        ex = self.ex[exchange] if exchange else None
        scope: SyncScope = "external" if exchange and self.external[exchange] else "internal"
        if isinstance(cs, _ComputeSetBuilder):
            cs = cs.build()
        return Superstep(name, scope, ex, cs)

    def _build_static_sets(self) -> None:
        """Compute sets whose vertices do not depend on spike counts: built once, shared by every step."""
        B, m = self.B, self.machine
        flags = _ComputeSetBuilder("fwd.dense_flags")
        rand = _ComputeSetBuilder("fwd.rand_offsets")
        store = _ComputeSetBuilder("fwd.store")
        slices = _ComputeSetBuilder("bwd.slices")
        alpha = _ComputeSetBuilder("bwd.alpha_mul")
        scale = _ComputeSetBuilder("bwd.scale")
        red2 = _ComputeSetBuilder("bwd.reduce_stage2")
        for li, lay in enumerate(self.layout.layers):
            row = est.slice_copy_cycles(np.array([WORD_BYTES * (lay.sparse_size + 2)]))
            for tiles, k, _ in self.groups[li]:
                state_copy = est.copy_tile_cycles(WORD_BYTES * B * k, m.memcpy_bytes_per_cycle)
                flags.add("DenseSpikesMultiThresh", tiles, [est.dense_flags_cycles()], [k * B], unique=True)
                store.add("DynamicUpdateState", tiles, [], supervisor=state_copy, unique=True)
                slices.add("DynamicSliceState", tiles, [], supervisor=state_copy, unique=True)
                # in-place MultiVertex: PopLibs BinaryOp1DInPlace worker overhead 58 (ipu-hardware.md §4)
                alpha.add("popops.MulInPlace", tiles, [], supervisor=est.elementwise_tile_cycles(B * k, worker_overhead=58), unique=True)
                scale.add("popops.CopyMul", tiles, [], supervisor=2 * est.elementwise_tile_cycles(B * k), unique=True)
            rand.add("poprand.Uniform", lay.combine_tiles, [], supervisor=est.elementwise_tile_cycles(1))
            store.add("DynamicUpdateRow", lay.seq_tiles, row)
            # output row at t, and (as the next layer's input) at t-1
            slices.add("DynamicSliceRow", lay.seq_tiles, np.repeat(row, 2 if li < self.L - 1 else 1))
            if li >= 1:
                assert lay.stage2_tiles is not None
                s_in = lay.input_sparse_size
                n_workers = min(N_REPLICAS, s_in)
                per_worker = -(-s_in // n_workers)
                red2.add("popops.ReduceMany", lay.stage2_tiles, [est.reduce_stage2_cycles(lay.n_groups, per_worker)], [n_workers])
        input_row = est.slice_copy_cycles(np.array([WORD_BYTES * (self.spec.input_sparse_size + 1)]))
        slices.add("DynamicSliceRow", self.layout.input_seq_tiles, input_row)
        slices.add("DynamicSliceRow", self.layout.loss_tiles, est.slice_copy_cycles(np.array([WORD_BYTES * self.layout.layers[-1].sparse_size])))
        counter = np.array([self.layout.counter_tile])
        loops = []
        for name in ("fwd.loop", "bwd.loop"):
            loop = _ComputeSetBuilder(name)
            loop.add("CountedLoop", counter, [], supervisor=est.loop_counter_tile_cycles())
            loops.append(loop.build())
        self.static = {
            cs.name: cs
            for cs in (flags.build(), rand.build(), store.build(), slices.build(), alpha.build(), scale.build(), red2.build(), *loops)
        }

    # ---- forward --------------------------------------------------------------------
    def forward_body(self, ts: np.ndarray) -> list[Step]:
        """The forward supersteps of one time step; their count-dependent costs are tables over ``ts``."""
        upd = _ComputeSetBuilder("fwd.state_update")
        d2s = _ComputeSetBuilder("fwd.dense_to_sparse")
        comb1 = _ComputeSetBuilder("fwd.tile_combine")
        comb2 = _ComputeSetBuilder("fwd.final_combine")
        for li, lay in enumerate(self.layout.layers):
            n_in = self.true_in(li, ts)
            for tiles, k, src in self.groups[li]:
                ids = -(-n_in * src // lay.n_inputs)  # ids that reach this tile
                upd.add("LIFStateUpdateInPlace", tiles, est.state_update_cycles(ids, k), unique=True)
            self._spike_generation(li, lay, ts, d2s, comb1, comb2)
        st = self.static
        return [
            self.superstep("fwd.state_update", "f1", upd),
            self.superstep("fwd.dense_flags", None, st["fwd.dense_flags"]),
            self.superstep("fwd.rand_offsets", None, st["fwd.rand_offsets"]),
            self.superstep("fwd.dense_to_sparse", "f2", d2s),
            self.superstep("fwd.tile_combine", None, comb1),
            self.superstep("fwd.final_combine", "f3", comb2),
            self.superstep("fwd.store", "f4", st["fwd.store"]),
            self.superstep("fwd.loop", None, st["fwd.loop"]),
        ]

    def _spike_generation(
        self, li: int, lay: LayerLayout, ts: np.ndarray, d2s: _ComputeSetBuilder, comb1: _ComputeSetBuilder, comb2: _ComputeSetBuilder
    ) -> None:
        """Dense-to-sparse (stage 1), per-tile combine (stage 2) and the final combine.

        Only counts are known, so the ids of a (batch, threshold) are taken as spread
        evenly over the layer's neurons: a slice of ``len`` neurons holds
        ``ceil(count x len / N)`` of them (capped at ``min(S, len)``). Each vertex position
        uses the longest slice of that position over the slots (slices differ by <= 1).
        The final combine vertices (one per batch element) are costed the same way, with
        the batch's largest counts.
        """
        n, s, f = lay.n_neurons, lay.sparse_size, lay.spread
        lens = np.diff(lay.slice_bounds)
        slot_lens = [lens[slice(*lay.slot_slices(j))] for j in range(f)]
        width = max(x.size for x in slot_lens)
        pos_len = np.zeros(width, np.int64)
        for x in slot_lens:
            pos_len[: x.size] = np.maximum(pos_len[: x.size], x)
        true, valid = self.true_out(li, ts), self.valid_out(li, ts)
        uniq = self.slots_unique[li]
        for thr, counts in ((0, true), (1, valid - true)):
            # NOTE: every slot of a (layer, threshold) is costed with the batch's largest
            # count: the slot tile with that count sets the compute phase's time anyway,
            # and one block per (layer, threshold) keeps the program small (the per-tile
            # mean of these few-hundred-cycle vertices is overstated by <= 2 cycles a hit).
            c = counts.max(axis=1, keepdims=True)
            hits = np.minimum(-(-c * pos_len // n), np.minimum(s, pos_len))
            tiles = lay.slot_tiles[:, thr, :].reshape(-1)
            d2s.add("DenseToSparseSpikes", tiles, est.dense_to_sparse_cycles(pos_len, hits), unique=uniq)
            comb1.add(
                "LIFOutSpikesCombine_singleThresh",
                tiles,
                est.tile_combine_cycles(width, np.minimum(s, hits.sum(axis=1, keepdims=True))),
                unique=uniq,
            )
        # the final combine of every batch element is costed with the largest counts too
        # (one vertex per combine tile; the slowest sets the phase)
        comb2.add(
            "LIFOutSpikesMultiThreshsCombine",
            lay.combine_tiles,
            est.final_combine_cycles(f, true.max(axis=1, keepdims=True), valid.max(axis=1, keepdims=True)),
            unique=uniq,
        )

    def loss_step(self) -> Step:
        last = self.layout.layers[-1]
        cs = _ComputeSetBuilder("loss")
        cs.add("SparseCrossEntropy", self.layout.loss_tiles, [est.loss_cycles(last.sparse_size, last.n_neurons, self.T)])
        return self.superstep("loss", "loss", cs)

    # ---- backward -------------------------------------------------------------------
    def zero_grads_step(self) -> Step:
        cs = _ComputeSetBuilder("bwd.zero_grads")
        for li in range(len(self.layout.layers)):
            for tiles, k, src in self.groups[li]:
                nbytes = WORD_BYTES * (N_REPLICAS * src * k + 2 * self.B * k)
                cs.add("Fill", tiles, [], supervisor=est.fill_tile_cycles(nbytes), unique=True)
        return self.superstep("bwd.zero_grads", None, cs)

    def backward_body(self, ts: np.ndarray) -> list[Step]:
        """The backward supersteps of time steps ``ts`` (all >= 1, or the single step 0, which
        computes no input-spike gradient); count-dependent costs are tables over ``ts``."""
        B = self.B
        grads = bool(ts[0] >= 1)
        sgrad = _ComputeSetBuilder("bwd.state_grad")
        wgrad = _ComputeSetBuilder("bwd.weight_grad")
        igrad = _ComputeSetBuilder("bwd.input_grad")
        red1 = _ComputeSetBuilder("bwd.reduce_stage1")
        per_thread = B // N_REPLICAS
        for li, lay in enumerate(self.layout.layers):
            n = lay.n_neurons
            valid, n_true_in, n_valid_in = self.valid_out(li, ts), self.true_in(li, ts), self.valid_in(li, ts)
            for tiles, k, src in self.groups[li]:
                sgrad.add("calcLIFStateGrad", tiles, est.state_grad_cycles(valid, valid * k / n), unique=True)
                ids = -(-n_true_in * src // lay.n_inputs)
                wcyc = np.stack(
                    [est.weight_grad_cycles(ids[:, w * per_thread : (w + 1) * per_thread], k) for w in range(N_REPLICAS)], axis=1
                )
                wgrad.add("LIFWeightsGrad", tiles, wcyc, unique=True)
                if li >= 1 and grads:
                    vids = -(-n_valid_in * src // lay.n_inputs)
                    igrad.add("LIFInpSpikesGrad", tiles, est.input_grad_cycles(vids, k), unique=True)
            if li >= 1 and grads:
                self._reduction_compute(lay, n_valid_in, red1)
        st = self.static
        steps: list[Step] = [
            self.superstep("bwd.slices", None, st["bwd.slices"]),
            self.superstep("bwd.alpha_mul", None, st["bwd.alpha_mul"]),
            self.superstep("bwd.state_grad", "b1", sgrad),
            self.superstep("bwd.scale", None, st["bwd.scale"]),
            self.superstep("bwd.replicate", "b2", None),
            self.superstep("bwd.weight_grad", None, wgrad),
        ]
        if grads and self.L > 1:
            steps += [
                self.superstep("bwd.input_grad", None, igrad),
                self.superstep("bwd.reduce_stage1", "b3", red1),
                self.superstep("bwd.reduce_stage2", "b3b", st["bwd.reduce_stage2"]),
            ]
        steps.append(self.superstep("bwd.loop", None, st["bwd.loop"]))
        return steps

    def _stage1_segments(self, lay: LayerLayout) -> tuple[np.ndarray, ...]:
        """Static part of stage 1: runs of vertices on one tile as (tile, group size, batch,
        first slot, end slot, group) arrays, plus the distinct tiles and each run's index among them."""
        key = id(lay)
        if key not in self._segments:
            assert lay.stage1_tile is not None
            assert lay.group_of_tile is not None
            g_sizes = np.bincount(lay.group_of_tile, minlength=lay.n_groups)
            n_g, n_b, n_s = lay.stage1_tile.shape
            flat = lay.stage1_tile.reshape(n_g * n_b, n_s)
            # a run starts where the tile changes within a (group, batch) row, or at slot 0
            starts = np.ones(flat.shape, bool)
            starts[:, 1:] = flat[:, 1:] != flat[:, :-1]
            row, s_lo = np.nonzero(starts)
            nxt = np.append(s_lo[1:], n_s)
            last = np.append(row[1:] != row[:-1], True)
            s_hi = np.where(last, n_s, nxt)
            tile = flat[row, s_lo]
            uniq_tiles, inv = np.unique(tile, return_inverse=True)
            self._segments[key] = (tile, g_sizes[row // n_b], row % n_b, s_lo, s_hi, row // n_b, uniq_tiles, inv.reshape(-1))
        return self._segments[key]

    def _reduction_compute(self, lay: LayerLayout, n_valid_in: np.ndarray, red1: _ComputeSetBuilder) -> None:
        """Stage-1 vertices (group, b, slot), active when slot < valid (stage 2 is static).

        ``n_valid_in`` is ``[rows, B]``. On each stage-1 tile the active vertices are listed
        (larger groups first) before the skipped ones; the order only affects how they
        share the 6 worker contexts. Tiles whose counts agree in every row share a block.
        """
        assert lay.stage2_tiles is not None
        _, gsize, b, s_lo, s_hi, _, uniq_tiles, inv = self._stage1_segments(lay)
        rows = n_valid_in.shape[0]
        n_t = uniq_tiles.size
        active = np.clip(n_valid_in[:, b] - s_lo, 0, s_hi - s_lo)  # [rows, segments]
        idle = (s_hi - s_lo) - active
        g_values = np.unique(gsize)[::-1]
        idx = (np.arange(rows)[:, None] * n_t + inv[None, :]).reshape(-1)

        def per_tile(weights: np.ndarray) -> np.ndarray:
            return np.bincount(idx, weights=weights.reshape(-1), minlength=rows * n_t).reshape(rows, n_t)

        cols = [per_tile(active * (gsize == g)) for g in g_values] + [per_tile(idle)]
        table = np.stack(cols, axis=2).astype(np.int64)  # [rows, tiles, kinds]
        by_tile = table.transpose(1, 0, 2).reshape(n_t, -1)
        _, first, tile_row = np.unique(by_tile, axis=0, return_index=True, return_inverse=True)
        costs = np.array([est.reduce_stage1_cycles(int(g), True) for g in g_values] + [est.reduce_stage1_cycles(0, False)], np.int64)
        for r, f in enumerate(first.tolist()):
            red1.add(
                "CustomSparseReduceStage1",
                uniq_tiles[tile_row.reshape(-1) == r],
                costs,
                table[:, f, :],
                unique=True,
            )

    def update_steps(self) -> list[Step]:
        red = _ComputeSetBuilder("update.reduce_replicas")
        upd = _ComputeSetBuilder("update.optimizer")
        for li in range(len(self.layout.layers)):
            for tiles, k, src in self.groups[li]:
                red.add("popops.ReduceReplicas", tiles, [], supervisor=est.reduce_replicas_tile_cycles(src * k, N_REPLICAS), unique=True)
                upd.add(
                    f"optimizer.{self.spec.optimizer}",
                    tiles,
                    [],
                    supervisor=est.optimizer_tile_cycles(src * k, self.spec.optimizer),
                    unique=True,
                )
        return [self.superstep("update.reduce_replicas", None, red), self.superstep("update.optimizer", None, upd)]

    # ---- host I/O -------------------------------------------------------------------
    def host_in(self) -> Step:
        tiles = np.concatenate([self.layout.input_seq_tiles, self.layout.loss_tiles])
        nbytes = np.concatenate(
            [np.full(self.B, WORD_BYTES * self.T * (self.spec.input_sparse_size + 1)), np.full(self.B, WORD_BYTES)]
        )
        return HostCopy("host.input_spikes_and_labels", tiles, nbytes, "to_device")

    def host_out(self) -> Step:
        return HostCopy("host.loss", self.layout.loss_tiles[:1], np.array([WORD_BYTES]), "from_device")

    # ---- memory ---------------------------------------------------------------------
    def tensors(self) -> list[Tensor]:
        """Every tensor of the step on its tiles (snn-on-ipu.md §2.2 for the neuron tiles)."""
        B, T, opt = self.B, self.T, self.opt
        acc: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))

        def put(name: str, tiles: np.ndarray, nbytes: np.ndarray | int, kind: str = "tensor") -> None:
            tiles = np.asarray(tiles, np.int64).reshape(-1)
            nb = np.broadcast_to(np.asarray(nbytes, np.int64), tiles.shape)
            d = acc[(name, kind)]
            for t, v in zip(tiles.tolist(), nb.tolist(), strict=True):
                d[t] += v

        for li, lay in enumerate(self.layout.layers):
            k = lay.tile_neurons
            src = lay.tile_sources
            s, s_in = lay.sparse_size, lay.input_sparse_size
            tl = lay.tiles
            put("weights", tl, WORD_BYTES * src * k + (0 if lay.dense else WORD_BYTES * src))
            put("weight_grad_replicas", tl, N_REPLICAS * WORD_BYTES * src * k)
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
            n_vertices = B + k * B + B + N_REPLICAS + (B if li >= 1 else 0) + 8
            put("vertex_state", tl, opt.vertex_state_bytes * n_vertices, "vertex_state")
            # spike generation: 6 worker lists and the combined list per slot; the final list
            slot_list = WORD_BYTES * (6 * (min(s, 64) + 1) + s + 1)
            put("spikegen_lists", lay.slot_tiles.reshape(-1), slot_list, "exchange_buffer")
            put("spikegen_flags", lay.slot_tiles.reshape(-1), WORD_BYTES * int(np.diff(lay.slice_bounds).max()) * 6, "exchange_buffer")
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
        put("code", all_tiles, opt.code_bytes_per_tile, "code")
        out = []
        for (name, kind), d in acc.items():
            tiles = np.fromiter(d.keys(), np.int64, len(d))
            out.append(Tensor(name, tiles, np.fromiter(d.values(), np.int64, len(d)), kind))  # type: ignore[arg-type]
        return out


def lower_snn(
    spec: SNNSpec,
    machine: MachineSpec,
    mapping: NeuronMapping,
    activity: SpikeActivity,
    options: LoweringOptions | None = None,
) -> Program:
    """One training step of ``spec`` on ``machine`` as a BSP program.

    ``activity`` gives the spike counts of every step and sample (functional model, trace
    or parametric). Raises :class:`ConfigError` if the batch is not a multiple of 6 or the
    activity does not match ``spec``.
    """
    opt = options or LoweringOptions()
    check_batch(spec)
    activity.check_against(spec)
    layout = build_layout(spec, machine, mapping)
    low = _Lowering(spec, machine, layout, activity, opt)
    T = spec.n_timesteps
    steps: list[Step] = []
    if opt.include_host_io:
        steps.append(low.host_in())
    steps.append(Repeat(T, tuple(low.forward_body(np.arange(T))), "fwd.time_loop"))
    steps.append(low.loss_step())
    if opt.include_backward:
        steps.append(low.zero_grads_step())
        steps.append(Repeat(T - 1, tuple(low.backward_body(np.arange(T - 1, 0, -1))) if T > 1 else (), "bwd.time_loop"))
        steps += low.backward_body(np.zeros(1, np.int64))
        steps += low.update_steps()
    if opt.include_host_io:
        steps.append(low.host_out())
    return Program(
        name=spec.name,
        body=tuple(steps),
        tensors=tuple(low.tensors()),
        batch_size=spec.batch_size,
        metadata={
            "workload": "snn_bptt",
            "neurons_per_tile": mapping.neurons_per_tile,
            "partitioner": mapping.method,
            "n_ipus_used": mapping.n_ipus_used,
        },
    )
