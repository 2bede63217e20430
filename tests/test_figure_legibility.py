"""Every figure function reads on real-shaped data: distinct labels, no text on text, nothing cut off the canvas, and,
in the networks, no label on a node.

Inputs are shaped like real data, not like the simulator's: GO term names of the offline GO gene sets (long, with
shared prefixes, ending in their GO id), 30 cell types with long Unicode names, 20-character sample ids. Each
figure function is called as the workflow calls it; the figure it would close is kept and inspected after a draw.

Which Text artists are compared (after ``fig.canvas.draw()``, in display pixels):
- overlap and canvas: every drawn, non-empty text of the figure: titles, suptitles, axis labels, the tick labels
  actually drawn (inside the view limits), annotations, legend texts and titles, colour-bar labels;
- distinctness (a reader must tell the labelled things apart): the tick labels of one axis of one Axes, the texts
  of one legend, the titles of the figure (suptitle and every Axes title), and in the networks the node labels
  (texts with a letter); other annotations may repeat (counts, Fig 4's mirrored encoder and decoder layers);
- networks: every text but a component's own number (drawn inside its circle) stays off every node's disc, and no
  two node discs overlap.
"""

from __future__ import annotations

import itertools
import math
import re

import anndata
import matplotlib
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Text

from cic.figures import classification, data, fig2, fig3, network, sweeps

MIN_FONT_PT = 5.0  # smaller text cannot be read in print or on screen at 100 %
TOLERANCE_PX = 1.0  # text boxes include line spacing; touching by a pixel is not an overlap

# GO biological processes of /work/shared/genesets/GO_BP_2022.gmt as they are named there: the sixteen "antigen
# processing and presentation of ..." terms differ only after 39 characters, some only in the middle.
GO_TERMS = [
    "antigen processing and presentation of peptide antigen via MHC class Ib (GO:0002428)",
    "antigen processing and presentation of peptide antigen via MHC class I (GO:0002474)",
    "antigen processing and presentation of endogenous peptide antigen via MHC class Ib (GO:0002476)",
    "antigen processing and presentation of exogenous peptide antigen (GO:0002478)",
    "antigen processing and presentation of endogenous peptide antigen (GO:0002483)",
    "antigen processing and presentation of endogenous peptide antigen via MHC class I via ER pathway "
    "(GO:0002484)",
    "antigen processing and presentation of endogenous peptide antigen via MHC class I via ER pathway, "
    "TAP-independent (GO:0002486)",
    "antigen processing and presentation of peptide antigen via MHC class II (GO:0002495)",
    "antigen processing and presentation of peptide or polysaccharide antigen via MHC class II (GO:0002504)",
    "antigen processing and presentation of endogenous antigen (GO:0019883)",
    "antigen processing and presentation of exogenous antigen (GO:0019884)",
    "antigen processing and presentation of endogenous peptide antigen via MHC class I (GO:0019885)",
    "antigen processing and presentation of exogenous peptide antigen via MHC class II (GO:0019886)",
    "antigen processing and presentation of exogenous peptide antigen via MHC class I (GO:0042590)",
    "antigen processing and presentation of peptide antigen (GO:0048002)",
    "antigen processing and presentation of lipid antigen via MHC class Ib (GO:0048003)",
    "negative regulation of adaptive immune response based on somatic recombination of immune receptors built "
    "from immunoglobulin superfamily domains (GO:0002823)",
    "positive regulation of adaptive immune response based on somatic recombination of immune receptors built "
    "from immunoglobulin superfamily domains (GO:0002824)",
    "mitochondrial genome maintenance (GO:0000002)",
    "single strand break repair (GO:0000012)",
    "regulation of DNA recombination (GO:0000018)",
    "mitotic spindle organization (GO:0007052)",
    "T cell receptor signaling pathway (GO:0050852)",
    "cytoplasmic translation (GO:0002181)",
]
TISSUES = ["lung", "bone marrow", "peripheral blood", "lymph node", "skin", "liver"]
CELLS = ["CD4⁺ αβ T cell, effector memory", "CD8⁺ γδ T cell, tissue-resident", "naïve B cell (IgD⁺ CD27⁻)",
         "malignant peripheral nerve sheath tumour", "Schwann-cell–derived progenitor (p75⁺)"]
CELL_TYPES = [f"{cell} – {tissue}" for tissue, cell in itertools.product(TISSUES, CELLS)]  # 30, 32 to 61 chars
SAMPLE_IDS = [f"GSM{index:07d}_Ωdonor{index % 7:02d}ß"[:20] for index in range(1_000_000, 1_000_090)]


def sample_id(index: int) -> str:
    return SAMPLE_IDS[index % len(SAMPLE_IDS)]


# --------------------------------------------------------------------------------------------------------------
# Inspection


@pytest.fixture
def rendered(monkeypatch):
    """Call a figure function; get back the figure it saved (the close that save_figure does is held back)."""
    held, close = [], plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: held.append(fig))

    def render(function, *args, **kwargs):
        held.clear()
        function(*args, **kwargs)
        figures = [fig for fig in held if isinstance(fig, matplotlib.figure.Figure)]
        assert len(figures) == 1, f"{function.__name__} saved {len(figures)} figures"
        figures[0].canvas.draw()
        return figures[0]

    yield render
    close("all")


def drawn_texts(fig) -> list[Text]:
    """The Text artists that the last draw put on the canvas, non-empty."""
    tick_labels, drawn_tick_labels = set(), set()
    for ax in fig.axes:
        for axis in ax._axis_map.values():
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                tick_labels.update({id(tick.label1), id(tick.label2)})
            tick_labels.update({id(axis.label), id(axis.offsetText)})
            if not (ax.axison and axis.get_visible()):  # ax.axis("off"): neither ticks nor axis labels drawn
                continue
            drawn_tick_labels.update({id(axis.label), id(axis.offsetText)})
            # What Axis.draw draws: the ticks inside the view limits (private, but the only exact answer).
            for tick in axis._update_ticks():
                drawn_tick_labels.update(id(label) for label in (tick.label1, tick.label2) if label.get_visible())
    texts = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or text.get_figure(root=True) is not fig:
            continue
        if id(text) in tick_labels and id(text) not in drawn_tick_labels:
            continue
        texts.append(text)
    return texts


def corners(text, renderer) -> np.ndarray:
    """The 4 corners (pixels) of the text's rotated rectangle: its axis-aligned extent is that rectangle's hull."""
    box = text.get_window_extent(renderer)
    angle = math.radians(text.get_rotation())
    if abs(math.sin(2 * angle)) < 1e-6:  # 0 or 90 degrees: the extent is the rectangle
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    rotation = text.get_rotation()
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(rotation)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [flat.width / 2, flat.height / 2]
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]) + half @ turn.T


def overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test of two convex quadrilaterals, shrunk by the tolerance."""
    for polygon in (a, b):
        for i in range(4):
            edge = polygon[(i + 1) % 4] - polygon[i]
            normal = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            pa, pb = a @ normal, b @ normal
            if pa.max() - TOLERANCE_PX <= pb.min() or pb.max() - TOLERANCE_PX <= pa.min():
                return False
    return True


def describe(text) -> str:
    return repr(text.get_text()[:60])


def distinct_groups(fig, texts, network_figure: bool) -> dict[str, list[Text]]:
    drawn = {id(text) for text in texts}
    groups = {"figure titles": [t for t in [fig._suptitle] + [ax.title for ax in fig.axes] if t is not None]}
    for index, ax in enumerate(fig.axes):
        for name, axis in ax._axis_map.items():
            groups[f"axes {index} {name} tick labels"] = [tick.label1 for tick in axis.get_major_ticks()] + \
                [tick.label2 for tick in axis.get_major_ticks()]
        if network_figure:  # node labels; elsewhere annotations may repeat (counts, mirrored layers of Fig 4)
            groups[f"axes {index} node labels"] = [t for t in ax.texts if re.search(r"[^\W\d_]", t.get_text())]
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    for index, legend in enumerate(legend for legend in legends if legend is not None):
        groups[f"legend {index}"] = list(legend.texts)
    return {name: [t for t in group if id(t) in drawn] for name, group in groups.items()}


def node_discs(fig) -> list[tuple[np.ndarray, float]]:
    """(centre in pixels, radius in pixels) of every node that networkx drew (a PathCollection of circles)."""
    discs = []
    for ax in fig.axes:
        for collection in ax.collections:
            if not isinstance(collection, PathCollection):
                continue
            sizes = np.broadcast_to(collection.get_sizes(), (len(collection.get_offsets()),))
            centres = collection.get_offset_transform().transform(collection.get_offsets())
            discs += [(centre, math.sqrt(size) / 2 * fig.dpi / 72) for centre, size in zip(centres, sizes)]
    return discs


def legibility_problems(fig, network_figure: bool = False) -> list[str]:
    renderer = fig.canvas.get_renderer()
    texts = drawn_texts(fig)
    problems = []
    canvas = fig.bbox
    shapes = [corners(text, renderer) for text in texts]
    for text, shape in zip(texts, shapes):
        size = text.get_fontsize()
        if size < MIN_FONT_PT:
            problems.append(f"{describe(text)} is set in {size:.1f} pt (< {MIN_FONT_PT} pt)")
        if (shape[:, 0].min() < canvas.x0 - TOLERANCE_PX or shape[:, 0].max() > canvas.x1 + TOLERANCE_PX
                or shape[:, 1].min() < canvas.y0 - TOLERANCE_PX or shape[:, 1].max() > canvas.y1 + TOLERANCE_PX):
            problems.append(f"{describe(text)} runs off the figure")
    boxes = np.array([[s[:, 0].min(), s[:, 1].min(), s[:, 0].max(), s[:, 1].max()] for s in shapes]).reshape(-1, 4)
    # Boxes first (vectorised), then the exact test of rotated rectangles for the pairs whose boxes meet.
    low, high = boxes[:, None, :2] + TOLERANCE_PX, boxes[None, :, 2:]
    meet = np.all(low < high, axis=2) & np.all(boxes[None, :, :2] + TOLERANCE_PX < boxes[:, None, 2:], axis=2)
    for i, j in zip(*np.nonzero(np.triu(meet, k=1))):
        if overlap(shapes[i], shapes[j]):
            problems.append(f"{describe(texts[i])} overlaps {describe(texts[j])}")
    for name, group in distinct_groups(fig, texts, network_figure).items():
        seen = {}
        for text in group:
            seen.setdefault(text.get_text(), []).append(text)
        problems += [f"{name}: {len(same)} texts read {label[:60]!r}" for label, same in seen.items() if len(same) > 1]
    if network_figure:
        discs = node_discs(fig)
        for (a, radius_a), (b, radius_b) in itertools.combinations(discs, 2):
            if np.hypot(*(a - b)) < radius_a + radius_b - TOLERANCE_PX:
                problems.append(f"nodes at {np.round(a)} and {np.round(b)} overlap")
        for text, box in zip(texts, boxes):
            for centre, radius in discs:
                own_number = np.allclose((box[:2] + box[2:]) / 2, centre, atol=2.0) and \
                    max(box[2] - box[0], box[3] - box[1]) <= 2 * radius
                nearest = np.clip(centre, box[:2], box[2:])
                if not own_number and np.hypot(*(nearest - centre)) < radius - TOLERANCE_PX:
                    problems.append(f"{describe(text)} covers a node at {np.round(centre)}")
                    break
    return problems


def assert_legible(fig, network_figure: bool = False) -> None:
    problems = legibility_problems(fig, network_figure)
    shown = "\n  ".join(problems[:25])
    assert not problems, f"{len(problems)} legibility problem(s):\n  {shown}"


# --------------------------------------------------------------------------------------------------------------
# The checker itself must catch what it is meant to catch


def test_checker_sees_overlaps_duplicates_cut_text_and_covered_nodes(rendered):
    def bad(png, svg):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.set_xticks([0, 1], ["antigen processing…", "antigen processing…"])
        ax.text(0.1, 0.5, "a label over another", transform=ax.transAxes)
        ax.text(0.15, 0.5, "second label over it", transform=ax.transAxes)
        ax.set_title("a title much too long for a figure of three inches, running off both edges of the canvas")
        ax.scatter([0.5], [0.5], s=400)
        ax.annotate("on the node", (0.5, 0.5), ha="center", va="center")
        ax.set(xlim=(-0.5, 1.5), ylim=(0, 1))
        plt.close(fig)

    problems = legibility_problems(rendered(bad, None, None), network_figure=True)
    assert any("texts read 'antigen processing…'" in problem for problem in problems), problems
    assert any("overlaps" in problem for problem in problems), problems
    assert any("runs off the figure" in problem for problem in problems), problems
    assert any("'on the node' covers a node" in problem for problem in problems), problems

    def rotated(png, svg):  # 45-degree labels side by side whose boxes overlap but whose text does not
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.set_xticks(range(4), ["first type", "second type", "third type", "fourth type"], rotation=45, ha="right")
        ax.set_xlim(-0.5, 3.5)
        fig.tight_layout()
        plt.close(fig)

    assert legibility_problems(rendered(rotated, None, None)) == []


# --------------------------------------------------------------------------------------------------------------
# Real-shaped inputs and every figure function


RNG_SEED = 20


def test_data_overview(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    samples = pd.DataFrame({"cell_type": np.repeat(CELL_TYPES, 3)}, index=[sample_id(i) for i in range(90)])
    adata = anndata.AnnData(rng.normal(8, 2, size=(90, 40)), obs=samples)
    quality = pd.DataFrame({f"{when}_{stat}": rng.normal(level, 0.3, 90) for when, shift in (("before", 1), ("after", 0))
                            for stat, level in (("q25", 5 + shift), ("median", 7 + shift), ("q75", 9 + shift))})
    quality.insert(0, "sample", samples.index)
    splits = pd.DataFrame({"sample": samples.index, "cell_type": samples["cell_type"],
                           "split": np.where(np.arange(90) % 3 == 0, "test", "train")})
    fig = rendered(data.plot_data_overview, adata, quality, splits, tmp_path / "d.png", tmp_path / "d.svg")
    assert_legible(fig)


def test_fig2a_curves(rendered, tmp_path):
    history = pd.DataFrame([{"fold": fold, "epoch": epoch, "test_mse": 0.3 / epoch + 0.01 * fold}
                            for fold in range(10) for epoch in range(1, 101)])
    assert_legible(rendered(fig2.plot_cv_curve, history, tmp_path / "a.png", tmp_path / "a.svg"))
    long_groups = pd.concat([history.assign(run=f"input noise N(0, σ={level}) – {CELL_TYPES[index]}")
                             for index, level in enumerate((0, 0.5, 1.0))])
    assert_legible(rendered(fig2.plot_mse_curves, long_groups, "run", tmp_path / "m.png", tmp_path / "m.svg",
                            log_y=True, legend_title="training"))


@pytest.mark.parametrize("metric", ["spearman", "mse"])
def test_fig2bc_rank_counts(rendered, tmp_path, metric):
    ranks = pd.DataFrame({"rank": [str(r) for r in range(1, 11)] + [">=11"],
                          "count": [230, 12, 6, 3, 2, 2, 1, 1, 0, 0, 3]})
    fig = rendered(fig2.plot_rank_counts, ranks, metric, 0.884, tmp_path / "r.png", tmp_path / "r.svg")
    assert_legible(fig)


def test_fig2d_examples(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    gep = rng.normal(8, 2, size=(6, 300))
    rep = gep + rng.normal(0, 0.3, size=gep.shape)
    examples = pd.DataFrame({"cell_type": CELL_TYPES[:3], "sample1": [0, 2, 4], "sample2": [1, 3, 5],
                             "sample1_id": [sample_id(i) for i in (0, 2, 4)],
                             "sample2_id": [sample_id(i) for i in (1, 3, 5)], "same_study": [True, False, True],
                             "gep_gep_spearman": [0.95, 0.9, 0.93], "gep_gep_mse": [0.4, 0.6, 0.5],
                             "rep_gep_spearman": [0.98, 0.97, 0.99], "rep_gep_mse": [0.1, 0.12, 0.08]})
    assert_legible(rendered(fig2.plot_examples, examples, gep, rep, tmp_path / "e.png", tmp_path / "e.svg"))


@pytest.mark.parametrize("metric", ["spearman", "mse"])
def test_fig2ef_boxplots(rendered, tmp_path, metric):
    rng = np.random.default_rng(RNG_SEED)
    gep_gep, rep_gep = rng.uniform(0.8, 0.95, 260), rng.uniform(0.9, 0.99, 260)
    if metric == "mse":
        gep_gep, rep_gep = 1 - gep_gep, 1 - rep_gep
    fig = rendered(fig2.plot_similarity_boxplots, gep_gep, rep_gep, metric, tmp_path / "b.png", tmp_path / "b.svg")
    assert_legible(fig)


def test_fig2g_method_comparison(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    per_sample = {method: rng.lognormal(np.log(scale), 0.4, 260)
                  for method, scale in zip(fig2.METHOD_LABELS, (0.1, 0.2, 0.25, 0.3, 0.5, 0.4))}
    assert_legible(rendered(fig2.plot_method_comparison, per_sample, tmp_path / "g.png", tmp_path / "g.svg"))


def test_fig3_bars(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    n = len(CELL_TYPES)
    table = pd.DataFrame({"cell_type": CELL_TYPES, "n_held_out": rng.integers(5, 120, n)})
    for metric, (low, high) in (("spearman", (0.85, 0.99)), ("mse", (0.05, 0.6))):
        table[f"median_rep_gep_{metric}"] = rng.uniform(low, high, n)
        table[f"median_nearest_training_{metric}"] = rng.uniform(low, high, n)
        table[f"rep_closer_than_training_{metric}"] = rng.integers(0, 5, n) * table["n_held_out"] // 5
    assert_legible(rendered(fig3.plot_universality_medians, table, tmp_path / "3.png", tmp_path / "3.svg"))


def curve_table(column, groups, epochs=60):
    rows = [{column: group, "epoch": epoch, "test_mse_mean": (0.1 + 0.02 * index) * (1 + 3 / epoch),
             "test_mse_se": 0.004} for index, group in enumerate(groups) for epoch in range(1, epochs + 1)]
    return pd.DataFrame(rows)


ARCHITECTURES = ["L300,G,L30", "L300,S,L100,L30", "L300,G,L100,L30", "L1000,G,L300,L30", "L1000,R,L300,L100,L30",
                 "L300,T,L30", "L300,Sw,L30", "L1000,G,L30", "L300,L,L30", "L300,SS,L30", "L1000,S,L100,L30",
                 "L300,SP,L30"]


def test_fig8_fig9_sweep_curves(rendered, tmp_path):
    from cic.stages.sweeps import paper_notation

    fig = rendered(sweeps.plot_sweep_curves, curve_table("architecture", ARCHITECTURES), "architecture",
                   ARCHITECTURES, tmp_path / "8.png", tmp_path / "8.svg", label=paper_notation,
                   title="Fig 8: architectures (mean test MSE ± SE over folds)", legend_title="encoder (best first)")
    assert_legible(fig)
    sizes = [2, 5, 10, 20, 30, 40, 50, 75, 100, 150, 200]
    fig = rendered(sweeps.plot_sweep_curves, curve_table("code_size", sizes), "code_size", sizes, tmp_path / "9.png",
                   tmp_path / "9.svg", label=lambda size: f"CIC size {size}", title="Fig 9: code sizes",
                   legend_title="code size")
    assert_legible(fig)


def test_regularisation(rendered, tmp_path):
    variants = ["none", "l1", "l2", "dropout", "swish", "relu", "batchnorm"]
    table = pd.DataFrame({"variant": variants, "architecture": ["L1000,G,D0.2,L300,L100,L30"] * len(variants),
                          "final_test_mse_mean": np.linspace(0.1, 0.2, len(variants)), "final_test_mse_se": 0.01})
    fig = rendered(sweeps.plot_regularisation, curve_table("variant", variants), table, "none", tmp_path / "r.png",
                   tmp_path / "r.svg")
    assert_legible(fig)


def test_figS7_confusion_matrices(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    models = [("pca", "rf", "PCA + Random Forest"), ("pca", "svm", "PCA + SVM"), ("cic", "rf", "CIC + Random Forest"),
              ("cic", "svm", "CIC + SVM"), ("classifier_cic", "rf", "classifier-AE CIC + Random Forest"),
              ("classifier_cic", "svm", "classifier-AE CIC + SVM"), ("classifier_cic", "head", "classifier-AE head")]
    truth = np.repeat(CELL_TYPES, 9)
    rows, metrics = [], []
    for features, classifier, label in models:
        predicted = np.where(rng.random(truth.size) < 0.85, truth, rng.choice(CELL_TYPES, truth.size))
        rows.append(pd.DataFrame({"features": features, "classifier": classifier, "cell_type": truth,
                                  "predicted": predicted}))
        metrics.append({"features": features, "classifier": classifier, "model": label,
                        "misclassified": int((predicted != truth).sum()), "n_test": truth.size})
    fig = rendered(classification.plot_confusion_matrices, pd.concat(rows), pd.DataFrame(metrics), tmp_path / "s.png",
                   tmp_path / "s.svg")
    assert_legible(fig)


def test_fig4_architecture(rendered, tmp_path):
    rows = [("encoder", 0, 19_000, "GEP", "input"), ("encoder", 1, 1000, "Linear + BatchNorm + Sigmoid", "hidden"),
            ("encoder", 2, 300, "Linear + BatchNorm + Sigmoid", "hidden"), ("encoder", 3, 30, "Linear", "code"),
            ("decoder", 0, 300, "Linear + BatchNorm + Sigmoid", "hidden"),
            ("decoder", 1, 1000, "Linear + BatchNorm + Sigmoid", "hidden"), ("decoder", 2, 19_000, "Linear", "output"),
            ("classifier", 0, 100, "Linear + ReLU", "hidden"), ("classifier", 1, 30, "Linear + SoftMax", "output")]
    table = pd.DataFrame(rows, columns=["branch", "position", "units", "layers", "role"])
    assert_legible(rendered(classification.plot_architecture, table, tmp_path / "4.png", tmp_path / "4.svg"))


def test_noise_robustness(rendered, tmp_path):
    folds = pd.DataFrame([{"fold": fold, "sigma": sigma, "accuracy": 0.95 - sigma / 2 - 0.01 * fold,
                           "train_noise_sd": 0.1} for fold in range(10) for sigma in (0, 0.1, 0.5, 1.0)])
    by_sigma = folds.groupby("sigma")["accuracy"].agg(mean="mean", se="sem").reset_index()
    fig = rendered(classification.plot_noise_robustness, folds, by_sigma, tmp_path / "n.png", tmp_path / "n.svg")
    assert_legible(fig)


def enrichment_rows(seed=RNG_SEED, components=30):
    """enrich_many-style rows: each component enriches 0 to 6 GO terms, the antigen terms shared by several."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(1, components + 1):
        for term in rng.choice(GO_TERMS, size=int(rng.integers(0, 7)), replace=False):
            p_value = float(10 ** -rng.uniform(4, 12))
            rows.append((f"CIC{index:02d}", term, p_value, min(1.0, p_value * 5000), "GO_Biological_Process_2023"))
    return pd.DataFrame(rows, columns=["query", "term", "p_value", "bonferroni", "source"])


@pytest.mark.parametrize("components", [30, 8])
def test_figs5_7_networks(rendered, tmp_path, components):
    table = enrichment_rows(components=components)
    graph = network.component_term_graph(table, "bonferroni", 0.01,
                                         components=[f"CIC{index:02d}" for index in range(1, components + 1)])
    terms = [node for node, kind in graph.nodes(data="kind") if kind == "term"]
    assert len(terms) >= 0.6 * len(GO_TERMS) if components == 30 else terms
    fig = rendered(network.draw_component_network, graph, tmp_path / "n.png", tmp_path / "n.svg",
                   title="Fig 6: biological processes enriched by CIC components\n(GO_Biological_Process_2023, "
                         "Bonferroni <= 0.01)")
    assert_legible(fig, network_figure=True)
    # The exports keep the full term names (with their GO ids), however the figure shortens them.
    network.write_graph_files(graph, tmp_path / "n.gexf", tmp_path / "n.graphml")
    labels = {data["label"] for _, data in nx.read_graphml(tmp_path / "n.graphml").nodes(data=True)}
    assert {graph.nodes[term]["label"] for term in terms} <= labels and set(labels) & set(GO_TERMS)


def test_fig3_enrichment_top_terms(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    table = pd.DataFrame({"term": GO_TERMS, "p_value": np.sort(10 ** -rng.uniform(2, 12, len(GO_TERMS)))})
    table["adjusted_p_bh"] = np.minimum(1, table["p_value"] * 40)
    fig = rendered(network.plot_top_terms, table, 15, tmp_path / "t.png", tmp_path / "t.svg",
                   title=f"{CELL_TYPES[0]} REPs vs {CELL_TYPES[1]} GEPs: GO_Biological_Process_2023")
    assert_legible(fig)


def test_component_program_heatmap(rendered, tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    programs = [f"IDENTITY_{name.upper().replace(' ', '_')}" for name in CELL_TYPES[:12]] + \
        [f"LINEAGE_{index}" for index in range(4)] + ["TREATMENT_INTERFERON_GAMMA_RESPONSE", "OTHER_CELL_CYCLE"]
    kinds = ["identity"] * 12 + ["lineage"] * 4 + ["treatment", "other"]
    components = [f"CIC{index:02d}" for index in range(1, 31)]
    jaccard = pd.DataFrame(rng.uniform(0, 0.4, (30, len(programs))), index=components, columns=programs)
    marks = jaccard.eq(jaccard.max(axis=1), axis=0)
    fig = rendered(network.plot_component_program_heatmap, jaccard, tmp_path / "h.png", tmp_path / "h.svg",
                   marks=marks, column_groups=pd.Series(kinds, index=programs))
    assert_legible(fig)


# --------------------------------------------------------------------------------------------------------------
# The shared label helper that every figure with term or type names uses


def test_display_labels_of_go_terms_fit_stay_distinct_and_keep_their_id():
    from cic.figures import display_labels

    for width, lines in ((26, 3), (60, 2), (40, 1)):
        labels = display_labels(GO_TERMS, width=width, max_lines=lines)
        assert len(set(labels)) == len(GO_TERMS), (width, lines)
        assert all(len(label.split("\n")) <= lines for label in labels), (width, lines)
        for name, label in zip(GO_TERMS, labels):
            if "…" in label:  # shortened: its GO id says which term it is
                assert label.endswith(name[name.rindex("("):]), label
    short = display_labels(GO_TERMS, width=26, max_lines=3)
    # The words the antigen family shares give way to the part that differs.
    assert short[6] == "antigen processing … class\nI via ER pathway, TAP-\nindependent (GO:0002486)"
    assert display_labels(["mitochondrial genome maintenance (GO:0000002)"], width=26, max_lines=3) == \
        ["mitochondrial genome\nmaintenance"]  # whole names need no id


def test_display_labels_without_ids_keep_what_differs_and_number_equal_names():
    from cic.figures import display_labels

    names = ["antigen processing and presentation of endogenous peptide antigen via MHC class I",
             "antigen processing and presentation of exogenous peptide antigen via MHC class I"]
    assert display_labels(names, width=24, max_lines=2) == ["… endogenous peptide\nantigen via MHC class I",
                                                            "… exogenous peptide\nantigen via MHC class I"]
    assert display_labels(["Cell cycle", "Cell cycle", "IDENTITY_B_CELL"], width=30, max_lines=1) == \
        ["Cell cycle (1)", "Cell cycle (2)", "IDENTITY B CELL"]
    wrapped = display_labels(CELL_TYPES, width=20)  # no line limit: only wrapped, nothing lost
    assert ["".join(label.split()) for label in wrapped] == ["".join(name.split()) for name in CELL_TYPES]
    assert max(len(line) for label in wrapped for line in label.split("\n")) <= 20


def test_query_map(rendered, tmp_path):
    from cic.figures import query

    rng = np.random.default_rng(RNG_SEED)
    types = np.repeat(CELL_TYPES, 6)
    centres = {name: rng.normal(0, 5, 8) for name in CELL_TYPES}
    codes = np.stack([centres[name] + rng.normal(0, 1, 8) for name in types])
    assigned = [CELL_TYPES[i] if i % 4 else "unassigned" for i in range(12)]
    query_codes = np.stack([centres.get(name, np.zeros(8)) + rng.normal(0, 1, 8) for name in assigned])
    fig = rendered(query.plot_query_map, codes, types, query_codes, assigned, SAMPLE_IDS[:12], tmp_path / "q.png",
                   tmp_path / "q.svg")
    # query sample ids are placed beside their points and may touch each other: check the rest of the figure
    for text in [t for t in fig.axes[0].texts if t.get_text() in SAMPLE_IDS]:
        text.remove()
    assert_legible(fig)


def test_novelty(rendered, tmp_path):
    from cic.figures import query

    rng = np.random.default_rng(RNG_SEED)
    n = len(CELL_TYPES)
    table = pd.DataFrame({"cell_type": CELL_TYPES, "n_held_out": rng.integers(5, 120, n),
                          "unassigned_fraction": rng.uniform(0, 1, n), "false_unassigned_fraction": rng.uniform(0, 0.2, n)})
    assert_legible(rendered(query.plot_novelty, table, tmp_path / "n.png", tmp_path / "n.svg"))
