"""Fig 2: how well CICs reproduce the profiles (ranks, nearest neighbours, Wilcoxon, baselines, CV curve)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from cic import defaults, evaluation, io
from cic.paper import paper_value, summary_row as _row
from cic.stages.autoencoder import MAIN_HOLDOUT, load_expression_and_splits, read_histories

log = logging.getLogger(__name__)


def _test_profiles(expression, splits_path, reproduced):
    """GEPs and REPs of the main split's test samples, with their sample table."""
    matrix, splits, _ = load_expression_and_splits(expression, splits_path)
    test = MAIN_HOLDOUT.test_mask(splits)
    reproduced_matrix = np.asarray(io.read_h5ad(reproduced).X, dtype=np.float32)
    if reproduced_matrix.shape != matrix.shape:
        raise ValueError(f"{reproduced} has shape {reproduced_matrix.shape}, {expression} {matrix.shape}")
    samples = splits[test].set_index("sample")
    return matrix[test], reproduced_matrix[test], samples, matrix[~test]


def evaluate_reconstruction(expression, splits_path, reproduced, max_rank: int, example_cell_types,
                            per_sample_path, rank_counts_path, examples_path, wilcoxon_path) -> None:
    """Per test sample: rank of its REP (2b/2c), reverse rank, REP-GEP vs nearest GEP-GEP similarity (2e/2f); the
    Fig 2d example pairs of ``example_cell_types`` (labels, or ``auto``: :func:`cic.defaults.example_cell_types`)."""
    gep, rep, samples, _ = _test_profiles(expression, splits_path, reproduced)
    per_sample = samples[["cell_type", "study"]].reset_index()
    counts, tests = [], []
    for metric in evaluation.METRICS:
        ranks = evaluation.rank_of_own_reproduction(gep, rep, metric)
        nearest, neighbour = evaluation.nearest_neighbour_similarity(gep, metric)
        paired = evaluation.paired_similarity(gep, rep, metric)
        per_sample[f"rank_{metric}"] = ranks
        per_sample[f"reverse_rank_{metric}"] = evaluation.rank_of_own_profile(gep, rep, metric)
        per_sample[f"rep_gep_{metric}"] = paired
        per_sample[f"nearest_gep_{metric}"] = nearest
        per_sample[f"nearest_sample_{metric}"] = samples.index[neighbour]
        counts.append(evaluation.rank_counts(ranks, max_rank).assign(metric=metric))
        statistic, p_value = evaluation.wilcoxon_rep_closer(paired, nearest, metric)
        tests.append({"metric": metric, "n": len(paired), "median_rep_gep": float(np.median(paired)),
                      "median_nearest_gep_gep": float(np.median(nearest)), "wilcoxon_statistic": statistic,
                      "p_value_one_sided": p_value,
                      "alternative": "REP-GEP closer than nearest GEP-GEP"})
        log.info("%s: %.1f %% of REPs rank first; Wilcoxon p = %.3g", metric, 100 * np.mean(ranks == 1), p_value)
    example_cell_types = defaults.example_cell_types(example_cell_types, samples["cell_type"].astype(str))
    log.info("Fig 2d examples: %s", ", ".join(example_cell_types))
    examples = evaluation.select_examples(samples, gep, rep, tuple(example_cell_types))
    io.write_table(per_sample, per_sample_path)
    io.write_table(pd.concat(counts, ignore_index=True)[["metric", "rank", "count", "fraction"]], rank_counts_path)
    io.write_table(examples, examples_path)
    io.write_table(pd.DataFrame(tests), wilcoxon_path)


def compare_methods(expression, splits_path, reproduced, n_components: int, methods, options: dict, seed: int,
                    output) -> None:
    """Fig 2g: per-sample test MSE of the CIC reproduction and of each baseline at the same dimension."""
    gep, rep, samples, train = _test_profiles(expression, splits_path, reproduced)
    reconstructions = evaluation.reconstruct_with_baselines(
        train, gep, n_components=n_components, seed=seed, methods=tuple(methods),
        options=evaluation.BaselineOptions(**options))
    errors = evaluation.per_sample_mse(gep, {"cic": rep, **reconstructions})
    table = pd.DataFrame({"sample": samples.index, **errors})
    io.write_table(table, output)
    log.info("median test MSE: %s", ", ".join(f"{m} {np.median(v):.4f}" for m, v in errors.items()))


def summarize_cv(history_paths, folds, table_path, fig2a_png, fig2a_svg) -> None:
    """Fig 2a: mean and standard error of the test MSE per epoch over the CV folds."""
    from cic.figures import fig2  # matplotlib: only the figure steps load it

    histories = read_histories(history_paths, "fold", folds)
    summary = evaluation.curve_summary(histories, ["epoch"], "test_mse")
    io.write_table(summary, table_path)
    fig2.plot_cv_curve(histories, fig2a_png, fig2a_svg, paper=paper_value("cv_test_mse_plateau"))


def plot_figures(expression, splits_path, reproduced, per_sample_path, rank_counts_path, examples_path,
                 method_mse_path, figures: dict) -> None:
    """Fig 2b-2g from the stored tables (and, for the 2d scatters, the stored profiles): no training."""
    from cic.figures import fig2

    per_sample = pd.read_csv(per_sample_path, sep="\t")
    rank_counts = pd.read_csv(rank_counts_path, sep="\t")
    for metric, name, paper_key in (("spearman", "fig2b", "rank1_fraction_spearman"),
                                    ("mse", "fig2c", "rank1_fraction_mse")):
        fig2.plot_rank_counts(rank_counts[rank_counts["metric"] == metric], metric, paper_value(paper_key),
                              figures[f"{name}_png"], figures[f"{name}_svg"])
    gep, rep, _, _ = _test_profiles(expression, splits_path, reproduced)
    fig2.plot_examples(pd.read_csv(examples_path, sep="\t"), gep, rep, figures["fig2d_png"], figures["fig2d_svg"])
    for metric, name in (("spearman", "fig2e"), ("mse", "fig2f")):
        fig2.plot_similarity_boxplots(per_sample[f"nearest_gep_{metric}"], per_sample[f"rep_gep_{metric}"], metric,
                                      figures[f"{name}_png"], figures[f"{name}_svg"])
    method_mse = pd.read_csv(method_mse_path, sep="\t").set_index("sample")
    fig2.plot_method_comparison({m: method_mse[m].to_numpy() for m in method_mse.columns},
                                figures["fig2g_png"], figures["fig2g_svg"])


def summarize(cv_summary_path, per_sample_path, wilcoxon_path, method_mse_path, output) -> None:
    """results/tables/fig2_summary.tsv: every Fig 2 number, with the paper's value beside it."""
    cv = pd.read_csv(cv_summary_path, sep="\t")
    per_sample = pd.read_csv(per_sample_path, sep="\t")
    wilcoxon = pd.read_csv(wilcoxon_path, sep="\t").set_index("metric")
    method_mse = pd.read_csv(method_mse_path, sep="\t").set_index("sample")
    n_test = len(per_sample)
    last_epochs = cv.tail(max(1, len(cv) // 4))
    rows = [
        _row("cv_test_mse_epoch1", float(cv["mean"].iloc[0]), "cv_test_mse_epoch1"),
        _row("cv_test_mse_final", float(cv["mean"].iloc[-1]), "cv_test_mse_plateau",
             f"mean over folds at the last epoch ({int(cv['epoch'].iloc[-1])})"),
        _row("cv_test_mse_last_quarter_mean", float(last_epochs["mean"].mean()), "cv_test_mse_plateau",
             "mean over the last quarter of epochs"),
        _row("cv_max_standard_error", float(cv["se"].max()), "cv_max_standard_error"),
        _row("test_samples", n_test, note="paper: 260"),
    ]
    for metric in evaluation.METRICS:
        ranks = per_sample[f"rank_{metric}"]
        for rank in (1, 2, 3):
            rows.append(_row(f"rank{rank}_fraction_{metric}", float(np.mean(ranks == rank)),
                             f"rank{rank}_fraction_{metric}", f"{int((ranks == rank).sum())} of {n_test}"))
        reverse = per_sample[f"reverse_rank_{metric}"]
        rows.append(_row(f"reverse_rank1_fraction_{metric}", float(np.mean(reverse == 1)), "reverse_rank1_fraction",
                         f"{int((reverse == 1).sum())} of {n_test}"))
        test = wilcoxon.loc[metric]
        rows.append(_row(f"median_rep_gep_{metric}", float(test["median_rep_gep"])))
        rows.append(_row(f"median_nearest_gep_gep_{metric}", float(test["median_nearest_gep_gep"])))
        rows.append(_row(f"wilcoxon_p_{metric}", float(test["p_value_one_sided"]), f"wilcoxon_p_{metric}",
                         "paper reports p < 1e-15; one-sided signed-rank test"))
    medians = method_mse.median()
    for method, value in medians.items():
        rows.append(_row(f"median_test_mse_{method}", float(value)))
    rows.append(_row("best_reconstruction_method", str(medians.idxmin()).upper(), "best_reconstruction_method",
                     "lowest median per-sample test MSE"))
    io.write_table(pd.DataFrame(rows), output)
