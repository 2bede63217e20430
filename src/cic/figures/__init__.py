"""Figure helpers shared by every figure module: a consistent style and atomic PNG + SVG output."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window (headless cluster nodes)
import matplotlib.pyplot as plt  # noqa: E402

from cic.io import atomic_path  # noqa: E402

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "svg.hashsalt": "cic-workflow",  # stable SVG element ids, so re-rendering gives the same file
})


def save_figure(fig, png_path: str | os.PathLike, svg_path: str | os.PathLike | None = None) -> None:
    """Save ``fig`` as PNG (and SVG) atomically, then close it."""
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    if svg_path is not None:
        with atomic_path(svg_path) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)


def cell_type_colors(cell_types) -> dict[str, tuple]:
    """A fixed colour per cell type (sorted names on tab20), so every figure colours a type the same way."""
    palette = plt.get_cmap("tab20").colors
    return {name: palette[i % len(palette)] for i, name in enumerate(sorted(set(map(str, cell_types))))}
