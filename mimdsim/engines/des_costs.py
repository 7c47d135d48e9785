"""What the ``des`` engine looks up while it runs: each compute set's, exchange's and host copy's costs from
:mod:`mimdsim.cost`, kept by the identity of the (immutable) step and dropped after its last use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.compute import ComputeCosts, compute_costs, compute_structure
from mimdsim.cost.exchange import ExchangeParams, ExchangeWorkspace, exchange_costs
from mimdsim.cost.host import host_copy_cycles
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy

__all__ = ["ComputeSetCosts", "ExchangeCosts", "CostModel", "UseCountedCache"]


# ---- static costs ---------------------------------------------------------------


class ComputeSetCosts:
    """A compute set's class costs (:class:`~mimdsim.cost.compute.ComputeCosts`), per IPU and row,
    and how many times each row ran on each IPU (the tiles' compute totals follow from those
    counts once the compute set has run for the last time: :meth:`add_tile_totals`)."""

    def __init__(self, costs: ComputeCosts, tiles_per_ipu: int) -> None:
        st = costs.structure
        self.costs = costs
        self.tpi = tiles_per_ipu
        n_ipus = st.idle_tile.size
        self.node_tiles = np.bincount(st.tile_node, minlength=st.n_nodes)
        final_ipu = st.node_ipu[st.final]
        self.final_by_ipu = [st.final[final_ipu == i] for i in range(n_ipus)]
        self.has_vertices = [f.size > 0 for f in self.final_by_ipu]
        self.runs = np.zeros((costs.incl.shape[0], n_ipus), np.int64)
        # per row and IPU: tiles with C_t > 0, the critical tile and its C_t, as Python ints
        n_timed = np.zeros((costs.incl.shape[0], n_ipus), np.int64)
        for i, final in enumerate(self.final_by_ipu):
            if final.size:
                n_timed[:, i] = (costs.incl[:, final] > 0) @ self.node_tiles[final]
        self._timing = [
            list(zip(a, b, c, strict=True))
            for a, b, c in zip(n_timed.tolist(), costs.ipu_crit.tolist(), costs.ipu_max.tolist(), strict=True)
        ]

    def timing(self, row: int, i: int) -> tuple[int, int, int]:
        """IPU ``i`` in ``row``: (tiles with ``C_t > 0``, critical tile, its ``C_t``)."""
        return self._timing[row][i]

    def tile_cycles(self, row: int, tiles: np.ndarray) -> np.ndarray:
        """``C_t`` of ``tiles`` in ``row`` (0 for a tile without vertices)."""
        st = self.costs.structure
        out = np.zeros(tiles.size, np.int64)
        if st.tiles.size:
            pos = np.minimum(np.searchsorted(st.tiles, tiles), st.tiles.size - 1)
            hit = st.tiles[pos] == tiles
            out[hit] = self.costs.incl[row, st.tile_node[pos[hit]]]
        return out

    def add_tile_totals(self, compute: np.ndarray, compute_excl: np.ndarray) -> None:
        """Add every tile's cycles over the counted runs (``runs[row, ipu]``) to the accumulators."""
        st = self.costs.structure
        if not st.tiles.size or not self.runs.any():
            return
        ipu_of_tile = st.tiles // self.tpi
        for r in np.flatnonzero(self.runs.any(axis=1)).tolist():
            runs = self.runs[r, ipu_of_tile]  # each tile runs row r as often as its IPU did
            compute[st.tiles] += runs * self.costs.incl[r, st.tile_node]
            compute_excl[st.tiles] += runs * self.costs.excl[r, st.tile_node]


@dataclass(frozen=True, eq=False)
class ExchangeCosts:
    ipu_cycles: tuple[int, ...]
    global_cycles: int


class CostModel:
    """Cost of every distinct compute set / exchange / host copy, from :mod:`mimdsim.cost`."""

    def __init__(self, machine: MachineSpec) -> None:
        self.machine = machine
        self.tpi = machine.tiles_per_ipu
        self.n_ctx = machine.num_worker_contexts
        self.overhead_cycles = machine.compute_set_overhead_cycles
        self._ex_params = ExchangeParams(machine).as_tuple()
        self._ex_ws = ExchangeWorkspace(machine).as_tuple()
        self._ex_out = np.zeros(machine.n_ipus, np.int64)

    def compute(self, cs: ComputeSet) -> ComputeSetCosts:
        """Every tile class of ``cs`` costed in every row of its tables."""
        m = self.machine
        st = compute_structure(cs, m.n_tiles, self.tpi)
        costs = compute_costs(cs, st, self.n_ctx, launch_cycles=m.worker_launch_cycles, overhead_cycles=self.overhead_cycles)
        return ComputeSetCosts(costs, self.tpi)

    def exchange(self, ex: Exchange) -> ExchangeCosts:
        g = exchange_costs(ex, self._ex_params, self._ex_ws, self._ex_out)
        return ExchangeCosts(tuple(int(c) for c in self._ex_out), g)

    def host(self, hc: HostCopy) -> int:
        return host_copy_cycles(self.machine, hc.tiles, hc.nbytes)


class UseCountedCache:
    """Values computed on first use and dropped after their last expected use."""

    def __init__(self, uses: dict[int, int]) -> None:
        self._uses_left = dict(uses)
        self._values: dict[int, object] = {}
        self._last: list[tuple[Any, Callable[[Any], None] | None]] = []

    def get(self, obj: object, make: Callable[[Any], Any], on_last_use: Callable[[Any], None] | None = None) -> Any:
        """The value of ``obj``; ``on_last_use(value)`` runs once its last expected use has been taken
        (so the caller must be done with the value's state by then: see :meth:`_DesModel._superstep`)."""
        key = id(obj)
        try:
            value = self._values[key]
        except KeyError:
            value = self._values[key] = make(obj)
        left = self._uses_left[key] - 1
        if left:
            self._uses_left[key] = left
        else:
            del self._values[key], self._uses_left[key]
            self._last.append((value, on_last_use))
        return value

    def finish_last_uses(self) -> None:
        """Run the ``on_last_use`` of every value whose last use has been taken."""
        for value, hook in self._last:
            if hook is not None:
                hook(value)
        self._last.clear()
