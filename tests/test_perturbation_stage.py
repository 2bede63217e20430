"""The Figs 5-7 stage functions on small inputs the tests write themselves (offline, seconds)."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from cic import io
from cic.enrichment import enrich_source_many
from cic.errors import InputError
from cic.model import Autoencoder, ClassifierAutoencoder
from cic.perturbation import PROGRAM_KINDS, genes_in_several_sets, program_kind
from cic.simulate import PERTURBATION_PROGRAMS, TYPE_PROGRAMS
from cic.stages import perturbation as stage
from cic.train import decode, encode, save_model

GENES = [f"G{i:03d}" for i in range(200)]
TERMS = {f"TERM_{t}": GENES[t * 20:t * 20 + 20] for t in range(6)}  # disjoint blocks of 20 genes
FIGURES = {"fig5": {"source": "toy", "terms": "all", "bonferroni_cutoff": 0.01},
           "fig6": {"source": "toy", "terms": "all", "bonferroni_cutoff": 0.01},
           "fig7": {"source": "toy", "terms": "all", "bonferroni_cutoff": 0.05}}
CUTOFFS = [{"adjustment": "bonferroni", "cutoff": 0.01}, {"adjustment": "bh", "cutoff": 0.05}]


def _write_expression(path, n_samples=30, seed=0):
    matrix = np.random.default_rng(seed).normal(8, 1, size=(n_samples, len(GENES))).astype(np.float32)
    samples = pd.DataFrame({"cell_type": ["a", "b"] * (n_samples // 2), "study": "s1"},
                           index=[f"S{i:02d}" for i in range(n_samples)])
    io.write_h5ad(io.expression_container(matrix, samples, GENES), path)
    return matrix


@pytest.fixture
def enriched(tmp_path):
    """Component sets: CIC01 = TERM_0's genes, CIC02 = 15 of TERM_3's genes + 5 others, CIC03 spread thin."""
    expression = tmp_path / "expression.h5ad"
    _write_expression(expression)
    sets = {"CIC01": TERMS["TERM_0"], "CIC02": GENES[60:75] + GENES[150:155],
            "CIC03": [GENES[i] for i in range(5, 200, 10)]}
    io.write_gmt(sets, tmp_path / "sets.gmt")
    io.write_gmt(TERMS, tmp_path / "toy.gmt")
    table_path = tmp_path / "enrichment_toy.tsv"
    stage.enrich_gene_sets(tmp_path / "sets.gmt", expression, {"name": "toy", "gmt": str(tmp_path / "toy.gmt")},
                           table_path)
    return tmp_path, table_path


def test_program_kinds_cover_every_planted_program():
    kinds = {program: program_kind(program) for program in [*TYPE_PROGRAMS, *PERTURBATION_PROGRAMS]}
    assert set(kinds.values()) == set(PROGRAM_KINDS)
    assert {p for p, kind in kinds.items() if kind == "treatment"} == set(PERTURBATION_PROGRAMS)
    assert kinds["B_CELL_RECEPTOR_SIGNALING"] == "identity" and kinds["LYMPHOID"] == "lineage"
    with pytest.raises(KeyError, match="GO:0005634 nucleus"):
        program_kind("GO:0005634 nucleus")


def test_genes_in_several_sets():
    shared = genes_in_several_sets({"A": ["x", "y", "y"], "B": ["y", "z"], "C": ["z", "y"]})
    assert shared.to_dict() == {"y": 3, "z": 2}


@pytest.mark.parametrize("network", ["main", "classifier_autoencoder"])
def test_gene_sets_stage_perturbs_the_saved_models_decoder(tmp_path, network):
    expression = tmp_path / "expression.h5ad"
    matrix = _write_expression(expression)
    model = (Autoencoder(len(GENES), "L16,G,L4") if network == "main"
             else ClassifierAutoencoder(len(GENES), "L16,G,L4", n_classes=2))
    save_model(model, tmp_path / "model.pt", {"genes": GENES})
    paths = {name: tmp_path / name for name in ("sets.gmt", "changes.tsv", "components.tsv")}
    stage.gene_sets(tmp_path / "model.pt", expression, 2.0, 12, *paths.values())

    codes = encode(model, matrix)
    raised = codes.mean(axis=0) + np.diag(2.0 * codes.std(axis=0, ddof=1))
    change = decode(model, raised) - decode(model, codes.mean(axis=0, keepdims=True))
    sets = io.read_gmt(paths["sets.gmt"])
    assert list(sets) == ["CIC01", "CIC02", "CIC03", "CIC04"]
    for index, genes in enumerate(sets.values()):
        expected = {GENES[i] for i in np.argsort(-np.abs(change[index]))[:12]}
        assert set(genes) == expected
    changes = pd.read_csv(paths["changes.tsv"], sep="\t")
    assert changes.groupby("component")["gene"].apply(list).to_dict() == sets
    components = pd.read_csv(paths["components.tsv"], sep="\t")
    assert components["sigma"].to_numpy() == pytest.approx(codes.std(axis=0, ddof=1), rel=1e-5)

    save_model(model, tmp_path / "other.pt", {"genes": GENES[::-1]})
    with pytest.raises(InputError, match="other genes"):
        stage.gene_sets(tmp_path / "other.pt", expression, 2.0, 12, *paths.values())


def test_enrichment_counts_and_networks_offline(enriched):
    folder, table_path = enriched
    table = stage.read_enrichment(table_path)
    assert set(table["source"]) == {"toy"}
    best = table.sort_values("p_value").drop_duplicates("component").set_index("component")["term"]
    assert best["CIC01"] == "TERM_0" and best["CIC02"] == "TERM_3"
    assert table["terms_tested"].eq(len(TERMS)).all()  # Bonferroni multiplier = terms in the background

    counts = stage.count_enrichment({"toy": table_path}, folder / "sets.gmt", FIGURES, CUTOFFS,
                                    folder / "counts.tsv")
    strict = counts[(counts["scope"] == "toy") & (counts["adjustment"] == "bonferroni")].iloc[0]
    assert strict["n_components"] == 3 and strict["n_components_with_term"] == 2  # CIC03 enriches nothing
    assert strict["n_terms"] == 2 and strict["n_pairs"] == 2

    outputs = {f"{figure}_{kind}": folder / f"{figure}.{kind}" for figure in FIGURES
               for kind in ("png", "svg", "gexf", "graphml")}
    stage.plot_networks({"toy": table_path}, folder / "sets.gmt", FIGURES, outputs)
    for reader, kind in ((nx.read_gexf, "gexf"), (nx.read_graphml, "graphml")):
        graph = reader(outputs[f"fig5_{kind}"])
        assert {"CIC01", "CIC02", "CIC03"} <= set(graph.nodes)  # components without a term stay, isolated
        assert graph.has_edge("CIC01", "term:toy:TERM_0") and graph.degree("CIC03") == 0
    assert outputs["fig7_png"].stat().st_size > 1000


def test_term_kinds_need_planted_programs(enriched):
    _, table_path = enriched
    with pytest.raises(InputError, match="not a planted program"):
        stage.select_terms(stage.read_enrichment(table_path), "identity", table_path)


def test_summary_puts_paper_totals_beside_the_figures(enriched):
    folder, table_path = enriched
    components = pd.DataFrame({"component": ["CIC01", "CIC02", "CIC03"], "baseline": 0.0, "sigma": 1.0})
    io.write_table(components, folder / "components.tsv")
    stage.summarize({"toy": table_path}, folder / "sets.gmt", folder / "components.tsv", FIGURES, CUTOFFS,
                    folder / "counts.tsv", folder / "summary.tsv")
    summary = pd.read_csv(folder / "summary.tsv", sep="\t").set_index("quantity")
    assert summary.loc["fig6_bh_0.05_terms", "paper"] == 2115
    assert summary.loc["fig5_bh_0.05_terms", "paper"] == 303 and summary.loc["fig7_bh_0.05_terms", "paper"] == 484
    assert summary.loc["fig5_bonferroni_0.01_components_with_term", "this_run"] == 2
    assert summary.loc["genes_in_two_or_more_sets", "this_run"] == 3  # G005, G015 (CIC01), G065 (CIC02)


def test_enrich_source_many_reads_a_local_source_once(tmp_path):
    io.write_gmt(TERMS, tmp_path / "toy.gmt")
    table = enrich_source_many({"q1": TERMS["TERM_2"][:10], "q2": ["nothing"]},
                               {"name": "toy", "gmt": str(tmp_path / "toy.gmt")}, GENES)
    assert set(table["query"]) == {"q1"} and set(table["source"]) == {"toy"}
    assert table.iloc[0]["term"] == "TERM_2"
