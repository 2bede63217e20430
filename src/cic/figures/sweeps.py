"""Figs 8 and 9 and the regularisation figure, drawn from the sweeps' stored curve tables.

The curve tables (``results/tables/fig8_cv_mse.tsv`` ...) already hold the mean and standard error over folds per
epoch, so these plots read them as they are (unlike :func:`cic.figures.fig2.plot_mse_curves`, which averages raw
fold histories). The legend sits outside the axes; lines take Okabe-Ito colours, and line styles beyond eight.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import pandas as pd

from cic.figures import line_styles, save_figure, wrap_label
import matplotlib.pyplot as plt  # after cic.figures, which selects the headless backend
from matplotlib.ticker import MaxNLocator

PathLike = str | os.PathLike
CURVE_COLUMNS = ("epoch", "test_mse_mean", "test_mse_se")


def _draw_curves(ax, curves: pd.DataFrame, group_column: str, order, label: Callable) -> None:
    missing = [column for column in (group_column, *CURVE_COLUMNS) if column not in curves.columns]
    if missing:
        raise ValueError(f"curve table lacks column(s) {missing}; have {list(curves.columns)}")
    if curves.empty:
        raise ValueError("curve table has no rows")
    if (curves["test_mse_mean"] <= 0).any():
        raise ValueError("mean test MSE values <= 0 cannot be drawn on a log scale")
    for group, style in zip(order, line_styles(len(order))):
        line = curves[curves[group_column] == group].sort_values("epoch")
        if line.empty:
            raise ValueError(f"curve table has no rows for {group_column} {group!r}")
        ax.errorbar(line["epoch"], line["test_mse_mean"], yerr=line["test_mse_se"].fillna(0.0), marker="o",
                    markersize=2.5, capsize=1.5, linewidth=1, elinewidth=0.8, label=wrap_label(label(group), 36),
                    **style)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean test MSE (log10 scale)")


def plot_sweep_curves(curves: pd.DataFrame, group_column: str, order, png_path: PathLike,
                      svg_path: PathLike | None = None, *, label: Callable = str, title: str = "",
                      legend_title: str | None = None) -> None:
    """One line per value of ``group_column`` in ``order``: mean test MSE per epoch (log10 y) with SE bars."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _draw_curves(ax, curves, group_column, list(order), label)
    ax.set_title(title)
    ax.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    save_figure(fig, png_path, svg_path)


def plot_regularisation(curves: pd.DataFrame, table: pd.DataFrame, reference: str, png_path: PathLike,
                        svg_path: PathLike | None = None) -> None:
    """Left: test MSE curves of every variant. Right: final mean test MSE ± SE per variant, with the reference
    variant's value dashed (the paper saw "no meaningful change" with L1, L2 or dropout)."""
    order = list(table["variant"])
    if reference not in order:
        raise ValueError(f"reference variant {reference!r} is not in the table ({order})")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    _draw_curves(left, curves, "variant", order, str)
    left.set_title("test MSE during training (mean ± SE)")
    left.legend(fontsize=7)
    colors = [style["color"] for style in line_styles(len(order))]
    positions = np.arange(len(order))
    right.barh(positions, table["final_test_mse_mean"], xerr=table["final_test_mse_se"].fillna(0.0), color=colors,
               capsize=3)
    right.set_yticks(positions, [f"{row.variant}\n{row.architecture}" for row in table.itertuples()], fontsize=7)
    right.invert_yaxis()
    right.axvline(float(table.loc[table["variant"] == reference, "final_test_mse_mean"].iloc[0]), color="0.4",
                  linestyle="--", linewidth=1, label=f"reference: {reference}")
    right.legend(fontsize=7, loc="lower right")
    right.set_xlabel("final test MSE (mean ± SE over folds)")
    right.set_title("after the last epoch")
    fig.suptitle("Regularisation check: variants of the selected network", fontsize=11)
    save_figure(fig, png_path, svg_path)
