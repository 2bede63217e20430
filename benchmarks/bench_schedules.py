"""Training schedules on the default data: the main model (Fig 2's 75/25 split) trained with each schedule, against
PCA with as many components as the code.

For each schedule: the CIC's median per-sample test MSE and its ratio to PCA's (Fig 2g's criterion), the fraction
of test REPs whose own GEP ranks first among the test GEPs (Fig 2b/2c, Spearman and MSE) and the reverse rank-1
fraction (the REP's nearest test GEP is its own), the epochs trained and the one kept, wall and CPU seconds of
the training (one process; CPU = user + system of this process, all threads). The data are the workflow's
prepared matrix and splits, so make them first:

    snakemake --cores 2 results/data/expression.h5ad results/data/splits.tsv
    python benchmarks/bench_schedules.py --threads 2                 # every schedule of SCHEDULES
    python benchmarks/bench_schedules.py --only new --threads 2      # one of them

``--training-config config/paper.yaml`` takes ``new`` from that file's ``training`` section (over config.yaml's) and
``--epochs`` shortens it, e.g. the paper configuration's schedule on a 20184-gene simulation, 40 passes:

    python benchmarks/bench_schedules.py --expression big/expression.h5ad --splits big/splits.tsv \
        --architecture L2000,G,L30 --training-config config/paper.yaml --epochs 10 --only new

"old" is the default schedule before issue 17 (uncentred inputs, 12 x 5 passes of Adam at a constant 0.001 in
batches of 32, last epoch kept), run by today's trainer; "new" is config/config.yaml's ``training`` section, and the
others change one thing of it. validation_mse is the kept epoch's (what chose the defaults; the test numbers are
reported, not used to choose).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from cic import evaluation
from cic.model import Autoencoder
from cic.stages.autoencoder import MAIN_HOLDOUT, load_expression_and_splits, train_config
from cic.train import fit, reconstruct

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TRAINING = yaml.safe_load((REPO / "config/config.yaml").read_text())["training"]
OLD = {"epochs": 12, "iterations_per_epoch": 5, "batch_size": 32, "learning_rate": 0.001, "schedule": "constant",
       "conditioning": "none", "validation_fraction": 0.0, "patience": None}
SCHEDULES = {
    "old": OLD,
    "old, centred": OLD | {"conditioning": "centre"},
    "new": {},
    "new, constant rate": {"schedule": "constant"},
    "new, paper decay (lr / (1 + 0.5 i))": {"schedule": "paper_decay", "learning_rate_decay": 0.5},
    "new, one-cycle": {"schedule": "one_cycle"},
    "new, one-cycle, batch 64, 100 passes (the issue's)": {"schedule": "one_cycle", "batch_size": 64,
                                                           "learning_rate": 0.002, "epochs": 25, "patience": 10},
    "new, uncentred": {"conditioning": "none"},
    "new, standardised": {"conditioning": "standardise"},
    "new, no validation (last epoch)": {"validation_fraction": 0.0, "patience": None},
    "new, half the passes": {"epochs": DEFAULT_TRAINING["epochs"] // 2},
    "new, twice the passes": {"epochs": DEFAULT_TRAINING["epochs"] * 2},
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def evaluate(gep: np.ndarray, rep: np.ndarray) -> dict:
    row = {"median_test_mse": float(np.median(np.mean((rep - gep) ** 2, axis=1)))}
    for metric in evaluation.METRICS:
        row[f"rank1_{metric}"] = float(np.mean(evaluation.rank_of_own_reproduction(gep, rep, metric) == 1))
        row[f"reverse_rank1_{metric}"] = float(np.mean(evaluation.rank_of_own_profile(gep, rep, metric) == 1))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expression", default="results/data/expression.h5ad")
    parser.add_argument("--splits", default="results/data/splits.tsv")
    parser.add_argument("--architecture", default="L300,G,L30")
    parser.add_argument("--only", nargs="+", choices=tuple(SCHEDULES), help="run only these schedules")
    parser.add_argument("--training-config", help="a config file whose training section replaces config.yaml's")
    parser.add_argument("--epochs", type=int, help="epochs of every schedule but 'old'")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="training settings (YAML values) over 'new', e.g. schedule=cosine learning_rate=0.001")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", help="also write the table here (TSV)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    matrix, splits, _ = load_expression_and_splits(args.expression, args.splits)
    test = MAIN_HOLDOUT.test_mask(splits)
    template = Autoencoder(matrix.shape[1], args.architecture)
    pca = evaluation.reconstruct_with_baselines(matrix[~test], matrix[test], template.code_size, seed=1,
                                                methods=("pca",))["pca"]
    reference = evaluate(matrix[test], pca)
    print(f"{matrix.shape[0]} samples x {matrix.shape[1]} genes, {int((~test).sum())} train / {int(test.sum())} "
          f"test, {args.architecture}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"PCA ({template.code_size} components): median test MSE {reference['median_test_mse']:.4f}, rank-1 "
          f"Spearman {reference['rank1_spearman']:.3f}, reverse rank-1 Spearman "
          f"{reference['reverse_rank1_spearman']:.3f}")
    rows = []
    base = DEFAULT_TRAINING
    if args.training_config:
        base = base | yaml.safe_load(Path(args.training_config).read_text())["training"]
    base = base | {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    for name in args.only or SCHEDULES:
        shortened = {"epochs": args.epochs} if args.epochs and name != "old" else {}
        training = base | {"progress": False, "device": "cpu"} | shortened | SCHEDULES[name]
        config = train_config(training, seed=1)
        wall, cpu = time.perf_counter(), cpu_seconds()
        networks, histories = fit(template, matrix, config, train_rows=[np.flatnonzero(~test)],
                                  test_rows=[np.flatnonzero(test)], strata=splits["cell_type"].to_numpy())
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        history = histories[0]
        kept = history[history["kept"]].iloc[0]
        row = {"schedule": name, "validation_mse": float(kept["validation_mse"]),
               **evaluate(matrix[test], reconstruct(networks[0], matrix[test]))}
        row["cic_over_pca"] = row["median_test_mse"] / reference["median_test_mse"]
        row |= {"passes": int(history["epoch"].max()) * config.iterations_per_epoch,
                "kept_epoch": int(kept["epoch"]),
                "epochs": int(history["epoch"].max()), "wall_s": wall, "cpu_s": cpu}
        rows.append(row)
        print(f"{name:<40} validation MSE {row['validation_mse']:.4f}, CIC/PCA {row['cic_over_pca']:.3f} "
              f"(median MSE {row['median_test_mse']:.4f}), rank-1 "
              f"{row['rank1_spearman']:.3f}/{row['rank1_mse']:.3f}, reverse {row['reverse_rank1_spearman']:.3f}/"
              f"{row['reverse_rank1_mse']:.3f}, {row['passes']} passes (kept epoch {row['kept_epoch']} of "
              f"{row['epochs']}), {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    table = pd.DataFrame(rows)
    if args.output:
        table.to_csv(args.output, sep="\t", index=False, float_format="%.4g")
    print("\n| schedule | passes (kept epoch) | validation MSE | CIC / PCA | rank-1 (Spearman / MSE) | reverse rank-1 "
          "(Spearman / MSE) | wall s | CPU s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['schedule']} | {row['passes']} ({row['kept_epoch']}) | {row['validation_mse']:.4f} | "
              f"{row['cic_over_pca']:.3f} | {row['rank1_spearman']:.1%} / {row['rank1_mse']:.1%} | "
              f"{row['reverse_rank1_spearman']:.1%} / {row['reverse_rank1_mse']:.1%} | {row['wall_s']:.1f} | "
              f"{row['cpu_s']:.1f} |")
    print(f"| PCA, {template.code_size} components | | | 1 | {reference['rank1_spearman']:.1%} / "
          f"{reference['rank1_mse']:.1%} | {reference['reverse_rank1_spearman']:.1%} / "
          f"{reference['reverse_rank1_mse']:.1%} | | |")


if __name__ == "__main__":
    main()
