"""Figs 5-7 rules through snakemake on config/test.yaml: gene sets, enrichment, networks, program matches."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from cic.io import read_gmt
from conftest import benjamini_hochberg_by_definition, load_test_config

pytestmark = pytest.mark.workflow


def _settings(root):
    return load_test_config(root)["perturbation"]


def test_gene_sets_of_every_component(test_config_run):
    tables = test_config_run / "results/tables"
    top_genes = _settings(test_config_run)["top_genes"]
    sets = read_gmt(tables / "perturbation_gene_sets.gmt")
    components = pd.read_csv(tables / "perturbation_components.tsv", sep="\t")
    assert len(components) == 8  # the test config's code size (L64,G,L8)
    assert list(sets) == components.loc[components["has_gene_set"], "component"].tolist()
    assert all(len(genes) == len(set(genes)) == top_genes for genes in sets.values())
    changes = pd.read_csv(tables / "perturbation_changes.tsv", sep="\t")
    for component, rows in changes.groupby("component"):
        assert rows["gene"].tolist() == sets[component]
        assert rows["change"].abs().is_monotonic_decreasing  # largest absolute change first


def test_enrichment_counts_and_summary(test_config_run):
    tables = test_config_run / "results/tables"
    enrichment = pd.read_csv(tables / "perturbation_enrichment_planted_programs.tsv", sep="\t")
    assert set(enrichment["source"]) == {"planted_programs"}
    for _, rows in enrichment.groupby("component"):  # each component's gene set is its own family of tests
        n_terms = rows["terms_tested"].iloc[0]
        np.testing.assert_allclose(rows["bonferroni"], np.minimum(1.0, rows["p_value"] * n_terms), rtol=1e-9)
        padded = np.concatenate([rows["p_value"], np.ones(n_terms - len(rows))])  # terms without overlap: p = 1
        np.testing.assert_allclose(rows["adjusted_p_bh"], benjamini_hochberg_by_definition(padded)[:len(rows)],
                                   rtol=1e-9)
    counts = pd.read_csv(tables / "perturbation_counts.tsv", sep="\t")
    assert set(counts["scope"]) == {"planted_programs", "fig5", "fig6", "fig7"}
    for row in counts[counts["scope"] == "planted_programs"].itertuples():  # the counts, from the enrichment rows
        passed = enrichment[enrichment["bonferroni" if row.adjustment == "bonferroni" else "adjusted_p_bh"]
                            <= row.cutoff]
        assert (row.n_terms, row.n_pairs, row.n_components_with_term, row.n_components) == \
            (passed["term"].nunique(), len(passed), passed["component"].nunique(), 8)
    by_scope = counts.set_index(["scope", "adjustment", "cutoff"])["n_terms"]
    for adjustment, cutoff in (("bonferroni", 0.01), ("bh", 0.05)):  # the kinds split the library's terms
        assert sum(by_scope[(fig, adjustment, cutoff)] for fig in ("fig5", "fig6", "fig7")) \
            == by_scope[("planted_programs", adjustment, cutoff)]
    summary = pd.read_csv(tables / "perturbation_summary.tsv", sep="\t").set_index("quantity")
    assert summary.loc["fig6_bh_0.05_terms", "paper"] == 2115
    assert int(summary.loc["components", "this_run"]) == 8
    recovered = pd.read_csv(tables / "perturbation_programs_recovered.tsv", sep="\t")
    matches = pd.read_csv(tables / "perturbation_program_matches.tsv", sep="\t")
    assert int(summary.loc["planted_programs_recovered", "this_run"]) == recovered["recovered"].sum()
    assert int(summary.loc["components_matching_a_program", "this_run"]) == matches["significant"].sum()


def test_networks_and_figures(test_config_run):
    results = test_config_run / "results"
    sets = read_gmt(results / "tables/perturbation_gene_sets.gmt")
    for figure in ("fig5", "fig6", "fig7"):
        for extension in ("png", "svg"):
            assert (results / f"figures/{figure}.{extension}").stat().st_size > 1000
        gexf = nx.read_gexf(results / f"networks/{figure}.gexf")
        graphml = nx.read_graphml(results / f"networks/{figure}.graphml")
        assert set(gexf.nodes) == set(graphml.nodes) and gexf.number_of_edges() == graphml.number_of_edges()
        assert set(sets) <= set(gexf.nodes)
        assert all(node in sets for edge in gexf.edges for node in edge if not node.startswith("term:"))
    assert (results / "figures/component_programs.png").stat().st_size > 1000


def test_program_matches(test_config_run):
    tables = test_config_run / "results/tables"
    matches = pd.read_csv(tables / "perturbation_program_matches.tsv", sep="\t")
    programs = read_gmt(test_config_run / "results/data/synthetic/programs.gmt")
    assert sorted(matches["component"]) == sorted(read_gmt(tables / "perturbation_gene_sets.gmt"))
    assert set(matches["best_by_p"]) <= set(programs)
    # Each component's best Jaccard index |A & B| / |A | B| over the planted programs, counted from the two GMTs.
    sets = read_gmt(tables / "perturbation_gene_sets.gmt")
    for row in matches.itertuples():
        jaccard = {name: len(set(sets[row.component]) & set(genes)) / len(set(sets[row.component]) | set(genes))
                   for name, genes in programs.items()}
        assert row.jaccard == pytest.approx(max(jaccard.values()), rel=1e-9)
        assert jaccard[row.best_by_jaccard] == pytest.approx(row.jaccard, rel=1e-9)
    recovered = pd.read_csv(tables / "perturbation_programs_recovered.tsv", sep="\t")
    assert sorted(recovered["program"]) == sorted(programs)
    assert recovered["recovered"].tolist() == (recovered["n_components_matching"] > 0).tolist()
    # A component's significant best program is a recovered program.
    assert set(matches.loc[matches["significant"], "best_by_p"]) <= set(recovered.loc[recovered["recovered"], "program"])
    assert set(recovered["kind"]) <= {"identity", "lineage", "treatment"}
