"""Defaults that adapt (cic.defaults): `auto` is the simulator's choice on synthetic data and the data's own
elsewhere; what is left out says which key runs it."""

import copy

import pandas as pd
import pytest
import yaml

from cic.claims import evaluate_claims
from cic.config_checks import check_config
from cic.defaults import example_cell_types, not_run, resolve_defaults
from cic.stages.universality import summarize
from conftest import REPO

DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
# What config.yaml spelled out before the settings adapted: synthetic runs must keep these exact values.
PLANTED = [{"name": "planted_programs", "gmt": "results/data/synthetic/programs.gmt"}]
PLANTED_FIGURES = {"fig5": {"source": "planted_programs", "terms": "identity", "bonferroni_cutoff": 0.01},
                   "fig6": {"source": "planted_programs", "terms": "lineage", "bonferroni_cutoff": 0.01},
                   "fig7": {"source": "planted_programs", "terms": "treatment", "bonferroni_cutoff": 0.05}}


def _resolved(**dataset):
    config = copy.deepcopy(DEFAULT)
    config["dataset"] |= dataset
    if dataset.get("source") == "local":  # a user's own matrix (check_config refuses a local source without one)
        config["dataset"]["local"] = config["dataset"]["local"] | {"expression": "my_expression.tsv"}
    skipped = resolve_defaults(config)
    check_config(config)
    return config, skipped


def test_the_default_config_is_auto_and_resolves_to_the_simulators_choices():
    assert DEFAULT["enrichment"]["sources"] == DEFAULT["universality"]["de_pairs"] == "auto"
    assert DEFAULT["perturbation"]["figures"] == DEFAULT["reconstruction"]["example_cell_types"] == "auto"
    config, skipped = _resolved()
    assert config["enrichment"]["sources"] == PLANTED
    assert config["universality"]["de_pairs"] == [{"case": "b_cell", "control": "t_cell"}]
    assert config["perturbation"]["figures"] == PLANTED_FIGURES
    assert skipped == []


def test_on_other_data_nothing_names_the_simulator_and_the_skips_name_their_keys():
    config, skipped = _resolved(source="local")
    assert config["enrichment"]["sources"] == [] and config["universality"]["de_pairs"] == []
    assert config["perturbation"]["figures"] == {}
    assert len(skipped) == 2
    assert "universality.de_pairs is empty" in skipped[0] and "set universality.de_pairs" in skipped[0]
    assert "enrichment.sources is empty" in skipped[1] and "set enrichment.sources" in skipped[1]


def test_figures_draw_the_first_source_at_the_papers_cutoffs_and_explicit_values_stay():
    config = copy.deepcopy(DEFAULT)
    config["dataset"]["source"] = "geo"
    config["enrichment"]["sources"] = [{"name": "GO_CC", "gmt": "go_cc.gmt"}, {"name": "KEGG", "gmt": "kegg.gmt"}]
    config["universality"]["de_pairs"] = [{"case": "B cell", "control": "T cell"}]
    resolve_defaults(config)
    assert config["perturbation"]["figures"] == {
        figure: {"source": "GO_CC", "terms": "all", "bonferroni_cutoff": cutoff}
        for figure, cutoff in (("fig5", 0.01), ("fig6", 0.01), ("fig7", 0.05))}
    assert config["universality"]["de_pairs"] == [{"case": "B cell", "control": "T cell"}]


@pytest.mark.parametrize("dataset, universality", [
    ({"cell_types": ["b_cell", "esc"]}, {}),       # t_cell left out of the data
    ({}, {"cell_types": ["t_cell", "esc"]}),       # b_cell not held out
])
def test_synthetic_data_without_the_papers_pair_gets_no_comparison(dataset, universality):
    config = copy.deepcopy(DEFAULT)
    config["dataset"] |= dataset
    config["universality"] |= universality
    resolve_defaults(config)
    assert config["universality"]["de_pairs"] == []
    if universality:
        check_config(config)  # no pair naming a type outside universality.cell_types


def test_example_types_are_the_papers_three_or_the_three_largest():
    synthetic = ["colon"] * 3 + ["neuron"] * 2 + ["esc"] * 2 + ["b_cell"] * 9
    assert example_cell_types("auto", synthetic) == ["colon", "neuron", "esc"]
    tumours = ["myxoid liposarcoma"] * 5 + ["synovial sarcoma"] * 4 + ["lipoma"] * 5 + ["MFH"] * 4 + ["x"]
    assert example_cell_types("auto", tumours) == ["lipoma", "myxoid liposarcoma", "MFH"]  # ties: label order
    assert example_cell_types("auto", ["colon"] * 3 + ["neuron"] * 3 + ["esc"]) == ["colon", "neuron"]  # esc < 2
    assert example_cell_types(["Müller glia ", "esc"], synthetic) == ["Müller glia", "esc"]


def _universality_summary(tmp_path, de_paths, enrichment_paths, pathway_source):
    per_type = pd.DataFrame({"cell_type": ["a", "b"], "n_training": [4, 4], "n_held_out": [4, 4],
                         **{f"{stat}_{metric}": [1, 1] for stat in ("rep_closer_than_training",
                                                                    "own_gep_closest_to_rep", "median_rep_gep",
                                                                    "median_nearest_training", "wilcoxon_p")
                            for metric in ("spearman", "mse")}})
    per_type.to_csv(tmp_path / "fig3_loto.tsv", sep="\t", index=False)
    summarize(tmp_path / "fig3_loto.tsv", de_paths, enrichment_paths, pathway_source, tmp_path / "summary.tsv",
              comparisons={pair: {"case": "a", "control": "b"} for pair in de_paths})
    return tmp_path / "summary.tsv"


def test_skipped_steps_are_not_run_claims_naming_the_key(tmp_path):
    summary = _universality_summary(tmp_path, {}, {}, None)
    claims = evaluate_claims({"universality": summary}, "local").set_index("claim")
    b_cells = claims.loc[claims["source"].str.contains("universality_summary")]
    assert len(b_cells) == 3
    assert (b_cells["holds"] == "not run").all()
    assert (b_cells["this_run"] == not_run("universality.de_pairs", "its first case stands for the paper's B "
                                                                    "cells")).all()
    assert b_cells["this_run"].iloc[0] == ("not run: set `universality.de_pairs` (its first case stands for the "
                                           "paper's B cells)")
    # With a comparison but no gene set source, only the pathway claim is left out, and it names that key.
    pd.DataFrame({"gene": ["g1", "g2"], "up_in_case": [True, False]}).to_csv(tmp_path / "de.tsv", sep="\t",
                                                                             index=False)
    summary = _universality_summary(tmp_path, {"a_vs_b": tmp_path / "de.tsv"}, {}, None)
    claims = evaluate_claims({"universality": summary}, "local").set_index("claim")
    pathway = claims.loc["The top pathway of those genes is B-cell receptor signalling"]
    assert (pathway["holds"], pathway["this_run"]) == ("not run", "not run: set `enrichment.sources` (a GMT file of "
                                                                  "the data's gene ids)")
    genes = claims.loc["B-cell REPs vs T-cell GEPs: genes up in B-cell REPs (limma, log2FC > 1, BH <= 0.05)"]
    assert (genes["holds"], genes["this_run"]) == ("yes", "1 genes")


def test_the_reports_front_page_names_what_was_not_run():
    """workflow/report/workflow.rst (rendered by snakemake --report with jinja2) says which steps a config left out."""
    from types import SimpleNamespace

    import jinja2

    template = jinja2.Template((REPO / "workflow/report/workflow.rst").read_text())
    local, _ = _resolved(source="local")
    page = template.render(snakemake=SimpleNamespace(config=local))
    assert "**Not run** in this configuration: limma" in page and "``universality.de_pairs``" in page
    assert "Figs 5-7\n(set ``enrichment.sources``" in page
    synthetic, _ = _resolved()
    assert "Not run" not in template.render(snakemake=SimpleNamespace(config=synthetic))
