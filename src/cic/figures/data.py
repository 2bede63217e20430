"""Data overview figure: normalisation effect, global structure, and the split of samples per cell type."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from cic.figures import cell_type_colors, save_figure


def plot_data_overview(adata, quality: pd.DataFrame, splits: pd.DataFrame, png, svg) -> None:
    fig, (ax_norm, ax_pca, ax_split) = plt.subplots(1, 3, figsize=(16, 4.8),
                                                    gridspec_kw={"width_ratios": [1.2, 1, 1]})
    order = np.arange(len(quality))
    for prefix, color, label in (("before", "tab:grey", "log2, before normalisation"),
                                 ("after", "tab:blue", "after quantile normalisation")):
        ax_norm.fill_between(order, quality[f"{prefix}_q25"], quality[f"{prefix}_q75"], color=color, alpha=0.3,
                             linewidth=0)
        ax_norm.plot(order, quality[f"{prefix}_median"], color=color, linewidth=0.8, label=f"median, {label}")
    ax_norm.set(xlabel="sample (input order)", ylabel="expression", title="Per-sample median and IQR")
    ax_norm.legend(loc="lower right")

    colors = cell_type_colors(adata.obs["cell_type"])
    n_components = min(2, *adata.shape)
    pca = PCA(n_components=n_components, random_state=0)
    scores = pca.fit_transform(np.asarray(adata.X, dtype=np.float64))
    for cell_type, color in colors.items():
        rows = (adata.obs["cell_type"] == cell_type).to_numpy()
        ax_pca.scatter(scores[rows, 0], scores[rows, -1], s=8, color=color, label=cell_type, rasterized=True)
    ratio = pca.explained_variance_ratio_
    ax_pca.set(xlabel=f"PC1 ({ratio[0]:.0%})", ylabel=f"PC2 ({ratio[-1]:.0%})",
               title=f"PCA of {adata.n_obs} samples x {adata.n_vars} genes")
    ax_pca.legend(fontsize=6, ncol=2, markerscale=1.5, frameon=False)

    counts = splits.groupby(["cell_type", "split"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=["train", "test"], fill_value=0)
    counts.plot.barh(stacked=True, ax=ax_split, color=["tab:blue", "tab:orange"], width=0.8)
    ax_split.set(xlabel="samples", ylabel="", title="Train/test split per cell type")
    ax_split.legend(title=None)
    save_figure(fig, png, svg)
