"""Data overview figure: normalisation effect, global structure, and the split of samples per cell type."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from cic.figures import BLUE, ORANGE, category_styles, display_labels, save_figure, scaled_font, wrap_label


def plot_data_overview(adata, quality: pd.DataFrame, splits: pd.DataFrame, png, svg) -> None:
    """Left: per-sample median and IQR of expression before/after quantile normalisation (``quality``, one row per
    sample in input order). Middle: PCA of ``adata`` (samples x genes, log2) coloured and shaped by cell type, with
    the types listed beside it. Right: train/test samples per cell type (``splits``). Heights and fonts follow the
    number of types."""
    n_types = adata.obs["cell_type"].nunique()
    font = scaled_font(n_types)
    fig, (ax_norm, ax_pca, ax_split) = plt.subplots(1, 3, figsize=(17, max(4.8, 1.6 + 0.19 * n_types)),
                                                    gridspec_kw={"width_ratios": [1.2, 1, 1]}, layout="constrained")
    order = np.arange(len(quality))
    for prefix, color, label in (("before", "0.55", "log2, before normalisation"),
                                 ("after", BLUE, "after quantile normalisation")):
        ax_norm.fill_between(order, quality[f"{prefix}_q25"], quality[f"{prefix}_q75"], color=color, alpha=0.3,
                             linewidth=0)
        ax_norm.plot(order, quality[f"{prefix}_median"], color=color, linewidth=0.8, label=f"median, {label}")
    ax_norm.set(xlabel="sample (input order)", ylabel="expression", title="Per-sample median and IQR")
    ax_norm.legend(loc="lower right")

    styles = category_styles(adata.obs["cell_type"])
    n_components = min(2, *adata.shape)
    pca = PCA(n_components=n_components, random_state=0)
    scores = pca.fit_transform(np.asarray(adata.X, dtype=np.float64))
    for (cell_type, style), label in zip(styles.items(), display_labels(list(styles), width=60, max_lines=1)):
        rows = (adata.obs["cell_type"].astype(str) == cell_type).to_numpy()
        ax_pca.scatter(scores[rows, 0], scores[rows, -1], s=10, label=label, rasterized=True, linewidths=0, **style)
    ratio = pca.explained_variance_ratio_
    ax_pca.set(xlabel=f"PC1 ({ratio[0]:.0%})", ylabel=f"PC2 ({ratio[-1]:.0%})",
               title=wrap_label(f"PCA of {adata.n_obs} samples x {adata.n_vars} genes", 40))
    # Beside the panel, not on the points; one line per type (the figure's height grows with the types).
    ax_pca.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=font, frameon=False, markerscale=1.3,
                  title="cell type", title_fontsize=font + 0.5)

    counts = splits.groupby(["cell_type", "split"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=["train", "test"], fill_value=0)
    counts.index = display_labels(counts.index.astype(str), width=60, max_lines=1)
    counts.plot.barh(stacked=True, ax=ax_split, color=[BLUE, ORANGE], width=0.8)
    ax_split.invert_yaxis()  # alphabetical from the top, as in the legend
    ax_split.tick_params(axis="y", labelsize=font)
    ax_split.set(xlabel="samples", ylabel="", title="Train/test split per cell type")
    ax_split.legend(title=None, loc="lower right")
    save_figure(fig, png, svg)
