"""Fig 2 rules through snakemake on config/test.yaml: every figure and table, with the paper's values beside."""

import numpy as np
import pandas as pd
import pytest
import torch

from cic import io
from cic.train import load_model
from conftest import reference_ranks

pytestmark = pytest.mark.workflow


def test_fig2_figures_and_tables(test_config_run):
    results = test_config_run / "results"
    for panel in "abcdefg":
        for extension in ("png", "svg"):
            assert (results / f"figures/fig2{panel}.{extension}").stat().st_size > 1000, f"fig2{panel}"
    cv = pd.read_csv(results / "tables/fig2a_cv_mse.tsv", sep="\t")
    assert list(cv["n"].unique()) == [3]  # every epoch averaged over the 3 test-config folds
    folds = pd.concat([pd.read_csv(results / f"models/cv/fold{fold}/history.tsv", sep="\t") for fold in range(3)])
    by_epoch = folds.groupby("epoch")["test_mse"]
    assert cv["mean"].to_numpy() == pytest.approx(by_epoch.mean().loc[cv["epoch"]].to_numpy(), rel=1e-9)
    assert cv["se"].to_numpy() == pytest.approx(by_epoch.sem().loc[cv["epoch"]].to_numpy(), rel=1e-9)
    per_sample = pd.read_csv(results / "tables/fig2_per_sample.tsv", sep="\t")
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    test = (splits["split"] == "test").to_numpy()
    assert per_sample["sample"].tolist() == splits.loc[test, "sample"].tolist()
    # Fig 2b/2c ranks and the reverse ranks, recomputed with scipy from the stored test GEPs and REPs.
    gep = np.asarray(io.read_h5ad(results / "data/expression.h5ad").X, dtype=np.float32)[test]
    rep = np.asarray(io.read_h5ad(results / "data/reproduced_profiles.h5ad").X, dtype=np.float32)[test]
    for metric in ("spearman", "mse"):
        assert per_sample[f"rank_{metric}"].tolist() == \
            reference_ranks(gep, rep, gep, metric, skip_own_row=True).tolist()
        assert per_sample[f"reverse_rank_{metric}"].tolist() == \
            reference_ranks(rep, gep, gep, metric, skip_own_row=True).tolist()
    methods = pd.read_csv(results / "tables/fig2g_method_mse.tsv", sep="\t")
    assert {"cic", "pca", "nmf", "kpca_poly", "kpca_cosine", "kpca_rbf"} <= set(methods.columns)


def test_fig2_summary_puts_paper_values_beside_this_run(test_config_run):
    summary = pd.read_csv(test_config_run / "results/tables/fig2_summary.tsv", sep="\t").set_index("quantity")
    assert float(summary.loc["rank1_fraction_spearman", "paper"]) == pytest.approx(230 / 260)
    assert float(summary.loc["rank1_fraction_mse", "paper"]) == pytest.approx(226 / 260)
    tables = test_config_run / "results/tables"
    per_sample = pd.read_csv(tables / "fig2_per_sample.tsv", sep="\t")
    for metric in ("spearman", "mse"):
        for rank in (1, 2, 3):
            assert float(summary.loc[f"rank{rank}_fraction_{metric}", "this_run"]) == \
                pytest.approx((per_sample[f"rank_{metric}"] == rank).mean(), rel=1e-12)
    cv = pd.read_csv(tables / "fig2a_cv_mse.tsv", sep="\t")
    assert float(summary.loc["cv_test_mse_epoch1", "this_run"]) == pytest.approx(cv["mean"].iloc[0], rel=1e-9)
    assert float(summary.loc["cv_test_mse_final", "this_run"]) == pytest.approx(cv["mean"].iloc[-1], rel=1e-9)


def test_main_model_and_codes(test_config_run):
    results = test_config_run / "results"
    model, meta = load_model(results / "models/main/model.pt")
    assert model.spec == "L64,G,L8" and len(meta["genes"]) == 300
    assert not list((results / "models").rglob("*.checkpoint.pt")), "checkpoints are removed after training"
    codes = pd.read_csv(results / "tables/cic_codes.tsv", sep="\t")
    assert [c for c in codes.columns if c.startswith("CIC")] == [f"CIC{i:02d}" for i in range(1, 9)]
    assert len(codes) == 16 * 12 and codes.filter(like="CIC").notna().all().all()
    history = pd.read_csv(results / "models/main/history.tsv", sep="\t")
    assert torch.isfinite(torch.tensor(history["test_mse"].to_numpy())).all()
