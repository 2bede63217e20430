"""Figure 3 of the paper: REPs of cell types the network never saw (leave-one-cell-type-out).

Two panels over the held-out types: the median Spearman correlation and the median MSE of each type's REPs with
their own GEPs (blue), beside the median similarity of each GEP to its most similar training GEP (red). Above each
type: how many of its samples have a REP closer to the own GEP than every training GEP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cic.figures import display_labels, save_figure, scaled_font
from cic.figures.fig2 import GEP_GEP_COLOR, METRIC_LABELS, REP_GEP_COLOR, PathLike
import matplotlib.pyplot as plt  # after cic.figures, which selects the headless backend

REQUIRED_COLUMNS = ["cell_type", "n_held_out"] + [
    f"{quantity}_{metric}" for metric in METRIC_LABELS
    for quantity in ("median_rep_gep", "median_nearest_training", "rep_closer_than_training")]


def plot_universality_medians(table: pd.DataFrame, png_path: PathLike, svg_path: PathLike | None = None) -> None:
    """Grouped bars per held-out type (``results/tables/fig3_loto.tsv``): Spearman panel on top, MSE below."""
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"the leave-one-type-out table lacks column(s) {missing}")
    if table.empty:
        raise ValueError("the leave-one-type-out table has no row")
    positions = np.arange(len(table))
    width = 0.38
    n_types = len(table)
    font = scaled_font(n_types, largest=9.0, per_step=0.1)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.55 * n_types + 2), 7.5), sharex=True)
    for ax, metric in zip(axes, METRIC_LABELS):
        rep_gep = table[f"median_rep_gep_{metric}"].to_numpy(dtype=float)
        nearest = table[f"median_nearest_training_{metric}"].to_numpy(dtype=float)
        ax.bar(positions - width / 2, rep_gep, width, color=REP_GEP_COLOR, label="REP vs own GEP (held out)")
        ax.bar(positions + width / 2, nearest, width, color=GEP_GEP_COLOR, label="GEP vs most similar training GEP")
        ax.set_ylabel(f"median {METRIC_LABELS[metric]}")
        values = np.concatenate([rep_gep, nearest])
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        if metric == "spearman":  # correlations sit close together near 1: zoom in on their range
            span = max(high - low, 0.02)
            ax.set_ylim(low - 0.3 * span, high + 0.35 * span)
        else:
            ax.set_ylim(0, high * 1.2)
        closer = table[f"rep_closer_than_training_{metric}"].to_numpy()
        label_y = ax.get_ylim()[1]
        for x, count, n in zip(positions, closer, table["n_held_out"].to_numpy()):
            ax.text(x, label_y, f"{count}/{n}", ha="center", va="top", fontsize=7, color="#333333")
        ax.set_title(f"{METRIC_LABELS[metric]} (numbers: REPs closer to their GEP than every training GEP)",
                     fontsize=9)
    axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.1), ncol=2, frameon=False, fontsize=8)
    # Whole names (any length, any script), wrapped; the font shrinks a little as the types get many.
    axes[-1].set_xticks(positions, display_labels(table["cell_type"].astype(str), width=26), rotation=45, ha="right",
                        rotation_mode="anchor", fontsize=font)
    axes[-1].set_xlabel("held-out cell type (network trained on all other types)")
    save_figure(fig, png_path, svg_path)
