import numpy as np
import pandas as pd
import pytest

from cic.errors import InputError
from cic.splits import assign_splits, fold_masks, samples_needed_per_type, split_guarantee, stratified_folds


def _samples():
    types = np.repeat([f"t{i}" for i in range(6)], 20)
    return pd.DataFrame({"cell_type": types, "study": "s"}, index=[f"S{i}" for i in range(len(types))])


def test_train_test_split_is_stratified_and_disjoint():
    table = assign_splits(_samples(), test_fraction=0.25, cv_folds=5, noise_cv_folds=4, seed=3)
    assert table["sample"].is_unique and len(table) == 120
    assert set(table["split"]) == {"train", "test"}
    assert (table["split"] == "test").sum() == 30
    assert table[table["split"] == "test"]["cell_type"].value_counts().eq(5).all()


def test_k_folds_cover_every_sample_once_and_are_stratified():
    labels = _samples()["cell_type"]
    folds = stratified_folds(labels, 5, seed=1)
    assert sorted(np.unique(folds)) == list(range(5))
    assert np.bincount(folds).tolist() == [24] * 5  # each sample in exactly one test fold
    per_fold = pd.crosstab(folds, labels.to_numpy())
    assert (per_fold == 4).all().all()
    table = assign_splits(_samples(), 0.25, 5, 4, seed=3)
    seen = np.zeros(len(table), dtype=int)
    for fold in range(5):
        train, test = fold_masks(table, "cv_fold", fold)
        assert (train.sum(), test.sum()) == (96, 24) and not (train & test).any()  # the other 96 samples train
        seen += test
    assert (seen == 1).all()


def test_splits_are_seeded():
    first = assign_splits(_samples(), 0.25, 5, 4, seed=3)
    assert first.equals(assign_splits(_samples(), 0.25, 5, 4, seed=3))
    assert not first["split"].equals(assign_splits(_samples(), 0.25, 5, 4, seed=4)["split"])
    assert not first["cv_fold"].equals(first["noise_cv_fold"])


def test_a_type_too_small_for_the_folds_is_one_line_naming_it_and_the_fixes():
    samples = pd.concat([_samples(), pd.DataFrame({"cell_type": ["hepatocyte"], "study": "s"}, index=["S999"])])
    with pytest.raises(InputError, match=r"samples.tsv: cell type 'hepatocyte' has 1 sample, but every type needs at "
                                         r"least 10 \(splits.cv_folds = 10 needs 10, splits.noise_cv_folds = 5 needs "
                                         r"5, the stratified 75/25 split needs 2\); fix: add samples of that type, "
                                         r"leave it out \(list the types to keep in dataset.cell_types\), or lower "
                                         r"splits.cv_folds / splits.noise_cv_folds$"):
        assign_splits(samples, 0.25, 10, 5, seed=1, source="samples.tsv")


def test_with_k_samples_a_type_is_in_every_one_of_k_folds_and_in_both_sets():
    assert samples_needed_per_type(0.25, 10, 5) == {"splits.cv_folds = 10": 10, "splits.noise_cv_folds = 5": 5,
                                                    "the stratified 75/25 split": 2}
    assert split_guarantee(0.25) == 4 and split_guarantee(0.1) == 10 and split_guarantee(0.9) == 10
    five = _samples().groupby("cell_type").head(5)
    table = assign_splits(five, 0.25, 5, 5, seed=2)
    assert (pd.crosstab(table["cv_fold"], table["cell_type"]) == 1).all().all()
    assert (pd.crosstab(table["split"], table["cell_type"]) > 0).all().all()
    with pytest.raises(InputError, match=r"cell types 't0' \(5\), 't1' \(5\).* have too few samples, but every type "
                                         r"needs at least 6 .*; fix: add samples of those types, leave them out .*, or "
                                         r"lower splits.cv_folds$"):
        assign_splits(five, 0.25, 6, 5, seed=2)


def test_a_type_the_split_leaves_without_a_test_sample_is_named():
    samples = pd.DataFrame({"cell_type": ["a"] * 101 + ["b"] * 2 + ["c"] * 2, "study": "s"},
                           index=[f"S{i}" for i in range(105)])
    with pytest.raises(InputError, match=r"samples.tsv: cell type 'c' has 2 samples, but the stratified 75/25 split "
                                         r"gave it no test sample \(a type needs 4 to be sure of one\); fix: .*raise "
                                         r"splits.test_fraction$"):
        assign_splits(samples, 0.25, 2, 2, seed=0, source="samples.tsv")
    many_small = pd.DataFrame({"cell_type": [f"t{i}" for i in range(16) for _ in range(3)], "study": "s"},
                              index=[f"S{i}" for i in range(48)])
    with pytest.raises(InputError, match=r"split of 48 samples has 12 test and 36 training places for 16 types"):
        assign_splits(many_small, 0.25, 3, 2, seed=0)
