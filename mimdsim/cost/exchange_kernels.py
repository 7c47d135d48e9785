"""The exchange-phase kernels of :mod:`mimdsim.cost.exchange` (its module docstring holds the model): the traffic
of a phase on a machine's shape (:func:`traffic_kernel`), and its cycles at a machine's rates (:func:`phase_kernel`).

NOTE: :func:`~mimdsim.cost.links.route` is called from :func:`traffic_kernel`; numba caches per source file, so
after changing ``route`` clear ``NUMBA_CACHE_DIR`` (``make clean``) or touch this file.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mimdsim.cost.links import route

__all__ = ["phase_kernel", "traffic_kernel"]


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
def traffic_kernel(
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
def phase_kernel(
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
    from the phase's traffic (:func:`traffic_kernel`); returns the global phase cycles."""
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
