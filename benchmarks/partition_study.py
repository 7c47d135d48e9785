"""The partitioning study of docs/partitioning.md: every method on the study models, one JSON file.

For each model it runs ``mimdsim partition MODEL --methods <all> --json`` (functional activity,
seed 0, the model's machine and neurons per tile) and keeps the rows; ``--markdown`` prints
the tables docs/partitioning.md shows. Run (about 15 minutes on one core)::

    .venv/bin/python -m benchmarks.partition_study --out benchmarks/results/partition_study.json --markdown
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks._host import emit, host_info

REPO = Path(__file__).resolve().parent.parent

MIMDSIM = str(Path(sys.executable).with_name("mimdsim"))
METHODS = "contiguous,round_robin,random,greedy,metis,hypergraph,kahip,kernighan_lin,spectral,refine"
MODELS = [
    ("models/snn/sparse/nmnist_sparse_local_shuffled.toml", []),
    ("models/snn/sparse/nmnist_sparse_local.toml", []),
    ("models/snn/sparse/nmnist_sparse_random5.toml", []),
    ("models/snn/sparse/nmnist_sparse_random1.toml", []),
    ("models/snn/sparse/nmnist_sparse_random10.toml", []),
    ("models/snn/sparse/nmnist_sparse_smallworld_shuffled.toml", []),
    ("models/snn/nmnist_a_2hidden.toml", []),  # dense, k = 2 (8 does not fit its tiles' memory)
]


def study(path: str, extra: list[str]) -> list[dict[str, object]]:
    out = subprocess.run([MIMDSIM, "partition", str(REPO / path), "--methods", METHODS, "--json", *extra], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out)


def markdown(name: str, rows: list[dict[str, object]]) -> str:
    base = rows[0]
    lines = [f"**{name}**", "", "| method | ms/step | exchange cycles | compute cycles | fan-in total (x less) | fan-in max | comm volume B "
             "| max tile rx B | imbalance | headroom B | seconds |", "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        b = r["breakdown_cycles"]
        assert isinstance(b, dict)
        lines.append(
            f"| {r['method']} | {r['ms_per_step']:.4f} | {b['exchange']:,} | {b['compute']:,} | {r['fanin_total']:,} "
            f"({base['fanin_total'] / r['fanin_total']:.2f}) | {r['fanin_max']:,} | {r['comm_volume_bytes']:,} | {r['max_tile_receive_bytes']:,} "  # type: ignore[operator]
            f"| {r['compute_imbalance']:.3f} | {r['min_memory_headroom_bytes']:,} | {r['partition_seconds']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--markdown", action="store_true", help="print the tables of docs/partitioning.md after the JSON")
    args = p.parse_args(argv)
    result: dict[str, object] = {"host": host_info(), "methods": METHODS, "models": {}}
    for path, extra in MODELS:
        print(f"{path} ...", file=sys.stderr, flush=True)
        result["models"][Path(path).stem] = study(path, extra)  # type: ignore[index]
        if args.out:  # kept after every model: a later failure loses nothing
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    emit(result, args.out)
    if args.markdown:
        for name, rows in result["models"].items():  # type: ignore[attr-defined]
            print(markdown(name, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
