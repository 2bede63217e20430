"""The shared train/test split and stratified k-fold assignments, written once and reused by every experiment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from cic.errors import InputError


def samples_needed_per_type(test_fraction: float, cv_folds: int, noise_cv_folds: int) -> dict[str, int]:
    """The fewest samples a cell type needs, per requirement of the shared splits (checked before splitting).

    Stratified k-fold puts a type in every fold only with at least k samples (scikit-learn would only warn, and the
    type would be tested in some folds only); the stratified train/test split needs 2 (:func:`split_guarantee`
    says how many make a test and a training sample certain).
    """
    return {f"splits.cv_folds = {cv_folds}": cv_folds, f"splits.noise_cv_folds = {noise_cv_folds}": noise_cv_folds,
            f"{_split_name(test_fraction)}": 2}


def split_guarantee(test_fraction: float) -> int:
    """Samples that make a type certain to get a test and a training sample in the stratified split: each type gets
    at least floor(n * test_fraction) test samples (and as many training samples for 1 - test_fraction); with fewer,
    it depends on the other types."""
    return max(math.ceil(1 / test_fraction - 1e-9), math.ceil(1 / (1 - test_fraction) - 1e-9), 2)


def _split_name(test_fraction: float) -> str:
    return f"the stratified {round(100 * (1 - test_fraction))}/{round(100 * test_fraction)} split"


def _too_small(source, counts: pd.Series, problem: str, settings: list[str]) -> InputError:
    """One line naming the types, their counts and the problem, with the three kinds of fix."""
    if len(counts) == 1:
        count = int(counts.iloc[0])
        which = f"cell type '{counts.index[0]}' has {count} sample{'s' if count != 1 else ''}"
    else:
        which = "cell types " + ", ".join(f"'{cell_type}' ({count})" for cell_type, count in counts.items()) + \
            " have too few samples"
    one = len(counts) == 1
    return InputError(source, f"{which}, but {problem}",
                      f"add samples of {'that type' if one else 'those types'}, leave {'it' if one else 'them'} out "
                      f"(list the types to keep in dataset.cell_types), or {' or '.join(settings)}")


def check_class_sizes(cell_types, test_fraction: float, cv_folds: int, noise_cv_folds: int, source) -> None:
    """One-line :class:`InputError` against ``source`` when a type has fewer samples than the folds (or the
    stratified split) need (:func:`samples_needed_per_type`), naming the types, their counts, what is needed and the
    fixes."""
    needs = samples_needed_per_type(test_fraction, cv_folds, noise_cv_folds)
    needed = max(needs.values())
    counts = pd.Series(cell_types).astype(str).value_counts()
    small = counts[counts < needed].sort_values(kind="stable")
    if small.empty:
        return
    reasons = ", ".join(f"{name} needs {value}" for name, value in sorted(needs.items(), key=lambda item: -item[1]))
    folds = [name.split(" = ")[0] for name, value in needs.items() if value > int(small.min()) and " = " in name]
    raise _too_small(source, small, f"every type needs at least {needed} ({reasons})",
                     [f"lower {' / '.join(folds)}"] if folds else ["add samples"])


def _check_split_coverage(labels: np.ndarray, test: np.ndarray, test_fraction: float, source) -> None:
    """Every type must have a test and a training sample; name those that did not get one."""
    table = pd.crosstab(labels, test).reindex(columns=[False, True], fill_value=0)
    for is_test, which, change in ((True, "test", "raise"), (False, "training", "lower")):
        lacking = table.index[table[is_test] == 0]
        if len(lacking):
            counts = table.loc[lacking].sum(axis=1).sort_values(kind="stable")
            them = "it" if len(counts) == 1 else "them"
            raise _too_small(source, counts, f"{_split_name(test_fraction)} gave {them} no {which} sample (a type "
                                             f"needs {split_guarantee(test_fraction)} to be sure of one)",
                             [f"{change} splits.test_fraction"])


def stratified_folds(labels, n_folds: int, seed: int) -> np.ndarray:
    """Fold number (0..n_folds-1) of each sample; every fold has each label in near-equal numbers."""
    labels = np.asarray(labels)
    folds = np.empty(len(labels), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, test_rows) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        folds[test_rows] = fold
    return folds


def assign_splits(samples: pd.DataFrame, test_fraction: float, cv_folds: int, noise_cv_folds: int,
                  seed: int, source="the prepared data") -> pd.DataFrame:
    """One row per sample: ``split`` (train/test, stratified by cell type), ``cv_fold`` and ``noise_cv_fold``.

    A cell type too small for these splits is an :class:`InputError` against ``source`` (:func:`check_class_sizes`,
    and after the split, a type left without a test or training sample).
    """
    labels = samples["cell_type"].astype(str).to_numpy()
    check_class_sizes(labels, test_fraction, cv_folds, noise_cv_folds, source)
    counts = pd.Series(labels).value_counts()
    n_test = math.ceil(test_fraction * len(labels))  # scikit-learn's rounding
    if min(n_test, len(labels) - n_test) < len(counts):  # scikit-learn refuses: fewer places than types
        small = counts[counts < split_guarantee(test_fraction)].sort_values(kind="stable")
        raise _too_small(source, small if len(small) else counts, f"{_split_name(test_fraction)} of {len(labels)} "
                         f"samples has {n_test} test and {len(labels) - n_test} training places for {len(counts)} "
                         f"types (a type needs {split_guarantee(test_fraction)} to be sure of both)",
                         ["change splits.test_fraction"])
    _, test_rows = train_test_split(np.arange(len(samples)), test_size=test_fraction, stratify=labels,
                                    random_state=seed)
    split = np.full(len(samples), "train", dtype=object)
    split[test_rows] = "test"
    _check_split_coverage(labels, split == "test", test_fraction, source)
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
