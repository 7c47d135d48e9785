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
from typing import Any

import numpy as np
from numba import njit

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.links import TOPOLOGY_CODES, n_link_ids, route
from mimdsim.program.ir import Exchange

__all__ = [
    "ExchangeParams",
    "ExchangeWorkspace",
    "NO_TILE_OUTPUT",
    "exchange_costs",
    "exchange_kernel",
    "exchange_phase_cycles",
    "exchange_tile_cycles",
]

NO_TILE_OUTPUT = np.zeros(0, np.int64)
"""The ``out_tile`` argument of :func:`exchange_kernel` when the per-tile times are not needed."""


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
def exchange_kernel(
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
    bpc: int,
    overhead: int,
    message: int,
    transit: int,
    topo: int,
    cols: int,
    link_bpc: float,
    link_latency: int,
    link_message: int,
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
    out_ipu_phase: np.ndarray,
    out_tile: np.ndarray,
) -> int:
    """Per-IPU on-chip phase cycles into ``out_ipu_phase``; returns the global phase cycles.

    Works destination list by destination list (:class:`~mimdsim.program.exchange.Exchange`;
    the transfers of list ``g`` are ``tr_order[tr_ptr[g]:tr_ptr[g+1]]``): the list's
    transfers are summed per source IPU, each member receives its IPU's sum on chip and
    the rest off chip, and a transfer whose source is a member is taken back out of that
    member (and of its supertile mate, which then receives that transfer alone). A
    ``per_destination`` transfer is sent once per destination and received alone (as
    that many point-to-point transfers). Integer for integer the same as costing every
    (transfer, destination) pair, in time proportional to transfers plus list members.

    ``out_tile`` (length ``n_tiles``, or empty to skip) receives every tile's own on-chip
    time (send or receive bound plus transit, without the phase overhead; 0 for a tile
    without on-chip traffic).
    """
    keep_tiles = out_tile.shape[0] > 0
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
                h = route(topo, n_ipus, cols, k, dk, route_buf)
                if h > max_hops:
                    max_hops = h
                for r in range(h):
                    lk = route_buf[r]
                    if links[lk] == 0.0:
                        link_touched[n_links_touched] = lk
                        n_links_touched += 1
                    links[lk] += b * copies
                    link_msgs[lk] += mi * copies
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
    for k in range(n_ipus):
        out_ipu_phase[k] = 0
    gport = 0
    for j in range(n_touched):
        t = touched[j]
        if send[t] > 0 or recv2[t] > 0:
            c_send = (send[t] + bpc - 1) // bpc + message * msgs[0, t]
            c_recv = (recv2[t] + 2 * bpc - 1) // (2 * bpc) + message * msgs[1, t]
            c = max(c_send, c_recv) + transit
            k = t // tiles_per_ipu
            if c + overhead > out_ipu_phase[k]:
                out_ipu_phase[k] = c + overhead
            if keep_tiles:
                out_tile[t] = c
        g2 = max((gsend[t] + bpc - 1) // bpc + message * msgs[2, t], (grecv[t] + bpc - 1) // bpc + message * msgs[3, t])
        if g2 > gport:
            gport = g2
        send[t] = 0
        recv2[t] = 0
        gsend[t] = 0
        grecv[t] = 0
        touched_flag[t] = 0
        for q in range(4):
            msgs[q, t] = 0
    if not any_global:
        return 0
    glink = 0
    for j in range(n_links_touched):
        lk = link_touched[j]
        c = int(math.ceil(links[lk] / link_bpc)) + link_message * link_msgs[lk]  # noqa: RUF046 - explicit int in the numba kernel
        if c > glink:
            glink = c
        links[lk] = 0.0
        link_msgs[lk] = 0
    return overhead + max(glink, gport) + max_hops * link_latency


def exchange_costs(
    ex: Exchange,
    params: tuple[Any, ...],
    ws: tuple[np.ndarray, ...],
    out_ipu_phase: np.ndarray,
    out_tile: np.ndarray = NO_TILE_OUTPUT,
) -> int:
    """:func:`exchange_kernel` on ``ex`` with ``ExchangeParams(m).as_tuple()`` and ``ExchangeWorkspace(m).as_tuple()``."""
    ptr, order = ex.transfers_by_list()
    kernel: Any = exchange_kernel  # a numba dispatcher: its arguments are typed at the call
    return int(
        kernel(
            ex.src,
            ex.nbytes,
            ex.messages,
            ex.per_destination,
            ex.dst_ptr,
            ex.dst,
            ptr,
            order,
            *params,
            *ws,
            out_ipu_phase,
            out_tile,
        )
    )


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
