import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from cic.figures.network import (component_term_graph, draw_component_network, plot_component_program_heatmap,
                                 plot_top_terms, write_graph_files)


@pytest.fixture
def long_table():
    """enrich_many-style rows: CIC11 and CIC06 pass Bonferroni 0.01, CIC02 does not; 'extracellular space' shared."""
    rows = [
        ("CIC11", "spindle", 1e-8, 1e-6, "GO_CC"),
        ("CIC11", "kinetochore", 1e-7, 1e-5, "GO_CC"),
        ("CIC11", "extracellular space", 1e-5, 0.004, "GO_CC"),
        ("CIC06", "extracellular space", 0.0, 0.0, "GO_CC"),  # underflowed p
        ("CIC06", "Cell cycle", 1e-4, 0.009, "KEGG"),
        ("CIC02", "ribosome", 0.01, 0.5, "GO_CC"),
    ]
    return pd.DataFrame(rows, columns=["query", "term", "p_value", "bonferroni", "source"])


def test_graph_nodes_and_edges(long_table):
    graph = component_term_graph(long_table, "bonferroni", 0.01, components=["CIC02"])
    components = {n for n, kind in graph.nodes(data="kind") if kind == "component"}
    terms = {graph.nodes[n]["label"] for n, kind in graph.nodes(data="kind") if kind == "term"}
    assert components == {"CIC11", "CIC06", "CIC02"}
    assert terms == {"spindle", "kinetochore", "extracellular space", "Cell cycle"}
    assert graph.nodes["CIC06"]["label"] == "6" and graph.degree("CIC02") == 0
    assert graph.number_of_edges() == 5
    shared = "term:GO_CC:extracellular space"
    assert set(graph.neighbors(shared)) == {"CIC11", "CIC06"} and graph.nodes[shared]["n_components"] == 2
    assert graph.nodes["term:KEGG:Cell cycle"]["source"] == "KEGG"
    assert graph.edges["CIC11", "term:GO_CC:spindle"]["weight"] == pytest.approx(8.0)
    assert np.isfinite(graph.edges["CIC06", shared]["weight"])


def test_drawing_writes_png_and_svg(tmp_path, long_table):
    graph = component_term_graph(long_table, "bonferroni", 0.01)
    draw_component_network(graph, tmp_path / "net.png", tmp_path / "net.svg", "Cellular compartments")
    empty = component_term_graph(long_table.assign(bonferroni=1.0), "bonferroni", 0.01)
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep SVG text as text, so the test can read it
        draw_component_network(empty, tmp_path / "empty.png", tmp_path / "empty.svg", "nothing")
    for name in ("net.png", "net.svg", "empty.png", "empty.svg"):
        assert (tmp_path / name).stat().st_size > 0
    assert "no term passed the cutoff" in (tmp_path / "empty.svg").read_text()


def test_graph_files_parse_back(tmp_path, long_table):
    graph = component_term_graph(long_table, "bonferroni", 0.01, components=["CIC02"])
    graph.nodes["CIC02"]["note"] = None  # must not break the writers
    write_graph_files(graph, tmp_path / "net.gexf", tmp_path / "net.graphml")
    for parsed in (nx.read_gexf(tmp_path / "net.gexf"), nx.read_graphml(tmp_path / "net.graphml")):
        assert set(parsed.nodes) == set(graph.nodes)
        assert {frozenset(edge) for edge in parsed.edges} == {frozenset(edge) for edge in graph.edges}
    graphml = nx.read_graphml(tmp_path / "net.graphml")
    assert graphml.nodes["CIC11"]["kind"] == "component"
    assert graphml.edges["CIC11", "term:GO_CC:spindle"]["weight"] == pytest.approx(8.0)


def test_top_terms_and_heatmap_plots(tmp_path):
    result = pd.DataFrame({"term": ["B cell receptor signaling pathway", "Antigen processing", "Ribosome"],
                           "p_value": [1e-6, 1e-3, 0.2], "adjusted_p_bh": [3e-5, 0.02, 0.6]})
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        plot_top_terms(result, 2, tmp_path / "top.png", tmp_path / "top.svg", "B-cell genes")
    plot_top_terms(result.iloc[:0], 5, tmp_path / "none.png", tmp_path / "none.svg", "empty")
    jaccard = pd.DataFrame([[0.6, 0.0], [0.05, 0.4]], index=["CIC01", "CIC02"], columns=["PROGRAM_A", "PROGRAM_B"])
    plot_component_program_heatmap(jaccard, tmp_path / "heat.png", tmp_path / "heat.svg")
    for name in ("top.png", "top.svg", "none.png", "none.svg", "heat.png", "heat.svg"):
        assert (tmp_path / name).stat().st_size > 0
    assert "B cell receptor" in (tmp_path / "top.svg").read_text()
