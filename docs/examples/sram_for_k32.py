"""How much tile SRAM does k = 32 neurons per tile need?

The paper's family (b) at its largest k (models/snn/nmnist_b_k32.toml, 48 layers of about 980
neurons, B = 24, T = 10) on Bow IPUs whose tiles hold 624 KiB (the preset) to 2 MiB: the sweep
spec models/sweeps/sram_k32.toml. A size that does not fit comes back as a failed point whose
error names the tile and the bytes it needs; the others give the step time.

    python docs/examples/sram_for_k32.py [--quick]
"""

from __future__ import annotations

import sys

import pandas as pd

from mimdsim.sweep import SweepSpec, load_sweep_spec, run_spec


def main(quick: bool = False) -> int:
    spec = load_sweep_spec("sram_k32")
    if quick:  # two sizes, one each side of the threshold
        d = {"name": spec.name, "base": spec.base, "grid": {"machine.memory_bytes_per_tile": [638976, 1310720]}}
        spec = SweepSpec.from_dict(d)
    df = run_spec(spec, progress=False)
    for _, r in df.iterrows():
        kib = r["machine.memory_bytes_per_tile"] / 1024
        if r["error_kind"] == "TileMemoryError":  # a structured failure: no error text to parse
            where = "a tile" if pd.isna(r["error_tile"]) else f"tile {r['error_tile']:.0f}"  # None before placement
            print(f"{kib:7.0f} KiB per tile: does not fit ({where} needs {r['error_tile_bytes'] / 1024:.0f} KiB or more)")
        elif isinstance(r["error"], str):  # missing values are NaN in a DataFrame
            print(f"{kib:7.0f} KiB per tile: failed ({r['error'][:90]})")
        else:
            print(
                f"{kib:7.0f} KiB per tile: {r['ms_per_step']:.2f} ms per step, largest tile {r['max_tile_memory_bytes'] / 1024:.0f} KiB"
            )
    fits = df[df["error"].isna()]
    if fits.empty:
        print("no size of the sweep fits")
        return 1
    print(f"smallest tile that fits k = 32: {fits['machine.memory_bytes_per_tile'].min() / 1024:.0f} KiB "
          f"(the step needs {fits['max_tile_memory_bytes'].max() / 1024:.0f} KiB on its fullest tile)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main("--quick" in sys.argv[1:]))
