"""Classification stage: RF/SVM/PCA helpers, min-max scaling, test-input noise, the classifier autoencoder's
training settings, the noise folds and the summary (the training loop's combined loss and its training-only
input noise are tested in test_train.py)."""

import numpy as np
import pandas as pd
import pytest

from cic import io
from cic.classify import (MinMaxScaling, add_gaussian_noise, classification_metrics, fit_predict, make_classifier,
                          pca_features)
from cic.errors import InputError
from cic.model import ClassifierAutoencoder
from cic.splits import assign_splits
from cic.stages import classification as stage
from cic.train import load_model

SETTINGS = {
    "random_forest": {"n_estimators": 30, "max_features": "sqrt", "min_samples_leaf": 1},
    "svm": {"kernel": "rbf", "C": 1.0, "gamma": "auto", "standardize": True},
    "classifier_hidden": None,
    "classification_weight": 0.5,
    "training": {"epochs": 6},
    "noise": {"input_noise_sd": 0.1, "test_sigmas": [0.5, 0.1], "training": {"iterations_per_epoch": 3}},
}
TRAINING = {"epochs": 2, "iterations_per_epoch": 5, "batch_size": 16, "learning_rate": 0.01, "optimizer": "adam",
            "device": "cpu", "progress": False, "checkpoint_every": 100}


pytestmark = pytest.mark.usefixtures("one_thread")


def separable(n_per_class=20, n_genes=40, n_classes=3, seed=0):
    """Samples x genes where each class raises its own block of genes, with labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    x = rng.normal(5.0, 0.3, size=(len(labels), n_genes))
    block = n_genes // n_classes
    for label in range(n_classes):
        x[labels == label, label * block:(label + 1) * block] += 2.0
    return x.astype(np.float32), labels


# --- helpers ----------------------------------------------------------------------------------------------------

def test_pca_is_fitted_on_training_samples_only():
    x, _ = separable()
    train, test = x[:45], x[45:]
    train_features, test_features = pca_features(train, test, 5, seed=0)
    other_train, other_test = pca_features(train, test * 3.0 + 100.0, 5, seed=0)
    np.testing.assert_allclose(train_features, other_train, rtol=1e-5)  # the test samples do not move the PCA
    assert train_features.shape == (45, 5) and test_features.shape == (15, 5)
    assert not np.allclose(test_features, other_test)
    with pytest.raises(ValueError, match="n_components"):
        pca_features(train, test, 46, seed=0)


@pytest.mark.parametrize("name", ["rf", "svm"])
def test_classifiers_learn_separable_types_and_are_seeded(name):
    x, labels = separable()
    train = np.arange(len(labels)) % 4 != 0
    options = SETTINGS["random_forest" if name == "rf" else "svm"]
    first = fit_predict(name, options, x[train], labels[train], x[~train], seed=3)
    assert np.mean(first == labels[~train]) == 1.0
    np.testing.assert_array_equal(first, fit_predict(name, options, x[train], labels[train], x[~train], seed=3))


def test_svm_standardisation_is_optional():
    with_scaling = make_classifier("svm", SETTINGS["svm"], seed=0)
    without = make_classifier("svm", SETTINGS["svm"] | {"standardize": False}, seed=0)
    assert [type(step).__name__ for _, step in with_scaling.steps] == ["StandardScaler", "SVC"]
    assert type(without).__name__ == "SVC" and without.gamma == "auto"
    with pytest.raises(ValueError, match="unknown classifier 'knn'"):
        make_classifier("knn", {}, seed=0)


def test_classification_metrics_counts_misclassifications():
    metrics = classification_metrics(["a", "a", "b", "b", "c"], ["a", "b", "b", "b", "a"])
    assert metrics["n_test"] == 5 and metrics["misclassified"] == 2
    assert metrics["accuracy"] == pytest.approx(0.6)
    # per-class F1: a 0.5, b 0.8, c 0
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    with pytest.raises(ValueError, match="non-empty label lists"):
        classification_metrics([], [])


def test_min_max_scaling_uses_the_training_samples_only():
    train = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 6.0], [2.0, 5.0, 4.0]])
    scaling = MinMaxScaling.fit(train)
    scaled = scaling.transform(train)
    np.testing.assert_allclose(scaled.min(axis=0), [0, 0, 0])
    np.testing.assert_allclose(scaled.max(axis=0), [1, 0, 1])  # the constant gene maps to 0
    test = np.array([[4.0, 7.0, 2.0]])
    np.testing.assert_allclose(scaling.transform(test), [[1.5, 2.0, 0.0]])  # not clipped, not refitted
    assert scaled.dtype == np.float32


def test_gaussian_noise_is_seeded_and_has_the_requested_sd():
    x = np.zeros((200, 50), dtype=np.float32)
    noisy = add_gaussian_noise(x, 0.2, seed=5)
    assert noisy.dtype == np.float32 and noisy.std() == pytest.approx(0.2, rel=0.05)
    np.testing.assert_array_equal(noisy, add_gaussian_noise(x, 0.2, seed=5))
    assert not np.array_equal(noisy, add_gaussian_noise(x, 0.2, seed=6))
    clean = add_gaussian_noise(x, 0.0, seed=5)
    np.testing.assert_array_equal(clean, x)
    assert clean is not x
    with pytest.raises(ValueError, match="noise sd must be 0 or more"):
        add_gaussian_noise(x, -0.1, seed=5)


# --- training settings ------------------------------------------------------------------------------------------

def test_classifier_training_merges_overrides_in_order():
    config = stage.classifier_training(TRAINING, SETTINGS, seed=11)
    assert config.epochs == 6 and config.iterations_per_epoch == 5  # classification.training over training
    assert config.classification_weight == 0.5 and config.seed == 11
    assert config.input_noise_sd == 0  # the main classifier autoencoder trains on clean inputs
    noisy = stage.classifier_training(TRAINING, SETTINGS, seed=11, input_noise_sd=0.1, iterations_per_epoch=3)
    assert noisy.input_noise_sd == 0.1 and noisy.iterations_per_epoch == 3 and noisy.epochs == 6


def test_noise_test_sigmas_always_include_clean_inputs():
    assert stage.noise_test_sigmas(SETTINGS) == [0.0, 0.1, 0.5]


@pytest.mark.parametrize("hidden, head", [(None, "Linear + SoftMax"), (7, "Linear + ReLU")])
def test_architecture_table_reads_the_model(hidden, head):
    model = ClassifierAutoencoder(40, "L20,G,L6", n_classes=3, classifier_hidden=hidden)
    table = stage.architecture_table(model)
    encoder = table[table["branch"] == "encoder"]
    assert list(encoder["units"]) == [40, 20, 6] and list(encoder["role"]) == ["input", "hidden", "code"]
    assert list(encoder["layers"]) == ["GEP", "Linear + LogSigmoid", "Linear"]
    assert list(table.loc[table["branch"] == "decoder", "units"]) == [20, 40]
    classifier = table[table["branch"] == "classifier"]
    assert classifier["layers"].iloc[0] == head
    assert list(classifier["units"]) == ([3] if hidden is None else [7, 3])
    assert classifier["layers"].iloc[-1].endswith("SoftMax") and classifier["role"].iloc[-1] == "output"


# --- the stage functions on a small prepared data set --------------------------------------------------------------

@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classification")
    x, labels = separable(n_per_class=16)
    names = np.array(["b_cell", "liver", "neuron"])[labels]
    samples = pd.DataFrame({"cell_type": names, "study": [f"s{i % 4}" for i in range(len(labels))]},
                           index=[f"GSM{i:03d}" for i in range(len(labels))])
    genes = [f"G{i}" for i in range(x.shape[1])]
    io.write_h5ad(io.expression_container(x, samples, genes), folder / "expression.h5ad")
    io.write_table(assign_splits(samples, 0.25, 3, 2, seed=1), folder / "splits.tsv")
    return folder


def test_noise_folds_test_every_sample_once_with_noise_in_training_only(prepared):
    paths = []
    for fold in (0, 1):
        paths.append(prepared / f"noise{fold}.tsv")
        stage.train_noise_fold(prepared / "expression.h5ad", prepared / "splits.tsv", fold, "L12,G,L4", TRAINING,
                               SETTINGS, seed=3 + fold, model_path=prepared / f"noise{fold}.pt",
                               history_path=prepared / f"noise{fold}_history.tsv", accuracy_path=paths[-1])
    model, meta = load_model(prepared / "noise0.pt")
    assert isinstance(model, ClassifierAutoencoder) and meta["classes"] == ["b_cell", "liver", "neuron"]
    assert meta["holdout_column"] == "noise_cv_fold" and len(meta["scaling_minimum"]) == 40
    folds, by_sigma = stage.noise_tables(paths, prepared / "splits.tsv")
    clean = folds[folds["sigma"] == 0]
    assert clean["n_test"].sum() == 48 and sorted(clean["fold"]) == [0, 1]
    assert list(by_sigma["sigma"]) == [0.0, 0.1, 0.5] and (by_sigma["n"] == 2).all()
    assert (folds["train_noise_sd"] == 0.1).all()
    assert clean["accuracy"].min() >= 0.9  # the separable types are learnt despite the training noise
    with pytest.raises(ValueError, match="every sample must be tested once"):
        stage.noise_tables(paths[:1], prepared / "splits.tsv")


def test_classifier_autoencoder_and_classification(prepared, tmp_path):
    stage.train_classifier_autoencoder(prepared / "expression.h5ad", prepared / "splits.tsv", "L12,G,L4", TRAINING,
                                       SETTINGS | {"classifier_hidden": 5}, seed=2, model_path=tmp_path / "m.pt",
                                       history_path=tmp_path / "h.tsv", codes_path=tmp_path / "codes.tsv",
                                       architecture_path=tmp_path / "architecture.tsv")
    model, meta = load_model(tmp_path / "m.pt")
    assert model.classifier_hidden == 5 and len(meta["genes"]) == 40 and meta["holdout_value"] == "test"
    codes = pd.read_csv(tmp_path / "codes.tsv", sep="\t")
    assert list(codes.columns) == ["sample", "cell_type", "study", "split", "CIC01", "CIC02", "CIC03", "CIC04"]
    assert "test_accuracy" in pd.read_csv(tmp_path / "h.tsv", sep="\t")
    assert pd.read_csv(tmp_path / "architecture.tsv", sep="\t")["units"].iloc[0] == 40

    stage.classify_cell_types(prepared / "expression.h5ad", prepared / "splits.tsv", tmp_path / "codes.tsv",
                              tmp_path / "codes.tsv", tmp_path / "m.pt", 4, SETTINGS, seed=1,
                              predictions_path=tmp_path / "predictions.tsv", metrics_path=tmp_path / "metrics.tsv")
    metrics = pd.read_csv(tmp_path / "metrics.tsv", sep="\t")
    assert list(zip(metrics["features"], metrics["classifier"])) == [
        ("pca", "rf"), ("pca", "svm"), ("cic", "rf"), ("cic", "svm"), ("classifier_cic", "rf"),
        ("classifier_cic", "svm"), ("classifier_cic", "head")]
    assert (metrics["n_test"] == 12).all()
    assert (metrics.loc[metrics["features"] == "pca", "misclassified"] == 0).all()
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    assert predictions.groupby(["features", "classifier"])["sample"].nunique().eq(12).all()

    shuffled = codes.sample(frac=1.0, random_state=0)
    io.write_table(shuffled, tmp_path / "shuffled.tsv")
    with pytest.raises(InputError, match="same order"):
        stage.classify_cell_types(prepared / "expression.h5ad", prepared / "splits.tsv", tmp_path / "shuffled.tsv",
                                  tmp_path / "codes.tsv", tmp_path / "m.pt", 4, SETTINGS, seed=1,
                                  predictions_path=tmp_path / "p.tsv", metrics_path=tmp_path / "x.tsv")


def test_summary_puts_the_paper_beside_every_model(tmp_path):
    metrics = pd.DataFrame([{"features": f, "classifier": c, "model": stage.model_label(f, c), "n_test": 260,
                             "misclassified": 13, "accuracy": 0.95, "macro_f1": 0.94}
                            for f, c in [("pca", "rf"), ("pca", "svm"), ("cic", "rf"), ("cic", "svm"),
                                         ("classifier_cic", "rf"), ("classifier_cic", "svm"), stage.HEAD]])
    io.write_table(metrics, tmp_path / "metrics.tsv")
    io.write_table(pd.DataFrame({"epoch": [1, 2], "test_mse": [0.5, 0.2]}), tmp_path / "history.tsv")
    splits = pd.DataFrame({"sample": [f"s{i}" for i in range(10)], "noise_cv_fold": [0] * 5 + [1] * 5})
    io.write_table(splits, tmp_path / "splits.tsv")
    paths = []
    for fold, correct in ((0, 5), (1, 4)):
        paths.append(tmp_path / f"fold{fold}.tsv")
        io.write_table(pd.DataFrame({"fold": fold, "train_noise_sd": 0.1, "sigma": [0.0, 0.5], "n_test": 5,
                                     "correct": [correct, 2], "accuracy": [correct / 5, 0.4]}), paths[-1])
    stage.summarize(tmp_path / "metrics.tsv", tmp_path / "history.tsv", paths, tmp_path / "splits.tsv",
                    tmp_path / "folds.tsv", tmp_path / "sigma.tsv", tmp_path / "summary.tsv")
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t").set_index("quantity")
    assert summary.loc["misclassified_pca_rf", "paper"] == 25
    assert summary.loc["misclassified_classifier_ae_svm", "paper"] == 10
    assert pd.isna(summary.loc["misclassified_classifier_ae_head", "paper"])
    assert float(summary.loc["noise_accuracy_mean", "this_run"]) == pytest.approx(0.9)
    assert float(summary.loc["noise_accuracy_se", "this_run"]) == pytest.approx(0.1)
    assert float(summary.loc["noise_accuracy_mean", "paper"]) == pytest.approx(0.994)
    assert float(summary.loc["noise_accuracy_test_sigma_0.5", "this_run"]) == pytest.approx(0.4)
    sigma = pd.read_csv(tmp_path / "sigma.tsv", sep="\t")
    assert list(sigma["pooled_accuracy"]) == [pytest.approx(0.9), pytest.approx(0.4)]
