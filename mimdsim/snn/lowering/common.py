"""What every lowering of the SNN training step shares.

* :class:`Transfers` (CSR exchanges), :class:`ComputeSetBuilder` (vertex blocks, with
  cycle tables) and :class:`MemoryBuilder` (tensors per tile), all vectorised;
* :class:`LoweringBase`: the spike counts of each time step of a loop, and the vertices of
  the authors' codelets (GSNN PC `Build`/`Build_grad`), costed by :mod:`mimdsim.snn.lowering.codelets`
  on the tiles :mod:`mimdsim.snn.lowering.layout` gives them. The codelets run on the same tiles
  in every lowering; lowerings differ in the programs around them.

Count-dependent costs are cycle tables with one row per time step of the loop they run in
(``ts``: the time steps, in execution order), so a time loop is one ``Repeat``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.program.ir import ComputeSet, Exchange, ProgramOp, Superstep, SyncScope, Tensor, VertexBlock
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering.layout import LayerLayout, SNNLayout
from mimdsim.snn.model.spec import SNNSpec

__all__ = [
    "WORD_BYTES",
    "Transfers",
    "ComputeSetBuilder",
    "MemoryBuilder",
    "LoweringBase",
    "crosses_ipus",
    "tile_groups",
]

WORD_BYTES = 4
"""uint32 spike ids and counts, float32 values (FB24; GSNN PC (sparse spike tensors))."""


class Transfers:
    """Accumulates transfers (one source, one or more destinations; one message each unless
    given) into an exchange with shared destination lists (:mod:`mimdsim.program.exchange`):
    a multicast from many sources to one group of tiles holds the group once."""

    def __init__(self) -> None:
        self.src: list[np.ndarray] = []
        self.nbytes: list[np.ndarray] = []
        self.messages: list[np.ndarray] = []
        self.list_of: list[np.ndarray] = []  # per transfer: its list
        self.list_sizes: list[np.ndarray] = []
        self.list_dst: list[np.ndarray] = []
        self.per_destination: list[np.ndarray] = []
        self.replicable: list[np.ndarray] = []
        self._n_lists = 0

    def _push(
        self,
        src: np.ndarray,
        nbytes: np.ndarray,
        messages: np.ndarray,
        list_of: np.ndarray,
        sizes: np.ndarray,
        dst: np.ndarray,
        *,
        per_destination: bool = False,
        replicable: bool = False,
    ) -> None:
        """Transfers whose lists are numbered from 0 within this part (``list_of``), and the lists' sizes and tiles."""
        self.per_destination.append(np.full(src.size, per_destination))
        self.replicable.append(np.full(src.size, replicable))
        self.src.append(src)
        self.nbytes.append(nbytes)
        self.messages.append(messages)
        self.list_of.append(list_of + self._n_lists)
        self.list_sizes.append(sizes)
        self.list_dst.append(dst)
        self._n_lists += sizes.size

    def multicast(self, src: int, dsts: np.ndarray, nbytes: int, *, replicable: bool = False) -> None:
        """``nbytes`` from ``src`` to every tile of ``dsts`` but itself (``replicable``: a scalar a compiler may replicate instead)."""
        self.multicast_many(np.array([src], np.int64), np.array([nbytes], np.int64), dsts, replicable=replicable)

    def multicast_many(self, srcs: np.ndarray, nbytes: np.ndarray | int, dsts: np.ndarray, *, replicable: bool = False) -> None:
        """One multicast per source: ``nbytes[i]`` from ``srcs[i]`` to every tile of ``dsts`` but ``srcs[i]``."""
        srcs = np.asarray(srcs, np.int64).reshape(-1)
        nbytes = np.broadcast_to(np.asarray(nbytes, np.int64), srcs.shape)
        dsts = np.asarray(dsts, np.int64).reshape(-1)
        keep = nbytes > 0
        if dsts.size == 1:
            keep &= srcs != dsts[0]
        srcs, nbytes = srcs[keep], nbytes[keep]
        if not srcs.size or not dsts.size:
            return
        n = srcs.size
        self._push(
            srcs, np.ascontiguousarray(nbytes), np.ones(n, np.int64), np.zeros(n, np.int64), np.array([dsts.size], np.int64), dsts,
            replicable=replicable,
        )  # fmt: skip

    def scatter_many(self, srcs: np.ndarray, nbytes: np.ndarray, messages: np.ndarray, dsts: np.ndarray) -> None:
        """Each ``srcs[i]`` sends its own ``nbytes[i]`` bytes in ``messages[i]`` regions to every
        tile of ``dsts`` but itself (distinct data per destination: one per-destination transfer)."""
        srcs = np.asarray(srcs, np.int64).reshape(-1)
        dsts = np.asarray(dsts, np.int64).reshape(-1)
        if np.unique(dsts).size != dsts.size:  # a tile listed twice receives twice: point to point
            self.unicast(
                np.tile(srcs, dsts.size), np.repeat(dsts, srcs.size), np.tile(nbytes, dsts.size), np.tile(messages, dsts.size)
            )
            return
        keep = np.asarray(nbytes) > 0
        if dsts.size == 1:
            keep &= srcs != dsts[0]
        if not keep.any() or not dsts.size:
            return
        n = int(keep.sum())
        self._push(
            srcs[keep], np.asarray(nbytes, np.int64)[keep], np.asarray(messages, np.int64)[keep], np.zeros(n, np.int64),
            np.array([dsts.size], np.int64), dsts, per_destination=True,
        )  # fmt: skip

    def unicast(self, src: np.ndarray, dst: np.ndarray, nbytes: np.ndarray | int, messages: np.ndarray | int = 1) -> None:
        """Point-to-point transfers ``src[i] -> dst[i]`` (those from a tile to itself are dropped)."""
        src, dst, nbytes, msgs = np.broadcast_arrays(
            np.asarray(src, np.int64), np.asarray(dst, np.int64), np.asarray(nbytes, np.int64), np.asarray(messages, np.int64)
        )
        keep = (src != dst) & (nbytes > 0)
        if not keep.any():
            return
        n = int(keep.sum())
        self._push(
            src[keep].reshape(-1),
            nbytes[keep].reshape(-1),
            msgs[keep].reshape(-1),
            np.arange(n, dtype=np.int64),
            np.ones(n, np.int64),
            dst[keep].reshape(-1),
        )

    def __bool__(self) -> bool:
        return bool(self.src)

    def build(self, name: str) -> Exchange:
        if not self.src:
            return Exchange(name, np.zeros(0), np.zeros(1), np.zeros(0), np.zeros(0))
        ptr = np.zeros(self._n_lists + 1, np.int64)
        np.cumsum(np.concatenate(self.list_sizes), out=ptr[1:])
        parts = (self.src, self.list_dst, self.nbytes, self.messages, self.list_of, self.per_destination, self.replicable)
        arrays = [ptr] + [np.concatenate(p) for p in parts]
        for a in arrays:
            a.flags.writeable = False  # ours: the exchange keeps them without a copy
        ptr, src, dst, nbytes, messages, dst_list, per_dst, rep = arrays
        return Exchange(name, src, ptr, dst, nbytes, messages, dst_list=dst_list, per_destination=per_dst, replicable=rep)


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


def crosses_ipus(ex: Exchange | None, tiles_per_ipu: int) -> bool:
    """Whether some transfer of ``ex`` goes to another IPU (its superstep needs an external sync)."""
    return ex is not None and bool(ex.crosses_ipus(tiles_per_ipu).any())


class ComputeSetBuilder:
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
        tiles = _frozen(np.asarray(tiles))
        if tiles.size == 0:
            return
        cyc = _frozen(_vertex_array(cycles))
        cnt = _ones(cyc.shape[-1]) if counts is None else _frozen(_vertex_array(counts))
        sup = int(supervisor) if np.ndim(supervisor) == 0 else _frozen(np.asarray(supervisor, np.int64))
        if unique or tiles.size == 1:
            self.blocks.append(VertexBlock(codelet, tiles, cyc, cnt, supervisor_cycles=sup))
            return
        uniq, mult = np.unique(tiles, return_counts=True)
        for m in np.unique(mult).tolist():
            sel = uniq[mult == m]
            reps = (1, m) if cyc.ndim == 2 else m
            cnt_reps = (1, m) if cnt.ndim == 2 else m
            self.blocks.append(VertexBlock(codelet, sel, np.tile(cyc, reps), np.tile(cnt, cnt_reps), supervisor_cycles=sup * m))

    def add_repeated(self, codelet: str, tiles: np.ndarray, cycles: int, repeats: np.ndarray) -> None:
        """``repeats[i]`` worker vertices of ``cycles`` thread cycles on tile ``tiles[i]``: one block per distinct count."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        repeats = np.asarray(repeats, np.int64).reshape(-1)
        order = np.argsort(repeats, kind="stable")
        for part in np.split(order, np.flatnonzero(np.diff(repeats[order])) + 1):
            if part.size:
                self.add(codelet, tiles[part], [cycles], [int(repeats[part[0]])], unique=True)

    def add_supervisor_by(self, codelet: str, tiles: np.ndarray, cycles_of: Callable[[int], int], args: np.ndarray) -> None:
        """A supervisor of ``cycles_of(args[i])`` tile cycles on tile ``tiles[i]`` (one call per distinct argument)."""
        args = np.asarray(args, np.int64).reshape(-1)
        if args.size and args.min() == args.max():
            self.add_supervisor(codelet, tiles, cycles_of(int(args[0])))
            return
        uniq, inv = np.unique(args, return_inverse=True)
        costs = np.array([cycles_of(a) for a in uniq.tolist()], np.int64)
        self.add_supervisor(codelet, tiles, costs[inv.reshape(-1)])

    def add_supervisor(self, codelet: str, tiles: np.ndarray, cycles: np.ndarray | list[int] | int) -> None:
        """A supervisor (MultiVertex) of ``cycles`` tile cycles on each tile (one value, or one per tile):
        one block per distinct value."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        cyc = np.asarray(cycles, np.int64).reshape(-1)
        if not tiles.size:
            return
        if cyc.size == 1 or (cyc.size and cyc.min() == cyc.max()):
            self.add(codelet, tiles, [], supervisor=int(cyc[0]), unique=True)
            return
        order = np.argsort(cyc, kind="stable")
        cuts = np.flatnonzero(np.diff(cyc[order])) + 1
        for part in np.split(order, cuts):
            self.add(codelet, tiles[part], [], supervisor=int(cyc[part[0]]), unique=True)

    def build(self) -> ComputeSet:
        return ComputeSet(self.name, tuple(self.blocks))


class MemoryBuilder:
    """Bytes per tile of every named tensor, added up with numpy (no per-tile Python loop)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)

    def put(self, name: str, tiles: np.ndarray, nbytes: np.ndarray | int, kind: str = "tensor") -> None:
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        nb = np.broadcast_to(np.asarray(nbytes, np.int64), tiles.shape).reshape(-1)
        self._parts[(name, kind)].append((tiles, nb))

    def put_layout(
        self, name: str, tile_of_element: np.ndarray, element_bytes: int, kind: str = "tensor", copies: int = 1
    ) -> None:
        """A tensor whose element ``e`` lives on ``tile_of_element[e]`` (``copies`` such tensors)."""
        tile_of_element = np.asarray(tile_of_element, np.int64).reshape(-1)
        if not tile_of_element.size:
            return
        low = int(tile_of_element.min())  # a tensor's tiles are usually a few IPUs' worth
        per_tile = np.bincount(tile_of_element - low)
        tiles = np.flatnonzero(per_tile)
        self.put(name, tiles + low, per_tile[tiles] * (element_bytes * copies), kind)

    def tensors(self) -> list[Tensor]:
        out = []
        for (name, kind), parts in self._parts.items():
            tiles = np.concatenate([p[0] for p in parts])
            nb = np.concatenate([p[1] for p in parts])
            listed = np.bincount(tiles)
            uniq = np.flatnonzero(listed)
            total = np.bincount(tiles, weights=nb, minlength=listed.size)[uniq].astype(np.int64)
            out.append(Tensor(name, uniq, total, kind))  # type: ignore[arg-type]
        return out


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
            cs = cs.build()
        return Superstep(name, scope, exchange, cs, op)

    # ---- the authors' codelets (costs from mimdsim.snn.lowering.codelets) ---------------------
    def add_state_update(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFStateUpdateInPlace``: B per neuron tile, each over the true input ids of its sample."""
        for li, lay in enumerate(self.layout.layers):
            n_in = self.true_in(li, ts)
            for tiles, k, src in self.groups[li]:
                ids = -(-n_in * src // lay.n_inputs)  # ids that reach this tile
                cs.add("LIFStateUpdateInPlace", tiles, est.state_update_cycles(ids, k), unique=True)

    def add_dense_flags(self, cs: ComputeSetBuilder) -> None:
        """``DenseSpikesMultiThresh``: k·B per neuron tile."""
        for li in range(self.L):
            for tiles, k, _ in self.groups[li]:
                cs.add("DenseSpikesMultiThresh", tiles, [est.dense_flags_cycles()], [k * self.B], unique=True)

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

    def add_state_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``calcLIFStateGrad_stateWise``: B per neuron tile, scanning the layer's valid output slots."""
        for li, lay in enumerate(self.layout.layers):
            valid = self.valid_out(li, ts)
            for tiles, k, _ in self.groups[li]:
                cs.add(
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
                cs.add("LIFWeightsGrad", tiles, wcyc, unique=True)

    def add_input_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFInpSpikesGrad``: B per tile of the layers after the first, over their valid input slots."""
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            n_valid_in = self.valid_in(li, ts)
            for tiles, k, src in self.groups[li]:
                vids = -(-n_valid_in * src // lay.n_inputs)
                cs.add("LIFInpSpikesGrad", tiles, est.input_grad_cycles(vids, k), unique=True)

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
                cs.add("CustomSparseReduceStage1", uniq_tiles[group], costs, by_tile[group[0]], unique=True)
