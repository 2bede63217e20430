"""Figure 2 of the paper: how close the reproduced profiles (REPs) are to the original profiles (GEPs).

Each function draws one panel from already computed results (see :mod:`cic.evaluation`) and saves it as PNG and
SVG with :func:`cic.figures.save_figure`. Values the paper reports are drawn next to this run's values.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cic.evaluation import curve_summary, wilcoxon_rep_closer
from cic.figures import BLUE, VERMILLION, line_styles, save_figure, wrap_label, wrap_to_width
import matplotlib.pyplot as plt  # after cic.figures, which selects the headless backend

# Values reported in the paper ("Accuracy of Cell Identity Codes").
PAPER_RANK1_FRACTION = {"spearman": 0.884, "mse": 0.87}  # as reported: 230 and 226 of 260 test samples
PAPER_CV_PLATEAU_MSE = 0.11  # mean test MSE from epoch 66 on (Fig 2a)
PAPER_WILCOXON_P_BELOW = 1e-15  # Fig 2e/2f

METRIC_LABELS = {"spearman": "Spearman correlation", "mse": "MSE"}
GEP_GEP_COLOR = VERMILLION  # Fig 2d colours: red = two GEPs, blue = GEP vs its REP (Okabe-Ito: colour-blind safe)
REP_GEP_COLOR = BLUE
METHOD_LABELS = {"cic": "CIC", "pca": "PCA", "nmf": "NMF", "kpca_poly": "Poly kernel PCA",
                 "kpca_cosine": "Cos kernel PCA", "kpca_rbf": "RBF kernel PCA"}

PathLike = str | os.PathLike


def _metric_label(metric: str) -> str:
    if metric not in METRIC_LABELS:
        raise ValueError(f"unknown metric {metric!r}; use one of {tuple(METRIC_LABELS)}")
    return METRIC_LABELS[metric]


def _values(values, name: str) -> np.ndarray:
    """A non-empty, finite 1-D float array (plots of empty or NaN data are a caller bug, not a blank figure)."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _positive(values: np.ndarray, name: str) -> np.ndarray:
    if (values <= 0).any():
        raise ValueError(f"{name} has values <= 0, which a log scale cannot show")
    return values


def _format_p(p_value: float) -> str:
    # The normal approximation's p-value underflows to 0.0 for very clear differences.
    return f"p < {np.finfo(float).tiny:.1e}" if p_value == 0 else f"p = {p_value:.2g}"


def _study_note(same_study) -> str:
    """' (same study)' / ' (different studies)', or nothing when the data have no studies (NaN or None)."""
    if same_study is None or (isinstance(same_study, float) and np.isnan(same_study)):
        return ""
    return " (same study)" if same_study else " (different studies)"


def _annotate(ax, text: str, x: float = 0.98, y: float = 0.95, ha: str = "right") -> None:
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va="top", fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"})


# --------------------------------------------------------------------------------------------------------------
# Fig 2a (and later multi-line curves)


def plot_mse_curves(frame: pd.DataFrame, group_column: str, png_path: PathLike, svg_path: PathLike | None = None,
                    *, x_column: str = "epoch", value_column: str = "test_mse", log_y: bool = False,
                    reference_value: float | None = None, reference_label: str = "paper",
                    title: str = "Test MSE during training", ylabel: str = "mean test MSE",
                    legend_title: str | None = None) -> None:
    """One line per value of ``group_column``: mean of ``value_column`` per ``x_column`` with standard-error bars.

    Rows sharing a group and an x value (e.g. cross-validation folds) are averaged. ``log_y`` draws the y axis on
    a log10 scale; ``reference_value`` adds a dashed horizontal line (e.g. the paper's plateau).
    """
    summary = curve_summary(frame, [group_column, x_column], value_column)
    if log_y:
        _positive(summary["mean"].to_numpy(), value_column)
    fig, ax = plt.subplots(figsize=(6, 4))
    groups = summary[group_column].unique()
    for group, style in zip(groups, line_styles(len(groups))):
        line = summary[summary[group_column] == group].sort_values(x_column)
        ax.errorbar(line[x_column], line["mean"], yerr=line["se"].fillna(0.0), marker="o", markersize=3,
                    capsize=2, linewidth=1, label=wrap_label(str(group), 40), **style)
    if reference_value is not None:
        ax.axhline(reference_value, color="0.4", linestyle="--", linewidth=1,
                   label=f"{reference_label}: {reference_value:g}")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x_column)
    ax.set_ylabel(ylabel + (" (log scale)" if log_y else ""))
    ax.set_title(wrap_to_width(title, 5.8, plt.rcParams["axes.titlesize"]))
    ax.legend(title=legend_title)
    save_figure(fig, png_path, svg_path)


def plot_cv_curve(history_per_fold: pd.DataFrame, png_path: PathLike, svg_path: PathLike | None = None,
                  paper: float | None = PAPER_CV_PLATEAU_MSE) -> None:
    """Fig 2a: mean test MSE per epoch over the cross-validation folds, with standard errors across folds.

    ``history_per_fold`` has columns ``fold``, ``epoch`` and ``test_mse``; ``paper`` is the plateau to mark.
    """
    missing = {"fold", "epoch", "test_mse"} - set(history_per_fold.columns)
    if missing:
        raise ValueError(f"history_per_fold lacks column(s) {sorted(missing)}")
    folds = history_per_fold["fold"].nunique()
    plot_mse_curves(history_per_fold.assign(run=f"{folds}-fold cross-validation"), "run", png_path, svg_path,
                    reference_value=paper, reference_label="paper plateau",
                    title="Fig 2a: test MSE during training (mean ± SE over folds)")


# --------------------------------------------------------------------------------------------------------------
# Fig 2b, 2c


def plot_rank_counts(ranks_table: pd.DataFrame, metric: str, paper_fraction_rank1: float | None,
                     png_path: PathLike, svg_path: PathLike | None = None) -> None:
    """Fig 2b (Spearman) / 2c (MSE): number of test samples at each rank of their own REP.

    ``ranks_table`` is :func:`cic.evaluation.rank_counts` output (first row = rank 1).
    """
    label = _metric_label(metric)
    if ranks_table.empty or not {"rank", "count"} <= set(ranks_table.columns):
        raise ValueError("ranks_table must be a non-empty table with columns 'rank' and 'count'")
    counts = ranks_table["count"].to_numpy()
    total = int(counts.sum())
    if total == 0:
        raise ValueError("ranks_table counts no samples")
    rank1 = int(counts[0])

    fig, ax = plt.subplots(figsize=(5, 3.8))
    bars = ax.bar(ranks_table["rank"].astype(str), counts, color=REP_GEP_COLOR)
    ax.bar_label(bars, fontsize=8)
    ax.set_xlabel("rank of own REP among test GEPs")
    ax.set_ylabel("test samples")
    panel = "2b" if metric == "spearman" else "2c"
    ax.set_title(f"Fig {panel}: rank of each REP by {label}")
    text = f"rank 1: {rank1}/{total} = {100 * rank1 / total:.1f} %"
    if paper_fraction_rank1 is not None:
        text += f"\npaper: {100 * paper_fraction_rank1:.1f} %"
    _annotate(ax, text)
    save_figure(fig, png_path, svg_path)


# --------------------------------------------------------------------------------------------------------------
# Fig 2d


def plot_examples(examples: pd.DataFrame, gep, rep, png_path: PathLike, svg_path: PathLike | None = None) -> None:
    """Fig 2d: per example (column), GEP sample 1 vs GEP sample 2 (top, red) and vs its own REP (bottom, blue).

    ``examples`` is :func:`cic.evaluation.select_examples` output for the same ``gep``/``rep`` rows.
    """
    if examples.empty:
        raise ValueError("no examples to plot")
    gep, rep = np.asarray(gep, dtype=float), np.asarray(rep, dtype=float)
    if gep.ndim != 2 or gep.shape != rep.shape:
        raise ValueError(f"gep and rep must be matrices of one shape, got {gep.shape} and {rep.shape}")

    columns = len(examples)
    width = 3.3 * columns + 0.6
    # Sample ids and cell types can be any length: the titles say which example, the caption below which samples.
    caption = "\n".join(
        wrap_to_width(f"Example {number} ({example.cell_type}): sample 1 = {example.sample1_id}, sample 2 = "
                      f"{example.sample2_id}{_study_note(example.same_study)}",
                      width - 0.4, 8)
        for number, example in enumerate(examples.itertuples(index=False), start=1))
    fig, axes = plt.subplots(2, columns, figsize=(width, 6.6 + 0.16 * (caption.count("\n") + 1)), squeeze=False,
                             layout="constrained")
    for column, example in enumerate(examples.itertuples(index=False)):
        sample1 = gep[example.sample1]
        panels = [
            (axes[0, column], gep[example.sample2], "sample 2 GEP", GEP_GEP_COLOR,
             example.gep_gep_spearman, example.gep_gep_mse),
            (axes[1, column], rep[example.sample1], "sample 1 REP", REP_GEP_COLOR,
             example.rep_gep_spearman, example.rep_gep_mse),
        ]
        # One axis range for all panels of a column, so the spread of red and blue clouds compares directly.
        low = min(sample1.min(), gep[example.sample2].min(), rep[example.sample1].min())
        high = max(sample1.max(), gep[example.sample2].max(), rep[example.sample1].max())
        for ax, other, other_label, color, spearman, mse in panels:
            # Rasterised points keep the SVG small (one point per gene); text and axes stay vector.
            ax.scatter(sample1, other, s=2, alpha=0.55, color=color, linewidths=0, rasterized=True)
            ax.plot([low, high], [low, high], color="0.5", linewidth=0.6, linestyle="--")
            ax.set_xlim(low, high)
            ax.set_ylim(low, high)
            ax.set_aspect("equal")
            ax.set_xlabel("sample 1 GEP (log2 expression)", fontsize=9)
            if column == 0:
                ax.set_ylabel(f"{other_label} (log2 expression)", fontsize=9)
            _annotate(ax, f"COR = {spearman:.3f}\nMSE = {mse:.3f}", x=0.03, ha="left")
        axes[0, column].set_title(wrap_to_width(f"Example {column + 1}: {example.cell_type}", 3.1, 9), fontsize=9)
    fig.suptitle("Fig 2d: two similar GEPs (red, top) vs a GEP and its REP (blue, bottom)")
    fig.supxlabel(caption, fontsize=8, x=0.01, ha="left", multialignment="left")
    save_figure(fig, png_path, svg_path)


# --------------------------------------------------------------------------------------------------------------
# Fig 2e, 2f


def plot_similarity_boxplots(gep_gep, rep_gep, metric: str, png_path: PathLike,
                             svg_path: PathLike | None = None) -> None:
    """Fig 2e (Spearman) / 2f (log10 MSE): nearest GEP-GEP vs REP-GEP per test sample, with the Wilcoxon p.

    ``gep_gep`` is each test GEP's similarity to its nearest other test GEP
    (:func:`cic.evaluation.nearest_neighbour_similarity`), ``rep_gep`` its similarity to its own REP. The p-value
    is the one-sided paired test that REP-GEP pairs are closer (:func:`cic.evaluation.wilcoxon_rep_closer`).
    """
    label = _metric_label(metric)
    gep_gep, rep_gep = _values(gep_gep, "gep_gep"), _values(rep_gep, "rep_gep")
    if gep_gep.shape != rep_gep.shape:
        raise ValueError(f"gep_gep and rep_gep must be paired, got {gep_gep.size} and {rep_gep.size} values")
    _, p_value = wilcoxon_rep_closer(rep_gep, gep_gep, metric)
    if metric == "mse":
        # The paper shows MSE in log10 units; box quantiles are computed on those units.
        shown = [np.log10(_positive(gep_gep, "gep_gep")), np.log10(_positive(rep_gep, "rep_gep"))]
        ylabel, panel = "log10 MSE", "2f"
    else:
        shown, ylabel, panel = [gep_gep, rep_gep], label, "2e"

    fig, ax = plt.subplots(figsize=(4, 4.2))
    boxes = ax.boxplot(shown, patch_artist=True, widths=0.6, medianprops={"color": "black"})
    ax.set_xticks([1, 2], [f"GEP-GEP\n(nearest, n={gep_gep.size})", f"REP-GEP\n(n={rep_gep.size})"])
    for patch, color in zip(boxes["boxes"], [GEP_GEP_COLOR, REP_GEP_COLOR]):
        patch.set_facecolor(color)
        patch.set_alpha(0.6)
    ax.set_ylabel(ylabel)
    direction = "higher" if metric == "spearman" else "lower"
    ax.set_title(f"Fig {panel}: {label}, REP-GEP {direction}?\none-sided Wilcoxon {_format_p(p_value)} "
                 f"(paper: p < {PAPER_WILCOXON_P_BELOW:g})", fontsize=9)
    save_figure(fig, png_path, svg_path)


# --------------------------------------------------------------------------------------------------------------
# Fig 2g


def plot_method_comparison(per_sample_mse: dict[str, np.ndarray], png_path: PathLike,
                           svg_path: PathLike | None = None, log_scale: bool = True) -> None:
    """Fig 2g: per-sample test MSE of each method (boxes in the dict's order), median written above each box.

    Keys such as ``cic``, ``pca``, ``nmf``, ``kpca_rbf`` get readable labels; ``cic`` is highlighted.
    ``log_scale`` draws the y axis on a log10 scale (methods differ by orders of magnitude).
    """
    if not per_sample_mse:
        raise ValueError("no methods to compare")
    methods = list(per_sample_mse)
    values = [_values(per_sample_mse[method], f"MSE of {method}") for method in methods]
    if log_scale:
        for method, method_values in zip(methods, values):
            _positive(method_values, f"MSE of {method}")

    fig, ax = plt.subplots(figsize=(1.1 * len(methods) + 2.5, 4.2))
    boxes = ax.boxplot(values, patch_artist=True, widths=0.6, medianprops={"color": "black"})
    ax.set_xticks(range(1, len(methods) + 1),
                  [wrap_label(METHOD_LABELS.get(method, method), 16) for method in methods], rotation=30, ha="right")
    for patch, method in zip(boxes["boxes"], methods):
        patch.set_facecolor(REP_GEP_COLOR if method == "cic" else "0.75")
    if log_scale:
        ax.set_yscale("log")
    for position, method_values in enumerate(values, start=1):
        ax.annotate(f"{np.median(method_values):.3g}", (position, method_values.max()), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("per-sample test MSE" + (" (log scale)" if log_scale else ""))
    ax.set_title("Fig 2g: reproduction error by method\n(numbers: median MSE)")
    save_figure(fig, png_path, svg_path)
