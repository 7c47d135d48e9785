"""Exchange-phase cost: on-chip per-tile send/receive bound and inter-IPU link sharing.

On-chip model (ipu-hardware.md §2; Poplar's planners' form):

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

Inter-IPU (global) model (§5): a transfer whose destinations lie on other IPUs sends one
flow per destination IPU along its route; each directed link group is shared by all flows
through it, so the phase lasts the busiest link's ``ceil(bytes / link_bytes_per_cycle)``,
or the busiest tile port for global traffic if that is longer (bytes and messages as on
chip), plus the longest route x ``link_latency_cycles`` plus ``exchange_overhead_cycles``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.links import TOPOLOGY_CODES, n_link_ids, route
from mimdsim.program.ir import Exchange

__all__ = ["ExchangeParams", "ExchangeWorkspace", "NO_TILE_OUTPUT", "exchange_kernel", "exchange_phase_cycles", "exchange_tile_cycles"]

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

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int, int, int, float, int]:
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
        )


class ExchangeWorkspace:
    """Scratch arrays reused across exchange phases (all zero between calls)."""

    def __init__(self, m: MachineSpec) -> None:
        n = m.n_tiles
        self.send = np.zeros(n, np.int64)
        self.recv2 = np.zeros(n, np.int64)
        self.gsend = np.zeros(n, np.int64)
        self.grecv = np.zeros(n, np.int64)
        self.msgs = np.zeros((4, n), np.int64)  # messages sent, received, sent off-IPU, received from off-IPU
        self.group = np.zeros(n, np.int64)
        self.ipu_mark = np.zeros(m.n_ipus, np.int64)
        self.touched = np.zeros(n, np.int64)
        self.links = np.zeros(n_link_ids(m.link_topology, m.n_ipus), np.float64)
        self.route_buf = np.zeros(2 * m.n_ipus + 2, np.int64)
        self.link_touched = np.zeros(self.links.size, np.int64)

    def as_tuple(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            self.send,
            self.recv2,
            self.gsend,
            self.grecv,
            self.msgs,
            self.group,
            self.ipu_mark,
            self.touched,
            self.links,
            self.route_buf,
            self.link_touched,
        )


@njit(cache=True)
def exchange_kernel(
    src: np.ndarray,
    dst_ptr: np.ndarray,
    dst: np.ndarray,
    nbytes: np.ndarray,
    messages: np.ndarray,
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
    send: np.ndarray,
    recv2: np.ndarray,
    gsend: np.ndarray,
    grecv: np.ndarray,
    msgs: np.ndarray,
    group: np.ndarray,
    ipu_mark: np.ndarray,
    touched: np.ndarray,
    links: np.ndarray,
    route_buf: np.ndarray,
    link_touched: np.ndarray,
    out_ipu_phase: np.ndarray,
    out_tile: np.ndarray,
) -> int:
    """Per-IPU on-chip phase cycles into ``out_ipu_phase``; returns the global phase cycles.

    ``out_tile`` (length ``n_tiles``, or empty to skip) receives every tile's own on-chip
    time (send or receive bound plus transit, without the phase overhead; 0 for a tile
    without on-chip traffic).
    """
    keep_tiles = out_tile.shape[0] > 0
    n_touched = 0
    n_links_touched = 0
    max_hops = 0
    any_global = False
    for i in range(src.shape[0]):
        s = src[i]
        b = nbytes[i]
        mi = messages[i]
        if b == 0:
            # no traffic; also keeps `touched` (tracked through non-zero counters) within n_tiles
            continue
        sipu = s // tiles_per_ipu
        d0 = dst_ptr[i]
        d1 = dst_ptr[i + 1]
        local = False
        # supertile groups receiving this transfer on the source IPU
        for p in range(d0, d1):
            d = dst[p]
            if d // tiles_per_ipu == sipu:
                group[d // tps] += 1
                local = True
        for p in range(d0, d1):
            d = dst[p]
            dipu = d // tiles_per_ipu
            if recv2[d] == 0 and send[d] == 0 and gsend[d] == 0 and grecv[d] == 0:
                touched[n_touched] = d
                n_touched += 1
            if dipu == sipu:
                msgs[1, d] += mi
                if tps > 1 and group[d // tps] > 1:
                    recv2[d] += b
                else:
                    recv2[d] += 2 * b
            else:
                grecv[d] += b
                msgs[3, d] += mi
                if ipu_mark[dipu] != i + 1:
                    ipu_mark[dipu] = i + 1
                    any_global = True
                    if send[s] == 0 and recv2[s] == 0 and gsend[s] == 0 and grecv[s] == 0:
                        touched[n_touched] = s
                        n_touched += 1
                    gsend[s] += b
                    msgs[2, s] += mi
                    h = route(topo, n_ipus, cols, sipu, dipu, route_buf)
                    if h > max_hops:
                        max_hops = h
                    for q in range(h):
                        lk = route_buf[q]
                        if links[lk] == 0.0:
                            link_touched[n_links_touched] = lk
                            n_links_touched += 1
                        links[lk] += b
        for p in range(d0, d1):
            d = dst[p]
            if d // tiles_per_ipu == sipu:
                group[d // tps] = 0
        if local:
            if send[s] == 0 and recv2[s] == 0 and gsend[s] == 0 and grecv[s] == 0:
                touched[n_touched] = s
                n_touched += 1
            send[s] += b
            msgs[0, s] += mi
    for k in range(n_ipus):
        out_ipu_phase[k] = 0
        ipu_mark[k] = 0
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
        g = max((gsend[t] + bpc - 1) // bpc + message * msgs[2, t], (grecv[t] + bpc - 1) // bpc + message * msgs[3, t])
        if g > gport:
            gport = g
        send[t] = 0
        recv2[t] = 0
        gsend[t] = 0
        grecv[t] = 0
        for q in range(4):
            msgs[q, t] = 0
    if not any_global:
        return 0
    glink = 0
    for j in range(n_links_touched):
        lk = link_touched[j]
        c = int(math.ceil(links[lk] / link_bpc))  # noqa: RUF046 - explicit int in the numba kernel
        if c > glink:
            glink = c
        links[lk] = 0.0
    return overhead + max(glink, gport) + max_hops * link_latency


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
    g = exchange_kernel(ex.src, ex.dst_ptr, ex.dst, ex.nbytes, ex.messages, *p.as_tuple(), *ws.as_tuple(), out, NO_TILE_OUTPUT)
    return out, int(g)


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
    exchange_kernel(ex.src, ex.dst_ptr, ex.dst, ex.nbytes, ex.messages, *p.as_tuple(), *ws.as_tuple(), out, tiles)
    return tiles
