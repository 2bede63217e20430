"""Build the limma fixture's input matrices from the Nakayama 2007 arrays (run once; see README.md beside this file).

    python tests/data/limma_r/make_input.py /work/shared/data/nakayama2007

Writes ``expression.tsv`` (300 probe sets x 16 real arrays, log2) and ``expression_equal_variance.tsv`` (the same
group means, every probe set's within-group residuals rescaled to one common variance, so limma's prior df is
infinite) and ``groups.tsv`` beside this script. Values are rounded to 6 decimals so R and Python read the same
numbers from the text.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CASE, CONTROL = "synovial sarcoma", "myxoid liposarcoma"
N_CASE, N_CONTROL, N_PROBE_SETS, SEED = 9, 7, 300, 21


def main(source: Path) -> None:
    samples = pd.read_csv(source / "samples.tsv", sep="\t", index_col="sample")["cell_type"]
    chosen = list(samples[samples == CASE].index[:N_CASE]) + list(samples[samples == CONTROL].index[:N_CONTROL])
    raw = pd.read_csv(source / "expression.tsv.gz", sep="\t", index_col="probe_set", usecols=["probe_set", *chosen])
    rows = np.sort(np.random.default_rng(SEED).choice(len(raw), N_PROBE_SETS, replace=False))
    log2 = np.log2(raw.iloc[rows][chosen]).round(6)
    log2.to_csv(HERE / "expression.tsv", sep="\t", float_format="%.6f")
    groups = pd.Series(["case"] * N_CASE + ["control"] * N_CONTROL, index=pd.Index(chosen, name="sample"),
                       name="group")
    groups.to_csv(HERE / "groups.tsv", sep="\t")

    # Equal variances: keep each probe set's group means, scale its residuals to unit sum of squares, times a common
    # standard deviation (the median residual sd of the real subset): no heterogeneity left for limma to model.
    is_case = (groups == "case").to_numpy()
    values = log2.to_numpy()
    means = np.where(is_case, values[:, is_case].mean(axis=1, keepdims=True),
                     values[:, ~is_case].mean(axis=1, keepdims=True))
    residuals = values - means
    residual_df = len(chosen) - 2
    sd = np.median(np.sqrt((residuals ** 2).sum(axis=1) / residual_df))
    scaled = residuals / np.sqrt((residuals ** 2).sum(axis=1, keepdims=True)) * sd * np.sqrt(residual_df)
    pd.DataFrame(means + scaled, index=log2.index, columns=log2.columns).round(6).to_csv(
        HERE / "expression_equal_variance.tsv", sep="\t", float_format="%.6f")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
