"""The shared train/test split and stratified k-fold assignments, written once and reused by every experiment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cic.config_checks import samples_needed_per_type, split_guarantee, split_name  # noqa: F401  (the DAG uses them)
from cic.errors import InputError


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
            raise _too_small(source, counts, f"{split_name(test_fraction)} gave {them} no {which} sample (a type "
                                             f"needs {split_guarantee(test_fraction)} to be sure of one)",
                             [f"{change} splits.test_fraction"])


def stratified_folds(labels, n_folds: int, seed: int) -> np.ndarray:
    """Fold number (0..n_folds-1) of each sample; every fold has each label in near-equal numbers."""
    labels = np.asarray(labels)
    folds = np.empty(len(labels), dtype=int)
    from sklearn.model_selection import StratifiedKFold  # here: readers of splits.tsv do not need sklearn

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
    from sklearn.model_selection import train_test_split

    labels = samples["cell_type"].astype(str).to_numpy()
    check_class_sizes(labels, test_fraction, cv_folds, noise_cv_folds, source)
    counts = pd.Series(labels).value_counts()
    n_test = math.ceil(test_fraction * len(labels))  # scikit-learn's rounding
    if min(n_test, len(labels) - n_test) < len(counts):  # scikit-learn refuses: fewer places than types
        small = counts[counts < split_guarantee(test_fraction)].sort_values(kind="stable")
        raise _too_small(source, small if len(small) else counts, f"{split_name(test_fraction)} of {len(labels)} "
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


def read_splits(path) -> pd.DataFrame:
    """results/data/splits.tsv; ids and labels stay text (a cell type called "1" or "True" is not a number)."""
    return pd.read_csv(path, sep="\t", dtype={"sample": str, "cell_type": str, "study": str}, keep_default_na=False)
