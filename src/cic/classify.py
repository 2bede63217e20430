"""Cell type classification helpers (paper: "Cell Type Classification", "CIC Can Resist Noise", Supp Fig S7).

Random Forest and SVM from scikit-learn on low-dimensional features (PCA of the GEPs, or CICs), their metrics,
and the noise experiment's per-gene min-max scaling and Gaussian input noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

CLASSIFIERS = ("rf", "svm")


def pca_features(train_x: np.ndarray, test_x: np.ndarray, n_components: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the GEPs with ``n_components`` components, fitted on the training samples only (no test leakage)."""
    n_components = int(n_components)
    if not 1 <= n_components <= min(train_x.shape):
        raise ValueError(f"PCA needs 1 <= n_components <= min(training samples, genes) = {min(train_x.shape)}, "
                         f"got {n_components}")
    pca = PCA(n_components=n_components, random_state=seed).fit(train_x)
    return pca.transform(train_x), pca.transform(test_x)


def make_classifier(name: str, options: dict, seed: int, threads: int = 1):
    """An unfitted scikit-learn classifier: ``rf`` (RandomForestClassifier) or ``svm`` (SVC, optionally after
    standardising each feature on the training samples, as R's e1071::svm does by default).

    ``options`` are the config's ``classification.random_forest`` / ``classification.svm`` entries.
    """
    if name == "rf":
        return RandomForestClassifier(n_estimators=int(options["n_estimators"]), max_features=options["max_features"],
                                      min_samples_leaf=int(options["min_samples_leaf"]), random_state=seed,
                                      n_jobs=max(1, int(threads)))
    if name == "svm":
        svm = SVC(kernel=options["kernel"], C=float(options["C"]), gamma=options["gamma"], random_state=seed)
        return make_pipeline(StandardScaler(), svm) if options["standardize"] else svm
    raise ValueError(f"unknown classifier {name!r}; expected one of {', '.join(CLASSIFIERS)}")


def fit_predict(name: str, options: dict, train_features, train_labels, test_features, seed: int,
                threads: int = 1) -> np.ndarray:
    """Train classifier ``name`` on the training features and return its predictions for the test features."""
    model = make_classifier(name, options, seed, threads)
    model.fit(np.asarray(train_features), np.asarray(train_labels))
    return model.predict(np.asarray(test_features))


def classification_metrics(true_labels, predicted_labels) -> dict:
    """n_test, misclassified (count), accuracy and macro-F1 (over the classes present in either list)."""
    true_labels, predicted_labels = np.asarray(true_labels), np.asarray(predicted_labels)
    if true_labels.shape != predicted_labels.shape or true_labels.ndim != 1 or len(true_labels) == 0:
        raise ValueError(f"need equally long non-empty label lists, got {true_labels.shape} and "
                         f"{predicted_labels.shape}")
    wrong = int(np.sum(true_labels != predicted_labels))
    return {"n_test": len(true_labels), "misclassified": wrong, "accuracy": 1 - wrong / len(true_labels),
            "macro_f1": float(f1_score(true_labels, predicted_labels, average="macro", zero_division=0))}


@dataclass(frozen=True)
class MinMaxScaling:
    """Per-gene min-max scaling to [0, 1] (paper: "normalized the expression levels of each gene ... between 0
    and 1"), fitted on training samples; test samples may fall slightly outside [0, 1] and are not clipped.
    A gene constant on the training samples is mapped to 0 (its span is taken as 1)."""

    minimum: np.ndarray
    span: np.ndarray

    @classmethod
    def fit(cls, train_x: np.ndarray) -> "MinMaxScaling":
        train_x = np.asarray(train_x, dtype=np.float64)
        minimum = train_x.min(axis=0)
        span = train_x.max(axis=0) - minimum
        return cls(minimum=minimum, span=np.where(span > 0, span, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.minimum) / self.span).astype(np.float32)


def add_gaussian_noise(x: np.ndarray, sd: float, seed: int) -> np.ndarray:
    """``x`` plus independent N(0, sd) noise on every value, drawn from ``seed``; sd 0 returns an unchanged copy."""
    if sd < 0:
        raise ValueError(f"noise sd must be 0 or more, got {sd}")
    x = np.asarray(x)
    if sd == 0:
        return x.copy()
    return (x + np.random.default_rng(seed).normal(0.0, sd, size=x.shape)).astype(x.dtype)
