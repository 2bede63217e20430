"""Figs 8 and 9 and the regularisation check: rank the sweep runs by their final cross-validated test MSE.

Each training run (one architecture, code size or regularisation variant x one fold) is a Snakemake job that calls
:func:`cic.stages.autoencoder.train_autoencoder`; these functions read the runs' per-epoch histories and write
the curve tables (mean and standard error over folds per epoch), the rankings, the figures and the summary.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from cic import evaluation, io
from cic.errors import InputError
from cic.paper import PAPER, summary_row as _row
from cic.sweep_plan import canonical_spec, paper_notation, tokens

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "train_mse", "test_mse")


def read_runs(history_paths, keys, folds, key_name: str) -> pd.DataFrame:
    """Histories of the runs ``keys[i]`` x ``folds[i]`` (aligned lists): one row per run and epoch, with columns
    ``key_name`` and ``fold`` added."""
    if not (len(history_paths) == len(keys) == len(folds)):
        raise ValueError(f"{len(history_paths)} histories for {len(keys)} keys and {len(folds)} folds")
    frames = []
    for path, key, fold in zip(history_paths, keys, folds):
        history = pd.read_csv(path, sep="\t")
        missing = [column for column in HISTORY_COLUMNS if column not in history.columns]
        if missing or history.empty:
            problem = f"training history lacks column(s) {missing}" if missing else "training history has no epochs"
            raise InputError(path, problem, "delete it and re-run the sweep to retrain that run")
        frames.append(history.assign(**{key_name: key, "fold": int(fold)}))
    return pd.concat(frames, ignore_index=True)


def kept_epochs(histories: pd.DataFrame, key_name: str) -> pd.DataFrame:
    """One row per run: the epoch whose weights the run kept (its best validation epoch, column ``kept``), or its
    last epoch for histories without that column."""
    if "kept" in histories.columns:
        return histories[histories["kept"].astype(str).str.lower() == "true"]
    return histories.loc[histories.groupby([key_name, "fold"], sort=False)["epoch"].idxmax()]


def final_errors(histories: pd.DataFrame, key_name: str) -> pd.DataFrame:
    """Per key: mean and standard error over folds of the test MSE of the kept epoch (the weights each run ends
    with, chosen on its validation samples: the ranking criterion), the mean train MSE of that epoch, the lowest
    point of the mean test curve, the numbers of folds and of epochs trained."""
    last = kept_epochs(histories, key_name)
    test = evaluation.curve_summary(last, [key_name], "test_mse").set_index(key_name)
    train = last.groupby(key_name, sort=False)["train_mse"].mean()
    curve = evaluation.curve_summary(histories, [key_name, "epoch"], "test_mse")
    return pd.DataFrame({
        key_name: test.index,
        "final_test_mse_mean": test["mean"].to_numpy(),
        "final_test_mse_se": test["se"].to_numpy(),
        "final_train_mse_mean": train.reindex(test.index).to_numpy(),
        "min_test_mse_mean": curve.groupby(key_name, sort=False)["mean"].min().reindex(test.index).to_numpy(),
        "folds": test["n"].astype(int).to_numpy(),
        "epochs": histories.groupby(key_name, sort=False)["epoch"].max().reindex(test.index).astype(int).to_numpy(),
    })


def ranked(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` sorted by final mean test MSE (ties keep config order) with ``rank`` 1 = lowest first."""
    table = table.sort_values("final_test_mse_mean", kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _curve_table(histories: pd.DataFrame, key_name: str) -> pd.DataFrame:
    summary = evaluation.curve_summary(histories, [key_name, "epoch"], "test_mse")
    return summary.rename(columns={"mean": "test_mse_mean", "se": "test_mse_se", "n": "folds"})


def rank_architectures(history_paths, architectures, folds, curve_path, ranking_path) -> None:
    """Fig 8 tables: the mean test MSE curve of every architecture and their ranking by final test MSE."""
    histories = read_runs(history_paths, [canonical_spec(spec) for spec in architectures], folds, "architecture")
    io.write_table(_curve_table(histories, "architecture"), curve_path)
    ranking = ranked(final_errors(histories, "architecture"))
    io.write_table(ranking, ranking_path)
    log.info("architectures by final test MSE: %s", "; ".join(
        f"{row.architecture} {row.final_test_mse_mean:.4f}" for row in ranking.itertuples()))


def rank_code_sizes(history_paths, code_sizes, architectures, folds, curve_path, ranking_path) -> None:
    """Fig 9 tables: the test MSE curve of every code size and their ranking by final test MSE."""
    histories = read_runs(history_paths, [int(size) for size in code_sizes], folds, "code_size")
    io.write_table(_curve_table(histories, "code_size"), curve_path)
    final = final_errors(histories, "code_size")
    spec_of = {int(size): canonical_spec(spec) for size, spec in zip(code_sizes, architectures)}
    final.insert(1, "architecture", final["code_size"].map(spec_of))
    ranking = ranked(final)
    io.write_table(ranking, ranking_path)
    log.info("code sizes by final test MSE: %s", "; ".join(
        f"{row.code_size} {row.final_test_mse_mean:.4f}" for row in ranking.itertuples()))


def variant_kind(name: str, reference: str, spec: str, reference_spec: str) -> str:
    """``reference``; ``regularisation`` for the paper's kind of check (the reference network, trained with L1 or
    L2 penalties or with dropout layers added); ``architecture`` for the future-work variants that change the
    network itself (batch normalisation, other activations, another spec)."""
    if name == reference:
        return "reference"
    without_dropout = [token for token in tokens(spec) if not token.startswith("D")]
    return "regularisation" if without_dropout == tokens(reference_spec) else "architecture"


def compare_regularisation(history_paths, variants, folds, architectures: dict, training_overrides: dict,
                           reference: str, curve_path, table_path) -> None:
    """Regularisation table: each variant's final test MSE and its paired change against ``reference``.

    Runs of a fold share the seed, so a variant's change is measured per fold (variant minus reference, each at its
    kept epoch) and summarised by mean, standard error and a paired t-test over folds (p NaN with one fold).
    """
    histories = read_runs(history_paths, list(variants), folds, "variant")
    if reference not in set(variants):
        raise ValueError(f"config: sweeps.regularisation.reference {reference!r} is not one of the variants "
                         f"{sorted(set(variants))}")
    io.write_table(_curve_table(histories, "variant"), curve_path)
    table = final_errors(histories, "variant")
    table.insert(1, "architecture", table["variant"].map(lambda name: canonical_spec(architectures[name])))
    table.insert(2, "training_overrides", table["variant"].map(
        lambda name: json.dumps(training_overrides.get(name) or {}, sort_keys=True)))
    table.insert(3, "kind", table["variant"].map(
        lambda name: variant_kind(name, reference, architectures[name], architectures[reference])))
    table["generalisation_gap"] = table["final_test_mse_mean"] - table["final_train_mse_mean"]
    per_fold = kept_epochs(histories, "variant").pivot(index="fold", columns="variant", values="test_mse")
    changes = []
    for name in table["variant"]:
        both = per_fold[[name, reference]].dropna().to_numpy()  # columns: variant, reference (same if name is it)
        difference = both[:, 0] - both[:, 1]
        se = float(np.std(difference, ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else np.nan
        if len(difference) < 2 or np.allclose(difference, 0):
            p_value = np.nan
        elif np.allclose(difference, difference[0]):  # the same change in every fold: t is infinite
            p_value = 0.0
        else:
            from scipy import stats  # here: the other sweep steps do not need scipy

            p_value = float(stats.ttest_rel(both[:, 0], both[:, 1]).pvalue)
        changes.append({"change_vs_reference": float(difference.mean()), "change_se": se,
                        "relative_change": float(difference.mean() / both[:, 1].mean()),
                        "paired_t_p": p_value, "paired_folds": len(difference)})
    table = pd.concat([table, pd.DataFrame(changes)], axis=1)
    io.write_table(table, table_path)
    log.info("regularisation, change of final test MSE vs %s: %s", reference, "; ".join(
        f"{row.variant} {100 * row.relative_change:+.1f} %" for row in table.itertuples()))


def plot_sweeps(fig8_curves, fig8_ranking, fig9_curves, regularisation_curves, regularisation_table, reference: str,
                figures: dict) -> None:
    """Figs 8, 9 and the regularisation figure from the stored curve and ranking tables (no training)."""
    from cic.figures import sweeps as sweep_figures

    fig8 = pd.read_csv(fig8_curves, sep="\t")
    order = list(pd.read_csv(fig8_ranking, sep="\t").sort_values("rank")["architecture"])
    sweep_figures.plot_sweep_curves(
        fig8, "architecture", order, figures["fig8_png"], figures["fig8_svg"], label=paper_notation,
        title="Fig 8: architectures (mean test MSE ± SE over folds)", legend_title="encoder (best first)")
    fig9 = pd.read_csv(fig9_curves, sep="\t")
    sweep_figures.plot_sweep_curves(
        fig9, "code_size", sorted(fig9["code_size"].unique()), figures["fig9_png"], figures["fig9_svg"],
        label=lambda size: f"CIC size {size}", title="Fig 9: code sizes (mean test MSE ± SE over folds)",
        legend_title="code size")
    sweep_figures.plot_regularisation(pd.read_csv(regularisation_curves, sep="\t"),
                                      pd.read_csv(regularisation_table, sep="\t"), reference,
                                      figures["regularisation_png"], figures["regularisation_svg"])


def smallest_within_one_se(ranking: pd.DataFrame) -> int:
    """The smallest code size whose final mean test MSE is within one standard error of the best one (the
    one-standard-error rule: the paper traded accuracy for size and chose 30 over the slightly better larger codes).
    With one fold (no SE) it is the best code size."""
    best = ranking.sort_values("rank").iloc[0]
    tolerance = 0.0 if pd.isna(best["final_test_mse_se"]) else float(best["final_test_mse_se"])
    within = ranking[ranking["final_test_mse_mean"] <= best["final_test_mse_mean"] + tolerance]
    return int(within["code_size"].min())


def summarize_sweeps(fig8_ranking, fig9_ranking, regularisation_table, reference: str, output) -> None:
    """results/tables/sweeps_summary.tsv: the sweeps' outcomes beside the paper's."""
    architectures = pd.read_csv(fig8_ranking, sep="\t").sort_values("rank")
    code_sizes = pd.read_csv(fig9_ranking, sep="\t").sort_values("rank")
    variants = pd.read_csv(regularisation_table, sep="\t")
    folds = int(architectures["folds"].min())
    rows = [_row("architectures_compared", len(architectures), note="paper: 10")]
    for position, key in enumerate(("best_architecture", "second_architecture", "third_architecture")):
        if position < len(architectures):
            row = architectures.iloc[position]
            rows.append(_row(key, row["architecture"], key, f"final test MSE {row['final_test_mse_mean']:.4g} ± "
                             f"{row['final_test_mse_se']:.2g} (SE, {int(row['folds'])} folds)"))
    paper_best = canonical_spec(PAPER["best_architecture"].value)
    match = architectures[architectures["architecture"] == paper_best]
    rows.append(_row("rank_of_paper_best_architecture", int(match["rank"].iloc[0]) if len(match) else "not swept",
                     note=f"{paper_best} among {len(architectures)} architectures, {folds}-fold CV"))
    rows.append(_row("best_code_size", int(code_sizes.iloc[0]["code_size"]),
                     note="lowest final mean test MSE"))
    rows.append(_row("chosen_code_size", smallest_within_one_se(code_sizes), "chosen_code_size",
                     "smallest code size within one SE of the best final test MSE"))
    for row in code_sizes.sort_values("code_size").itertuples():
        rows.append(_row(f"final_test_mse_code_size_{row.code_size}", float(row.final_test_mse_mean),
                         note=f"SE {row.final_test_mse_se:.2g}, {row.folds} folds, {row.architecture}"))
    others = variants[variants["variant"] != reference]
    for row in others.itertuples():
        rows.append(_row(f"regularisation_relative_change_{row.variant}", float(row.relative_change),
                         note=f"{row.kind}, {row.architecture} {row.training_overrides}: final test MSE "
                              f"{row.final_test_mse_mean:.4g} vs {reference}; paired t p = {row.paired_t_p:.2g}"))
    regularisers = others[others["kind"] == "regularisation"]  # what the paper tested: L1, L2, dropout
    if len(regularisers):
        largest = regularisers.loc[regularisers["relative_change"].abs().idxmax()]
        rows.append(_row("regularisation_largest_relative_change", float(largest["relative_change"]),
                         "regularisation_effect",
                         f"{largest['variant']}: the largest change of the final test MSE against {reference} among "
                         f"the L1, L2 and dropout variants ({', '.join(regularisers['variant'])}); the future-work "
                         "variants (batch norm, activations) are listed above"))
    io.write_table(pd.DataFrame(rows), output)
