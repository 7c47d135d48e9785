"""1 -> 16 IPUs: weak scaling of the paper's family (c) with IPU-Link latency and topology.

About 2940 neurons per IPU (models/snn/nmnist_c_{1,2,4,8,16}ipu.toml, GSNN runfile_multi_ipu.sh)
on 1 to 16 Bow IPUs, the IPU-Link latency at the preset's 28 cycles per hop and at ten times
that, on a 2-D torus and all-to-all links (models/sweeps/ipu_scaling.toml). Prints the step time,
the global-exchange and sync share, and the weak-scaling efficiency (1-IPU step / N-IPU step).

    python docs/examples/ipu_scaling.py [--quick]
"""

from __future__ import annotations

import sys

from mimdsim.sweep import SweepSpec, load_sweep_spec, run_spec


def main(quick: bool = False) -> int:
    spec = load_sweep_spec("ipu_scaling")
    if quick:  # 1 and 2 IPUs, torus only
        spec = SweepSpec.from_dict({
            "name": spec.name, "base": spec.base, "zip": [{"model": ["nmnist_c_1ipu", "nmnist_c_2ipu"], "machine.n_ipus": [1, 2]}],
            "grid": {"machine.link_latency_cycles": [28, 280], "machine.link_topology": ["torus2d"]},
        })  # fmt: skip
    df = run_spec(spec, progress=False)
    df["global_share"] = (df["global_exchange_cycles"] + df["sync_cycles"]) / df["cycles_per_step"]
    for (lat, topo), g in df.groupby(["machine.link_latency_cycles", "machine.link_topology"]):
        one = float(g[g["n_ipus"] == 1]["ms_per_step"].iloc[0])
        print(f"link latency {lat} cycles, {topo}:")
        for _, r in g.sort_values("n_ipus").iterrows():
            print(f"  {r['n_ipus']:2d} IPUs: {r['ms_per_step']:.3f} ms/step, global exchange + sync {100 * r['global_share']:.0f} %, "
                  f"weak-scaling efficiency {one / r['ms_per_step']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main("--quick" in sys.argv[1:]))
