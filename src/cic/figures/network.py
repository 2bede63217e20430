"""Component-term networks (paper Figs 5-7) and the enrichment / program-matching plots.

The paper drew, with Gephi, one network per annotation type: the 30 CIC components (red numbers) linked to the
cellular compartments, biological processes or pathways their gene sets enrich (Bonferroni-adjusted p below 0.01
or 0.05). Here the graph is built with networkx, drawn with matplotlib and also written as GEXF (Gephi) and
GraphML (Cytoscape), so it can be laid out by hand as in the paper.
"""

from __future__ import annotations

import os
import re

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from cic.figures import BLUE, GREEN, ORANGE, PINK, SKY, YELLOW, display_labels, save_figure, wrap_to_width
from cic.io import atomic_path

COMPONENT_COLOR = "#c62828"  # the paper's red component nodes
TERM_COLORS = (BLUE, "#7f7f7f", GREEN, PINK, ORANGE, SKY, YELLOW)  # per term source; Okabe-Ito, and grey
TERM_NODE_SIZE = 28  # points^2
TERM_LABEL_WIDTH, TERM_LABEL_LINES = 26, 3  # characters per line, lines per term label in Figs 5-7
LABEL_RINGS = 10  # how far (in label heights) a term label may move from its node, leader line drawn
SMALLEST_P = 1e-300  # p-values that underflowed to 0 still get a finite -log10 p (GEXF/GraphML reject inf)
MAX_TERM_LABELS = 80  # beyond this many terms, only the best-supported ones are labelled


def component_term_graph(enrichment_long_table: pd.DataFrame, cutoff_column: str = "bonferroni",
                         cutoff: float = 0.01, components=None) -> nx.Graph:
    """Bipartite graph of components and the terms they enrich at ``cutoff_column`` <= ``cutoff``.

    ``enrichment_long_table`` is :func:`cic.enrichment.enrich_many`'s output (``query`` = component), optionally
    with a ``source`` column (e.g. from :func:`cic.enrichment.enrich_source`). Component nodes (id = component
    name) have kind="component" and label = component number; term nodes (id = "term:<source>:<term>") have
    kind="term", label, source, p (best p over their components) and n_components. Edges carry weight = -log10 p,
    p_value and the adjusted p. ``components`` adds components without any passing term as isolated nodes.
    """
    graph = nx.Graph()
    passed = enrichment_long_table[enrichment_long_table[cutoff_column] <= cutoff]
    for component in [*(components or []), *passed["query"].unique()]:
        graph.add_node(str(component), kind="component", label=_component_number(str(component)))
    for row in passed.itertuples(index=False):
        source = str(getattr(row, "source", "") or "")
        term_id = f"term:{source}:{row.term}"
        p_value = max(float(row.p_value), SMALLEST_P)
        if term_id not in graph:
            graph.add_node(term_id, kind="term", label=str(row.term), source=source, p=p_value, n_components=0)
        node = graph.nodes[term_id]
        node["p"] = min(node["p"], p_value)
        if not graph.has_edge(str(row.query), term_id):
            node["n_components"] += 1
        graph.add_edge(str(row.query), term_id, weight=float(-np.log10(p_value)), p_value=p_value,
                       adjusted_p=float(getattr(row, cutoff_column)))
    return graph


def draw_component_network(graph: nx.Graph, png_path, svg_path=None, title: str = "") -> None:
    """Draw a component-term graph: red numbered components, small term nodes coloured by source, with a legend.

    Term labels are the names wrapped over up to three lines (:func:`cic.figures.display_labels`: distinct, long
    names keep their start, their end and their GO id) and placed next to their node where they cover no node and
    no other label (:func:`_place_labels`), with a thin leader line when they had to move away from it. Terms
    beyond ``MAX_TERM_LABELS`` (largest p first) or without a free place stay unlabelled; the figure says how many.
    The GEXF/GraphML exports (:func:`write_graph_files`) keep the full names.
    """
    components = [node for node, kind in graph.nodes(data="kind") if kind == "component"]
    terms = [node for node, kind in graph.nodes(data="kind") if kind == "term"]
    if graph.number_of_edges() == 0:
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.set_title(wrap_to_width(title, 5.6, plt.rcParams["axes.titlesize"]))
        ax.set_axis_off()
        _empty_panel(ax, f"no term passed the cutoff\n({len(components)} components tested)")
        save_figure(fig, png_path, svg_path)
        return

    position = _packed_layout(graph)
    labelled = sorted(terms, key=lambda term: graph.nodes[term]["p"])[:MAX_TERM_LABELS]
    label_size = float(np.clip(9.5 - graph.number_of_nodes() / 40, 6.5, 9))
    # Room grows with what has to fit: about 2 square inches per term label (a three-line label and the gaps
    # around it), a little per node; the figure keeps the layout's aspect ratio.
    xy = np.array(list(position.values()))
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(high - low, 1.0)
    area = 2.2 * len(labelled) * (label_size / 8) ** 2 + 0.25 * graph.number_of_nodes() + 16
    aspect = float(np.clip(span[0] / span[1], 0.7, 1.6))
    width = float(np.clip(np.sqrt(area * aspect), 7, 24))
    height_axes = float(np.clip(width / aspect, 5, 24))
    wrapped_title = wrap_to_width(title, width - 0.4, 12)
    top = 0.25 + 0.23 * (wrapped_title.count("\n") + 1)
    handles = _legend_handles(graph, components, terms)
    widest = max(0.6 * 8 / 72 * len(handle.get_label()) + 0.45 for handle in handles)  # inches per legend column
    columns = int(np.clip(width // widest, 1, len(handles)))
    bottom = 0.2 + 0.25 * -(-len(handles) // columns) + 0.2  # legend rows, and a line for the note
    fig = plt.figure(figsize=(width, height_axes + top + bottom))
    fig.text(0.5, 1 - 0.12 / fig.get_figheight(), wrapped_title, ha="center", va="top", fontsize=12)
    ax = fig.add_axes((0.01, bottom / fig.get_figheight(), 0.98, height_axes / fig.get_figheight()))
    ax.set_axis_off()
    margin = 0.08 * span
    ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
    ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.3 / fig.get_figheight()), ncol=columns,
               frameon=False, fontsize=8, borderaxespad=0)

    component_size = (2.4 * label_size) ** 2  # a circle that holds a two-digit number
    sizes = {node: component_size if kind == "component" else TERM_NODE_SIZE for node, kind in graph.nodes(data="kind")}
    position = _separate_nodes(ax, position, sizes)

    widths = [0.4 + 0.25 * min(weight, 12) / 3 for _, _, weight in graph.edges(data="weight")]
    nx.draw_networkx_edges(graph, position, ax=ax, width=widths, edge_color="#b0b0b0", alpha=0.7)
    sources = sorted({graph.nodes[term]["source"] for term in terms})
    source_color = _source_colors(sources)
    nx.draw_networkx_nodes(graph, position, nodelist=terms, ax=ax, node_size=TERM_NODE_SIZE,
                           node_color=[source_color[graph.nodes[term]["source"]] for term in terms])
    nx.draw_networkx_nodes(graph, position, nodelist=components, ax=ax, node_size=component_size,
                           node_color=COMPONENT_COLOR, edgecolors="white", linewidths=0.8)
    nx.draw_networkx_labels(graph, position, labels={node: graph.nodes[node]["label"] for node in components},
                            ax=ax, font_size=label_size, font_color="white", font_weight="bold")

    names = display_labels([graph.nodes[term]["label"] for term in labelled], width=TERM_LABEL_WIDTH,
                           max_lines=TERM_LABEL_LINES)
    placed = _place_labels(ax, position, sizes, dict(zip(labelled, names)), label_size * 0.85)

    if placed < len(terms):
        fig.text(0.99, 0.06 / fig.get_figheight(), f"labels: {placed} of {len(terms)} terms (smallest p first, where "
                 "they fit); all names in the GEXF/GraphML files", ha="right", va="bottom", fontsize=7, color="#555555")
    save_figure(fig, png_path, svg_path, layout=False)


def _legend_handles(graph: nx.Graph, components: list, terms: list) -> list[Line2D]:
    """Legend entries: the components (and those without a term, in the bottom row) and each term source."""
    sources = sorted({graph.nodes[term]["source"] for term in terms})
    isolated = [node for node in components if graph.degree(node) == 0]
    handles = [Line2D([], [], marker="o", linestyle="", markersize=10, color=COMPONENT_COLOR,
                      label=f"CIC component ({len(components)})")]
    if isolated:  # _packed_layout puts them in rows below the parts
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=10, color=COMPONENT_COLOR, alpha=0.35,
                              label=f"bottom row: {len(isolated)} components without a term at this cutoff"))
    return handles + [Line2D([], [], marker="o", linestyle="", markersize=5, color=_source_colors(sources)[source],
                             label=f"{source or 'term'} ({sum(graph.nodes[t]['source'] == source for t in terms)})")
                      for source in sources]


def _source_colors(sources: list) -> dict:
    return {source: TERM_COLORS[index % len(TERM_COLORS)] for index, source in enumerate(sources)}


def _separate_nodes(ax, position: dict, node_sizes: dict, rounds: int = 100) -> dict:
    """Positions moved apart just enough that no two node discs (``node_sizes`` in points^2, as drawn) overlap at
    the axes' final scale: the force layout spaces nodes in its own units, and a crowded part can still stack two
    components. Overlapping pairs are pushed apart along the line joining them, half the overlap each, in rounds."""
    nodes = list(position)
    xy = ax.transData.transform(np.array([position[node] for node in nodes]))
    radii = np.array([np.sqrt(node_sizes[node]) / 2 * ax.get_figure().dpi / 72 for node in nodes]) + 1.0
    needed = radii[:, None] + radii[None, :]
    for _ in range(rounds):
        offset = xy[:, None, :] - xy[None, :, :]
        distance = np.hypot(offset[..., 0], offset[..., 1])
        np.fill_diagonal(distance, np.inf)
        overlap = np.clip(needed - distance, 0, None)
        if not overlap.any():
            break
        direction = offset / np.maximum(distance, 1e-9)[..., None]
        tied = distance < 1e-9  # one place: apart along x, the later node to the right
        direction[tied] = np.stack([np.sign(np.subtract.outer(np.arange(len(nodes)), np.arange(len(nodes))))[tied],
                                    np.zeros(tied.sum())], axis=1)
        xy = xy + 0.5 * np.einsum("ij,ijk->ik", overlap, direction)
    inverse = ax.transData.inverted()
    return {node: inverse.transform(point) for node, point in zip(nodes, xy)}


def _place_labels(ax, position: dict, node_sizes: dict, labels: dict, fontsize: float) -> int:
    """Put each label (in the dict's order) next to its node where it covers no node disc, no label placed before
    and stays inside the axes; candidates go round the node (right, left, above, below, diagonals) at growing
    distances, with a leader line beyond the first ring. Returns how many labels found a place.

    A deterministic greedy placement in display pixels: unlike force-based repulsion (adjustText), a label that
    is drawn is guaranteed to cover nothing; the price is that a label without a free place is left out.
    """
    fig = ax.get_figure()
    renderer = fig.canvas.get_renderer()
    to_pixels = ax.transData.transform
    px_per_pt = fig.dpi / 72
    nodes = list(position)
    centres = to_pixels(np.array([position[node] for node in nodes]))
    radii = np.array([np.sqrt(node_sizes[node]) / 2 * px_per_pt for node in nodes]) + 1.5 * px_per_pt
    frame = ax.get_window_extent(renderer)
    boxes = np.empty((0, 4))  # x0, y0, x1, y1 of the labels placed so far
    pad = 0.2 * fontsize * px_per_pt  # the white box behind each label
    near = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]  # beside, then diagonal
    far = near + [(np.cos(angle), np.sin(angle)) for angle in np.arange(1, 16, 2) * np.pi / 8]
    placed = 0
    for node, label in labels.items():
        text = ax.text(0, 0, label, fontsize=fontsize, ha="center", va="center", multialignment="center",
                       color="#222222", zorder=4, bbox={"boxstyle": "square,pad=0.2", "facecolor": "white",
                                                         "edgecolor": "none", "alpha": 0.75})
        text.set_in_layout(False)
        extent = text.get_window_extent(renderer)
        half = np.array([extent.width, extent.height]) / 2 + pad
        centre = to_pixels(position[node])
        radius = radii[nodes.index(node)]
        for ring in range(LABEL_RINGS):
            gap = radius + pad + ring * 2.2 * half[1]
            found = None
            for dx, dy in near if ring == 0 else far:
                candidate = centre + np.array([dx * (gap + half[0]), dy * (gap + half[1])])
                if _free(candidate, half, centres, radii, boxes, frame):
                    found = candidate
                    break
            if found is not None:
                break
        if found is None:
            text.remove()
            continue
        text.set_position(ax.transData.inverted().transform(found))
        boxes = np.vstack([boxes, np.concatenate([found - half, found + half])])
        placed += 1
        if ring:  # moved away from its node: a leader line from the node to the label's nearest edge
            end = np.clip(centre, found - half, found + half)
            ax.plot(*ax.transData.inverted().transform(np.array([centre, end])).T, color="#888888", linewidth=0.5,
                    zorder=1)
    return placed


def _free(centre: np.ndarray, half: np.ndarray, discs: np.ndarray, radii: np.ndarray, boxes: np.ndarray,
          frame) -> bool:
    """Whether a box (centre, half sizes; pixels) stays in ``frame`` and clear of every disc and every box."""
    low, high = centre - half, centre + half
    if low[0] < frame.x0 or low[1] < frame.y0 or high[0] > frame.x1 or high[1] > frame.y1:
        return False
    nearest = np.clip(discs, low, high)
    if (np.hypot(*(nearest - discs).T) < radii).any():
        return False
    return not ((boxes[:, 0] < high[0]) & (low[0] < boxes[:, 2]) & (boxes[:, 1] < high[1])
                & (low[1] < boxes[:, 3])).any()


def write_graph_files(graph: nx.Graph, gexf_path: str | os.PathLike, graphml_path: str | os.PathLike) -> None:
    """Write the graph as GEXF (Gephi) and GraphML (Cytoscape), atomically, with plain attribute types."""
    portable = _portable_copy(graph)
    with atomic_path(gexf_path) as tmp:
        nx.write_gexf(portable, tmp)
    with atomic_path(graphml_path) as tmp:
        nx.write_graphml(portable, tmp)


def plot_top_terms(result: pd.DataFrame, n: int, png_path, svg_path=None, title: str = "",
                   adjusted_column: str = "adjusted_p_bh", cutoff: float = 0.05) -> None:
    """Horizontal bars of -log10 adjusted p for the ``n`` terms with the smallest p, best on top.

    Term names are wrapped over up to two lines and stay distinct (:func:`cic.figures.display_labels`); the
    figure's height follows their lines.
    """
    top = result.sort_values("p_value", kind="stable").head(n)
    labels = display_labels(top["term"], width=60, max_lines=2)
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.17 * max(lines, 6) + 0.1 * len(top)))
    fig.suptitle(wrap_to_width(title, 8.6, plt.rcParams["axes.titlesize"]), fontsize=plt.rcParams["axes.titlesize"])
    if top.empty:
        ax.set_axis_off()
        _empty_panel(ax, "no enriched term")
        save_figure(fig, png_path, svg_path)
        return
    score = -np.log10(np.maximum(top[adjusted_column].to_numpy(dtype=float), SMALLEST_P))
    rows = np.arange(len(top))[::-1]
    colors = np.where(top[adjusted_column].to_numpy() <= cutoff, BLUE, "#b0b0b0")
    ax.barh(rows, score, color=colors)
    ax.set_yticks(rows, labels, fontsize=8)
    ax.axvline(-np.log10(cutoff), color=COMPONENT_COLOR, linestyle="--", linewidth=0.8,
               label=f"{adjusted_column} = {cutoff:g}")
    ax.set_xlabel(f"-log10 {adjusted_column}")
    ax.legend(loc="best", frameon=False)  # off the bars and the cutoff line where there is room
    save_figure(fig, png_path, svg_path)


def plot_component_program_heatmap(jaccard_table: pd.DataFrame, png_path, svg_path=None,
                                   title: str = "CIC component gene sets vs planted programs (Jaccard)",
                                   marks: pd.DataFrame | None = None,
                                   column_groups: pd.Series | None = None) -> None:
    """Heatmap of a components x programs Jaccard table (:class:`cic.perturbation.ProgramMatches`.jaccard).

    ``marks`` (same shape, booleans) puts a white dot on the marked cells (e.g. each component's significant best
    match); ``column_groups`` (program -> group, e.g. its kind) names runs of adjacent columns of the same group
    on the top axis (upright when its name fits above its columns) and separates them with lines.
    """
    n_rows, n_cols = jaccard_table.shape
    fig, ax = plt.subplots(figsize=(np.clip(3.5 + 0.3 * n_cols, 5, 18), np.clip(3.5 + 0.25 * n_rows, 4, 14)),
                           layout="constrained")
    ax.set_title(title)
    if jaccard_table.empty:
        ax.set_axis_off()
        _empty_panel(ax, "no component or program")
        save_figure(fig, png_path, svg_path)
        return
    image = ax.imshow(jaccard_table.to_numpy(dtype=float), cmap="viridis", vmin=0, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(np.arange(n_cols), display_labels(jaccard_table.columns, width=40, max_lines=1), rotation=90,
                  fontsize=7)
    ax.set_yticks(np.arange(n_rows), [str(row) for row in jaccard_table.index], fontsize=7)
    ax.set_xlabel("planted program")
    ax.set_ylabel("CIC component")
    if marks is not None:
        marked = marks.reindex(index=jaccard_table.index, columns=jaccard_table.columns, fill_value=False)
        rows, cols = np.nonzero(marked.to_numpy(dtype=bool))
        ax.scatter(cols, rows, s=14, c="white", edgecolors="black", linewidths=0.5,
                   label="significant best match")
        if len(rows):
            fig.legend(loc="outside lower right", frameon=False, fontsize=7)
    if column_groups is not None:
        groups = [str(column_groups.get(column, "")) for column in jaccard_table.columns]
        runs = []  # (first column, last column, group)
        for index, group in enumerate(groups):
            if runs and runs[-1][2] == group:
                runs[-1][1] = index
            else:
                runs.append([index, index, group])
        for first, _, _ in runs[1:]:
            ax.axvline(first - 0.5, color="white", linewidth=1.5)
        top = ax.secondary_xaxis("top")
        # A run's name stands upright when it fits above its columns (~0.6 em per character), else it turns.
        column_pt = fig.get_figwidth() * 0.7 * 72 / n_cols
        fits = all(len(group) * 0.6 * 8 <= (last - first + 1) * column_pt for first, last, group in runs)
        top.set_xticks([(first + last) / 2 for first, last, _ in runs], [group for _, _, group in runs],
                       fontsize=8, rotation=0 if fits else 90)
        top.tick_params(length=0)
        top.spines["top"].set_visible(False)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Jaccard index")
    save_figure(fig, png_path, svg_path)


def _packed_layout(graph: nx.Graph) -> dict:
    """Layout of each connected part, parts packed in rows (biggest first), isolated nodes in a row underneath.

    One layout of the whole graph pushes unconnected parts (a component and its own terms) far apart and squeezes
    each into an unreadable knot; laying parts out separately keeps every part legible. Parts are laid out by
    ForceAtlas2 (Gephi's default layout, as in the paper's figures; seeded, with node sizes so that nodes do not
    overlap); components without any term (no edge) go in a compact row below instead of taking a part each.
    """
    isolated = sorted(node for node in graph.nodes if graph.degree(node) == 0)
    parts = sorted((nodes for nodes in nx.connected_components(graph) if len(nodes) > 1),
                   key=lambda nodes: (-len(nodes), min(nodes)))
    radii = [0.6 * np.sqrt(len(nodes)) for nodes in parts]  # area proportional to the number of nodes
    row_width = max(1.3 * np.sqrt(sum((2 * radius) ** 2 for radius in radii)), 2 * max(radii, default=1.0))
    position, x, y, row_height = {}, 0.0, 0.0, 0.0
    for nodes, radius in zip(parts, radii):
        if x > 0 and x + 2 * radius > row_width:  # start a new row below
            x, y, row_height = 0.0, y - row_height, 0.0
        part = graph.subgraph(nodes)
        local = nx.forceatlas2_layout(part, max_iter=400, scaling_ratio=4.0, gravity=1.0, seed=0,
                                      node_size={node: _layout_size(graph, node) for node in part})
        xy = np.array(list(local.values()))
        xy = (xy - xy.mean(axis=0)) / max(np.abs(xy - xy.mean(axis=0)).max(), 1e-9)  # into [-1, 1]
        center = np.array([x + radius, y - radius])
        position.update({node: center + 0.9 * radius * point for node, point in zip(local, xy)})
        x, row_height = x + 2 * radius, max(row_height, 2 * radius)
    if isolated:
        width = max(row_width, 1.0)
        per_row = max(10, int(width / 0.6))
        top = y - row_height - (0.6 if parts else 0.0)
        for index, node in enumerate(isolated):
            position[node] = np.array([0.3 + 0.6 * (index % per_row), top - 0.6 * (index // per_row)])
    return position


def _layout_size(graph: nx.Graph, node) -> float:
    """Room a node needs in the layout: components are drawn large, terms small but with a label."""
    return 3.0 if graph.nodes[node].get("kind") == "component" else 2.0


def _component_number(name: str) -> str:
    """'CIC07' -> '7' (the paper labels components by number); other names unchanged."""
    match = re.search(r"(\d+)$", name)
    return str(int(match.group(1))) if match else name


def _empty_panel(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#555555")


def _portable_copy(graph: nx.Graph) -> nx.Graph:
    """Copy with attributes as str/int/float/bool only (no None, no numpy scalars), as GEXF and GraphML need."""
    def plain(value):
        if value is None:
            return ""
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        return str(value)

    portable = nx.Graph()
    portable.add_nodes_from((node, {key: plain(value) for key, value in data.items()})
                            for node, data in graph.nodes(data=True))
    portable.add_edges_from((u, v, {key: plain(value) for key, value in data.items()})
                            for u, v, data in graph.edges(data=True))
    return portable
