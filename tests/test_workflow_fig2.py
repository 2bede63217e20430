"""Fig 2 rules through snakemake on config/test.yaml: every figure and table, with the paper's values beside."""

import pandas as pd
import pytest
import torch

from cic.train import load_model

pytestmark = pytest.mark.workflow


def test_fig2_figures_and_tables(test_config_run):
    results = test_config_run / "results"
    for panel in "abcdefg":
        for extension in ("png", "svg"):
            assert (results / f"figures/fig2{panel}.{extension}").stat().st_size > 1000, f"fig2{panel}"
    cv = pd.read_csv(results / "tables/fig2a_cv_mse.tsv", sep="\t")
    assert list(cv["n"].unique()) == [3]  # every epoch averaged over the 3 test-config folds
    per_sample = pd.read_csv(results / "tables/fig2_per_sample.tsv", sep="\t")
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    assert sorted(per_sample["sample"]) == sorted(splits.loc[splits["split"] == "test", "sample"])
    assert per_sample["rank_spearman"].between(1, len(per_sample)).all()
    methods = pd.read_csv(results / "tables/fig2g_method_mse.tsv", sep="\t")
    assert {"cic", "pca", "nmf", "kpca_poly", "kpca_cosine", "kpca_rbf"} <= set(methods.columns)


def test_fig2_summary_puts_paper_values_beside_this_run(test_config_run):
    summary = pd.read_csv(test_config_run / "results/tables/fig2_summary.tsv", sep="\t").set_index("quantity")
    assert float(summary.loc["rank1_fraction_spearman", "paper"]) == pytest.approx(230 / 260)
    assert float(summary.loc["rank1_fraction_mse", "paper"]) == pytest.approx(226 / 260)
    assert 0 <= float(summary.loc["rank1_fraction_spearman", "this_run"]) <= 1
    assert float(summary.loc["cv_test_mse_final", "this_run"]) > 0


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
