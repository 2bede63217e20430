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
    predictions = pd.read_csv(results / "tables/classification_predictions.tsv", sep="\t")
    by_model = metrics.set_index(["features", "classifier"])
    for model, group in predictions.groupby(["features", "classifier"]):
        assert set(group["sample"]) == test_samples and len(group) == len(test_samples)
        # accuracy and macro F1 recomputed from the predictions (F1 of a class: 2 TP / (2 TP + FP + FN))
        correct = group["cell_type"] == group["predicted"]
        assert by_model.loc[model, "accuracy"] == pytest.approx(correct.mean(), rel=1e-9)
        f1 = [2 * (correct & (group["cell_type"] == c)).sum()
              / ((group["cell_type"] == c).sum() + (group["predicted"] == c).sum())
              for c in sorted(set(group["cell_type"]) | set(group["predicted"]))]
        assert by_model.loc[model, "macro_f1"] == pytest.approx(sum(f1) / len(f1), rel=1e-9)
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
    assert folds["accuracy"].tolist() == pytest.approx((folds["correct"] / folds["n_test"]).tolist(), rel=1e-9)
    for sigma, rows in folds.groupby("sigma"):  # mean over folds and pooled accuracy per noise level
        level = by_sigma.set_index("sigma").loc[sigma]
        assert level["mean"] == pytest.approx(rows["accuracy"].mean(), rel=1e-9)
        assert level["pooled_accuracy"] == pytest.approx(rows["correct"].sum() / rows["n_test"].sum(), rel=1e-9)


def test_classification_summary_puts_paper_values_beside_this_run(test_config_run):
    tables = test_config_run / "results/tables"
    summary = pd.read_csv(tables / "classification_summary.tsv", sep="\t").set_index("quantity")
    metrics = pd.read_csv(tables / "classification_metrics.tsv", sep="\t").set_index(["features", "classifier"])
    for key, model, paper in (("pca_rf", ("pca", "rf"), 25), ("pca_svm", ("pca", "svm"), 27),
                              ("cic_rf", ("cic", "rf"), 16), ("cic_svm", ("cic", "svm"), 27),
                              ("classifier_ae_rf", ("classifier_cic", "rf"), 10),
                              ("classifier_ae_svm", ("classifier_cic", "svm"), 10)):
        assert int(summary.loc[f"misclassified_{key}", "paper"]) == paper
        assert int(summary.loc[f"misclassified_{key}", "this_run"]) == metrics.loc[model, "misclassified"]
    assert float(summary.loc["accuracy_classifier_ae_head", "this_run"]) == \
        pytest.approx(metrics.loc[("classifier_cic", "head"), "accuracy"], rel=1e-9)
    assert float(summary.loc["noise_accuracy_mean", "paper"]) == pytest.approx(0.994)
    folds = pd.read_csv(tables / "noise_folds.tsv", sep="\t")
    clean = folds[folds["sigma"] == 0]  # the classifier head on clean inputs, one row per fold
    assert float(summary.loc["noise_accuracy_mean", "this_run"]) == \
        pytest.approx((clean["correct"] / clean["n_test"]).mean(), rel=1e-9)
