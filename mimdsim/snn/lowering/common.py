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

import functools

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.program.builder import ComputeSetBuilder
from mimdsim.program.ir import ComputeSet, Exchange, ProgramOp, Superstep, SyncScope
from mimdsim.program.unique import unique_ints
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering.kernels import row_hashes, rows_equal_their_first, stage1_table
from mimdsim.snn.lowering.layout import LayerLayout, SNNLayout
from mimdsim.snn.lowering.neuron_bytes import WORD_BYTES
from mimdsim.snn.model.spec import SNNSpec

__all__ = [
    "WORD_BYTES",
    "equal_rows",
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
    width = int(lay.tile_sources.max(initial=0)) + 1  # (k, src) as one key, in the order of the pairs (both >= 0)
    uniq, inv = unique_ints(lay.tile_neurons * width + lay.tile_sources, return_inverse=True)
    for g, (k, src) in enumerate(zip(*np.divmod(uniq, width), strict=True)):
        tiles = lay.tiles[inv.reshape(-1) == g]
        tiles.flags.writeable = False  # shared by every step's blocks without copies
        out.append((tiles, int(k), int(src)))
    return out


@functools.lru_cache(maxsize=64)
def _row_weights(width: int) -> np.ndarray:
    """The hash weights of :func:`equal_rows` for rows of ``width`` entries: fixed, odd, read-only."""
    weights = np.random.default_rng(width).integers(1, 1 << 62, width, dtype=np.int64) | 1
    weights.flags.writeable = False
    return weights


def equal_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of the 2-D int64 ``rows`` grouped by equal content, groups in the order of their first row:
    each group's first row, the row indices in (group, row) order, and the groups' bounds in that order.

    Rows are compared by a hash (a dot product with fixed odd weights, wrapping), then checked equal to their
    group's first row; a collision falls back to an exact comparison.

    >>> first, order, bounds = equal_rows(np.array([[1, 2], [3, 4], [1, 2], [5, 6], [3, 4]]))
    >>> first.tolist(), order.tolist(), bounds.tolist()
    ([0, 1, 3], [0, 2, 1, 4, 3], [0, 2, 4, 5])
    """
    rows = np.ascontiguousarray(rows, np.int64)
    _, first_idx, inv = unique_ints(row_hashes(rows, _row_weights(rows.shape[1])), return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if not rows_equal_their_first(rows, first_idx, inv):  # a hash collision
        _, first_idx, inv = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
    rank = np.empty_like(first_idx)
    rank[np.argsort(first_idx)] = np.arange(first_idx.size)
    group = rank[inv]
    order = np.argsort(group, kind="stable")
    bounds = np.zeros(first_idx.size + 1, np.int64)
    np.cumsum(np.bincount(group, minlength=first_idx.size), out=bounds[1:])
    return np.sort(first_idx), order, bounds


class LoweringBase:
    """Spike counts per time step and the authors' codelets, for one spec, machine, layout and activity."""

    def __init__(self, spec: SNNSpec, machine: MachineSpec, layout: SNNLayout, act: SpikeActivity) -> None:
        self.spec, self.machine, self.layout, self.act = spec, machine, layout, act
        self.B, self.T = spec.batch_size, spec.n_timesteps
        self.L = len(spec.layers)
        self.W = machine.num_worker_contexts
        self.groups = [tile_groups(lay) for lay in layout.layers]
        self.slots_unique = [unique_ints(lay.slot_tiles).size == lay.slot_tiles.size for lay in layout.layers]
        self.soft_double_cycles: int | None = None  # the surrogate's soft-double part per slot (None: typical)
        self._segments: dict[int, tuple[np.ndarray, ...]] = {}
        self._runs: dict[int, tuple[np.ndarray, ...]] = {}

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
        """A superstep whose sync is external iff its exchange crosses IPUs (never on a machine of one IPU)."""
        crosses = self.machine.n_ipus > 1 and crosses_ipus(exchange, self.machine.tiles_per_ipu)
        scope: SyncScope = "external" if crosses else "internal"
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
            uniq_tiles, inv = unique_ints(tile, return_inverse=True)
            self._segments[key] = (tile, g_sizes[row // n_b], row % n_b, s_lo, s_hi, row // n_b, uniq_tiles, inv.reshape(-1))
        return self._segments[key]

    def stage1_runs(self, lay: LayerLayout) -> tuple[np.ndarray, ...]:
        """Static part of stage 1's vertex table: the segments ordered by (kind, tile), where kind ``k`` is the
        ``k``-th largest group size, with the start of each (kind, tile) run, its kind and its tile's index among
        :meth:`stage1_segments`' distinct tiles, the distinct group sizes (largest first), and each tile's slots."""
        key = id(lay)
        if key not in self._runs:
            _, gsize, b, s_lo, s_hi, _, uniq_tiles, inv = self.stage1_segments(lay)
            g_values = unique_ints(gsize)[::-1]
            kind = np.searchsorted(-g_values, -gsize)  # larger groups first
            order = np.lexsort((inv, kind))
            run_key = kind[order] * uniq_tiles.size + inv[order]
            starts = np.flatnonzero(np.r_[True, run_key[1:] != run_key[:-1]])
            slots = np.bincount(inv, weights=s_hi - s_lo, minlength=uniq_tiles.size).astype(np.int64)
            self._runs[key] = (b[order], s_lo[order], (s_hi - s_lo)[order], starts, kind[order][starts],
                               inv[order][starts], g_values, slots)  # fmt: skip
        return self._runs[key]

    def add_reduce_stage1(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``CustomSparseReduceStage1``: one per (group, b, slot) of every layer after the first, active when slot < valid.

        On each stage-1 tile the active vertices are listed (larger groups first) before
        the skipped ones; the order only affects how they share the worker contexts. Tiles
        whose counts agree in every row share a block (in the order of their first tile).
        """
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            n_valid_in = self.valid_in(li, ts)
            uniq_tiles = self.stage1_segments(lay)[6]
            b, s_lo, span, starts, run_kind, run_tile, g_values, slots = self.stage1_runs(lay)
            n_t, kinds = uniq_tiles.size, g_values.size + 1
            # vertices per (tile, row, kind): active by kind, then idle
            counts = np.ascontiguousarray(n_valid_in, np.int64)
            table = stage1_table(counts, b, s_lo, span, starts, run_tile, run_kind, slots, n_t, kinds)
            table.flags.writeable = False
            costs = np.array(
                [est.reduce_stage1_cycles(int(g), True) for g in g_values] + [est.reduce_stage1_cycles(0, False)], np.int64
            )
            costs.flags.writeable = False
            first, order, bounds = equal_rows(table.reshape(n_t, -1))
            tiles = uniq_tiles[order]
            tiles.flags.writeable = False
            cs.add_table_groups("CustomSparseReduceStage1", tiles, bounds, costs, table, first)
