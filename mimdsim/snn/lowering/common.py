"""What every lowering of the SNN training step shares.

* the program is built with :mod:`mimdsim.program.builder`'s vectorised forms (exchanges with shared
  destination lists, compute sets with cycle tables, tensors summed per tile);
* :class:`LoweringBase`: the spike counts of each time step of a loop, and the vertices of
  the authors' codelets (GSNN PC `Build`/`Build_grad`), costed by :mod:`mimdsim.snn.lowering.codelets`
  on the tiles :mod:`mimdsim.snn.lowering.layout` gives them. The codelets run on the same tiles
  in every lowering; lowerings differ in the programs around them.

Count-dependent costs are cycle tables with one row per time step of the loop they run in
(``ts``: the time steps, in execution order), so a time loop is one ``Repeat``.
"""

from __future__ import annotations

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.program.builder import ComputeSetBuilder
from mimdsim.program.ir import ComputeSet, Exchange, ProgramOp, Superstep, SyncScope
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering.layout import LayerLayout, SNNLayout
from mimdsim.snn.lowering.neuron_bytes import WORD_BYTES
from mimdsim.snn.model.spec import SNNSpec

__all__ = [
    "WORD_BYTES",
    "LoweringBase",
    "crosses_ipus",
    "tile_groups",
]


def crosses_ipus(ex: Exchange | None, tiles_per_ipu: int) -> bool:
    """Whether some transfer of ``ex`` goes to another IPU (its superstep needs an external sync)."""
    return ex is not None and bool(ex.crosses_ipus(tiles_per_ipu).any())


def tile_groups(lay: LayerLayout) -> list[tuple[np.ndarray, int, int]]:
    """The layer's tiles grouped by (neurons on the tile, connected input neurons)."""
    out = []
    keys = np.stack([lay.tile_neurons, lay.tile_sources], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    for g, (k, src) in enumerate(uniq):
        tiles = lay.tiles[inv.reshape(-1) == g]
        tiles.flags.writeable = False  # shared by every step's blocks without copies
        out.append((tiles, int(k), int(src)))
    return out


class LoweringBase:
    """Spike counts per time step and the authors' codelets, for one spec, machine, layout and activity."""

    def __init__(self, spec: SNNSpec, machine: MachineSpec, layout: SNNLayout, act: SpikeActivity) -> None:
        self.spec, self.machine, self.layout, self.act = spec, machine, layout, act
        self.B, self.T = spec.batch_size, spec.n_timesteps
        self.L = len(spec.layers)
        self.W = machine.num_worker_contexts
        self.groups = [tile_groups(lay) for lay in layout.layers]
        self.slots_unique = [np.unique(lay.slot_tiles).size == lay.slot_tiles.size for lay in layout.layers]
        self.soft_double_cycles: int | None = None  # the surrogate's soft-double part per slot (None: typical)
        self._segments: dict[int, tuple[np.ndarray, ...]] = {}

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

    def superstep(
        self, name: str, exchange: Exchange | None, cs: ComputeSetBuilder | ComputeSet | None, op: ProgramOp = "execute"
    ) -> Superstep:
        """A superstep whose sync is external iff its exchange crosses IPUs."""
        scope: SyncScope = "external" if crosses_ipus(exchange, self.machine.tiles_per_ipu) else "internal"
        if isinstance(cs, ComputeSetBuilder):
            cs = cs.freeze()
        return Superstep(name, scope, exchange, cs, op)

    # ---- the authors' codelets (costs from mimdsim.snn.lowering.codelets) ---------------------
    def add_state_update(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFStateUpdateInPlace``: B per neuron tile, each over the true input ids of its sample."""
        for li, lay in enumerate(self.layout.layers):
            n_in = self.true_in(li, ts)
            for tiles, k, src in self.groups[li]:
                ids = -(-n_in * src // lay.n_inputs)  # ids that reach this tile
                cs.add_table("LIFStateUpdateInPlace", tiles, est.state_update_cycles(ids, k), unique=True)

    def add_dense_flags(self, cs: ComputeSetBuilder) -> None:
        """``DenseSpikesMultiThresh``: k·B per neuron tile."""
        for li in range(self.L):
            for tiles, k, _ in self.groups[li]:
                cs.add_table("DenseSpikesMultiThresh", tiles, [est.dense_flags_cycles()], [k * self.B], unique=True)

    def add_spike_generation(
        self, d2s: ComputeSetBuilder, comb1: ComputeSetBuilder, comb2: ComputeSetBuilder, ts: np.ndarray
    ) -> None:
        """Dense-to-sparse (stage 1), per-tile combine (stage 2) and the final combine of every layer.

        Only counts are known, so the ids of a (batch, threshold) are taken as spread
        evenly over the layer's neurons: a slice of ``len`` neurons holds
        ``ceil(count x len / N)`` of them (capped at ``min(S, len)``). Each vertex position
        uses the longest slice of that position over the slots (slices differ by <= 1).
        The final combine vertices (one per batch element) are costed the same way, with
        the batch's largest counts.
        """
        for li, lay in enumerate(self.layout.layers):
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
                d2s.add_table("DenseToSparseSpikes", tiles, est.dense_to_sparse_cycles(pos_len, hits), unique=uniq)
                comb1.add_table(
                    "LIFOutSpikesCombine_singleThresh",
                    tiles,
                    est.tile_combine_cycles(width, np.minimum(s, hits.sum(axis=1, keepdims=True))),
                    unique=uniq,
                )
            # the final combine of every batch element is costed with the largest counts too
            # (one vertex per combine tile; the slowest sets the phase)
            comb2.add_table(
                "LIFOutSpikesMultiThreshsCombine",
                lay.combine_tiles,
                est.final_combine_cycles(f, true.max(axis=1, keepdims=True), valid.max(axis=1, keepdims=True)),
                unique=uniq,
            )

    def add_state_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``calcLIFStateGrad_stateWise``: B per neuron tile, scanning the layer's valid output slots."""
        for li, lay in enumerate(self.layout.layers):
            valid = self.valid_out(li, ts)
            for tiles, k, _ in self.groups[li]:
                cs.add_table(
                    "calcLIFStateGrad",
                    tiles,
                    est.state_grad_cycles(valid, valid * k / lay.n_neurons, self.soft_double_cycles),
                    unique=True,
                )

    def add_weight_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFWeightsGrad``: one vertex per worker context (its own gradient replica), B/W samples each."""
        per_thread = self.B // self.W
        for li, lay in enumerate(self.layout.layers):
            n_true_in = self.true_in(li, ts)
            for tiles, k, src in self.groups[li]:
                ids = -(-n_true_in * src // lay.n_inputs)
                wcyc = np.stack(
                    [est.weight_grad_cycles(ids[:, w * per_thread : (w + 1) * per_thread], k) for w in range(self.W)], axis=1
                )
                cs.add_table("LIFWeightsGrad", tiles, wcyc, unique=True)

    def add_input_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFInpSpikesGrad``: B per tile of the layers after the first, over their valid input slots."""
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            n_valid_in = self.valid_in(li, ts)
            for tiles, k, src in self.groups[li]:
                vids = -(-n_valid_in * src // lay.n_inputs)
                cs.add_table("LIFInpSpikesGrad", tiles, est.input_grad_cycles(vids, k), unique=True)

    def stage1_segments(self, lay: LayerLayout) -> tuple[np.ndarray, ...]:
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

    def add_reduce_stage1(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``CustomSparseReduceStage1``: one per (group, b, slot) of every layer after the first, active when slot < valid.

        On each stage-1 tile the active vertices are listed (larger groups first) before
        the skipped ones; the order only affects how they share the worker contexts. Tiles
        whose counts agree in every row share a block.
        """
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            n_valid_in = self.valid_in(li, ts)
            _, gsize, b, s_lo, s_hi, _, uniq_tiles, inv = self.stage1_segments(lay)
            rows = n_valid_in.shape[0]
            n_t = uniq_tiles.size
            active = np.clip(n_valid_in[:, b] - s_lo, 0, s_hi - s_lo)  # [rows, segments]
            idle = (s_hi - s_lo) - active
            g_values = np.unique(gsize)[::-1]
            kinds = g_values.size + 1
            # vertices per (kind, row, tile): active ones by group size (larger first), then the idle ones
            weights = np.stack([active * (gsize == g) for g in g_values.tolist()] + [idle])  # [kinds, rows, segments]
            idx = (np.arange(kinds * rows)[:, None] * n_t + inv[None, :]).reshape(-1)
            table = np.bincount(idx, weights=weights.reshape(-1), minlength=kinds * rows * n_t).astype(np.int64)
            by_tile = np.ascontiguousarray(table.reshape(kinds, rows, n_t).transpose(2, 1, 0))  # [tiles, rows, kinds]
            members: dict[bytes, list[int]] = {}  # tiles with equal tables, in tile order
            for t, row in enumerate(by_tile.reshape(n_t, -1)):
                members.setdefault(row.tobytes(), []).append(t)
            costs = np.array(
                [est.reduce_stage1_cycles(int(g), True) for g in g_values] + [est.reduce_stage1_cycles(0, False)], np.int64
            )
            for group in members.values():
                cs.add_table("CustomSparseReduceStage1", uniq_tiles[group], costs, by_tile[group[0]], unique=True)
