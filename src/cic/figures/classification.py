"""Supp Fig S7 (confusion matrices), Fig 4 (the classifier autoencoder, drawn from a model) and the noise figure."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from cic.figures import BLUE, VERMILLION, display_labels, save_figure, scaled_font, wrap_to_width
from cic.paper import paper_value
import matplotlib.pyplot as plt  # after cic.figures, which selects the headless backend
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

PathLike = str | os.PathLike
CODE_COLOR = "tab:red"  # the paper's Fig 4 draws the CIC neurons in red
LAYER_COLOR = "0.85"
BRANCH_ROWS = {"encoder": 0.0, "decoder": 1.6, "classifier": -1.6}  # y of each branch; both heads leave the CIC
BRANCH_LOSS = {"decoder": "MSE", "classifier": "cross-entropy"}


# --------------------------------------------------------------------------------------------------------------
# Supp Fig S7


def plot_confusion_matrices(predictions: pd.DataFrame, metrics: pd.DataFrame, png_path: PathLike,
                            svg_path: PathLike | None = None) -> None:
    """One confusion matrix (rows: true type, columns: predicted type) per model, in the order of ``metrics``.

    ``predictions`` has columns features, classifier, cell_type, predicted; ``metrics`` features, classifier,
    model (panel title), misclassified and n_test.
    """
    missing = {"features", "classifier", "cell_type", "predicted"} - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack column(s) {sorted(missing)}")
    if metrics.empty:
        raise ValueError("no models to draw")
    classes = sorted(set(predictions["cell_type"].astype(str)) | set(predictions["predicted"].astype(str)))
    n = len(classes)
    columns = min(3 if len(metrics) > 4 else 4, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    # Cells get smaller (down to 0.14 in) and fonts with them as the types get many; class names are written once,
    # on the outer panels (left column, bottom row: the panels share both axes), on one line each.
    cell = float(np.clip(3.6 / n, 0.14, 0.32))
    side = max(2.2, cell * n)
    tick_font = scaled_font(n, largest=8.0, per_step=0.12)
    count_font = float(np.clip(cell * 72 * 0.5, 5.5, 8.0))
    names = display_labels(classes, width=56, max_lines=1)
    name_room = min(3.2, 0.6 * tick_font / 72 * max(len(name) for name in names))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * (side + 0.35) + name_room + 0.3,
                                                     rows * (side + 0.7) + name_room + 0.4),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    for ax, record in zip(axes.flat, metrics.to_dict("records")):
        chosen = predictions[(predictions["features"] == record["features"])
                             & (predictions["classifier"] == record["classifier"])]
        matrix = pd.crosstab(chosen["cell_type"].astype(str), chosen["predicted"].astype(str)).reindex(
            index=classes, columns=classes, fill_value=0).to_numpy()
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, matrix.max()))
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=count_font,
                        color="white" if count > matrix.max() / 2 else (VERMILLION if i != j else "black"))
        ax.set_xticks(range(n), names, rotation=90, fontsize=tick_font)
        ax.set_yticks(range(n), names, fontsize=tick_font)
        ax.tick_params(labelbottom=False, labelleft=False)
        ax.set_title(wrap_to_width(f"{record['model']}\n{int(record['misclassified'])} of {int(record['n_test'])} "
                                   f"misclassified", side + 0.3, 9), fontsize=9)
    used = len(metrics)
    for index, ax in enumerate(axes.flat):
        row, column = divmod(index, columns)
        if index >= used:
            ax.axis("off")
            continue
        if column == 0:
            ax.tick_params(labelleft=True)
            ax.set_ylabel("true", fontsize=8)
        if index + columns >= used:  # nothing drawn below it: the bottom of its column
            ax.tick_params(labelbottom=True)
            ax.set_xlabel("predicted", fontsize=8)
    fig.suptitle("Supp Fig S7: test-set confusion matrices", fontsize=11)
    save_figure(fig, png_path, svg_path)


# --------------------------------------------------------------------------------------------------------------
# Fig 4


def plot_architecture(architecture: pd.DataFrame, png_path: PathLike, svg_path: PathLike | None = None) -> None:
    """Fig 4: the classifier autoencoder's layers as boxes (height ~ log10 of the units), the CIC in red, the
    decoder branch above and the classifier branch below; ``architecture`` is the table that
    :func:`cic.stages.classification.architecture_table` reads from the trained model."""
    missing = {"branch", "position", "units", "layers", "role"} - set(architecture.columns)
    if missing or set(architecture["branch"]) != set(BRANCH_ROWS):
        raise ValueError(f"architecture table needs columns branch, position, units, layers, role and the branches "
                         f"{sorted(BRANCH_ROWS)}; got columns {list(architecture.columns)}")
    top = architecture["units"].max()
    code_x = int(architecture.loc[architecture["branch"] == "encoder", "position"].max())
    boxes = {}  # (branch, position) -> (x, y)
    for record in architecture.to_dict("records"):
        offset = 0 if record["branch"] == "encoder" else code_x + 1
        boxes[record["branch"], record["position"]] = ((offset + record["position"]) * 1.6,
                                                       BRANCH_ROWS[record["branch"]])
    fig, ax = plt.subplots(figsize=(1.7 * (max(x for x, _ in boxes.values()) / 1.6 + 2), 5.2))
    for record in architecture.to_dict("records"):
        x, y = boxes[record["branch"], record["position"]]
        height = 0.25 + 1.1 * math.log10(record["units"] + 1) / math.log10(top + 1)
        ax.add_patch(Rectangle((x - 0.3, y - height / 2), 0.6, height, edgecolor="0.3",
                               facecolor=CODE_COLOR if record["role"] == "code" else LAYER_COLOR))
        name = {"input": "GEP\n", "code": "CIC\n"}.get(record["role"], "")
        if record["role"] == "output":
            name = "REP\n" if record["branch"] == "decoder" else "cell type\n"
        ax.text(x, y - height / 2 - 0.08, f"{name}{record['layers'].replace(' + ', chr(10))}\n{record['units']} units"
                if record["role"] != "input" else f"{name}{record['units']} genes", ha="center", va="top", fontsize=7)
        if record["branch"] == "encoder" and record["position"] == 0:
            continue
        source = ("encoder", code_x) if record["position"] == 0 else (record["branch"], record["position"] - 1)
        sx, sy = boxes[source]
        ax.add_patch(FancyArrowPatch((sx + 0.32, sy), (x - 0.32, y), arrowstyle="-|>", mutation_scale=10,
                                     color="0.3"))
        if record["role"] == "output":
            ax.text(x + 0.45, y, BRANCH_LOSS[record["branch"]], va="center", fontsize=8, style="italic")
    xs = [x for x, _ in boxes.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 1.6)
    ax.set_ylim(-3.1, 2.6)
    ax.axis("off")
    classes = int(architecture.loc[(architecture["branch"] == "classifier") & (architecture["role"] == "output"),
                                   "units"].iloc[0])
    genes = int(architecture.loc[architecture["role"] == "input", "units"].iloc[0])
    ax.set_title(f"Fig 4: classifier autoencoder ({genes} genes, CIC of "
                 f"{int(architecture.loc[architecture['role'] == 'code', 'units'].iloc[0])}, {classes} classes)")
    save_figure(fig, png_path, svg_path)


# --------------------------------------------------------------------------------------------------------------
# Noise robustness


def plot_noise_robustness(folds: pd.DataFrame, by_sigma: pd.DataFrame, png_path: PathLike,
                          svg_path: PathLike | None = None) -> None:
    """Left: clean-test accuracy of each fold trained with input noise, with the paper's mean. Right: mean
    accuracy (± SE over folds) when the test inputs carry N(0, sigma) noise."""
    clean = folds[folds["sigma"] == 0].sort_values("fold")
    if clean.empty:
        raise ValueError("no fold accuracies at sigma 0 (clean test inputs)")
    mean, se = clean["accuracy"].mean(), clean["accuracy"].sem()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.bar(clean["fold"].astype(str), clean["accuracy"], color=BLUE)
    left.axhline(mean, color=BLUE, linewidth=1,
                 label=f"this run: {mean:.3f} ± {0 if pd.isna(se) else se:.3f} (SE)")
    left.axhline(paper_value("noise_accuracy_mean"), color="0.4", linestyle="--", linewidth=1,
                 label=f"paper: {paper_value('noise_accuracy_mean'):.3f}")
    left.set_ylim(max(0.0, min(clean["accuracy"].min(), paper_value("noise_accuracy_min")) - 0.1), 1.01)
    left.set_xlabel("fold")
    left.set_ylabel("test accuracy (clean inputs)")
    left.set_title(f"Trained with input noise N(0, {clean['train_noise_sd'].iloc[0]:g})")
    left.legend(loc="lower right")
    by_sigma = by_sigma.sort_values("sigma")
    right.errorbar(by_sigma["sigma"], by_sigma["mean"], yerr=by_sigma["se"].fillna(0.0), marker="o", capsize=3,
                   color=BLUE)
    right.set_ylim(0, 1.02)
    right.set_xlabel("sd of the noise added to the test inputs")
    right.set_ylabel("mean test accuracy over folds")
    right.set_title("Noisy test inputs")
    save_figure(fig, png_path, svg_path)
