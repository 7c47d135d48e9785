"""Exchange-phase cost: on-chip per-tile send/receive bound and inter-IPU link sharing.

On-chip model (POPLIBS ExchangeEstimator.cpp, GC-IPUMODEL; Poplar's planners' form):

* every transfer's bytes leave its source tile once (a multicast is one send);
* each destination tile receives the bytes; when another tile of its supertile receives
  the same transfer (and ``supports_supertile_send_receive``), it receives at double rate;
* every message (one contiguous region from one source tile; a transfer holds
  ``messages[i]`` of them, 1 by default) costs
  ``exchange_message_cycles`` at its source (once per multicast) and at each destination
  (switching the receive multiplexer to the next source and setting up the region);
* a tile's time is ``max(ceil(send_bytes / bpc) + m * sends,
  ceil((2*solo + shared) / (2*bpc)) + m * receives)`` plus ``exchange_transit_cycles``;
* an IPU's phase lasts ``exchange_overhead_cycles`` + its slowest tile (0 with no traffic).

Inter-IPU (global) model (POPLIBS Util.cpp, GC-POD128): a transfer whose destinations lie on other IPUs sends one
flow per destination IPU along its route; each directed link group is shared by all flows
through it, so the phase lasts the busiest link's
``ceil(bytes / link_bytes_per_cycle) + link_message_cycles x messages``, or the busiest
tile port for global traffic if that is longer (bytes and messages as on chip), plus the
longest route x ``link_latency_cycles`` plus ``exchange_overhead_cycles``. Off chip, data
travel as packets with a destination header through an external exchange block that hands
the link to one sending tile after another, each with an exchange-on/exchange-off
handshake (Graphcore patent US 10,558,595 B2, claim 1): every message that crosses a link
costs that link ``link_message_cycles`` on top of its bytes, so many tiles each sending a
few bytes across cost far more than one tile sending the same bytes (docs/machine_format.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.exchange_kernels import phase_kernel, traffic_kernel
from mimdsim.cost.links import TOPOLOGY_CODES, n_link_ids
from mimdsim.program.ir import Exchange
from mimdsim.program.memo import keep, kept

__all__ = [
    "ExchangeParams",
    "ExchangeWorkspace",
    "NO_TILE_OUTPUT",
    "exchange_costs",
    "ExchangeTraffic",
    "TRAFFIC_KEPT_TILES",
    "exchange_traffic",
    "exchange_phase_cycles",
    "exchange_tile_cycles",
]

NO_TILE_OUTPUT = np.zeros(0, np.int64)
"""The ``out_tile`` argument of :func:`exchange_costs` when the per-tile times are not needed."""


class ExchangeParams:
    """The machine numbers the exchange kernel needs, as plain scalars."""

    def __init__(self, m: MachineSpec) -> None:
        self.n_tiles = m.n_tiles
        self.tiles_per_ipu = m.tiles_per_ipu
        self.n_ipus = m.n_ipus
        self.tiles_per_supertile = m.tiles_per_supertile if m.supports_supertile_send_receive else 1
        self.bpc = m.exchange_bytes_per_cycle
        self.overhead = m.exchange_overhead_cycles
        self.message = m.exchange_message_cycles
        self.transit = m.exchange_transit_cycles
        self.topo = TOPOLOGY_CODES[m.link_topology]
        self.cols = m.torus_shape()[1] if m.link_topology == "torus2d" else 2
        self.link_bpc = m.link_bytes_per_cycle
        self.link_latency = m.link_latency_cycles
        self.link_message = m.link_message_cycles

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int, int, int, float, int, int]:
        return (
            self.tiles_per_ipu,
            self.n_ipus,
            self.tiles_per_supertile,
            self.bpc,
            self.overhead,
            self.message,
            self.transit,
            self.topo,
            self.cols,
            self.link_bpc,
            self.link_latency,
            self.link_message,
        )


class ExchangeWorkspace:
    """Scratch arrays reused across exchange phases (all zero between calls)."""

    def __init__(self, m: MachineSpec) -> None:
        n = m.n_tiles
        tps = m.tiles_per_supertile if m.supports_supertile_send_receive else 1
        self.send = np.zeros(n, np.int64)
        self.recv2 = np.zeros(n, np.int64)
        self.gsend = np.zeros(n, np.int64)
        self.grecv = np.zeros(n, np.int64)
        self.msgs = np.zeros((4, n), np.int64)  # messages sent, received, sent off-IPU, received from off-IPU
        self.touched_flag = np.zeros(n, np.int64)
        self.touched = np.zeros(n, np.int64)
        self.member = np.zeros(n, np.int64)  # 1 on the tiles of the list being costed
        self.supertile_members = np.zeros(n // tps + 1, np.int64)
        self.ipu_members = np.zeros(m.n_ipus, np.int64)
        # bytes and messages of the list's transfers per source IPU: multicasts, then per-destination transfers
        self.ipu_acc = np.zeros((4, m.n_ipus), np.int64)
        self.ipu_lists = np.zeros((2, m.n_ipus), np.int64)  # IPUs of the list's tiles; source IPUs of its transfers
        self.links = np.zeros(n_link_ids(m.link_topology, m.n_ipus), np.float64)
        self.link_msgs = np.zeros(self.links.size, np.int64)  # messages through each directed link group
        self.route_buf = np.zeros(2 * m.n_ipus + 2, np.int64)
        self.link_touched = np.zeros(self.links.size, np.int64)

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return (
            self.send,
            self.recv2,
            self.gsend,
            self.grecv,
            self.msgs,
            self.touched_flag,
            self.touched,
            self.member,
            self.supertile_members,
            self.ipu_members,
            self.ipu_acc,
            self.ipu_lists,
            self.links,
            self.link_msgs,
            self.route_buf,
            self.link_touched,
        )


@dataclass(frozen=True, eq=False)
class ExchangeTraffic:
    """What one exchange phase moves on a machine's tiles and links (:func:`~mimdsim.cost.exchange_kernels.traffic_kernel`): ``tiles`` with traffic,
    their ``per_tile`` sums (bytes sent, twice the bytes received at full rate, bytes sent and received off chip,
    messages of each), the directed link groups used with their bytes and messages, the longest route in hops, and
    whether anything leaves an IPU. It depends on the exchange and the machine's shape only (tiles per IPU, IPUs,
    supertiles, link topology), not on any rate."""

    tiles: np.ndarray
    per_tile: np.ndarray
    link_ids: np.ndarray
    link_bytes: np.ndarray
    link_msgs: np.ndarray
    max_hops: int
    any_global: bool


TRAFFIC_KEPT_TILES = 16_384
"""An exchange's traffic is kept with the exchange (:mod:`mimdsim.program.memo`) when at most this many tiles take
part (1 MiB of per-tile sums): a what-if on a rate (bytes per cycle, message or link costs) then only re-prices it.
The traffic of larger phases (tens of IPUs) is recomputed, so that a large program's costs do not hold it all."""

_SHAPE = (0, 1, 2, 7, 8)
"""The fields of :meth:`ExchangeParams.as_tuple` the traffic depends on: tiles per IPU, IPUs, supertile size,
topology and torus columns."""


def exchange_traffic(ex: Exchange, params: tuple[Any, ...], ws: tuple[np.ndarray, ...]) -> ExchangeTraffic:
    """:class:`ExchangeTraffic` of ``ex`` with ``ExchangeParams(m).as_tuple()`` and ``ExchangeWorkspace(m).as_tuple()``."""
    key = ("exchange_traffic", *(params[i] for i in _SHAPE))
    traffic = kept(ex, key)
    if traffic is None:
        ptr, order = ex.transfers_by_list()
        kernel: Any = traffic_kernel  # a numba dispatcher: its arguments are typed at the call
        tpi, n_ipus, tps, topo, cols = (params[i] for i in _SHAPE)
        out = kernel(ex.src, ex.nbytes, ex.messages, ex.per_destination, ex.dst_ptr, ex.dst, ptr, order, tpi, n_ipus, tps,
                     topo, cols, *ws)  # fmt: skip
        traffic = ExchangeTraffic(out[0], out[1], out[2], out[3], out[4], int(out[5]), bool(out[6]))
        if traffic.tiles.size <= TRAFFIC_KEPT_TILES:
            keep(ex, key, traffic)
    return traffic


def exchange_costs(
    ex: Exchange,
    params: tuple[Any, ...],
    ws: tuple[np.ndarray, ...],
    out_ipu_phase: np.ndarray,
    out_tile: np.ndarray = NO_TILE_OUTPUT,
) -> int:
    """Per-IPU on-chip phase cycles of ``ex`` into ``out_ipu_phase`` (each tile's own into ``out_tile`` unless it is
    empty); returns the global phase cycles. ``params`` and ``ws`` are ``ExchangeParams(m).as_tuple()`` and
    ``ExchangeWorkspace(m).as_tuple()``."""
    t = exchange_traffic(ex, params, ws)
    tpi, _, _, bpc, overhead, message, transit, _, _, link_bpc, link_latency, link_message = params
    kernel: Any = phase_kernel
    return int(
        kernel(t.tiles, t.per_tile, t.link_bytes, t.link_msgs, t.max_hops, t.any_global, tpi, bpc, overhead, message,
               transit, link_bpc, link_latency, link_message, out_ipu_phase, out_tile)
    )  # fmt: skip


def exchange_phase_cycles(ex: Exchange, machine: MachineSpec) -> tuple[np.ndarray, int]:
    """Per-IPU on-chip phase cycles and the global (inter-IPU) phase cycles of one exchange.

    Examples
    --------
    >>> from mimdsim.arch import load_machine
    >>> m = load_machine("mk2", exchange_overhead_cycles=0)
    >>> ex = Exchange.from_transfers("e", [(5, [0, 1], 40), (6, [0], 40)])
    >>> exchange_phase_cycles(ex, m)[0].tolist()   # tile 0: 40 B at 8 B/cycle + 40 B at 4 + 2 messages of 8
    [31]
    """
    p = ExchangeParams(machine)
    ws = ExchangeWorkspace(machine)
    out = np.zeros(machine.n_ipus, np.int64)
    g = exchange_costs(ex, p.as_tuple(), ws.as_tuple(), out)
    return out, g


def exchange_tile_cycles(ex: Exchange, machine: MachineSpec) -> np.ndarray:
    """Each tile's own on-chip exchange time in ``ex`` (the phase lasts the slowest one plus the overhead).

    Examples
    --------
    >>> from mimdsim.arch import load_machine
    >>> m = load_machine("mk2", tiles_per_ipu=4, exchange_message_cycles=2)
    >>> exchange_tile_cycles(Exchange.from_transfers("e", [(0, [1], 40), (2, [1], 8)]), m).tolist()
    [12, 16, 4, 0]
    """
    p = ExchangeParams(machine)
    ws = ExchangeWorkspace(machine)
    out = np.zeros(machine.n_ipus, np.int64)
    tiles = np.zeros(machine.n_tiles, np.int64)
    exchange_costs(ex, p.as_tuple(), ws.as_tuple(), out, tiles)
    return tiles
