"""The shared train/test split and stratified k-fold assignments, written once and reused by every experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split


def stratified_folds(labels, n_folds: int, seed: int) -> np.ndarray:
    """Fold number (0..n_folds-1) of each sample; every fold has each label in near-equal numbers."""
    labels = np.asarray(labels)
    folds = np.empty(len(labels), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, test_rows) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        folds[test_rows] = fold
    return folds


def assign_splits(samples: pd.DataFrame, test_fraction: float, cv_folds: int, noise_cv_folds: int,
                  seed: int) -> pd.DataFrame:
    """One row per sample: ``split`` (train/test, stratified by cell type), ``cv_fold`` and ``noise_cv_fold``."""
    labels = samples["cell_type"].astype(str).to_numpy()
    _, test_rows = train_test_split(np.arange(len(samples)), test_size=test_fraction, stratify=labels,
                                    random_state=seed)
    split = np.full(len(samples), "train", dtype=object)
    split[test_rows] = "test"
    table = pd.DataFrame({
        "sample": samples.index.astype(str),
        "cell_type": labels,
        "study": samples["study"].astype(str).to_numpy(),
        "split": split,
        "cv_fold": stratified_folds(labels, cv_folds, seed),
        # A different seed so the noise experiment's folds do not coincide with the CV folds.
        "noise_cv_fold": stratified_folds(labels, noise_cv_folds, seed + 1),
    })
    return table


def fold_masks(splits: pd.DataFrame, column: str, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (train, test) masks for ``fold`` of the fold column ``column``."""
    test = splits[column].to_numpy() == fold
    return ~test, test
