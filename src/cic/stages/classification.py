"""Supp Fig S7, Fig 4 and the noise experiment: classifying cell types from CICs.

* Random Forest and SVM on PCA of the GEPs, on the plain autoencoder's CICs and on the classifier autoencoder's
  CICs, all trained on the main split's training samples and tested on its test samples.
* The classifier autoencoder (Fig 4): encoder -> CIC -> decoder (MSE) and classifier head (cross-entropy).
* Noise robustness: per-gene min-max scaling, k-fold CV over the ``noise_cv_fold`` column, Gaussian noise on
  the training inputs only; accuracy on clean test inputs and on test inputs noised at several sigma.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from cic import io
from cic.errors import InputError
from cic.paper import summary_row as _row

# torch, scikit-learn and the training code are imported inside the functions that train or classify, so the
# summary and plotting jobs start in a second or two.

log = logging.getLogger(__name__)

FEATURE_SETS = {"pca": "PCA", "cic": "CIC", "classifier_cic": "classifier-AE CIC"}
CLASSIFIER_NAMES = {"rf": "RF", "svm": "SVM", "head": "classifier head"}
# Feature set -> prefix of its PAPER keys (misclassified_<prefix>_<classifier>).
PAPER_PREFIX = {"pca": "pca", "cic": "cic", "classifier_cic": "classifier_ae"}
HEAD = ("classifier_cic", "head")  # the classifier autoencoder's own prediction, from its head
NOISE_FOLD_COLUMN = "noise_cv_fold"
MODULE_NAMES = {"LogSigmoid": "LogSigmoid", "Softmax": "SoftMax", "Sigmoid": "Sigmoid", "ReLU": "ReLU",
                "Tanh": "Tanh", "Softplus": "SoftPlus", "Softshrink": "SoftShrink", "SiLU": "Swish",
                "BatchNorm1d": "BatchNorm", "Dropout": "Dropout"}  # torch module -> the paper's name


def model_label(features: str, classifier: str) -> str:
    if (features, classifier) == HEAD:
        return "classifier-AE head"
    return f"{FEATURE_SETS[features]} + {CLASSIFIER_NAMES[classifier]}"


def classifier_training(training: dict, settings: dict, seed: int, **overrides):
    """The classifier autoencoder's TrainConfig: config["training"], then classification.training, then
    ``overrides`` (e.g. the noise experiment's), with classification.classification_weight."""
    from cic.stages.autoencoder import train_config

    merged = dict(training) | dict(settings.get("training") or {})
    return train_config(merged, seed, classification_weight=float(settings["classification_weight"]), **overrides)


def _class_labels(splits: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Sorted class names and each sample's class index."""
    classes = sorted(splits["cell_type"].astype(str).unique())
    return classes, splits["cell_type"].astype(str).map({name: i for i, name in enumerate(classes)}).to_numpy()


def _new_classifier_autoencoder(n_genes: int, architecture: str, n_classes: int, settings: dict):
    from cic.model import ClassifierAutoencoder

    return ClassifierAutoencoder(n_genes, architecture, n_classes, settings["classifier_hidden"])


def train_classifier_autoencoder(expression, splits_path, architecture: str, training: dict, settings: dict,
                                 seed: int, model_path, history_path, codes_path, architecture_path,
                                 threads: int = 1) -> None:
    """Fig 4's network on the main split's training samples (its validation subset drawn from them; history on
    its test samples); CICs of every sample; its layers as a table (:func:`architecture_table`), from which Fig 4
    is drawn."""
    import torch

    from cic.stages.autoencoder import MAIN_HOLDOUT, fit_and_save, load_expression_and_splits, model_meta, write_codes
    from cic.train import encode, load_model

    torch.set_num_threads(max(1, int(threads)))
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    classes, labels = _class_labels(splits)
    template = _new_classifier_autoencoder(matrix.shape[1], architecture, len(classes), settings)
    config = classifier_training(training, settings, seed)
    log.info("training classifier autoencoder %s (head hidden: %s), %d classes, weight %.2f", template.spec,
             settings["classifier_hidden"], len(classes), config.classification_weight)
    history, = fit_and_save(template, matrix, splits, [MAIN_HOLDOUT], config, [seed], [model_path], [history_path],
                            None, [model_meta(genes, MAIN_HOLDOUT, seed) | {"classes": classes}], labels)
    log.info("classifier head test accuracy %.3f", history.loc[history["kept"], "test_accuracy"].iloc[0])
    model, _ = load_model(model_path)
    write_codes(encode(model, matrix), splits, codes_path)
    io.write_table(architecture_table(model), architecture_path)


def _layer_columns(stack) -> list[tuple[int, str]]:
    """(units, layers) of each Linear layer's output in ``stack``; the modules after a Linear layer (activation,
    BatchNorm, Dropout) are named with it, e.g. ``(300, "Linear + LogSigmoid")``."""
    from torch import nn

    columns: list[tuple[int, list[str]]] = []
    for module in stack:
        if isinstance(module, nn.Linear):
            columns.append((module.out_features, ["Linear"]))
        elif columns:
            columns[-1][1].append(MODULE_NAMES.get(type(module).__name__, type(module).__name__))
        else:
            raise ValueError(f"stack starts with {type(module).__name__}, not a Linear layer")
    return [(units, " + ".join(names)) for units, names in columns]


def architecture_table(model) -> pd.DataFrame:
    """Fig 4's content read from a classifier autoencoder: one row per layer of units, columns branch
    (encoder, decoder, classifier), position (0-based within the branch), units, layers and role (input, code,
    output or hidden). The classifier's last layer ends in the SoftMax that the cross-entropy applies."""
    from cic.model import ClassifierAutoencoder

    if not isinstance(model, ClassifierAutoencoder):
        raise TypeError(f"Fig 4 shows a ClassifierAutoencoder, got {type(model).__name__}")
    branches = {"encoder": [(model.n_genes, "GEP")] + _layer_columns(model.encoder),
                "decoder": _layer_columns(model.decoder), "classifier": _layer_columns(model.classifier)}
    units, layers = branches["classifier"][-1]
    branches["classifier"][-1] = (units, f"{layers} + SoftMax")
    rows = []
    for branch, columns in branches.items():
        for position, (units, layers) in enumerate(columns):
            last = position == len(columns) - 1
            role = ("input" if position == 0 else "code" if last else "hidden") if branch == "encoder" else \
                   ("output" if last else "hidden")
            rows.append({"branch": branch, "position": position, "units": units, "layers": layers, "role": role})
    return pd.DataFrame(rows)


def _code_features(codes_path, splits: pd.DataFrame, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CIC columns of a codes table, split into (train, test) rows; the table must list the splits' samples."""
    codes = pd.read_csv(codes_path, sep="\t", dtype={"sample": str})
    columns = [column for column in codes.columns if column.startswith("CIC")]
    if "sample" not in codes.columns or not columns:
        raise InputError(codes_path, "needs a sample column and CIC01.. columns", "re-run the rule that wrote it")
    if list(codes["sample"]) != list(splits["sample"]):
        raise InputError(codes_path, "does not list the samples of splits.tsv in the same order",
                         "re-run the rule that wrote it (snakemake --forcerun <rule>)")
    values = codes[columns].to_numpy(dtype=np.float64)
    return values[~test], values[test]


def classify_cell_types(expression, splits_path, codes_path, classifier_codes_path, classifier_model_path,
                        n_components: int, settings: dict, seed: int, predictions_path, metrics_path,
                        threads: int = 1) -> None:
    """RF and SVM on PCA / CIC / classifier-AE CIC features, and the classifier head, on the main test split."""
    from cic import classify
    from cic.stages.autoencoder import MAIN_HOLDOUT, load_expression_and_splits
    from cic.train import load_model, predict

    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    test = MAIN_HOLDOUT.test_mask(splits)
    labels = splits["cell_type"].astype(str).to_numpy()
    features = {
        "pca": classify.pca_features(matrix[~test], matrix[test], n_components, seed),
        "cic": _code_features(codes_path, splits, test),
        "classifier_cic": _code_features(classifier_codes_path, splits, test),
    }
    options = {"rf": settings["random_forest"], "svm": settings["svm"]}
    predictions = {}
    for feature_set, (train_features, test_features) in features.items():
        for classifier in classify.CLASSIFIERS:
            predictions[feature_set, classifier] = classify.fit_predict(
                classifier, options[classifier], train_features, labels[~test], test_features, seed, threads)
    model, meta = load_model(classifier_model_path)
    if meta.get("genes") != genes:
        raise InputError(classifier_model_path, f"was trained on other genes than {expression}",
                         "re-run train_classifier_autoencoder")
    predictions[HEAD] = np.asarray(meta["classes"])[predict(model, matrix[test])]

    frames, metrics = [], []
    for (feature_set, classifier), predicted in predictions.items():
        frames.append(pd.DataFrame({"sample": splits.loc[test, "sample"].to_numpy(), "cell_type": labels[test],
                                    "features": feature_set, "classifier": classifier, "predicted": predicted}))
        scores = classify.classification_metrics(labels[test], predicted)
        metrics.append({"features": feature_set, "classifier": classifier,
                        "model": model_label(feature_set, classifier)} | scores)
        log.info("%s: %d of %d misclassified (accuracy %.3f, macro-F1 %.3f)", model_label(feature_set, classifier),
                 scores["misclassified"], scores["n_test"], scores["accuracy"], scores["macro_f1"])
    io.write_table(pd.concat(frames, ignore_index=True), predictions_path)
    io.write_table(pd.DataFrame(metrics), metrics_path)


def noise_test_sigmas(settings: dict) -> list[float]:
    """The test-input noise levels, always including 0 (clean test inputs: the paper's accuracy)."""
    return sorted({0.0, *(float(sigma) for sigma in settings["noise"]["test_sigmas"])})


def train_noise_fold(expression, splits_path, fold: int, architecture: str, training: dict, settings: dict,
                     seed: int, model_path, history_path, accuracy_path, threads: int = 1) -> None:
    """One fold of the noise experiment: a fresh classifier autoencoder trained with N(0, sd) noise on its
    (min-max scaled) inputs and the clean profiles as targets; test accuracy at every test-noise sigma.

    The min-max scaling is fitted on the fold's training samples only, so the test fold does not leak into it
    (the paper scaled all samples at once); it is stored in the model file (scaling_minimum, scaling_span).
    """
    import torch

    from cic import classify
    from cic.stages.autoencoder import Holdout, checked_test_mask, fit_and_save, load_expression_and_splits, model_meta
    from cic.train import load_model, predict

    torch.set_num_threads(max(1, int(threads)))
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    holdout = Holdout(NOISE_FOLD_COLUMN, int(fold))
    test = checked_test_mask(holdout, splits)
    classes, labels = _class_labels(splits)
    scaling = classify.MinMaxScaling.fit(matrix[~test])
    scaled = scaling.transform(matrix)
    noise = settings["noise"]
    config = classifier_training(training, settings, seed, **(dict(noise.get("training") or {})
                                                               | {"input_noise_sd": float(noise["input_noise_sd"])}))
    template = _new_classifier_autoencoder(matrix.shape[1], architecture, len(classes), settings)
    log.info("noise fold %d: %d training, %d test samples, input noise sd %.3g, %d epochs", fold,
             int((~test).sum()), int(test.sum()), config.input_noise_sd, config.epochs)
    fit_and_save(template, scaled, splits, [holdout], config, [seed], [model_path], [history_path], None,
                 [model_meta(genes, holdout, seed) | {"classes": classes, "scaling_minimum": scaling.minimum.tolist(),
                                                      "scaling_span": scaling.span.tolist()}], labels)
    model, _ = load_model(model_path)
    test_x = scaled[test]
    rows = []
    for index, sigma in enumerate(noise_test_sigmas(settings)):
        noisy = classify.add_gaussian_noise(test_x, sigma, seed + 1000 + index)
        correct = int(np.sum(predict(model, noisy) == labels[test]))
        rows.append({"fold": int(fold), "train_noise_sd": config.input_noise_sd, "sigma": sigma,
                     "n_test": int(test.sum()), "correct": correct, "accuracy": correct / int(test.sum())})
        log.info("fold %d, test noise sigma %.2f: accuracy %.3f", fold, sigma, rows[-1]["accuracy"])
    io.write_table(pd.DataFrame(rows), accuracy_path)


def noise_tables(fold_paths, splits_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accuracy per fold and sigma, mean / SE over folds and pooled accuracy per sigma) from the fold tables;
    checks that the folds together test every sample of splits.tsv exactly once."""
    from cic.evaluation import curve_summary

    folds = pd.concat([pd.read_csv(path, sep="\t") for path in fold_paths], ignore_index=True)
    splits = pd.read_csv(splits_path, sep="\t", dtype={"sample": str})
    clean = folds[folds["sigma"] == 0]
    if clean["n_test"].sum() != len(splits) or sorted(clean["fold"]) != sorted(splits[NOISE_FOLD_COLUMN].unique()):
        raise ValueError(f"the noise folds test {int(clean['n_test'].sum())} samples in folds "
                         f"{sorted(clean['fold'])}, but {splits_path} has {len(splits)} samples in folds "
                         f"{sorted(splits[NOISE_FOLD_COLUMN].unique())}: every sample must be tested once")
    summary = curve_summary(folds, ["sigma"], "accuracy")
    pooled = folds.groupby("sigma", sort=False)[["correct", "n_test"]].sum().reset_index()
    summary = summary.merge(pooled, on="sigma")
    summary["pooled_accuracy"] = summary["correct"] / summary["n_test"]
    return folds.sort_values(["sigma", "fold"]), summary.sort_values("sigma")


def plot_figures(predictions_path, metrics_path, architecture_path, noise_folds_path, noise_sigma_path,
                 figures: dict) -> None:
    """Supp Fig S7, Fig 4 and the noise figure from the stored tables: no training."""
    from cic.figures import classification as plots

    predictions = pd.read_csv(predictions_path, sep="\t", dtype={"sample": str})
    metrics = pd.read_csv(metrics_path, sep="\t")
    plots.plot_confusion_matrices(predictions, metrics, figures["figS7_png"], figures["figS7_svg"])
    plots.plot_architecture(pd.read_csv(architecture_path, sep="\t"), figures["fig4_png"], figures["fig4_svg"])
    plots.plot_noise_robustness(pd.read_csv(noise_folds_path, sep="\t"), pd.read_csv(noise_sigma_path, sep="\t"),
                                figures["noise_robustness_png"], figures["noise_robustness_svg"])


def summarize(metrics_path, classifier_history_path, noise_fold_paths, splits_path, noise_folds_path,
              noise_sigma_path, output) -> None:
    """noise_folds.tsv and noise_test_sigma.tsv (:func:`noise_tables`), and classification_summary.tsv: every
    number of this stage, with the paper's value beside it."""
    folds, sigma = noise_tables(noise_fold_paths, splits_path)
    io.write_table(folds, noise_folds_path)
    io.write_table(sigma, noise_sigma_path)
    metrics = pd.read_csv(metrics_path, sep="\t")
    rows = []
    for record in metrics.to_dict("records"):
        feature_set, classifier = record["features"], record["classifier"]
        label = model_label(feature_set, classifier)
        key = f"{PAPER_PREFIX[feature_set]}_{classifier}"
        paper_key = None if (feature_set, classifier) == HEAD else f"misclassified_{key}"
        rows.append(_row(f"misclassified_{key}", int(record["misclassified"]), paper_key,
                         f"{label}: of {int(record['n_test'])} test samples (paper: of 260)"))
        rows.append(_row(f"accuracy_{key}", float(record["accuracy"]), note=label))
        rows.append(_row(f"macro_f1_{key}", float(record["macro_f1"]), note=label))
    history = pd.read_csv(classifier_history_path, sep="\t")
    kept = history[history["kept"]] if "kept" in history.columns else history.tail(1)
    rows.append(_row("classifier_ae_test_mse", float(kept["test_mse"].iloc[0]),
                     note=f"classifier autoencoder's reconstruction MSE on the test samples, epoch "
                          f"{int(kept['epoch'].iloc[0])} (the one kept)"))
    clean = folds[folds["sigma"] == 0]["accuracy"]
    sigma = sigma.set_index("sigma")
    n_folds = len(clean)
    rows += [
        _row("noise_accuracy_mean", float(clean.mean()), "noise_accuracy_mean",
             f"classifier head on clean test inputs, mean over {n_folds} folds trained with input noise"),
        _row("noise_accuracy_se", float(clean.sem()), "noise_accuracy_se", "standard error over folds"),
        _row("noise_accuracy_min", float(clean.min()), "noise_accuracy_min", "worst fold"),
        _row("noise_accuracy_max", float(clean.max()), note="best fold (paper: 100 %)"),
    ]
    for level, record in sigma.iterrows():
        rows.append(_row(f"noise_accuracy_test_sigma_{level:g}", float(record["mean"]),
                         note=f"test inputs noised with N(0, {level:g}); mean over folds, SE {record['se']:.3g}"))
    io.write_table(pd.DataFrame(rows), output)
