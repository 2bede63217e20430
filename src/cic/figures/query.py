"""Figures of new samples against a reference: the query map (``cic query``) and the novelty figure (how often
samples of a type the network never saw come out unassigned)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cic.figures import BLACK, BLUE, VERMILLION, category_styles, display_labels, save_figure, scaled_font
import matplotlib.pyplot as plt  # after cic.figures, which selects the headless backend

MAX_LABELLED_QUERIES = 25  # above this many query samples their names would cover the map


def plot_query_map(reference_codes: np.ndarray, reference_types, query_codes: np.ndarray, query_types,
                   query_names, png_path, svg_path=None) -> None:
    """Query samples on a 2-D map of the reference CICs: PCA fitted on the reference CICs only (samples x
    code_size), reference samples as small points coloured by type, query samples as large outlined markers in
    the colour of their assigned type (black crosses: unassigned)."""
    from sklearn.decomposition import PCA

    reference_codes = np.asarray(reference_codes, dtype=np.float64)
    pca = PCA(n_components=2, random_state=0).fit(reference_codes)
    reference_xy = pca.transform(reference_codes)
    query_xy = pca.transform(np.asarray(query_codes, dtype=np.float64)) if len(query_codes) else np.empty((0, 2))
    reference_types = np.asarray(reference_types, dtype=str)
    styles = category_styles(reference_types)
    names = sorted(styles)
    labels = display_labels(names, width=22)
    # The legend holds every type (real names wrap over lines): the figure grows with it, in two columns past 16.
    font = scaled_font(len(names))
    columns = 1 if len(names) <= 16 else 2
    legend_lines = sum(label.count("\n") + 1.6 for label in labels) + 6
    height = max(6.0, 1.2 + legend_lines * 1.25 * font / 72 / columns)
    fig, ax = plt.subplots(figsize=(8.5 + 2.2 * (columns - 1), height))
    for name, label in zip(names, labels):
        mask = reference_types == name
        ax.scatter(*reference_xy[mask].T, s=14, alpha=0.45, linewidths=0, label=label, **styles[name])
    query_types = np.asarray(query_types, dtype=str)
    for i, (x, y) in enumerate(query_xy):
        style = styles.get(query_types[i])
        if style is None:  # unassigned: a hollow X, unlike any type's filled marker
            ax.scatter(x, y, s=110, marker="X", facecolors="white", edgecolors=BLACK, linewidths=1.3, zorder=4)
        else:
            ax.scatter(x, y, s=80, edgecolors=BLACK, linewidths=1.2, zorder=3, **style)
    if 0 < len(query_xy) <= MAX_LABELLED_QUERIES:
        for (x, y), name in zip(query_xy, query_names):
            ax.annotate(str(name), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=6.5)
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 of the reference CICs ({100 * ratio[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}%)")
    ax.set_title(f"{len(query_xy)} query samples (large, outlined; hollow X: unassigned) on the reference CIC map")
    ax.scatter([], [], s=80, marker="o", facecolors="none", edgecolors=BLACK, linewidths=1.2,
               label="query sample (colour: assigned type)")
    ax.scatter([], [], s=110, marker="X", facecolors="white", edgecolors=BLACK, linewidths=1.3, label="query: unassigned")
    ax.legend(title="reference cell type", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
              fontsize=font, title_fontsize=font + 1, markerscale=1.4, ncol=columns)
    save_figure(fig, png_path, svg_path)


def plot_novelty(table: pd.DataFrame, png_path, svg_path=None) -> None:
    """Per held-out type (``results/tables/novelty.tsv``): the fraction of its samples that come out unassigned
    from the network that never saw the type (novelty detected, blue), beside the fraction of test samples of the
    types it did see that come out unassigned (false unassigned, vermillion)."""
    if table.empty:
        raise ValueError("the novelty table has no row")
    n = len(table)
    labels = display_labels(table["cell_type"].astype(str).tolist(), width=28)
    font = scaled_font(n)
    rows = max(label.count("\n") + 1 for label in labels)
    per_type = max(0.42, rows * 1.35 * font / 72 + 0.12)  # inches per type: its wrapped name must fit
    positions = np.arange(n)[::-1]  # first type on top
    height = 0.38
    fig, ax = plt.subplots(figsize=(7.5, 2.4 + per_type * n), layout="constrained")
    ax.barh(positions + height / 2, table["unassigned_fraction"], height, color=BLUE,
            label="held-out type's samples unassigned (novelty found)")
    ax.barh(positions - height / 2, table["false_unassigned_fraction"], height, color=VERMILLION,
            label="seen types' test samples unassigned (false alarms)")
    for y, (fraction, count) in zip(positions, zip(table["unassigned_fraction"], table["n_held_out"])):
        ax.annotate(f"{round(fraction * count)}/{int(count)}", (fraction, y + height / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=font)
    ax.set_yticks(positions, labels, fontsize=font)
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("fraction of samples unassigned")
    ax.set_ylabel("held-out type")
    ax.set_title("Types the network never saw: unassigned\n(reconstruction MSE or classifier probability)")
    fig.legend(loc="outside lower center", frameon=False)
    save_figure(fig, png_path, svg_path)
