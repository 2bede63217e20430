"""Fig 3 rules through snakemake on config/test.yaml (held out: b_cell and t_cell; limma b_cell REPs vs t_cell GEPs)."""

import numpy as np
import pandas as pd
import pytest
import yaml

from cic import io
from cic.defaults import resolve_defaults
from conftest import REPO, benjamini_hochberg_by_definition, reference_ranks
from cic.train import load_model

pytestmark = pytest.mark.workflow

HELD_OUT = ["b_cell", "t_cell"]  # config/test.yaml universality.cell_types


def test_test_config_holds_out_what_these_tests_expect():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for section, values in yaml.safe_load((REPO / "config/test.yaml").read_text()).items():
        config[section] = config[section] | values if isinstance(values, dict) else values
    resolve_defaults(config)  # de_pairs: auto is the simulator's b_cell vs t_cell
    assert config["universality"]["cell_types"] == HELD_OUT
    assert config["universality"]["de_pairs"][0] == {"case": "b_cell", "control": "t_cell"}


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
    per_sample = pd.read_csv(results / "tables/fig3_loto_per_sample.tsv", sep="\t")
    assert len(per_sample) == 24 and set(per_sample["cell_type"]) == set(HELD_OUT)
    # The per-sample ranks, recomputed with scipy from the stored GEPs and held-out REPs (training GEPs: every sample
    # of the other types), and the per-type table's counts and medians, recomputed from the per-sample rows.
    expression = io.read_h5ad(results / "data/expression.h5ad")
    reproduced = io.read_h5ad(results / "data/loto_reproduced_profiles.h5ad")
    gep = pd.DataFrame(np.asarray(expression.X, dtype=np.float32), index=expression.obs_names)
    rep = pd.DataFrame(np.asarray(reproduced.X), index=reproduced.obs_names)
    by_type = table.set_index("cell_type")
    for cell_type, rows in per_sample.groupby("cell_type"):
        training = gep[expression.obs["cell_type"].astype(str) != cell_type]
        for metric in ("spearman", "mse"):
            own, reps = gep.loc[rows["sample"]].to_numpy(), rep.loc[rows["sample"]].to_numpy()
            assert rows[f"rep_rank_{metric}"].tolist() == reference_ranks(own, reps, training, metric).tolist()
            assert rows[f"reverse_rank_{metric}"].tolist() == reference_ranks(reps, own, training, metric).tolist()
            assert by_type.loc[cell_type, f"rep_closer_than_training_{metric}"] == (rows[f"rep_rank_{metric}"] == 1).sum()
            assert by_type.loc[cell_type, f"own_gep_closest_to_rep_{metric}"] == \
                (rows[f"reverse_rank_{metric}"] == 1).sum()
            assert by_type.loc[cell_type, f"median_rep_gep_{metric}"] == \
                pytest.approx(rows[f"rep_gep_{metric}"].median(), rel=1e-9)
    assert not (per_sample["nearest_training_type_mse"] == per_sample["cell_type"]).any()  # never its own type
    for extension in ("png", "svg"):
        assert (results / f"figures/fig3.{extension}").stat().st_size > 1000


def test_limma_and_enrichment_of_held_out_b_cell_reps(test_config_run):
    results = test_config_run / "results"
    reproduced = io.read_h5ad(results / "data/loto_reproduced_profiles.h5ad")
    assert sorted(set(reproduced.obs["cell_type"])) == HELD_OUT and reproduced.n_obs == 24
    de = pd.read_csv(results / "tables/de_b_cell_vs_t_cell.tsv", sep="\t")
    assert len(de) == 300
    np.testing.assert_allclose(de["adjusted_p"], benjamini_hochberg_by_definition(de["p_value"]), rtol=1e-9)
    up = (results / "tables/de_b_cell_vs_t_cell_up_genes.txt").read_text().split()
    passed = (de["log2_fold_change"] > 1.0) & (de["adjusted_p"] <= 0.05)
    assert sorted(up) == sorted(de.loc[passed, "gene"]) and de["up_in_case"].tolist() == passed.tolist()
    enrichment = pd.read_csv(results / "tables/enrichment_b_cell_vs_t_cell_planted_programs.tsv", sep="\t")
    assert {"rank_combined_score", "rank_adjusted_p", "adjusted_p_bh", "combined_score"} <= set(enrichment.columns)
    programs = io.read_gmt(results / "data/synthetic/programs.gmt")
    assert set(enrichment["term"]) <= set(programs)
    # Each term's 2x2 table, counted from the up genes, the program and the background (the 300 genes tested), and
    # Enrichr's odds ratio a*d / max(b*c, 1) and combined score -ln(p) * odds ratio from it.
    for row in enrichment.itertuples():
        members = set(programs[row.term]) & set(de["gene"])
        a = len(members & set(up))
        b, c, d = len(members) - a, len(up) - a, len(de) - len(members) - len(up) + a
        assert (row.n_overlap, row.term_size, row.query_size) == (a, len(members), len(up))
        assert row.odds_ratio == pytest.approx(a * d / max(b * c, 1), rel=1e-9)
        assert row.combined_score == pytest.approx(-np.log(row.p_value) * row.odds_ratio, rel=1e-9)
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
    # Every number the claims read, recomputed from the tables it summarizes.
    tables = test_config_run / "results/tables"
    per_sample = pd.read_csv(tables / "fig3_loto_per_sample.tsv", sep="\t")
    b_cells = per_sample[per_sample["cell_type"] == "b_cell"]
    for metric in ("spearman", "mse"):
        assert float(summary.loc[f"loto_closer_fraction_{metric}", "this_run"]) == \
            pytest.approx((b_cells[f"rep_rank_{metric}"] == 1).mean(), rel=1e-12)
    up = (tables / "de_b_cell_vs_t_cell_up_genes.txt").read_text().split()
    assert int(summary.loc["b_vs_t_de_genes", "this_run"]) == len(up)
    enrichment = pd.read_csv(tables / "enrichment_b_cell_vs_t_cell_planted_programs.tsv", sep="\t")
    if enrichment.empty:  # no up gene in a planted program
        assert summary.loc["b_vs_t_top_pathway", "this_run"].startswith("none")
    else:
        top = enrichment.sort_values(["combined_score", "p_value"], ascending=[False, True], kind="stable").iloc[0]
        assert summary.loc["b_vs_t_top_pathway", "this_run"] == top["term"]
        assert float(summary.loc["b_vs_t_top_pathway_adjusted_p", "this_run"]) == pytest.approx(top["adjusted_p_bh"])
    assert "b_cell_vs_t_cell_planted_programs_rank_of_B_CELL_RECEPTOR_SIGNALING" in summary.index
