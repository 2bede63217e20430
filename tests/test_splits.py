import numpy as np
import pandas as pd

from cic.splits import assign_splits, fold_masks, stratified_folds


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
