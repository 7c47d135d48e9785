"""Sections 2 and 3 of docs/validation.md: Poplar tutorial 6, and the hardware constants and models.

* :func:`tut6_rows`: the rows of :func:`mimdsim.validation.tut6_rows.tut6_validation_rows`
  in the page's format.
* :func:`hardware_rows`: the machine presets' sourced values against docs/machine_format.md's
  sources, the aggregates they imply, simulated exchanges and the multi-IPU sync model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimdsim.validation.rows import row as _row

if TYPE_CHECKING:
    from mimdsim.program.ir import Program

__all__ = ["tut6_rows", "hardware_rows"]


# ---------------------------------------------------------------------------
# 1. Poplar tutorial 6
# ---------------------------------------------------------------------------
def tut6_rows(engine: str = "fast") -> list[dict[str, Any]]:
    """The tutorial-6 rows of :func:`mimdsim.validation.tut6_rows.tut6_validation_rows`, in this page's format."""
    from mimdsim.validation.tut6_rows import tut6_validation_rows

    out = []
    for r in tut6_validation_rows(engine):
        out.append(
            _row(
                "tut6",
                str(r["quantity"]),
                str(r["source"]),
                str(r["configuration"]),
                r["mimdsim"],
                r["published"],
                "cycles" if "split" not in str(r["quantity"]) else "",
                str(r["explanation"]),
                r["rel_error"],  # type: ignore[arg-type]
            )
        )
    return out


# ---------------------------------------------------------------------------
# 2. Hardware constants
# ---------------------------------------------------------------------------
# (preset, field, published value, unit, source in docs/machine_format.md sources, explanation)
_PRESET_VALUES: tuple[tuple[str, str, float, str, str, str], ...] = (
    ("mk1", "tiles_per_ipu", 1216, "tiles", "JIA19 via HPCNOTES; POPLIBS-HIST [H]", "preset copies the sourced value"),
    ("mk2", "tiles_per_ipu", 1472, "tiles", "GC-BLOG-TLP; GC-M2000 [H]", "preset copies the sourced value"),
    ("bow", "tiles_per_ipu", 1472, "tiles", "GC200 die shared by Bow [H]", "preset copies the sourced value"),
    ("mk1", "tile_clock_hz", 1.6e9, "Hz", "JIA19 via APAD-5; Mk1 profile conversion [H]", "preset copies the sourced value"),
    (
        "mk2",
        "tile_clock_hz",
        1.325e9,
        "Hz",
        "GC-M2000 datasheet [H]",
        "preset copies the datasheet; the tut6 profiles convert at 1.33 GHz (T6's caveat)",
    ),
    ("bow", "tile_clock_hz", 1.85e9, "Hz", "GC-BOW2000 §2.3 [H]", "preset copies the sourced value"),
    ("mk2", "num_worker_contexts", 6, "contexts", "GC-BLOG-TLP [H]", "preset copies the sourced value"),
    ("mk1", "memory_bytes_per_tile", 256 * 1024, "B", "JIA19 via HPCNOTES (256 KiB) [H]", "preset copies the sourced value"),
    ("mk2", "memory_bytes_per_tile", 624 * 1024, "B", "Poplar profile '624.0 kB'; ELK25 [H]", "preset copies the sourced value"),
    ("mk2", "exchange_bytes_per_cycle", 4, "B/cycle", "POPLIBS-HIST; IPU21-RUST [H]", "preset copies the sourced value"),
    ("mk2", "memcpy_bytes_per_cycle", 8, "B/cycle", "getMemcpyBytesPerCycle, IPU21-RUST [M]", "preset copies the sourced value"),
    (
        "mk2",
        "max_ipu_sync_delay",
        126,
        "cycles",
        "getMaxIPUSyncDelay() on IPU21, IPU21-RUST [L-M]",
        "preset reuses the IPU21 Target value for Mk2/Bow (no Mk2 value published)",
    ),
    (
        "mk2",
        "global_sync_cycles",
        600,
        "cycles",
        "getGlobalSyncCycles() on IPU21, IPU21-RUST [L-M]",
        "preset reuses the IPU21 Target value for Mk2/Bow",
    ),
    (
        "mk1",
        "global_sync_cycles",
        500,
        "cycles",
        "Mk1 pre-silicon default, POPLIBS-HIST [H historical]",
        "preset copies the sourced value",
    ),
    (
        "mk2",
        "exchange_overhead_cycles",
        100,
        "cycles",
        "POPLIBS CTCLossPlan.cpp:351 (100 per exchange) [M]",
        "preset copies a planner heuristic, not a measurement",
    ),
    (
        "mk2",
        "host_bytes_per_s",
        15.2 * 1.33e9,
        "B/s",
        "T6 README profiles: 15.2 B/cycle at 1.33 GHz (Mk2 hardware profile)",
        "preset rounds the profile-derived 20.2 GB/s; the tut6 host-exchange row agrees by construction",
    ),
)


def _exchange_program(kind: str, machine: Any, nbytes: int) -> Program:
    import numpy as np

    from mimdsim.program.builder import ProgramBuilder

    b = ProgramBuilder(f"exchange-{kind}")
    ex = b.exchange(kind)
    T = machine.tiles_per_ipu
    if kind == "all_to_all":
        src = np.arange(T)
        ex.send_many(src, (src + 2) % T, nbytes)  # a permutation across supertiles: every tile sends and receives once
    else:
        ex.send_many(np.arange(1, 9), np.zeros(8, dtype=np.int64), nbytes)  # 8 senders, one receiver
    b.superstep(kind, exchange=ex)
    return b.build()


def hardware_rows(engine: str = "fast") -> list[dict[str, Any]]:
    """Preset constants, the aggregates they imply, simulated exchanges and the sync model vs docs/machine_format.md sources."""
    from mimdsim.arch import load_machine
    from mimdsim.cost.sync import sync_cycles
    from mimdsim.engines import simulate
    from mimdsim.program.builder import ProgramBuilder

    S = "hardware"
    rows: list[dict[str, Any]] = []
    presets = {n: load_machine(n) for n in ("mk1", "mk2", "bow")}
    for name, fld, pub, unit, src, why in _PRESET_VALUES:
        m = presets[name]
        rows.append(_row(S, f"{fld} ({name} preset)", src, f"models/machines/{name}.toml", getattr(m, fld), pub, unit, why))

    mk2, bow = presets["mk2"], presets["bow"]
    agg = mk2.exchange_bytes_per_cycle * mk2.tiles_per_ipu * mk2.tile_clock_hz
    rows.append(
        _row(
            S,
            "on-chip exchange, aggregate (mk2)",
            "ELK25 '8 TB/s any pattern, all-to-all' [H]",
            "4 B/cycle x 1472 tiles x 1.325 GHz",
            agg / 1e12,
            8.0,
            "TB/s",
            "8 TB/s is a rounded vendor figure (ELK25's own 5.5 GB/s per core x 1472 = 8.1 TB/s); 4 B/cycle is "
            "the Target value (4.1 B/cycle would close the gap)",
        )
    )
    rows.append(
        _row(
            S,
            "on-chip exchange per tile (mk2)",
            "ELK25 §1, §2.1 (5.5 GB/s per core) [M]",
            "4 B/cycle x 1.325 GHz",
            mk2.exchange_bytes_per_cycle * mk2.tile_clock_hz / 1e9,
            5.5,
            "GB/s",
            "as above: 5.5 GB/s is ELK25's rounded per-core figure",
        )
    )
    rows.append(
        _row(
            S,
            "on-chip exchange, aggregate (bow)",
            "(derived 1472 x 4 x 1.85 GHz) [M]",
            "4 B/cycle x 1472 tiles x 1.85 GHz",
            bow.exchange_bytes_per_cycle * bow.tiles_per_ipu * bow.tile_clock_hz / 1e12,
            10.9,
            "TB/s",
            "the sheet's figure is the same derivation, rounded to 0.1 TB/s (no vendor figure for Bow)",
        )
    )
    nbytes = 65536
    res = simulate(_exchange_program("all_to_all", mk2, nbytes), mk2, engine)
    cyc = res.supersteps[0].exchange_cycles
    rows.append(
        _row(
            S,
            "simulated all-to-all exchange, aggregate (mk2)",
            "ELK25 ~8 TB/s [H]",
            f"every tile sends 64 KiB to tile t+2 (one superstep); exchange {cyc:,} cycles; engine {engine}",
            mk2.tiles_per_ipu * nbytes / cyc * mk2.tile_clock_hz / 1e12,
            8.0,
            "TB/s",
            "the 4 B/cycle rate above, less the preset's 100-cycle fixed exchange overhead (0.6 % at 64 KiB)",
        )
    )
    res = simulate(_exchange_program("hot_spot", mk2, nbytes), mk2, engine)
    cyc = res.supersteps[0].exchange_cycles
    rows.append(
        _row(
            S,
            "simulated hot-spot receive rate (mk2)",
            "a many-to-one receiver is limited to 4 B/cycle",
            f"8 tiles send 64 KiB each to tile 0; exchange {cyc:,} cycles; engine {engine}",
            8 * nbytes / cyc,
            4.0,
            "B/cycle",
            "receive-bound; less the 100-cycle fixed overhead",
        )
    )
    for name in ("mk2", "bow", "mk1"):
        m = presets[name]
        rows.append(
            _row(
                S,
                f"tile memory per IPU ({name})",
                {
                    "mk2": "Poplar profile prints '897.0 MB' (MiB) [H]",
                    "bow": "GC-BOW2000 '900 MB' per IPU [H]",
                    "mk1": "HPCNOTES 304 MiB [H]",
                }[name],
                f"{m.memory_bytes_per_tile // 1024} KiB x {m.tiles_per_ipu} tiles",
                m.memory_bytes_per_tile * m.tiles_per_ipu / 2**20,
                {"mk2": 897.0, "bow": 900.0, "mk1": 304.0}[name],
                "MiB",
                {
                    "mk2": "exact: Poplar's 'MB' is MiB",
                    "bow": "the datasheet's '900 MB' is the 897 MiB rounded up (in SI units the preset holds 940.6 MB)",
                    "mk1": "exact",
                }[name],
            )
        )

    # sync model (POPLIBS Util.cpp:432-437: 15 ns per hop, round trip, hops = 1 + floor(floor(N/2)/2))
    mk1_model = load_machine("mk1", min_ipu_sync_delay=0, max_ipu_sync_delay=0, global_sync_cycles=0)
    mk2_model = load_machine("mk2", min_ipu_sync_delay=0, max_ipu_sync_delay=0, global_sync_cycles=0)
    for n, pub in ((2, 48), (4, 96), (8, 144), (16, 240)):
        m = mk1_model.model_copy(update={"n_ipus": n})
        rows.append(
            _row(
                S,
                f"multi-IPU sync, {n} IPUs (Mk1 IPU-Model form)",
                "POPLIBS Util.cpp:432-437 at 1.6 GHz [H model]",
                "mk1 preset, internal sync delays 0, global_sync_cycles 0: sync_cycles(m, 'external')",
                sync_cycles(m, "external"),
                pub,
                "cycles",
                "same formula (15 ns = 24 cycles per hop, round trip)",
            )
        )
    for n, pub in ((2, 40), (4, 80), (8, 120), (16, 199)):
        m = mk2_model.model_copy(update={"n_ipus": n})
        rows.append(
            _row(
                S,
                f"multi-IPU sync, {n} IPUs (at 1.325 GHz)",
                "the same model at 1.325 GHz",
                "mk2 preset, internal sync delays 0, global_sync_cycles 0: sync_cycles(m, 'external')",
                sync_cycles(m, "external"),
                pub,
                "cycles",
                "exact"
                if n < 16
                else "the preset rounds 15 ns x 1.325 GHz = 19.9 cycles per hop to 20 (10 hops: 200 vs 198.75 -> 199)",
            )
        )
    m = mk1_model.model_copy(update={"n_ipus": 16})
    b = ProgramBuilder("external-sync")
    b.superstep("sync16", compute=b.compute_set("c").add("Nop", [0], cycles=1), sync="external")
    rec = simulate(b.build(), m, engine).supersteps[0]
    rows.append(
        _row(
            S,
            "simulated external sync, 16 IPUs (Mk1 IPU-Model form)",
            "POPLIBS 240 cycles",
            f"one superstep with sync='external' on the mk1 model above, 16 IPUs; engine {engine}",
            rec.sync_cycles,
            240,
            "cycles",
            "the engine charges sync_cycles() on the critical path",
        )
    )
    rows.append(
        _row(
            S,
            "on-chip sync (mk2/bow presets)",
            "POPLIBS CTCLossPlan.cpp:312 heuristic, 90 cycles [M]",
            "min_ipu_sync_delay + max_ipu_sync_delay",
            sync_cycles(mk2, "internal"),
            90,
            "cycles",
            "two sources disagree: the preset uses IPU21's getMaxIPUSyncDelay() = 126 (L-M), the CTC planner assumes 90",
        )
    )
    return rows
