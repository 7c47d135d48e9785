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

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.links import TOPOLOGY_CODES, n_link_ids, route
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


@njit(cache=True)
def _flow(
    topo: int, n_ipus: int, cols: int, k: int, dk: int, nbytes: int, n_msgs: int, route_buf: np.ndarray, links: np.ndarray,
    link_msgs: np.ndarray, link_touched: np.ndarray, n_links_touched: int,
) -> tuple[int, int]:  # fmt: skip
    """One flow of ``nbytes`` bytes in ``n_msgs`` messages from IPU ``k`` to IPU ``dk``, added to every directed link
    group of its route; returns the link groups touched so far and the route's hops."""
    h = route(topo, n_ipus, cols, k, dk, route_buf)
    for r in range(h):
        lk = route_buf[r]
        if links[lk] == 0.0:
            link_touched[n_links_touched] = lk
            n_links_touched += 1
        links[lk] += nbytes
        link_msgs[lk] += n_msgs
    return n_links_touched, h


@njit(cache=True)
def _traffic_kernel(
    src: np.ndarray,
    nbytes: np.ndarray,
    messages: np.ndarray,
    per_destination: np.ndarray,
    list_ptr: np.ndarray,
    list_dst: np.ndarray,
    tr_ptr: np.ndarray,
    tr_order: np.ndarray,
    tiles_per_ipu: int,
    n_ipus: int,
    tps: int,
    topo: int,
    cols: int,
    send: np.ndarray,
    recv2: np.ndarray,
    gsend: np.ndarray,
    grecv: np.ndarray,
    msgs: np.ndarray,
    touched_flag: np.ndarray,
    touched: np.ndarray,
    member: np.ndarray,
    st_members: np.ndarray,
    ipu_members: np.ndarray,
    ipu_acc: np.ndarray,
    ipu_lists: np.ndarray,
    links: np.ndarray,
    link_msgs: np.ndarray,
    route_buf: np.ndarray,
    link_touched: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """The traffic of one exchange phase: what every tile sends and receives on chip and off chip, and what every
    directed link group carries (:class:`ExchangeTraffic`'s arrays, the workspace left all zero).

    Works destination list by destination list (:class:`~mimdsim.program.exchange.Exchange`;
    the transfers of list ``g`` are ``tr_order[tr_ptr[g]:tr_ptr[g+1]]``): the list's
    transfers are summed per source IPU, each member receives its IPU's sum on chip and
    the rest off chip, and a transfer whose source is a member is taken back out of that
    member (and of its supertile mate, which then receives that transfer alone). A
    ``per_destination`` transfer is sent once per destination and received alone (as
    that many point-to-point transfers). Integer for integer the same as costing every
    (transfer, destination) pair, in time proportional to transfers plus list members.
    """
    n_tiles = member.shape[0]
    n_touched = 0
    n_links_touched = 0
    max_hops = 0
    any_global = False
    for g in range(list_ptr.shape[0] - 1):
        q0 = tr_ptr[g]
        q1 = tr_ptr[g + 1]
        if q0 == q1:
            continue
        a = list_ptr[g]
        z = list_ptr[g + 1]
        if z - a == 1 and q1 - q0 == 1 and src[tr_order[q0]] != list_dst[a]:
            # one transfer to one other tile (most lists): what the general path below does with them, directly
            i = tr_order[q0]
            b = nbytes[i]
            if b == 0:
                continue
            s = src[i]
            d = list_dst[a]
            mi = messages[i]
            for t in (s, d):
                if touched_flag[t] == 0:
                    touched_flag[t] = 1
                    touched[n_touched] = t
                    n_touched += 1
            k = s // tiles_per_ipu
            dk = d // tiles_per_ipu
            if k == dk:  # a tile alone in its supertile's share of the list receives at single rate
                send[s] += b
                msgs[0, s] += mi
                recv2[d] += 2 * b
                msgs[1, d] += mi
            else:
                any_global = True
                gsend[s] += b
                msgs[2, s] += mi
                grecv[d] += b
                msgs[3, d] += mi
                n_links_touched, h = _flow(topo, n_ipus, cols, k, dk, b, mi, route_buf, links, link_msgs, link_touched,
                                           n_links_touched)  # fmt: skip
                max_hops = max(max_hops, h)
            continue
        n_li = 0
        for p in range(a, z):
            d = list_dst[p]
            member[d] = 1
            st_members[d // tps] += 1
            k = d // tiles_per_ipu
            if ipu_members[k] == 0:
                ipu_lists[0, n_li] = k
                n_li += 1
            ipu_members[k] += 1
        n_si = 0
        tot_b = 0
        tot_m = 0
        for q in range(q0, q1):
            i = tr_order[q]
            b = nbytes[i]
            if b == 0:
                continue  # no traffic
            s = src[i]
            mi = messages[i]
            k = s // tiles_per_ipu
            pd = per_destination[i]
            if ipu_acc[0, k] == 0 and ipu_acc[2, k] == 0:
                ipu_lists[1, n_si] = k
                n_si += 1
            row = 2 if pd else 0
            ipu_acc[row, k] += b
            ipu_acc[row + 1, k] += mi
            tot_b += b
            tot_m += mi
            own = member[s]
            n_local = ipu_members[k] - own
            if n_local > 0:  # some destination on the source's IPU
                if touched_flag[s] == 0:
                    touched_flag[s] = 1
                    touched[n_touched] = s
                    n_touched += 1
                copies = n_local if pd else 1
                send[s] += b * copies
                msgs[0, s] += mi * copies
            for j in range(n_li):  # one flow per destination IPU
                dk = ipu_lists[0, j]
                if dk == k:
                    continue
                any_global = True
                if touched_flag[s] == 0:
                    touched_flag[s] = 1
                    touched[n_touched] = s
                    n_touched += 1
                copies = ipu_members[dk] if pd else 1
                gsend[s] += b * copies
                msgs[2, s] += mi * copies
                n_links_touched, h = _flow(topo, n_ipus, cols, k, dk, b * copies, mi * copies, route_buf, links, link_msgs,
                                           link_touched, n_links_touched)  # fmt: skip
                max_hops = max(max_hops, h)
            if own:  # the source does not receive its own transfer ...
                st = s // tps
                msgs[1, s] -= mi
                if pd:
                    recv2[s] -= 2 * b
                else:
                    recv2[s] -= b if (tps > 1 and st_members[st] > 1) else 2 * b
                    if tps > 1 and st_members[st] == 2:  # ... so its supertile mate receives it alone
                        for t in range(st * tps, min(st * tps + tps, n_tiles)):
                            if t != s and member[t] == 1:
                                recv2[t] += b
        if tot_b > 0:
            for p in range(a, z):
                d = list_dst[p]
                kd = d // tiles_per_ipu
                if touched_flag[d] == 0:
                    touched_flag[d] = 1
                    touched[n_touched] = d
                    n_touched += 1
                mb = ipu_acc[0, kd]
                pb = ipu_acc[2, kd]
                lm = ipu_acc[1, kd] + ipu_acc[3, kd]
                if mb > 0 or pb > 0:
                    msgs[1, d] += lm
                    recv2[d] += (mb if (tps > 1 and st_members[d // tps] > 1) else 2 * mb) + 2 * pb
                if tot_b > mb + pb:
                    grecv[d] += tot_b - mb - pb
                    msgs[3, d] += tot_m - lm
        for p in range(a, z):
            d = list_dst[p]
            member[d] = 0
            st_members[d // tps] = 0
        for j in range(n_li):
            ipu_members[ipu_lists[0, j]] = 0
        for j in range(n_si):
            for r in range(4):
                ipu_acc[r, ipu_lists[1, j]] = 0
    tiles = touched[:n_touched].copy()
    per_tile = np.empty((n_touched, 8), np.int64)
    for j in range(n_touched):
        t = tiles[j]
        per_tile[j, 0] = send[t]
        per_tile[j, 1] = recv2[t]
        per_tile[j, 2] = gsend[t]
        per_tile[j, 3] = grecv[t]
        for q in range(4):
            per_tile[j, 4 + q] = msgs[q, t]
            msgs[q, t] = 0
        send[t] = 0
        recv2[t] = 0
        gsend[t] = 0
        grecv[t] = 0
        touched_flag[t] = 0
    link_ids = link_touched[:n_links_touched].copy()
    link_bytes = np.empty(n_links_touched, np.float64)
    link_msg_counts = np.empty(n_links_touched, np.int64)
    for j in range(n_links_touched):
        lk = link_ids[j]
        link_bytes[j] = links[lk]
        link_msg_counts[j] = link_msgs[lk]
        links[lk] = 0.0
        link_msgs[lk] = 0
    return tiles, per_tile, link_ids, link_bytes, link_msg_counts, max_hops, any_global


@njit(cache=True)
def _phase_kernel(
    tiles: np.ndarray,
    per_tile: np.ndarray,
    link_bytes: np.ndarray,
    link_msgs: np.ndarray,
    max_hops: int,
    any_global: bool,
    tiles_per_ipu: int,
    bpc: int,
    overhead: int,
    message: int,
    transit: int,
    link_bpc: float,
    link_latency: int,
    link_message: int,
    out_ipu_phase: np.ndarray,
    out_tile: np.ndarray,
) -> int:
    """Per-IPU on-chip phase cycles into ``out_ipu_phase`` (and each tile's into ``out_tile`` unless it is empty)
    from the phase's traffic (:func:`_traffic_kernel`); returns the global phase cycles."""
    keep_tiles = out_tile.shape[0] > 0
    for k in range(out_ipu_phase.shape[0]):
        out_ipu_phase[k] = 0
    gport = 0
    for j in range(tiles.shape[0]):
        t = tiles[j]
        send, recv2, gsend, grecv = per_tile[j, 0], per_tile[j, 1], per_tile[j, 2], per_tile[j, 3]
        if send > 0 or recv2 > 0:
            c_send = (send + bpc - 1) // bpc + message * per_tile[j, 4]
            c_recv = (recv2 + 2 * bpc - 1) // (2 * bpc) + message * per_tile[j, 5]
            c = max(c_send, c_recv) + transit
            k = t // tiles_per_ipu
            if c + overhead > out_ipu_phase[k]:
                out_ipu_phase[k] = c + overhead
            if keep_tiles:
                out_tile[t] = c
        g2 = max((gsend + bpc - 1) // bpc + message * per_tile[j, 6], (grecv + bpc - 1) // bpc + message * per_tile[j, 7])
        if g2 > gport:
            gport = g2
    if not any_global:
        return 0
    glink = 0
    for j in range(link_bytes.shape[0]):
        c = int(math.ceil(link_bytes[j] / link_bpc)) + link_message * link_msgs[j]  # noqa: RUF046 - explicit int in the numba kernel
        if c > glink:
            glink = c
    return overhead + max(glink, gport) + max_hops * link_latency


@dataclass(frozen=True, eq=False)
class ExchangeTraffic:
    """What one exchange phase moves on a machine's tiles and links (:func:`_traffic_kernel`): ``tiles`` with traffic,
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
        kernel: Any = _traffic_kernel  # a numba dispatcher: its arguments are typed at the call
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
    kernel: Any = _phase_kernel
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
