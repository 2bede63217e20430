"""Estimate (not measure) the GPU time of the whole paper-scale run from its configuration: a count of the work.

Reads config/config.yaml with the given config files on top (as ``snakemake --configfile`` merges them), counts every
network the run trains (main model, CV folds, classifier autoencoder, noise folds, held-out types, the three sweeps)
with its training samples (minus its validation share), passes, updates and weights, and converts the work into
time on one GPU with a simple roofline: each update of a network moves ``BYTES_PER_WEIGHT`` bytes per weight
through memory (forward and backward reads of the weights, the weight gradient, the fused optimizer's reads and
writes) and does 6 FLOPs per weight and sample; a kernel costs the larger of its memory and compute time, summed
over the update, plus a launch latency per kernel of a stacked group's update. Evaluations after each epoch and
each job's start-up are added. Every assumption is a constant below or an option; the result is an estimate.

    python benchmarks/estimate_paper_run.py                                   # config/paper.yaml, one H100 SXM
    python benchmarks/estimate_paper_run.py --configs config/paper.yaml config/paper_literal.yaml
    python benchmarks/estimate_paper_run.py --device a100
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import yaml

from cic import sweep_plan
from cic.model import mirror_layers, parse_layer_spec

REPO = Path(__file__).resolve().parents[1]
# Spec-sheet numbers (dense, no sparsity): matmul TFLOP/s in the run's precision (TF32 for float32 with
# mixed_precision tf32, BF16 for bf16) and memory bandwidth in TB/s.
DEVICES = {
    "h100": {"name": "H100 SXM5 80 GB", "tf32": 494.7, "bf16": 989.4, "fp32": 66.9, "tb_s": 3.35},
    "h100-pcie": {"name": "H100 PCIe 80 GB", "tf32": 378.0, "bf16": 756.0, "fp32": 51.2, "tb_s": 2.0},
    "a100": {"name": "A100 SXM4 80 GB", "tf32": 156.0, "bf16": 312.0, "fp32": 19.5, "tb_s": 2.04},
}
# Bytes moved per weight and update (float32 weights and optimizer state): forward read 4, backward read 4 for the
# layers that pass a gradient on (about half the weights: the first layer does not), weight gradient written 4,
# fused Adam reads weight, gradient and two moments and writes weight and moments (28); fused SGD without momentum
# reads weight and gradient and writes the weight (12).
BYTES_PER_WEIGHT = {"adam": 4 + 2 + 4 + 28, "sgd": 4 + 2 + 4 + 12}
KERNELS_PER_LAYER = 12  # launches per Linear layer and update (forward, backward, loss, optimizer, masks)
LAUNCH_SECONDS = 5e-6
JOB_START_SECONDS = 8.0  # Python, torch and CUDA context of one training job
N_TYPES, PER_TYPE = 16, 65  # the paper's CellNet selection


def merged_config(paths: list[str]) -> dict:
    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        return out

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for path in paths:
        config = merge(config, yaml.safe_load(Path(path).read_text()))
    return config


def linear_weights(spec: str, n_genes: int) -> int:
    layers = parse_layer_spec(spec)
    total, width = 0, n_genes
    for layer in layers + mirror_layers(layers, n_genes):
        if layer.is_linear:
            total, width = total + width * layer.units, layer.units
    return total


def networks(config: dict, n_genes: int, top_genes: int) -> list[dict]:
    """Every group of networks the run trains: name, networks, training samples each, weights, settings."""
    n = N_TYPES * PER_TYPE
    train = n - round(config["splits"]["test_fraction"] * n)
    folds, noise_folds = config["splits"]["cv_folds"], config["splits"]["noise_cv_folds"]
    selected = config["model"]["architecture"]
    training = config["training"]
    sweeps = config["sweeps"]
    sweep_settings = sweep_plan.sweep_training(training, sweeps["training"])
    groups = [
        {"name": "main model", "k": 1, "jobs": 1, "samples": train, "spec": selected, "genes": n_genes,
         "training": training},
        {"name": "Fig 2a CV", "k": folds, "jobs": 1, "samples": n - n // folds, "spec": selected, "genes": n_genes,
         "training": training},
        {"name": "classifier autoencoder", "k": 1, "jobs": 1, "samples": train, "spec": selected, "genes": n_genes,
         "training": training | (config["classification"]["training"] or {})},
        {"name": "noise folds", "k": 1, "jobs": noise_folds, "samples": n - n // noise_folds, "spec": selected,
         "genes": n_genes, "training": training | (config["classification"]["training"] or {})
         | (config["classification"]["noise"]["training"] or {})},
        {"name": "held-out types (Fig 3)", "k": N_TYPES, "jobs": 1, "samples": n - PER_TYPE, "spec": selected,
         "genes": n_genes, "training": training | (config["universality"]["training"] or {})},
    ]
    stacked = training.get("batched_folds", False)
    for name, settings in (("architectures", sweeps["architectures"]), ("code_sizes", sweeps["code_sizes"]),
                           ("regularisation", sweeps["regularisation"])):
        sweep_folds = len(sweep_plan.sweep_folds(settings["folds"], folds))
        genes = top_genes if settings["genes"] == "top_variance" else n_genes
        if name == "architectures":
            runs = [(spec, sweep_settings) for spec in settings["specs"]]
        elif name == "code_sizes":
            runs = [(sweep_plan.code_size_architecture(settings["architecture"], selected, size), sweep_settings)
                    for size in settings["sizes"]]
        else:
            runs = [(sweep_plan.variant_architecture(selected, variant),
                     sweep_plan.sweep_training(training, sweeps["training"], variant.get("training")))
                    for variant in sweep_plan.regularisation_variants(settings["variants"]).values()]
        for spec, run_training in runs:
            groups.append({"name": f"sweep: {name}", "k": sweep_folds if stacked else 1,
                           "jobs": 1 if stacked else sweep_folds, "samples": n - n // folds, "spec": spec,
                           "genes": genes, "training": run_training})
    if not stacked:
        for group in groups:
            if group["k"] > 1:
                group["jobs"], group["k"] = group["jobs"] * group["k"], 1
    return groups


def estimate(group: dict, device: dict, bandwidth_efficiency: float, compute_efficiency: float) -> dict:
    settings = group["training"]
    fit = group["samples"] - round(settings.get("validation_fraction", 0.0) * group["samples"])
    batch = settings["batch_size"] or fit
    steps_per_pass = math.ceil(fit / batch)
    passes = settings["epochs"] * settings["iterations_per_epoch"]
    weights = linear_weights(group["spec"], group["genes"])
    precision = {"tf32": "tf32", "bf16": "bf16"}.get(settings.get("mixed_precision", "off"), "fp32")
    flops = device[precision] * 1e12 * compute_efficiency
    bandwidth = device["tb_s"] * 1e12 * bandwidth_efficiency
    n_layers = sum(layer.is_linear for layer in parse_layer_spec(group["spec"])) * 2
    # One update of the k stacked networks: k x (memory or compute bound work) + one set of kernel launches.
    memory = group["k"] * weights * BYTES_PER_WEIGHT[settings["optimizer"]] / bandwidth
    compute = group["k"] * 6 * weights * batch / flops
    step = max(memory, compute) + n_layers * KERNELS_PER_LAYER * LAUNCH_SECONDS
    updates = passes * steps_per_pass
    # After each epoch: every sample forward through every network (2 FLOPs per weight and sample), weights re-read.
    evaluation = settings["epochs"] * group["k"] * max(2 * weights * N_TYPES * PER_TYPE / flops,
                                                       8 * weights / bandwidth)
    seconds = group["jobs"] * (updates * step + evaluation + JOB_START_SECONDS)
    return {"networks": group["k"] * group["jobs"], "weights": weights, "fit": fit, "passes": passes,
            "updates": updates * group["k"] * group["jobs"],
            "tflop": group["jobs"] * group["k"] * 6 * weights * fit * passes / 1e12, "seconds": seconds,
            "ms_per_update": 1000 * step / group["k"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["config/paper.yaml"])
    parser.add_argument("--device", choices=tuple(DEVICES), default="h100")
    parser.add_argument("--bandwidth-efficiency", type=float, default=0.7, help="share of the spec bandwidth")
    parser.add_argument("--compute-efficiency", type=float, default=0.5, help="share of the spec matmul rate")
    parser.add_argument("--genes", type=int, default=20184)
    args = parser.parse_args()
    config = merged_config(args.configs)
    device = DEVICES[args.device]
    print(f"ESTIMATE for {' + '.join(args.configs)} on one {device['name']}: {args.bandwidth_efficiency:.0%} of "
          f"{device['tb_s']} TB/s, {args.compute_efficiency:.0%} of the spec matmul rate, "
          f"{BYTES_PER_WEIGHT} bytes per weight and update, {JOB_START_SECONDS:g} s per job")
    print(f"\n| experiment | networks | weights each | samples trained | passes | updates | TFLOP | ms per update "
          f"and network | minutes |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals: dict[str, dict] = {}
    for group in networks(config, args.genes, config["preprocess"]["top_variance_genes"]):
        result = estimate(group, device, args.bandwidth_efficiency, args.compute_efficiency)
        total = totals.setdefault(group["name"], {key: 0.0 for key in result} | {"ms": []})
        for key, value in result.items():
            total[key] = total[key] + value if key in ("networks", "updates", "tflop", "seconds") else value
        total["ms"].append(result["ms_per_update"])
    for name, total in totals.items():
        print(f"| {name} | {int(total['networks'])} | {total['weights'] / 1e6:.1f} M | {int(total['fit'])} | "
              f"{int(total['passes'])} | {total['updates']:.3g} | {total['tflop']:.3g} | "
              f"{min(total['ms']):.2f}-{max(total['ms']):.2f} | {total['seconds'] / 60:.1f} |")
    seconds = sum(total["seconds"] for total in totals.values())
    print(f"| **all** | {int(sum(t['networks'] for t in totals.values()))} | | | | "
          f"{sum(t['updates'] for t in totals.values()):.3g} | {sum(t['tflop'] for t in totals.values()):.3g} | | "
          f"**{seconds / 60:.0f}** ({seconds / 3600:.1f} h) |")


if __name__ == "__main__":
    main()
