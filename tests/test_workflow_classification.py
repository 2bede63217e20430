"""Classification rules through snakemake on config/test.yaml: Supp Fig S7, Fig 4, the noise experiment, the
classifier autoencoder other stages decode with, and the summary with the paper's values beside."""

import pandas as pd
import pytest

from cic.model import ClassifierAutoencoder
from cic.train import load_model

pytestmark = pytest.mark.workflow


def test_classification_figures(test_config_run):
    figures = test_config_run / "results/figures"
    for name in ("figS7", "fig4", "noise_robustness"):
        for extension in ("png", "svg"):
            assert (figures / f"{name}.{extension}").stat().st_size > 1000, name


def test_classifier_autoencoder_model_and_codes(test_config_run):
    results = test_config_run / "results"
    model, meta = load_model(results / "models/classifier_autoencoder/model.pt")
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    assert isinstance(model, ClassifierAutoencoder) and model.spec == "L64,G,L8"
    assert meta["classes"] == sorted(splits["cell_type"].unique()) and len(meta["genes"]) == 300
    codes = pd.read_csv(results / "tables/classifier_cic_codes.tsv", sep="\t")
    plain = pd.read_csv(results / "tables/cic_codes.tsv", sep="\t")
    assert list(codes.columns) == list(plain.columns) and list(codes["sample"]) == list(plain["sample"])
    architecture = pd.read_csv(results / "models/classifier_autoencoder/architecture.tsv", sep="\t")
    assert architecture.loc[architecture["role"] == "code", "units"].tolist() == [8]
    assert architecture.loc[architecture["branch"] == "classifier", "units"].iloc[-1] == len(meta["classes"])


def test_every_model_is_scored_on_the_test_split(test_config_run):
    results = test_config_run / "results"
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    test_samples = set(splits.loc[splits["split"] == "test", "sample"])
    metrics = pd.read_csv(results / "tables/classification_metrics.tsv", sep="\t")
    assert len(metrics) == 7 and (metrics["n_test"] == len(test_samples)).all()
    assert metrics["accuracy"].between(0, 1).all()
    predictions = pd.read_csv(results / "tables/classification_predictions.tsv", sep="\t")
    for _, group in predictions.groupby(["features", "classifier"]):
        assert set(group["sample"]) == test_samples and len(group) == len(test_samples)
    wrong = predictions[predictions["cell_type"] != predictions["predicted"]].groupby(["features", "classifier"]).size()
    counted = metrics.set_index(["features", "classifier"])["misclassified"]
    assert wrong.reindex(counted.index, fill_value=0).tolist() == counted.tolist()


def test_noise_folds_cover_every_sample_once(test_config_run):
    results = test_config_run / "results"
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    folds = pd.read_csv(results / "tables/noise_folds.tsv", sep="\t")
    clean = folds[folds["sigma"] == 0]
    assert sorted(clean["fold"]) == sorted(splits["noise_cv_fold"].unique())
    assert clean.set_index("fold")["n_test"].to_dict() == splits["noise_cv_fold"].value_counts().to_dict()
    by_sigma = pd.read_csv(results / "tables/noise_test_sigma.tsv", sep="\t")
    assert list(by_sigma["sigma"]) == [0.0, 0.5] and (by_sigma["n"] == 2).all()


def test_classification_summary_puts_paper_values_beside_this_run(test_config_run):
    summary = pd.read_csv(test_config_run / "results/tables/classification_summary.tsv", sep="\t")
    summary = summary.set_index("quantity")
    for key, paper in (("pca_rf", 25), ("pca_svm", 27), ("cic_rf", 16), ("cic_svm", 27), ("classifier_ae_rf", 10),
                       ("classifier_ae_svm", 10)):
        assert int(summary.loc[f"misclassified_{key}", "paper"]) == paper
        assert 0 <= int(summary.loc[f"misclassified_{key}", "this_run"]) <= 48
    assert float(summary.loc["noise_accuracy_mean", "paper"]) == pytest.approx(0.994)
    assert 0 <= float(summary.loc["noise_accuracy_mean", "this_run"]) <= 1
    assert "accuracy_classifier_ae_head" in summary.index
