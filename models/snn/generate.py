"""Write the SNN benchmark model files of models/snn/ (the seed paper's configurations).

Run ``python models/snn/generate.py`` to (re)write every file, or ``--check`` to fail if
a file on disk differs from what this script would write. The sizing rules follow the
paper's final benchmark script (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`; GSNN MI (multi-IPU); GSNN runfiles and BS @ 3e05811 (benchmark configurations)); README.md explains them.

Sizing rule (all families): IPU 0 has 1471 usable tiles (tile 0 is reserved), every other
IPU 1472. The output layer of C classes takes ``ceil(C / k)`` tiles of the last IPU. The
hidden layers of an IPU share ``tiles * k`` neurons (see :func:`hidden_per_ipu` for which
tile count), split by :func:`split_hidden` into widths that are multiples of ``k``, so
every layer takes exactly ``width / k`` tiles and the contiguous packer never splits a
group of an IPU's layers across IPUs.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TILES_IPU0 = 1471  # tile 0 of IPU 0 is reserved (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`)
TILES_IPU = 1472  # tiles of every other IPU

# (n_inputs, classes, input sparse size) per dataset, GSNN NU (datasets, tonic preprocessing)
NMNIST_34 = (2312, 10, 32)  # 34x34x2, multi_layer mode
NMNIST_24 = (1152, 10, 32)  # 24x24x2, multi_neuron / multi_IPU modes
SHD = (700, 20, 48)
DVSGESTURE = (4608, 11, 96)  # 48x48x2

B_K = (2, 4, 8, 16, 32)  # family (b): neurons per tile
C_IPUS = (1, 2, 4, 8, 16)  # family (c): IPU counts
A_HIDDEN = (2, 3, 4, 5)  # family (a): hidden layers
HAND_WRITTEN = ("nmnist_a_2hidden_2022-09-12.toml",)
"""Model files of this folder written by hand: the 2022-09-12 run needs a per-layer θ2 ([[layers]] tables),
which this script's ``layer_sizes`` form does not express."""


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def split_hidden(total: int, n_layers: int, k: int) -> list[int]:
    """Split ``total`` neurons (a multiple of ``k``) into ``n_layers`` widths, multiples of ``k``.

    Every layer gets ``floor(total / n_layers / k) * k``; the remaining ``k``-blocks go one
    each to the first layers (so widths are non-increasing and differ by at most ``k``).

    >>> split_hidden(2932, 3, 2), split_hidden(2932, 5, 2)
    ([978, 978, 976], [588, 586, 586, 586, 586])
    """
    if total % k:
        raise ValueError(f"{total} neurons is not a multiple of k={k}")
    base = total // n_layers // k * k
    extra = (total - base * n_layers) // k
    return [base + k if i < extra else base for i in range(n_layers)]


def hidden_per_ipu(n_ipus: int, layers_per_ipu: int, k: int, n_classes: int) -> list[list[int]]:
    """Hidden widths per IPU, as DENSE_SIZES = [input, H*(n_ipu-1), H_last, classes] of the paper.

    Every IPU but the last holds the same ``H``: ``layers_per_ipu`` layers sharing 1471*k
    neurons (IPU 0's usable tiles; on IPUs 1..n-2 one tile stays empty). The last IPU's layers
    share its tiles (1471 if it is IPU 0, else 1472) less the output layer's ``ceil(C / k)``.
    With 1472*k on the middle IPUs instead, the weights at 8 and 16 IPUs (23.27 M, 46.38 M)
    would miss the paper's 23.2 M and 46.3 M (GSNN runfiles and BS @ 3e05811 (benchmark configurations) (c)); this rule gives them
    for k = 2, 4 and 8.
    """
    out = []
    for i in range(n_ipus):
        if i < n_ipus - 1:  # noqa: SIM108 - two cases read better as branches than as a nested conditional
            tiles = TILES_IPU0
        else:
            tiles = (TILES_IPU0 if i == 0 else TILES_IPU) - ceil_div(n_classes, k)
        out.append(split_hidden(tiles * k, layers_per_ipu, k))
    return out


@dataclass
class Model:
    """One model file: SNNSpec fields, comments, and the ``[run]`` table."""

    name: str
    header: list[str]
    dataset: str
    data: tuple[int, int, int]  # n_inputs, classes, S_in
    hidden: list[list[int]]  # hidden widths, grouped (one group per IPU, or one group)
    max_activity: float
    batch_size: int
    n_timesteps: int
    optimizer: str
    optimizer_comment: str
    run: list[tuple[str, str, str]] = field(default_factory=list)  # (key, toml value, comment)
    group_label: str = ""  # "IPU" labels each group of layer_sizes with its IPU
    input_comment: str = ""
    extra: list[tuple[str, str, str]] = field(default_factory=list)  # more top-level fields: (key, toml value, comment)

    @property
    def layer_sizes(self) -> list[int]:
        return [n for g in self.hidden for n in g] + [self.data[1]]

    @property
    def n_weights(self) -> int:
        sizes = [self.data[0], *self.layer_sizes]
        return sum(a * b for a, b in itertools.pairwise(sizes))

    def render(self) -> str:
        n_in, n_cls, s_in = self.data
        lines = [f"# {h}".rstrip() for h in self.header]
        lines.append("# Generated by models/snn/generate.py (edit that script, not this file).")
        lines += [
            f'name = "{self.name}"',
            f'dataset = "{self.dataset}"',
            f"n_inputs = {n_in}" + (f"          # {self.input_comment}" if self.input_comment else ""),
            f"input_sparse_size = {s_in}",
        ]
        lines += self._render_sizes(n_cls)
        lines += [
            f"max_activity = {self.max_activity}",
            f"batch_size = {self.batch_size}",
            f"n_timesteps = {self.n_timesteps}",
            f'optimizer = "{self.optimizer}"'.ljust(25) + f"# {self.optimizer_comment}",
        ]
        for key, value, comment in self.extra:
            text = f"{key} = {value}"
            lines.append((text.ljust(max(25, len(text) + 1)) + (f"# {comment}" if comment else "")).rstrip())
        lines += [
            "",
            "[run]",
        ]
        for key, value, comment in self.run:
            lines.append((f"{key} = {value}".ljust(25) + (f"# {comment}" if comment else "")).rstrip())
        return "\n".join(lines) + "\n"

    def _render_sizes(self, n_cls: int) -> list[str]:
        flat = self.layer_sizes
        if not self.group_label and len(flat) <= 8:
            return [f"layer_sizes = [{', '.join(map(str, flat))}]"]
        out = ["layer_sizes = ["]
        groups = self.hidden
        if not self.group_label:  # wrap a long flat list, 12 per line
            flat_h = [n for g in groups for n in g]
            groups = [flat_h[i : i + 12] for i in range(0, len(flat_h), 12)]
        for i, g in enumerate(groups):
            row = "    " + ", ".join(map(str, g)) + ","
            if self.group_label:
                k = int({key: v for key, v, _ in self.run}.get("neurons_per_tile", "2"))
                tiles = "+".join(str(n // k) for n in g)
                last = i == len(groups) - 1
                extra = f" + output {ceil_div(n_cls, k)}" if last else ""
                total = sum(n // k for n in g) + (ceil_div(n_cls, k) if last else 0)
                avail = TILES_IPU0 if i == 0 else TILES_IPU
                row = row.ljust(28) + f"# IPU {i}: {tiles}{extra} = {total} of {avail} tiles"
            out.append(row)
        out.append(f"    {n_cls},".ljust(28) + "# output layer" if self.group_label else f"    {n_cls},   # output layer")
        out.append("]")
        return out


RUN_A = [
    ("weight_mul", "2.0", "initial weight scale of benchmarking_script.py's runfile (argparse default 1.0)"),
    ("second_threshold", "0.9", "theta2 on every layer (benchmarking_script.py:316-318; the runfiles also use 0.95)"),
    ("steps_per_execution", "100", "Keras steps per execution in multi_layer mode (200 steps per epoch)"),
]
RUN_BC = [
    ("weight_mul", "2.0", "initial weight scale of benchmarking_script.py's runfiles"),
    ("second_threshold", "0.9", "theta2 on every layer (runfile_multi_neuron.sh / runfile_multi_ipu.sh)"),
    ("steps_per_execution", "500", "Keras steps per execution in multi_neuron / multi_IPU mode (1000 steps per epoch)"),
]

SPARSITY_NOTE = (
    "max_activity sets each layer's sparse size to 2*floor(a*N/2) (output: at least 2); the paper sweeps"
)


def family_a() -> list[Model]:
    _n_in, n_cls, _ = NMNIST_34
    out = []
    for h in A_HIDDEN:
        hidden = hidden_per_ipu(1, h, 2, n_cls)
        out.append(
            Model(
                name=f"nmnist_a_{h}hidden",
                header=[
                    f'Family (a) of the seed paper ("multi_layer" mode): sparsity x depth on one IPU, {h} hidden layers.',
                    "Sizes from GSNN runfiles and BS @ 3e05811 (benchmark configurations) (DENSE_SIZES of the final benchmark script, commit 3e05811):",
                    "about 2942 hidden neurons at 2 neurons per tile, NMNIST 34x34x2 input, B = 48, T = 100, S_in = 32.",
                    SPARSITY_NOTE,
                    "a over {0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5} (override with --activity).",
                ],
                dataset="nmnist",
                data=NMNIST_34,
                hidden=hidden,
                max_activity=0.01,
                batch_size=48,
                n_timesteps=100,
                optimizer="adam",
                optimizer_comment="Adam, lr 1e-3 in multi_layer mode (the learning rate does not affect throughput)",
                run=[("machine", '"bow"', "the final benchmarks very likely ran on a Bow system (FB24 (hardware: Bow-2000 IPUs, an A100))")],
                extra=[
                    ("n_input_addresses", "1152", "the scripts' NMNIST loader downsamples to 24x24x2 (nmnist_util.py:151-213, 607-620)"),
                    *RUN_A,
                ],
            )
        )
    return out


def family_b(data: tuple[int, int, int], dataset: str, prefix: str, ks: tuple[int, ...]) -> list[Model]:
    _n_in, n_cls, s_in = data
    out = []
    for k in ks:
        n_hidden = 3 * k // 2
        hidden = hidden_per_ipu(1, n_hidden, k, n_cls)
        tiles_out = ceil_div(n_cls, k)
        ds = {"nmnist": "NMNIST 24x24x2", "shd": "SHD"}[dataset]
        header = [
            f'Family (b) of the seed paper ("multi_neuron" mode): model size scaled by neurons per tile on one IPU, k = {k}.',
            f"GSNN runfiles and BS @ 3e05811 (benchmark configurations) (b); tile mapping GSNN MI: (k/2)*3 = {n_hidden} hidden layers of width about 980 (base 3) sharing",
            f"(1471 - ceil({n_cls}/{k})) * {k} = {sum(hidden[0])} neurons in multiples of k = {k}, so the layers take exactly the",
            f"1471 usable tiles with the output layer ({tiles_out} tile{'s' if tiles_out > 1 else ''}); {ds} input, T = 10, B = 24, S_in = {s_in}, SGD.",
            SPARSITY_NOTE,
            "a over {0.01, 0.025, 0.05, 0.1} in this mode (override with --activity).",
        ]
        if k >= 16:
            header.append(
                f"k = {k} is near or over a tile's 624 KiB (GSNN PC (tensors of a neuron tile); mimdsim: k = 16 fits with SGD at about 95 %, "
                "k = 32 does not): the sizes are the paper's, not shrunk to fit."
            )
        out.append(
            Model(
                name=f"{prefix}_b_k{k}",
                header=header,
                dataset=dataset,
                data=data,
                hidden=hidden,
                max_activity=0.05,
                batch_size=24,
                n_timesteps=10,
                optimizer="sgd",
                optimizer_comment="SGD, lr 3e-3 in multi_neuron mode (the learning rate does not affect throughput)",
                extra=RUN_BC,
                run=[
                    ("machine", '"bow"', "the final benchmarks very likely ran on a Bow system (FB24 (hardware: Bow-2000 IPUs, an A100))"),
                    ("neurons_per_tile", str(k), "k of this point of the sweep"),
                ],
                input_comment="24x24x2 (spatial downsample 24/34)" if dataset == "nmnist" else "",
            )
        )
    return out


def family_c(ipus: tuple[int, ...] = C_IPUS) -> list[Model]:
    """Family (c) on each IPU count of ``ipus`` (benchmarks/speed_targets.py writes 64 IPUs)."""
    _n_in, n_cls, s_in = NMNIST_24
    k = 2
    out = []
    for n in ipus:
        hidden = hidden_per_ipu(n, 3, k, n_cls)
        out.append(
            Model(
                name=f"nmnist_c_{n}ipu",
                header=[
                    f'Family (c) of the seed paper ("multi_IPU" mode): model parallelism over {n} IPU{"s" if n > 1 else ""}, k = 2.',
                    "GSNN MI (multi-IPU); GSNN runfiles and BS @ 3e05811 (benchmark configurations) (c): 3 hidden layers of width about 980 per IPU. Every IPU but the last",
                    "holds the same 3 layers sharing 1471*k neurons (one tile of IPUs 1..n-2 stays empty); the last holds",
                    "3 layers sharing its tiles (1472, or 1471 on IPU 0) less the output layer's ceil(10/k) tiles. Widths",
                    "are multiples of k, so the contiguous packer puts exactly 3 hidden layers on each IPU.",
                    f"NMNIST 24x24x2 input, T = 10, B = 24, S_in = {s_in}, SGD.",
                    SPARSITY_NOTE,
                    "a over {0.05, 0.025} in this mode (override with --activity).",
                ],
                dataset="nmnist",
                data=NMNIST_24,
                hidden=hidden,
                max_activity=0.05,
                batch_size=24,
                n_timesteps=10,
                optimizer="sgd",
                optimizer_comment="SGD, lr 3e-5 in multi_IPU mode (the learning rate does not affect throughput)",
                extra=RUN_BC,
                run=[
                    ("machine", '"bow"', "the final benchmarks very likely ran on a Bow system, up to 16 IPUs (FB24 (hardware: Bow-2000 IPUs, an A100))"),
                    ("n_ipus", str(n), ""),
                    ("neurons_per_tile", "2", ""),
                ],
                group_label="IPU",
                input_comment="24x24x2 (spatial downsample 24/34)",
            )
        )
    return out


def shd_a() -> Model:
    _n_in, n_cls, _s_in = SHD
    return Model(
        name="shd_a_2hidden",
        header=[
            "SHD variant of family (a) (\"multi_layer\" mode) on one IPU, 2 hidden layers, k = 2.",
            "Sized by the rule of family (a) (GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`; GSNN runfiles and BS @ 3e05811 (benchmark configurations)) with SHD's 20 classes: the hidden layers share",
            "(1471 - ceil(20/2)) * 2 = 2922 neurons; 700 inputs, S_in = 48 (GSNN NU (datasets, tonic preprocessing)), B = 48, T = 100 as in (a).",
            SPARSITY_NOTE,
            "a over {0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5} in mode (a) (override with --activity).",
        ],
        dataset="shd",
        data=SHD,
        hidden=hidden_per_ipu(1, 2, 2, n_cls),
        max_activity=0.01,
        batch_size=48,
        n_timesteps=100,
        optimizer="adam",
        optimizer_comment="Adam, lr 1e-3 in multi_layer mode (the learning rate does not affect throughput)",
        run=[
            ("machine", '"bow"', "the final benchmarks very likely ran on a Bow system (FB24 (hardware: Bow-2000 IPUs, an A100))"),
            ("neurons_per_tile", "2", ""),
        ],
        extra=RUN_A,
    )


def dvsgesture() -> Model:
    _n_in, n_cls, _s_in = DVSGESTURE
    # The (d) "base" mode's DVSGesture sizes at one IPU: [4608, 1470, 1076, 384, 11]. At k = 2
    # they take 735 + 538 + 192 + 6 = 1471 tiles: exactly IPU 0, like the rule of (a)-(c).
    hidden = [[1470, 1076, 384]]
    assert sum(hidden[0]) == (TILES_IPU0 - ceil_div(n_cls, 2)) * 2
    return Model(
        name="dvsgesture_d_1ipu",
        header=[
            "DVSGesture on one IPU, k = 2: the hidden sizes of the paper's (d) \"base\" mode DVSGesture network",
            "[4608, 1470, ..., 1076, 384, 11] at one IPU (GSNN runfiles and BS @ 3e05811 (benchmark configurations) (d)); they take 735 + 538 + 192 + 6 = 1471",
            "tiles, exactly the usable tiles of IPU 0. 48x48x2 input, S_in = 96, T = 50 (GSNN NU (datasets, tonic preprocessing)), B = 48.",
            "max_activity sets each layer's sparse size to 2*floor(a*N/2) (output: at least 2); 0.01 as in (a)'s files",
            "((d) itself used fixed sparse sizes [96, 4, ..., 4, 10] x multiplier; override with --activity).",
        ],
        dataset="dvsgesture",
        data=DVSGESTURE,
        hidden=hidden,
        max_activity=0.01,
        batch_size=48,
        n_timesteps=50,
        optimizer="adam",
        optimizer_comment="not stated for (d); Adam as in multi_layer mode (its state only adds memory)",
        run=[
            ("machine", '"bow"', "the final benchmarks very likely ran on a Bow system (FB24 (hardware: Bow-2000 IPUs, an A100))"),
            ("neurons_per_tile", "2", ""),
        ],
        input_comment="48x48x2 (downsample 0.375)",
    )


def all_models() -> list[Model]:
    return [
        *family_a(),
        *family_b(NMNIST_24, "nmnist", "nmnist", B_K),
        *family_c(),
        shd_a(),
        *family_b(SHD, "shd", "shd", (2,)),
        dvsgesture(),
    ]


def render_all() -> dict[str, str]:
    """File name -> text of every generated model file."""
    return {f"{m.name}.toml": m.render() for m in all_models()}


def estimate_table() -> int:
    """Print ms/step, samples/s, max tile memory, OOM tiles per model file (the README's table)."""
    from mimdsim import load_machine
    from mimdsim.snn import load_snn_model
    from mimdsim.studies import estimate_training_step

    print("| file | n_ipus | k | ms/step | samples/s | max tile memory (B) | OOM tiles |")
    print("|---|---|---|---|---|---|---|")
    for m in all_models():
        spec, hints = load_snn_model(HERE / f"{m.name}.toml")
        machine = load_machine(hints.machine, **({"n_ipus": hints.n_ipus} if hints.n_ipus else {}))
        est = estimate_training_step(
            spec, machine, engine=hints.engine, neurons_per_tile=hints.neurons_per_tile, seed=hints.seed, allow_oom=True
        )
        print(
            f"| {m.name} | {est.mapping.n_ipus_used}/{machine.n_ipus} | {est.neurons_per_tile} | {est.ms_per_step:.3f} "
            f"| {est.samples_per_s:,.0f} | {est.ledger.max_tile_bytes:,} | {len(est.oom_tiles)} |",
            flush=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a file differs from what would be written")
    parser.add_argument("--table", action="store_true", help="print the size table (markdown) and exit")
    parser.add_argument(
        "--estimate", action="store_true",
        help="estimate every model file (fast engine, allow_oom) and print the results table (markdown)",
    )
    args = parser.parse_args(argv)
    if args.estimate:
        return estimate_table()
    if args.table:
        print("| file | layers (input first) | weights | T | B | S_in | max_activity | optimizer | machine | n_ipus | neurons_per_tile |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for m in all_models():
            run = {key: v for key, v, _ in m.run}
            sizes = [m.data[0], *m.layer_sizes]
            shown = "-".join(map(str, sizes)) if len(sizes) <= 8 else f"{sizes[0]}-{sizes[1]}-...-{sizes[-2]}-{sizes[-1]} ({len(sizes) - 1} layers)"
            print(
                f"| {m.name}.toml | {shown} | {m.n_weights / 1e6:.2f} M | {m.n_timesteps} | {m.batch_size} | {m.data[2]} "
                f"| {m.max_activity} | {m.optimizer} | {run['machine'].strip(chr(34))} | {run.get('n_ipus', '1')} "
                f"| {run.get('neurons_per_tile', '(2: smallest fitting)')} |"
            )
        return 0
    stale = []
    for name, text in render_all().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python models/snn/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
