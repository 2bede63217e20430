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

"old" is the default schedule before issue 17 (uncentred inputs, 12 x 5 passes of Adam at a constant 0.001 in
batches of 32, last epoch kept), run by today's trainer; "new" is config/config.yaml's ``training`` section.
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
    "new, constant rate": {"schedule": "constant", "learning_rate": 0.0005},
    "new, cosine": {"schedule": "cosine"},
    "new, paper decay (lr / (1 + 0.02 i))": {"schedule": "paper_decay", "learning_rate": 0.001,
                                            "learning_rate_decay": 0.02},
    "new, uncentred": {"conditioning": "none"},
    "new, standardised": {"conditioning": "standardise"},
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
    for name in args.only or SCHEDULES:
        training = DEFAULT_TRAINING | {"progress": False, "device": "cpu"} | SCHEDULES[name]
        config = train_config(training, seed=1)
        wall, cpu = time.perf_counter(), cpu_seconds()
        networks, histories = fit(template, matrix, config, train_rows=[np.flatnonzero(~test)],
                                  test_rows=[np.flatnonzero(test)], strata=splits["cell_type"].to_numpy())
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        history = histories[0]
        row = {"schedule": name, **evaluate(matrix[test], reconstruct(networks[0], matrix[test]))}
        row["cic_over_pca"] = row["median_test_mse"] / reference["median_test_mse"]
        row |= {"passes": int(history["epoch"].max()) * config.iterations_per_epoch,
                "kept_epoch": int(history.loc[history["kept"], "epoch"].iloc[0]),
                "epochs": int(history["epoch"].max()), "wall_s": wall, "cpu_s": cpu}
        rows.append(row)
        print(f"{name:<40} CIC/PCA {row['cic_over_pca']:.3f} (median MSE {row['median_test_mse']:.4f}), rank-1 "
              f"{row['rank1_spearman']:.3f}/{row['rank1_mse']:.3f}, reverse {row['reverse_rank1_spearman']:.3f}/"
              f"{row['reverse_rank1_mse']:.3f}, {row['passes']} passes (kept epoch {row['kept_epoch']} of "
              f"{row['epochs']}), {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    table = pd.DataFrame(rows)
    if args.output:
        table.to_csv(args.output, sep="\t", index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
