"""The exchange cost kernel: hand-computed cases, and (hypothesis) the list-by-list kernel
against a plain per-(transfer, destination) reference of docs/concepts.md's model, in
both exchange forms."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.arch import load_machine
from mimdsim.arch.spec import MachineSpec
from mimdsim.cost.exchange import exchange_phase_cycles, exchange_tile_cycles
from mimdsim.cost.links import TOPOLOGY_CODES, route
from mimdsim.program.ir import Exchange
from tests.engines.strategies import exchanges, machines, shared_list_exchanges


def reference(ex: Exchange, m: MachineSpec) -> tuple[list[int], int, list[int]]:
    """Per-IPU phase, global phase and per-tile times, one (transfer, destination) pair at a time."""
    n, tpi = m.n_tiles, m.tiles_per_ipu
    tps = m.tiles_per_supertile if m.supports_supertile_send_receive else 1
    bpc, msg = m.exchange_bytes_per_cycle, m.exchange_message_cycles
    send, recv2, gsend, grecv = ([0] * n for _ in range(4))
    ms, mr, gms, gmr = ([0] * n for _ in range(4))
    links: dict[int, float] = {}
    link_msgs: dict[int, int] = {}  # messages through each link: each pays link_message_cycles (the exchange block's handshake)
    buf = np.zeros(2 * m.n_ipus + 2, np.int64)
    cols = m.torus_shape()[1] if m.link_topology == "torus2d" else 2
    hops = 0
    for i in range(ex.n_transfers):
        s, b, mi = int(ex.src[i]), int(ex.nbytes[i]), int(ex.messages[i])
        if b == 0:
            continue
        dsts = [int(d) for d in ex.destinations(i)]
        # a per-destination transfer is one point-to-point transfer per destination
        groups = [[d] for d in dsts] if ex.per_destination[i] else [dsts]
        for group in groups:
            local = [d for d in group if d // tpi == s // tpi]
            if local:
                send[s] += b
                ms[s] += mi
            for d in local:
                mates = sum(1 for e in local if e // tps == d // tps)
                recv2[d] += b if tps > 1 and mates > 1 else 2 * b
                mr[d] += mi
            for d in group:
                if d // tpi != s // tpi:
                    grecv[d] += b
                    gmr[d] += mi
            for ipu in sorted({d // tpi for d in group} - {s // tpi}):
                gsend[s] += b
                gms[s] += mi
                h = route(TOPOLOGY_CODES[m.link_topology], m.n_ipus, cols, s // tpi, ipu, buf)
                hops = max(hops, h)
                for lk in buf[:h].tolist():
                    links[lk] = links.get(lk, 0.0) + b
                    link_msgs[lk] = link_msgs.get(lk, 0) + mi
    phase = [0] * m.n_ipus
    tile = [0] * n
    gport = 0
    for t in range(n):
        if send[t] or recv2[t]:
            c = max(-(-send[t] // bpc) + msg * ms[t], -(-recv2[t] // (2 * bpc)) + msg * mr[t]) + m.exchange_transit_cycles
            tile[t] = c
            phase[t // tpi] = max(phase[t // tpi], c + m.exchange_overhead_cycles)
        gport = max(gport, -(-gsend[t] // bpc) + msg * gms[t], -(-grecv[t] // bpc) + msg * gmr[t])
    if not links:
        return phase, 0, tile
    glink = max(math.ceil(v / m.link_bytes_per_cycle) + m.link_message_cycles * link_msgs[lk] for lk, v in links.items())
    return phase, m.exchange_overhead_cycles + max(glink, gport) + hops * m.link_latency_cycles, tile


@st.composite
def machine_and_exchange(draw: st.DrawFn) -> tuple[MachineSpec, Exchange]:
    m = draw(machines())
    scope = draw(st.sampled_from(("internal", "external")))
    ex = draw(st.one_of(exchanges(m, scope), shared_list_exchanges(m, scope)))
    return m, ex


@settings(max_examples=300, deadline=None)
@given(machine_and_exchange())
def test_kernel_matches_the_pairwise_reference_in_both_forms(case: tuple[MachineSpec, Exchange]) -> None:
    m, ex = case
    want_phase, want_global, want_tile = reference(ex, m)
    for form in (ex, ex.expanded()):
        phase, glob = exchange_phase_cycles(form, m)
        assert phase.tolist() == want_phase and glob == want_global
        assert exchange_tile_cycles(form, m).tolist() == want_tile


def test_a_member_multicasting_to_its_own_group() -> None:
    """Tiles 0-3 (two supertiles) each send 16 B to the group {0, 1, 2, 3} less themselves.
    Tile 0 receives its mate's transfer alone (2 x 16 half-rate bytes) and the other two with
    its mate (16 each): 64 at 2 x 4 B/cycle = 8 cycles, + 3 messages x 2 = 14; it sends 16 B
    (4 cycles + 2)."""
    m = load_machine("mk2", tiles_per_ipu=4, exchange_message_cycles=2, exchange_overhead_cycles=0, exchange_transit_cycles=0)
    ex = Exchange("g", [0, 1, 2, 3], [0, 4], [0, 1, 2, 3], [16] * 4, dst_list=[0, 0, 0, 0])
    assert m.tiles_per_supertile == 2 and m.supports_supertile_send_receive and m.exchange_bytes_per_cycle == 4
    assert exchange_tile_cycles(ex, m).tolist() == [14, 14, 14, 14]
    assert ex.fanout().tolist() == [3, 3, 3, 3]


def test_per_destination_transfers_send_once_per_destination() -> None:
    """Tile 0 sends its own 8 B to each of tiles 1 and 2 (a supertile pair): 16 B sent in 2
    messages (4 + 2 x 1 cycles at 4 B/cycle); each receives alone: 2 x 8 half-rate bytes = 2 + 1."""
    m = load_machine("mk2", tiles_per_ipu=4, exchange_message_cycles=1, exchange_overhead_cycles=0, exchange_transit_cycles=0)
    ex = Exchange("p", [0], [0, 2], [2, 3], [8], dst_list=[0], per_destination=[True])
    assert exchange_tile_cycles(ex, m).tolist() == [6, 0, 3, 3]
    assert exchange_tile_cycles(ex.expanded(), m).tolist() == [6, 0, 3, 3] and ex.expanded().n_transfers == 2


def test_shared_lists_hold_each_group_once() -> None:
    ex = Exchange("g", np.arange(100), [0, 50], np.arange(50), np.full(100, 8), dst_list=np.zeros(100, np.int64))
    flat = ex.expanded()
    assert ex.dst.size == 50 and flat.dst.size == 50 * 49 + 50 * 50
    assert int(ex.fanout().sum()) == flat.dst.size
