"""Fig 3 rules through snakemake on config/test.yaml (held out: b_cell and t_cell; limma b_cell REPs vs t_cell GEPs)."""

import pandas as pd
import pytest
import yaml

from cic import io
from conftest import REPO
from cic.train import load_model

pytestmark = pytest.mark.workflow

HELD_OUT = ["b_cell", "t_cell"]  # config/test.yaml universality.cell_types


def test_test_config_holds_out_what_these_tests_expect():
    settings = yaml.safe_load((REPO / "config/test.yaml").read_text())["universality"]
    assert settings["cell_types"] == HELD_OUT
    assert settings["de_pairs"][0] == {"case": "b_cell", "control": "t_cell"}


def test_one_network_per_held_out_type(test_config_run):
    results = test_config_run / "results"
    assert (results / "tables/fig3_held_out_cell_types.txt").read_text().split() == HELD_OUT
    assert sorted(path.name for path in (results / "models/loto").iterdir() if path.is_dir()) == HELD_OUT
    seeds = set()
    for cell_type in HELD_OUT:
        model, meta = load_model(results / f"models/loto/{cell_type}/model.pt")
        assert (meta["holdout_column"], meta["holdout_value"]) == ("cell_type", cell_type)
        assert model.spec == "L64,G,L8"  # the selected architecture (model.architecture)
        history = pd.read_csv(results / f"models/loto/{cell_type}/history.tsv", sep="\t")
        assert len(history) == 2  # universality.training overrides training.epochs (3) with 2
        seeds.add(meta["seed"])
    assert len(seeds) == len(HELD_OUT)  # each type its own seed


def test_fig3_table_and_figure(test_config_run):
    results = test_config_run / "results"
    table = pd.read_csv(results / "tables/fig3_loto.tsv", sep="\t")
    assert table["cell_type"].tolist() == HELD_OUT
    assert table["n_held_out"].tolist() == [12, 12] and table["n_training"].tolist() == [15 * 12] * 2
    for metric in ("spearman", "mse"):
        assert table[f"rep_closer_than_training_{metric}"].between(0, 12).all()
        assert table[f"own_gep_closest_to_rep_{metric}"].between(0, 12).all()
    assert table["median_rep_gep_spearman"].between(-1, 1).all() and (table["median_rep_gep_mse"] > 0).all()
    per_sample = pd.read_csv(results / "tables/fig3_loto_per_sample.tsv", sep="\t")
    assert len(per_sample) == 24 and set(per_sample["cell_type"]) == set(HELD_OUT)
    assert not (per_sample["nearest_training_type_mse"] == per_sample["cell_type"]).any()  # never its own type
    for extension in ("png", "svg"):
        assert (results / f"figures/fig3.{extension}").stat().st_size > 1000


def test_limma_and_enrichment_of_held_out_b_cell_reps(test_config_run):
    results = test_config_run / "results"
    reproduced = io.read_h5ad(results / "data/loto_reproduced_profiles.h5ad")
    assert sorted(set(reproduced.obs["cell_type"])) == HELD_OUT and reproduced.n_obs == 24
    de = pd.read_csv(results / "tables/de_b_cell_vs_t_cell.tsv", sep="\t")
    assert len(de) == 300 and de["adjusted_p"].between(0, 1).all()
    up = (results / "tables/de_b_cell_vs_t_cell_up_genes.txt").read_text().split()
    passed = (de["log2_fold_change"] > 1.0) & (de["adjusted_p"] <= 0.05)
    assert sorted(up) == sorted(de.loc[passed, "gene"])
    enrichment = pd.read_csv(results / "tables/enrichment_b_cell_vs_t_cell_planted_programs.tsv", sep="\t")
    assert {"rank_combined_score", "rank_adjusted_p", "adjusted_p_bh", "combined_score"} <= set(enrichment.columns)
    assert set(enrichment["term"]) <= set(io.read_gmt(results / "data/synthetic/programs.gmt"))
    for extension in ("png", "svg"):
        figure = results / f"figures/fig3_enrichment_b_cell_vs_t_cell_planted_programs.{extension}"
        assert figure.stat().st_size > 1000
    truth = pd.read_csv(results / "tables/enrichment_b_cell_vs_t_cell_planted_programs_true_programs.tsv", sep="\t")
    assert {"B_CELL_RECEPTOR_SIGNALING", "LYMPHOID"} <= set(truth["program"])
    assert "T_CELL_RECEPTOR_SIGNALING" not in set(truth["program"])  # only the case type's programs


def test_universality_summary(test_config_run):
    summary = pd.read_csv(test_config_run / "results/tables/universality_summary.tsv", sep="\t").set_index("quantity")
    for quantity in ("loto_closer_fraction_spearman", "loto_closer_fraction_mse", "b_vs_t_de_genes",
                     "b_vs_t_top_pathway", "b_vs_t_top_pathway_adjusted_p"):  # read by cic.claims
        assert quantity in summary.index
    assert int(summary.loc["b_vs_t_de_genes", "paper"]) == 380
    assert 0 <= float(summary.loc["loto_closer_fraction_spearman", "this_run"]) <= 1
    assert "b_cell_vs_t_cell_planted_programs_rank_of_B_CELL_RECEPTOR_SIGNALING" in summary.index
