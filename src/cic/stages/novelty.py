"""Beyond the paper: does a network say "unassigned" for a cell type it never saw?

The leave-one-type-out networks of Fig 3 (``results/models/loto/<type>/``) each trained on every type but one. For
each, the samples of the held-out type are run through the same unassigned rule as ``cic query``
(:mod:`cic.query`): unassigned when the reconstruction MSE is above the network's own 99th percentile over its
training samples (the validation subset it set aside from them, :func:`cic.reference.mse_threshold`), or when a classifier's probability is below
``min_probability``. A plain leave-one-type-out network has no classifier head, so the classifier is a logistic
regression on that network's CICs (scikit-learn, standardised codes) fitted on the main split's TRAINING samples of
the seen types only: never on the held-out type, never on test samples.

For balance, the same rule on the main split's TEST samples of the seen types gives the false-unassigned rate (the
logistic regression never saw them; the autoencoder did train on them, so its MSE is optimistic there), and the
reference bundle's own rule on its test samples (a network that saw neither) gives the query's false-unassigned
rate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cic import io
from cic.paper import summary_row

log = logging.getLogger(__name__)

NOVELTY_COLUMNS = ["cell_type", "n_held_out", "unassigned_fraction", "unassigned_by_mse_fraction",
                   "unassigned_by_probability_fraction", "most_common_prediction", "mse_threshold", "n_seen_test",
                   "false_unassigned_fraction", "seen_test_accuracy"]


def unassigned_mask(probability: np.ndarray, mse: np.ndarray, min_probability: float,
                    mse_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(below the probability threshold, above the MSE threshold) per sample: the query's unassigned rule."""
    return np.asarray(probability) < min_probability, np.asarray(mse) > mse_threshold


def held_out_novelty(model_path, cell_type: str, matrix: np.ndarray, splits: pd.DataFrame, genes: list[str],
                     min_probability: float, validation_fraction: float, seed: int) -> dict:
    """One row of the novelty table for the network that held out ``cell_type`` (``matrix``: samples x genes, log2,
    the prepared data; ``splits``: its splits table). See the module docstring for the rule."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cic.reference import mse_threshold, reconstruction_mse
    from cic.stages.universality import _check_model, universality_holdout
    from cic.train import encode, load_model, reconstruct

    model, meta = load_model(model_path)
    _check_model(model_path, meta, genes, cell_type)
    held_out = universality_holdout(cell_type).test_mask(splits)
    labels = splits["cell_type"].astype(str).to_numpy()
    main_test = (splits["split"].astype(str) == "test").to_numpy()
    codes = encode(model, matrix).astype(np.float64)
    mse = reconstruction_mse(matrix, reconstruct(model, matrix))
    threshold, _, _ = mse_threshold(mse, np.flatnonzero(~held_out), validation_fraction, meta["seed"], labels)
    fit_rows = ~held_out & ~main_test
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=int(seed)))
    classifier.fit(codes[fit_rows], labels[fit_rows])
    probabilities = classifier.predict_proba(codes)
    probability = probabilities.max(axis=1)
    predicted = classifier.classes_[probabilities.argmax(axis=1)]
    low, high = unassigned_mask(probability, mse, min_probability, threshold)
    unassigned = low | high
    seen_test = ~held_out & main_test
    assigned_held = predicted[held_out & ~unassigned]
    common = pd.Series(predicted[held_out]).value_counts()
    row = {
        "cell_type": cell_type, "n_held_out": int(held_out.sum()),
        "unassigned_fraction": float(unassigned[held_out].mean()),
        "unassigned_by_mse_fraction": float(high[held_out].mean()),
        "unassigned_by_probability_fraction": float(low[held_out].mean()),
        "most_common_prediction": str(common.index[0]), "mse_threshold": threshold,
        "n_seen_test": int(seen_test.sum()),
        "false_unassigned_fraction": float(unassigned[seen_test].mean()) if seen_test.any() else float("nan"),
        "seen_test_accuracy": float((predicted[seen_test] == labels[seen_test]).mean()) if seen_test.any()
        else float("nan"),
    }
    log.info("%s held out: %d/%d unassigned (MSE %d, probability %d; %d assigned to a seen type); seen types' test "
             "samples: %.1f%% unassigned", cell_type, int(unassigned[held_out].sum()), row["n_held_out"],
             int(high[held_out].sum()), int(low[held_out].sum()), len(assigned_held),
             100 * row["false_unassigned_fraction"])
    return row


def reference_false_unassigned(reference_dir, expression, splits_path, min_probability: float) -> dict:
    """The reference bundle's unassigned rule (:func:`cic.query.identify`) on its own test samples (a network that
    saw none of them): the false-unassigned rate of a query of known types, and its accuracy."""
    from cic.query import QueryProfiles, identify
    from cic.reference import load_reference
    from cic.stages.autoencoder import load_expression_and_splits

    reference = load_reference(reference_dir)
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    test = (splits["split"].astype(str) == "test").to_numpy()
    samples = splits.loc[test].set_index("sample")[["cell_type"]]
    profiles = QueryProfiles(matrix[test].astype(np.float64), np.ones(len(genes), dtype=bool), samples,
                             np.zeros(int(test.sum()), dtype=bool))
    table, _, _ = identify(profiles, reference, min_probability)
    return {"n": int(test.sum()),
            "false_unassigned_fraction": float((table["assigned_cell_type"] == "unassigned").mean()),
            "accuracy": float((table["predicted_cell_type"].to_numpy() == samples["cell_type"].to_numpy()).mean())}


def measure_novelty(models: Sequence, cell_types, expression, splits, reference: Sequence, min_probability: float,
                    validation_fraction: float, seed: int, table, summary, png, svg) -> None:
    """``results/tables/novelty.tsv`` (``table``: one row per held-out type, NOVELTY_COLUMNS), ``novelty_summary.tsv``
    (``summary``: what the claims table reads) and the novelty figure, for the types listed in the file
    ``cell_types`` (one per line) with their networks found in ``models``
    (:func:`cic.stages.universality.universality_model_paths`); ``reference``: the bundle's files (one folder).
    ``validation_fraction``: the leave-one-type-out networks' training setting (their MSE threshold comes from the
    validation subset, :func:`cic.reference.mse_threshold`)."""
    from cic.figures.query import plot_novelty
    from cic.stages.autoencoder import load_expression_and_splits
    from cic.stages.universality import read_lines, universality_model_paths

    cell_types = read_lines(cell_types)
    model_paths = universality_model_paths(models, cell_types)
    if len(model_paths) != len(cell_types):
        raise ValueError(f"{len(model_paths)} models for {len(cell_types)} held-out cell types")
    matrix, split_table, genes = load_expression_and_splits(expression, splits)
    rows = [held_out_novelty(path, cell_type, matrix, split_table, genes, min_probability, validation_fraction, seed)
            for path, cell_type in zip(model_paths, cell_types)]
    novelty = pd.DataFrame(rows, columns=NOVELTY_COLUMNS)
    bundle = reference_false_unassigned(Path(reference[0]).parent, expression, splits, min_probability)
    weights = novelty["n_held_out"] / novelty["n_held_out"].sum()
    numbers = pd.DataFrame([
        summary_row("novelty_unassigned_fraction_mean", float(novelty["unassigned_fraction"].mean()),
                    note=f"mean over {len(novelty)} held-out types of the fraction of the type's samples unassigned "
                         "by the network that never saw it (this project's measure, not the paper's)"),
        summary_row("novelty_unassigned_fraction_min", float(novelty["unassigned_fraction"].min()),
                    note="the held-out type least often unassigned"),
        summary_row("novelty_unassigned_fraction_pooled", float((novelty["unassigned_fraction"] * weights).sum()),
                    note="over all held-out samples"),
        summary_row("novelty_false_unassigned_fraction_mean", float(novelty["false_unassigned_fraction"].mean()),
                    note="mean over LOTO networks: seen types' main-split test samples unassigned"),
        summary_row("reference_false_unassigned_fraction", bundle["false_unassigned_fraction"],
                    note=f"the reference bundle's rule on its {bundle['n']} test samples (types it knows)"),
        summary_row("reference_test_accuracy", bundle["accuracy"],
                    note="the reference bundle's predicted type on its test samples"),
        summary_row("novelty_min_probability", float(min_probability), note="query.min_probability"),
    ])
    with io.atomic_paths(table, summary) as (table_tmp, summary_tmp):
        io.write_table(novelty, table_tmp)
        io.write_table(numbers, summary_tmp)
    plot_novelty(novelty, png, svg)
