"""Component-term networks (paper Figs 5-7) and the enrichment / program-matching plots.

The paper drew, with Gephi, one network per annotation type: the 30 CIC components (red numbers) linked to the
cellular compartments, biological processes or pathways their gene sets enrich (Bonferroni-adjusted p below 0.01
or 0.05). Here the graph is built with networkx, drawn with matplotlib and also written as GEXF (Gephi) and
GraphML (Cytoscape), so it can be laid out by hand as in the paper.
"""

from __future__ import annotations

import os
import re
import textwrap

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from cic.figures import save_figure
from cic.io import atomic_path

COMPONENT_COLOR = "#c62828"
TERM_COLORS = ("#4a78b5", "#7f7f7f", "#2e8b57", "#8e5ea2", "#d98c1f", "#3fa7b5")
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
    """Draw a component-term graph: red numbered components, small term nodes coloured by source, with a legend."""
    components = [node for node, kind in graph.nodes(data="kind") if kind == "component"]
    terms = [node for node, kind in graph.nodes(data="kind") if kind == "term"]
    side = float(np.clip(5 + 0.45 * np.sqrt(graph.number_of_nodes()) * 2, 6, 22))  # grows with the graph
    if graph.number_of_edges() == 0:
        side = 6.0
    fig, ax = plt.subplots(figsize=(side, side))
    ax.set_title(title)
    ax.set_axis_off()
    if graph.number_of_edges() == 0:
        _empty_panel(ax, f"no term passed the cutoff\n({len(components)} components tested)")
        save_figure(fig, png_path, svg_path)
        return

    position = _packed_layout(graph)
    label_size = float(np.clip(11 - graph.number_of_nodes() / 25, 4.5, 9))
    widths = [0.4 + 0.25 * min(weight, 12) / 3 for _, _, weight in graph.edges(data="weight")]
    nx.draw_networkx_edges(graph, position, ax=ax, width=widths, edge_color="#b0b0b0", alpha=0.7)

    sources = sorted({graph.nodes[term]["source"] for term in terms})
    source_color = {source: TERM_COLORS[index % len(TERM_COLORS)] for index, source in enumerate(sources)}
    nx.draw_networkx_nodes(graph, position, nodelist=terms, ax=ax, node_size=28,
                           node_color=[source_color[graph.nodes[term]["source"]] for term in terms])
    nx.draw_networkx_nodes(graph, position, nodelist=components, ax=ax, node_size=420 * label_size / 9,
                           node_color=COMPONENT_COLOR, edgecolors="white", linewidths=0.8)
    nx.draw_networkx_labels(graph, position, labels={node: graph.nodes[node]["label"] for node in components},
                            ax=ax, font_size=label_size, font_color="white", font_weight="bold")

    # Label the best-supported terms only when there are too many to read.
    labelled = sorted(terms, key=lambda term: graph.nodes[term]["p"])[:MAX_TERM_LABELS]
    term_labels = {term: _short_label(graph.nodes[term]["label"]) for term in labelled}
    nx.draw_networkx_labels(graph, position, labels=term_labels, ax=ax, font_size=label_size * 0.85,
                            font_color="#222222", verticalalignment="bottom")

    isolated = [node for node in components if graph.degree(node) == 0]
    if isolated:  # _packed_layout puts them in rows below the parts
        corner = np.array([position[node] for node in isolated])
        ax.annotate("components without a term at this cutoff", (corner[:, 0].min(), corner[:, 1].max()),
                    xytext=(-12, 14), textcoords="offset points", fontsize=label_size, color="#555555",
                    ha="left", va="bottom")

    handles = [Line2D([], [], marker="o", linestyle="", markersize=10, color=COMPONENT_COLOR,
                      label=f"CIC component ({len(components)})")]
    handles += [Line2D([], [], marker="o", linestyle="", markersize=5, color=source_color[source],
                       label=f"{source or 'term'} ({sum(graph.nodes[t]['source'] == source for t in terms)})")
                for source in sources]
    ax.legend(handles=handles, loc="upper left", frameon=False)
    if len(terms) > MAX_TERM_LABELS:
        ax.text(0.99, 0.01, f"labels: {MAX_TERM_LABELS} of {len(terms)} terms (smallest p)",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="#555555")
    save_figure(fig, png_path, svg_path)


def write_graph_files(graph: nx.Graph, gexf_path: str | os.PathLike, graphml_path: str | os.PathLike) -> None:
    """Write the graph as GEXF (Gephi) and GraphML (Cytoscape), atomically, with plain attribute types."""
    portable = _portable_copy(graph)
    with atomic_path(gexf_path) as tmp:
        nx.write_gexf(portable, tmp)
    with atomic_path(graphml_path) as tmp:
        nx.write_graphml(portable, tmp)


def plot_top_terms(result: pd.DataFrame, n: int, png_path, svg_path=None, title: str = "",
                   adjusted_column: str = "adjusted_p_bh", cutoff: float = 0.05) -> None:
    """Horizontal bars of -log10 adjusted p for the ``n`` terms with the smallest p, best on top."""
    top = result.sort_values("p_value", kind="stable").head(n)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.32 * max(len(top), 3)))
    ax.set_title(title)
    if top.empty:
        ax.set_axis_off()
        _empty_panel(ax, "no enriched term")
        save_figure(fig, png_path, svg_path)
        return
    score = -np.log10(np.maximum(top[adjusted_column].to_numpy(dtype=float), SMALLEST_P))
    labels = [_short_label(term, width=45, lines=1) for term in top["term"]]
    rows = np.arange(len(top))[::-1]
    colors = np.where(top[adjusted_column].to_numpy() <= cutoff, "#4a78b5", "#b0b0b0")
    ax.barh(rows, score, color=colors)
    ax.set_yticks(rows, labels, fontsize=8)
    ax.axvline(-np.log10(cutoff), color="#c62828", linestyle="--", linewidth=0.8,
               label=f"{adjusted_column} = {cutoff:g}")
    ax.set_xlabel(f"-log10 {adjusted_column}")
    ax.legend(loc="lower right", frameon=False)
    save_figure(fig, png_path, svg_path)


def plot_component_program_heatmap(jaccard_table: pd.DataFrame, png_path, svg_path=None,
                                   title: str = "CIC component gene sets vs planted programs (Jaccard)",
                                   marks: pd.DataFrame | None = None,
                                   column_groups: pd.Series | None = None) -> None:
    """Heatmap of a components x programs Jaccard table (:class:`cic.perturbation.ProgramMatches`.jaccard).

    ``marks`` (same shape, booleans) puts a white dot on the marked cells (e.g. each component's significant best
    match); ``column_groups`` (program -> group, e.g. its kind) labels runs of adjacent columns of the same group
    above the heatmap and separates them with lines.
    """
    n_rows, n_cols = jaccard_table.shape
    fig, ax = plt.subplots(figsize=(np.clip(2.5 + 0.3 * n_cols, 5, 18), np.clip(2.5 + 0.25 * n_rows, 4, 14)))
    ax.set_title(title, pad=22 if column_groups is not None else 6)
    if jaccard_table.empty:
        ax.set_axis_off()
        _empty_panel(ax, "no component or program")
        save_figure(fig, png_path, svg_path)
        return
    image = ax.imshow(jaccard_table.to_numpy(dtype=float), cmap="viridis", vmin=0, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(np.arange(n_cols), [_short_label(column, width=28, lines=1) for column in jaccard_table.columns],
                  rotation=90, fontsize=7)
    ax.set_yticks(np.arange(n_rows), [str(row) for row in jaccard_table.index], fontsize=7)
    ax.set_xlabel("planted program")
    ax.set_ylabel("CIC component")
    if marks is not None:
        marked = marks.reindex(index=jaccard_table.index, columns=jaccard_table.columns, fill_value=False)
        rows, cols = np.nonzero(marked.to_numpy(dtype=bool))
        ax.scatter(cols, rows, s=14, c="white", edgecolors="black", linewidths=0.5,
                   label="significant best match")
        if len(rows):
            ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.35), frameon=False, fontsize=7)
    if column_groups is not None:
        groups = [str(column_groups.get(column, "")) for column in jaccard_table.columns]
        start = 0
        for index in range(1, n_cols + 1):
            if index == n_cols or groups[index] != groups[start]:
                if start > 0:
                    ax.axvline(start - 0.5, color="white", linewidth=1.5)
                ax.text((start + index - 1) / 2, -0.7, groups[start], ha="center", va="bottom", fontsize=8,
                        clip_on=False)
                start = index
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


def _short_label(text: str, width: int = 22, lines: int = 2) -> str:
    """Wrap a term name to ``lines`` lines of ``width`` characters, ending with an ellipsis when cut."""
    text = str(text).replace("_", " ")
    wrapped = textwrap.wrap(text, width=width, max_lines=lines, placeholder="…")
    return "\n".join(wrapped) if wrapped else text


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
