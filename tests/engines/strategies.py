"""Hypothesis strategies for random valid programs and machines (shared by engine tests).

Use :func:`machine_and_program` for a ``(MachineSpec, Program)`` pair, or
:func:`machines` and :func:`programs` separately. Every program drawn passes
:func:`mimdsim.program.validate.check_program` and fits in tile memory on its machine.

What is covered: 1-4 IPUs of 2-16 tiles, all three link topologies, supertiles on and
off, random sync/exchange/link/host costs; supersteps standing for compute sets or copies,
transfers now and then marked replicable (what compiler passes read); compute sets of several blocks (a tile may
appear in several blocks; worker counts around the 6-context barrel, e.g. 47 or 48
copies); multicasts, supertile-pair destinations and inter-IPU transfers (external sync
only); host copies; repeats nested two deep with counts 0-4, whose supersteps may run
compute sets with cycle tables (one row per iteration of the repeat).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mimdsim.arch.spec import MachineSpec
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep, Tensor, VertexBlock

__all__ = ["machines", "programs", "machine_and_program", "compute_sets", "exchanges", "shared_list_exchanges", "host_copies"]

_LINK_BYTES_PER_S = (1e9, 2e9, 4e9, 6.4e9, 14.6e9, 32e9)
_HOST_BYTES_PER_S = (0.5e9, 3e9, 8e9, 20.2e9)


@st.composite
def machines(draw: st.DrawFn, *, max_ipus: int = 4, max_tiles_per_ipu: int = 16) -> MachineSpec:
    """A tiny random machine: 1-``max_ipus`` IPUs of 2-``max_tiles_per_ipu`` tiles."""
    n_ipus = draw(st.integers(1, max_ipus))
    tiles_per_supertile = draw(st.sampled_from((1, 2, 2)))
    tiles_per_ipu = 2 * draw(st.integers(1, max_tiles_per_ipu // 2))
    # NOTE: ladder routes assume full rungs (an even number of IPUs); odd ladders are not drawn.
    topologies = ["all_to_all", "torus2d"] + (["ladder"] if n_ipus % 2 == 0 or n_ipus == 1 else [])
    return MachineSpec(
        name="hyp",
        n_ipus=n_ipus,
        tiles_per_ipu=tiles_per_ipu,
        tiles_per_supertile=tiles_per_supertile,
        num_worker_contexts=draw(st.sampled_from((1, 2, 4, 6, 6, 6))),
        memory_bytes_per_tile=1 << 20,
        tile_clock_hz=1e9,
        compute_set_overhead_cycles=draw(st.integers(0, 20)),
        worker_launch_cycles=draw(st.sampled_from((0, 0, 3, 11))),
        exchange_bytes_per_cycle=draw(st.integers(1, 8)),
        supports_supertile_send_receive=draw(st.booleans()),
        exchange_overhead_cycles=draw(st.integers(0, 100)),
        exchange_message_cycles=draw(st.sampled_from((0, 0, 1, 5))),
        exchange_transit_cycles=draw(st.integers(0, 10)),
        min_ipu_sync_delay=draw(st.integers(0, 50)),
        max_ipu_sync_delay=draw(st.integers(0, 200)),
        global_sync_cycles=draw(st.integers(0, 1000)),
        global_sync_hop_cycles=draw(st.integers(0, 30)),
        link_topology=draw(st.sampled_from(topologies)),
        links_per_ipu_pair=draw(st.integers(1, 3)),
        link_bytes_per_s=draw(st.sampled_from(_LINK_BYTES_PER_S)),
        link_latency_cycles=draw(st.integers(0, 50)),
        link_message_cycles=draw(st.sampled_from((0, 0, 6, 16))),
        host_bytes_per_s=draw(st.sampled_from(_HOST_BYTES_PER_S)),
        host_overhead_cycles=draw(st.integers(0, 100)),
    )


def _tile_sets(n_tiles: int, max_size: int | None = None) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, n_tiles - 1), min_size=1, max_size=max_size or n_tiles, unique=True)


_COUNTS = st.one_of(st.integers(1, 13), st.sampled_from((47, 48, 49)))


@st.composite
def compute_sets(draw: st.DrawFn, machine: MachineSpec, name: str = "cs", rows: int = 1) -> ComputeSet:
    """1-3 vertex blocks; a later block may reuse an earlier block's tiles (a tile in several blocks).

    With ``rows > 1`` a block may carry cycle tables of that many rows (worker cycles,
    worker counts, supervisor cycles, each independently).
    """
    blocks: list[VertexBlock] = []
    for k in range(draw(st.integers(1, 3))):
        if blocks and draw(st.booleans()):
            tiles = draw(st.sampled_from([b.tiles.tolist() for b in blocks]))
        else:
            tiles = draw(_tile_sets(machine.n_tiles))
        n_kinds = draw(st.integers(0, 4))

        def vector_or_table(elements: st.SearchStrategy[int], n: int = n_kinds) -> object:
            if rows > 1 and draw(st.booleans()):
                return draw(st.lists(st.lists(elements, min_size=n, max_size=n), min_size=rows, max_size=rows))
            return draw(st.lists(elements, min_size=n, max_size=n))

        cycles = vector_or_table(st.integers(0, 300))
        counts = vector_or_table(_COUNTS)
        sup_value = st.one_of(st.just(0), st.integers(0, 200))
        supervisor = (
            draw(st.lists(sup_value, min_size=rows, max_size=rows)) if rows > 1 and draw(st.booleans()) else draw(sup_value)
        )
        blocks.append(VertexBlock(f"V{k}", tiles, cycles, counts, supervisor))
    return ComputeSet(name, tuple(blocks))


@st.composite
def exchanges(draw: st.DrawFn, machine: MachineSpec, scope: str, name: str = "ex") -> Exchange:
    """0-6 transfers: unicasts, multicasts, supertile pairs; inter-IPU only when ``scope == 'external'``."""
    tpi = machine.tiles_per_ipu
    transfers: list[tuple[int, list[int], int]] = []
    for _ in range(draw(st.integers(0, 6))):
        src = draw(st.integers(0, machine.n_tiles - 1))
        ipu = src // tpi
        pool = range(machine.n_tiles) if scope == "external" else range(ipu * tpi, (ipu + 1) * tpi)
        pool = [t for t in pool if t != src]
        # a supertile pair as the whole destination set exercises the double-rate receive
        pairs = [p for p in range(0, machine.n_tiles - 1, 2) if p in pool and p + 1 in pool]
        if pairs and draw(st.integers(0, 2)) == 0:
            first = draw(st.sampled_from(pairs))
            dst = [first, first + 1]
        else:
            dst = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=min(len(pool), 6), unique=True))
        nbytes = draw(st.one_of(st.just(0), st.integers(1, 4000)))
        transfers.append((src, dst, nbytes))
    ex = Exchange.from_transfers(name, transfers)
    messages = draw(st.lists(st.sampled_from((1, 1, 2, 5)), min_size=len(transfers), max_size=len(transfers)))
    replicable = draw(st.lists(st.integers(0, 3).map(lambda v: v == 0), min_size=len(transfers), max_size=len(transfers)))
    ex = Exchange(
        name, ex.src, ex.dst_ptr, ex.dst, ex.nbytes, np.array(messages, np.int64), replicable=np.array(replicable, bool)
    )
    if draw(st.integers(0, 2)) == 0:
        return draw(shared_list_exchanges(machine, scope, name))
    return ex


@st.composite
def shared_list_exchanges(draw: st.DrawFn, machine: MachineSpec, scope: str, name: str = "ex") -> Exchange:
    """1-3 destination lists (supertile pairs and more, single tiles) and 0-8 transfers into
    them, multicast or per destination, sources often members of their own list (the form
    :mod:`mimdsim.cost.exchange` handles list by list)."""
    tpi = machine.tiles_per_ipu
    ipu = draw(st.integers(0, machine.n_ipus - 1))
    pool = list(range(machine.n_tiles)) if scope == "external" else list(range(ipu * tpi, (ipu + 1) * tpi))
    lists: list[list[int]] = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()) and len(pool) >= 2:
            first = draw(st.sampled_from(pool[:-1:2]))
            extra = draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
            lists.append([first, first + 1, *(t for t in extra if t not in (first, first + 1))])
        else:
            lists.append(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=min(len(pool), 6), unique=True)))
    src, nbytes, msgs, lst = [], [], [], []
    for _ in range(draw(st.integers(0, 8))):
        g = draw(st.integers(0, len(lists) - 1))
        choices = [t for t in pool if lists[g] != [t]]
        own = [t for t in lists[g] if lists[g] != [t]]
        s_tile = draw(st.sampled_from(own)) if own and draw(st.booleans()) else draw(st.sampled_from(choices))
        src.append(s_tile)
        lst.append(g)
        nbytes.append(draw(st.one_of(st.just(0), st.integers(1, 4000))))
        msgs.append(draw(st.sampled_from((1, 1, 2, 5))))
    ptr = np.cumsum([0] + [len(x) for x in lists])
    dst = np.concatenate([np.array(x, np.int64) for x in lists])
    per_destination = draw(st.lists(st.booleans(), min_size=len(src), max_size=len(src)))
    return Exchange(
        name, np.array(src, np.int64), ptr, dst, np.array(nbytes, np.int64), np.array(msgs, np.int64),
        dst_list=np.array(lst, np.int64), per_destination=np.array(per_destination, bool),
    )  # fmt: skip


@st.composite
def host_copies(draw: st.DrawFn, machine: MachineSpec, name: str = "host") -> HostCopy:
    """Bytes between the host and a random set of tiles (possibly none, possibly 0 bytes)."""
    tiles = draw(st.lists(st.integers(0, machine.n_tiles - 1), max_size=machine.n_tiles, unique=True))
    nbytes = draw(st.lists(st.integers(0, 5000), min_size=len(tiles), max_size=len(tiles)))
    direction = draw(st.sampled_from(("to_device", "from_device")))
    return HostCopy(name, np.array(tiles, np.int64), np.array(nbytes, np.int64), direction)


@st.composite
def _superstep(draw: st.DrawFn, machine: MachineSpec, name: str, loop_count: int) -> Superstep:
    scope = draw(st.sampled_from(("internal", "external")))
    ex = draw(st.one_of(st.none(), exchanges(machine, scope, f"{name}.ex")))
    cs = draw(st.one_of(st.none(), compute_sets(machine, f"{name}.cs", rows=loop_count)))
    return Superstep(name, scope, ex, cs, draw(st.sampled_from(("execute", "execute", "copy"))))


@st.composite
def _steps(draw: st.DrawFn, machine: MachineSpec, depth: int, prefix: str, max_len: int, loop_count: int = 1) -> tuple[Step, ...]:
    out: list[Step] = []
    for k in range(draw(st.integers(1, max_len))):
        name = f"{prefix}{k}"
        kind = draw(st.sampled_from(("step", "step", "step", "host") + (("repeat",) if depth > 0 else ())))
        if kind == "step":
            out.append(draw(_superstep(machine, name, loop_count)))
        elif kind == "host":
            out.append(draw(host_copies(machine, name)))
        else:
            count = draw(st.integers(0, 4))
            body = draw(_steps(machine, depth - 1, f"{name}.", 3, count))
            out.append(Repeat(count, body, name))
    return tuple(out)


@st.composite
def programs(draw: st.DrawFn, machine: MachineSpec, *, max_depth: int = 2, max_len: int = 6) -> Program:
    """A valid program for ``machine``: up to ``max_len`` top-level steps, repeats nested ``max_depth`` deep."""
    body = draw(_steps(machine, max_depth, "s", max_len))
    tensors = []
    for k in range(draw(st.integers(0, 3))):
        tiles = draw(_tile_sets(machine.n_tiles))
        nbytes = draw(st.lists(st.integers(0, 4096), min_size=len(tiles), max_size=len(tiles)))
        kind = draw(st.sampled_from(("tensor", "vertex_state", "code", "exchange_buffer")))
        tensors.append(Tensor(f"t{k}", tiles, nbytes, kind))
    batch = draw(st.one_of(st.none(), st.integers(1, 64)))
    return Program("hyp", body, tuple(tensors), batch_size=batch)


@st.composite
def machine_and_program(
    draw: st.DrawFn, *, max_ipus: int = 4, max_tiles_per_ipu: int = 16, max_depth: int = 2, max_len: int = 6
) -> tuple[MachineSpec, Program]:
    """A random tiny machine and a random valid program for it."""
    machine = draw(machines(max_ipus=max_ipus, max_tiles_per_ipu=max_tiles_per_ipu))
    return machine, draw(programs(machine, max_depth=max_depth, max_len=max_len))
