"""Exchange bandwidth vs activity: where does more bandwidth per tile pay?

The 2-hidden family (a) net on Bow with the per-tile exchange rate at 2, 4 (the preset), 8 and
16 B/cycle, at four maximum activities (models/sweeps/exchange_bandwidth.toml). Prints the step
time and its exchange share per point, and the speed-up that doubling the rate buys.

    python docs/examples/exchange_bandwidth.py [--quick]
"""

from __future__ import annotations

import itertools
import sys

from mimdsim.sweep import SweepSpec, load_sweep_spec, run_spec


def main(quick: bool = False) -> int:
    spec = load_sweep_spec("exchange_bandwidth")
    if quick:
        spec = SweepSpec.from_dict({"name": spec.name, "base": spec.base,
                                    "grid": {"machine.exchange_bytes_per_cycle": [4, 8], "max_activity": [0.01, 0.1]}})  # fmt: skip
    df = run_spec(spec, processes=1, progress=False)
    df["exchange_share"] = df["exchange_cycles"] / df["cycles_per_step"]
    table = df.pivot(index="max_activity", columns="machine.exchange_bytes_per_cycle", values="ms_per_step")
    print("ms per step (rows: max activity, columns: exchange B/cycle per tile)")
    print(table.round(3).to_string())
    rates = sorted(df["machine.exchange_bytes_per_cycle"].unique())
    for lo, hi in itertools.pairwise(rates):
        gain = table[lo] / table[hi]
        print(f"{lo} -> {hi} B/cycle: {', '.join(f'act {a:g} {g:.2f}x' for a, g in gain.items())}")
    share = df[df["machine.exchange_bytes_per_cycle"] == 4].set_index("max_activity")["exchange_share"]
    print("exchange share of the step at 4 B/cycle: " + ", ".join(f"act {a:g} {100 * s:.0f} %" for a, s in share.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main("--quick" in sys.argv[1:]))
