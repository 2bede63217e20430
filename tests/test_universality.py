"""Fig 3 stage (leave-one-cell-type-out, limma on held-out REPs, enrichment) on small hand-made inputs."""


import numpy as np
import pandas as pd
import pytest

from cic import io
from cic.errors import InputError
from cic.evaluation import rank_among_references
from cic.figures.fig3 import plot_universality_medians
from cic.stages.universality import (differential_expression, enrich_up_genes, evaluate_held_out_models,
                                     evaluate_universality, held_out_cell_types, held_out_comparison, rank_terms,
                                     read_lines, summarize, train_universality_model, true_program_ranks)
from conftest import reference_ranks

TYPES = ["alpha", "beta", "gamma"]


pytestmark = pytest.mark.usefixtures("no_network")


def _splits(types_per_sample):
    samples = [f"S{i:03d}" for i in range(len(types_per_sample))]
    return pd.DataFrame({"sample": samples, "cell_type": types_per_sample,
                         "study": [f"{t}_study{i % 2}" for i, t in enumerate(types_per_sample)],
                         "split": "train", "cv_fold": 0, "noise_cv_fold": 0})


@pytest.fixture
def small_data(tmp_path):
    """12 samples per type of 3 types x 40 genes (log2 scale), each type with its own 8 up genes; files on disk."""
    rng = np.random.default_rng(0)
    types = np.repeat(TYPES, 12)
    matrix = rng.normal(8.0, 0.3, (len(types), 40))
    for index, cell_type in enumerate(TYPES):
        matrix[types == cell_type, index * 8:(index + 1) * 8] += 3.0
    splits = _splits(list(types))
    genes = [f"G{i:02d}" for i in range(40)]
    expression = tmp_path / "expression.h5ad"
    io.write_h5ad(io.expression_container(matrix.astype(np.float32), splits.set_index("sample")[["cell_type", "study"]],
                                          genes), expression)
    splits_path = tmp_path / "splits.tsv"
    io.write_table(splits, splits_path)
    return {"matrix": matrix, "types": types, "genes": genes, "expression": expression, "splits": splits_path}


# --------------------------------------------------------------------------------------------------------------
# Held-out REPs vs own and training GEPs


def test_rank_among_references_counts_strictly_closer_references():
    query = np.array([[0.0, 0.0, 0.0, 0.0]])
    partner = np.array([[1.0, 0.0, 0.0, 0.0]])  # MSE 0.25 from the query
    references = np.array([[0.5, 0.0, 0.0, 0.0],   # 0.0625: closer
                           [1.0, 0.0, 0.0, 0.0],   # 0.25: a tie, counts for the partner
                           [2.0, 0.0, 0.0, 0.0]])  # 1.0: farther
    assert rank_among_references(query, partner, references, "mse").tolist() == [2]
    assert rank_among_references(query, partner, references[1:], "mse").tolist() == [1]


def test_held_out_comparison_perfect_and_useless_reproductions():
    rng = np.random.default_rng(1)
    training = rng.normal(size=(10, 30))
    held_out = rng.normal(size=(4, 30))
    training_types = ["a"] * 5 + ["b"] * 5
    perfect = held_out_comparison(held_out, held_out.copy(), training, training_types)
    for metric in ("spearman", "mse"):
        assert (perfect[f"rep_rank_{metric}"] == 1).all()
        assert (perfect[f"reverse_rank_{metric}"] == 1).all()
    assert perfect["rep_gep_spearman"].to_numpy() == pytest.approx(1.0)
    assert perfect["rep_gep_mse"].to_numpy() == pytest.approx(0.0)
    # A "REP" that is a copy of training sample 7 for every held-out sample: the network only recalls training data.
    recalled = held_out_comparison(held_out, np.repeat(training[[7]], 4, axis=0), training, training_types)
    # The nearest training GEP and its type follow the similarity matrix.
    distances = ((held_out[:, None, :] - training[None, :, :]) ** 2).mean(axis=2)
    assert perfect["nearest_training_mse"].to_numpy() == pytest.approx(distances.min(axis=1))
    assert perfect["nearest_training_type_mse"].tolist() == [training_types[j] for j in distances.argmin(axis=1)]
    # Recalled: the REP's rank is 1 + the training GEPs nearer the GEP than training GEP 7 is; in reverse, training
    # GEP 7 (distance 0) and every training GEP nearer to it than the own GEP beat the own GEP.
    assert recalled["rep_rank_mse"].tolist() == (1 + (distances < distances[:, [7]]).sum(axis=1)).tolist()
    to_seven = ((training - training[7]) ** 2).mean(axis=1)
    own_to_seven = ((held_out - training[7]) ** 2).mean(axis=1)
    assert recalled["reverse_rank_mse"].tolist() == (1 + (to_seven[None, :] < own_to_seven[:, None]).sum(axis=1)).tolist()
    assert (recalled["reverse_rank_mse"] > 1).all()


def test_held_out_cell_types_default_order_and_checks():
    splits = _splits(["beta"] * 3 + ["alpha"] * 3 + ["gamma"] * 3)
    pairs = [{"case": "alpha", "control": "gamma"}]
    assert held_out_cell_types(splits, None, pairs) == ["beta", "alpha", "gamma"]  # every type, data order
    assert held_out_cell_types(splits, ["gamma", "alpha"], pairs) == ["gamma", "alpha"]
    with pytest.raises(InputError, match="no sample of delta"):
        held_out_cell_types(splits, ["alpha", "delta"], pairs)
    with pytest.raises(InputError, match="case 'alpha' is not a held-out cell type"):
        held_out_cell_types(splits, ["beta"], pairs)
    with pytest.raises(InputError, match="control 'delta'"):
        held_out_cell_types(splits, None, [{"case": "alpha", "control": "delta"}])
    with pytest.raises(InputError, match="both 'alpha'"):
        held_out_cell_types(splits, None, [{"case": "alpha", "control": "alpha"}])


def test_train_and_evaluate_universality_models(tmp_path, small_data):
    training = {"epochs": 1, "iterations_per_epoch": 2, "batch_size": 8, "learning_rate": 0.01,
                "learning_rate_decay": 0.0, "momentum": 0.0, "optimizer": "adam", "progress": False}
    models = []
    for seed, cell_type in enumerate(["alpha", "gamma"]):
        model = tmp_path / f"held_out/{cell_type}/model.pt"
        history = train_universality_model(small_data["expression"], small_data["splits"], cell_type, "L6,G,L3",
                                           training, seed, model, tmp_path / f"held_out/{cell_type}/history.tsv")
        assert len(history) == 1 and np.isfinite(history["test_mse"]).all()
        models.append(model)
    outputs = {name: tmp_path / name for name in ("per_sample.tsv", "per_type.tsv", "reproduced.h5ad")}
    cell_types = tmp_path / "held_out_cell_types.txt"
    cell_types.write_text("alpha\ngamma\n")
    # The rule's entry: the types from their file, each type's model from the rule's list of models.
    evaluate_universality(models, cell_types, small_data["expression"], small_data["splits"],
                          outputs["per_sample.tsv"], outputs["per_type.tsv"], outputs["reproduced.h5ad"])

    table = pd.read_csv(outputs["per_type.tsv"], sep="\t")
    assert table["cell_type"].tolist() == ["alpha", "gamma"]
    assert table["n_held_out"].tolist() == [12, 12] and table["n_training"].tolist() == [24, 24]
    per_sample = pd.read_csv(outputs["per_sample.tsv"], sep="\t")
    assert len(per_sample) == 24
    reproduced = io.read_h5ad(outputs["reproduced.h5ad"])
    for cell_type, rows in per_sample.groupby("cell_type"):  # ranks recomputed with scipy from the stored REPs
        held_out = small_data["types"] == cell_type
        own = small_data["matrix"][held_out].astype(np.float32)
        reps = np.asarray(reproduced[rows["sample"].tolist()].X)
        for metric in ("spearman", "mse"):
            expected = reference_ranks(own, reps, small_data["matrix"][~held_out].astype(np.float32), metric)
            assert rows[f"rep_rank_{metric}"].tolist() == expected.tolist()
    for metric in ("spearman", "mse"):  # the table's counts and medians are those of the per-sample rows
        grouped = per_sample.groupby("cell_type")
        assert table[f"rep_closer_than_training_{metric}"].tolist() == \
            grouped[f"rep_rank_{metric}"].apply(lambda ranks: int((ranks == 1).sum())).tolist()
        assert table[f"median_rep_gep_{metric}"].to_numpy() == \
            pytest.approx(grouped[f"rep_gep_{metric}"].median().to_numpy())
    assert sorted(set(reproduced.obs["cell_type"])) == ["alpha", "gamma"] and reproduced.shape == (24, 40)
    assert np.isfinite(reproduced.X).all()

    # A model paired with the wrong type is refused (it saw that type in training).
    with pytest.raises(InputError, match="holding out cell_type == 'gamma'"):
        evaluate_held_out_models(models[::-1], ["alpha", "gamma"], small_data["expression"], small_data["splits"],
                                 outputs["per_sample.tsv"], outputs["per_type.tsv"], outputs["reproduced.h5ad"])

    png, svg = tmp_path / "fig3.png", tmp_path / "fig3.svg"
    plot_universality_medians(table, png, svg)
    assert png.stat().st_size > 1000 and svg.stat().st_size > 1000
    with pytest.raises(ValueError, match="lacks column"):
        plot_universality_medians(table.drop(columns="median_rep_gep_mse"), png, svg)


# --------------------------------------------------------------------------------------------------------------
# limma on held-out REPs and enrichment


@pytest.fixture
def de_inputs(tmp_path, small_data):
    """'REPs' of alpha (its GEPs plus a little noise) in their own file, as evaluate_held_out_models writes them."""
    types = small_data["types"]
    rng = np.random.default_rng(2)
    rows = types == "alpha"
    splits = pd.read_csv(small_data["splits"], sep="\t")
    reps = small_data["matrix"][rows] + rng.normal(0, 0.05, (rows.sum(), 40))
    reproduced = tmp_path / "reproduced.h5ad"
    io.write_h5ad(io.expression_container(reps.astype(np.float32),
                                          splits[rows].set_index("sample")[["cell_type", "study"]],
                                          small_data["genes"]), reproduced)
    return small_data["expression"], reproduced


def test_differential_expression_finds_the_case_genes(tmp_path, de_inputs):
    expression, reproduced = de_inputs
    table_path, genes_path = tmp_path / "de.tsv", tmp_path / "up.txt"
    differential_expression(expression, reproduced, "alpha", "beta", 1.0, 0.05, table_path, genes_path)
    table = pd.read_csv(table_path, sep="\t")
    up = read_lines(genes_path)
    assert sorted(up) == [f"G{i:02d}" for i in range(8)]  # alpha's 8 up genes; beta's (G08-G15) are down
    assert len(table) == 40 and table["p_value"].is_monotonic_increasing
    passed = (table["log2_fold_change"] > 1.0) & (table["adjusted_p"] <= 0.05)
    assert set(table.loc[passed, "gene"]) == set(up) == set(table.loc[table["up_in_case"], "gene"])
    assert table.set_index("gene").loc["G08", "log2_fold_change"] < -2

    # A stricter fold-change filter keeps fewer genes; a case type without REPs is a clear error.
    differential_expression(expression, reproduced, "alpha", "beta", 10.0, 0.05, table_path, genes_path)
    assert read_lines(genes_path) == []
    with pytest.raises(InputError, match="no REP of cell type 'beta'"):
        differential_expression(expression, reproduced, "beta", "alpha", 1.0, 0.05, table_path, genes_path)
    with pytest.raises(InputError, match="no sample of cell type 'delta'"):
        differential_expression(expression, reproduced, "alpha", "delta", 1.0, 0.05, table_path, genes_path)


def test_enrichment_offline_on_a_gmt_ranks_the_planted_set_first(tmp_path, de_inputs):
    expression, reproduced = de_inputs
    de_path, genes_path = tmp_path / "de.tsv", tmp_path / "up.txt"
    differential_expression(expression, reproduced, "alpha", "beta", 1.0, 0.05, de_path, genes_path)
    gene_sets = {"ALPHA_PROGRAM": [f"G{i:02d}" for i in range(10)],
                 "BETA_PROGRAM": [f"G{i:02d}" for i in range(8, 16)],
                 "MIXED": ["G01", "G20", "G21", "G22", "G23", "G24"]}
    io.write_gmt(gene_sets, tmp_path / "sets.gmt")
    output = tmp_path / "enrichment.tsv"
    enrich_up_genes(genes_path, de_path, {"name": "toy", "gmt": str(tmp_path / "sets.gmt")}, output)
    table = pd.read_csv(output, sep="\t").set_index("term")
    assert table.loc["ALPHA_PROGRAM", "rank_adjusted_p"] == 1
    assert table.loc["ALPHA_PROGRAM", "rank_combined_score"] == 1
    assert table.loc["ALPHA_PROGRAM", "overlap"] == "8/10"
    assert "BETA_PROGRAM" not in table.index  # no overlap with the genes up in alpha
    assert set(table["source"]) == {"toy"}


def test_enrichr_source_without_network_fails_with_a_fix(tmp_path, de_inputs):
    expression, reproduced = de_inputs
    de_path, genes_path = tmp_path / "de.tsv", tmp_path / "up.txt"
    differential_expression(expression, reproduced, "alpha", "beta", 1.0, 0.05, de_path, genes_path)
    with pytest.raises(InputError, match=r"needs internet access.*gmt: path/to/KEGG_2016.gmt"):
        enrich_up_genes(genes_path, de_path, {"name": "KEGG", "enrichr_library": "KEGG_2016"}, tmp_path / "e.tsv")
    assert not (tmp_path / "e.tsv").exists()


def test_rank_terms_ties_share_the_best_rank():
    table = pd.DataFrame({"term": list("abcd"), "p_value": [0.001, 0.01, 0.01, 0.2],
                          "adjusted_p_bh": [0.004, 0.02, 0.02, 0.2], "combined_score": [5.0, 40.0, 3.0, 3.0]})
    ranked = rank_terms(table)
    assert ranked["rank_adjusted_p"].tolist() == [1, 2, 2, 4]
    assert ranked["rank_combined_score"].tolist() == [2, 1, 3, 3]


def test_true_program_ranks(tmp_path):
    activity = pd.DataFrame({"P_CASE_ONLY": [1.0, 0.0], "P_SHARED": [1.0, 1.0], "P_CONTROL_ONLY": [0.0, 1.0],
                             "P_WEAK": [0.2, 0.0]}, index=pd.Index(["case_t", "control_t"], name="cell_type"))
    activity.to_csv(tmp_path / "activity.tsv", sep="\t")
    enrichment = rank_terms(pd.DataFrame({
        "term": ["P_SHARED", "P_CASE_ONLY", "OTHER"], "n_overlap": [5, 3, 1], "term_size": [20, 10, 30],
        "p_value": [1e-6, 1e-3, 0.5], "adjusted_p_bh": [4e-6, 2e-3, 0.5], "combined_score": [50.0, 80.0, 1.0]}))
    io.write_table(enrichment, tmp_path / "enrichment.tsv")
    table = true_program_ranks(tmp_path / "enrichment.tsv", tmp_path / "activity.tsv", "case_t", "control_t")
    assert table["program"].tolist() == ["P_CASE_ONLY", "P_WEAK", "P_SHARED"]  # case-specific first, no control-only
    assert table["expected_up"].tolist() == [True, True, False]
    assert table["rank_adjusted_p"].tolist()[0] == 2 and table["rank_combined_score"].tolist()[0] == 1
    assert pd.isna(table.loc[1, "rank_adjusted_p"])  # P_WEAK: none of its genes came up
    with pytest.raises(InputError, match="no row for cell type 'other'"):
        true_program_ranks(tmp_path / "enrichment.tsv", tmp_path / "activity.tsv", "other", "control_t")


def test_summary_has_the_rows_the_claims_read(tmp_path):
    per_type = pd.DataFrame({"cell_type": ["b_cell", "heart"], "n_training": [30, 30], "n_held_out": [10, 10]})
    for metric, rep, nearest in (("spearman", [0.9, 0.8], [0.85, 0.85]), ("mse", [0.1, 0.3], [0.2, 0.2])):
        per_type[f"median_rep_gep_{metric}"], per_type[f"median_nearest_training_{metric}"] = rep, nearest
        per_type[f"rep_closer_than_training_{metric}"] = [9, 4]
        per_type[f"own_gep_closest_to_rep_{metric}"] = [10, 3]
        per_type[f"wilcoxon_p_{metric}"] = [0.001, 0.4]
    io.write_table(per_type, tmp_path / "per_type.tsv")
    de = pd.DataFrame({"gene": ["G1", "G2", "G3"], "up_in_case": [True, True, False]})
    io.write_table(de, tmp_path / "de.tsv")
    enrichment = rank_terms(pd.DataFrame({
        "term": ["B_CELL_RECEPTOR_SIGNALING", "LYMPHOID"], "p_value": [1e-3, 1e-4],
        "adjusted_p_bh": [0.01, 0.002], "combined_score": [90.0, 60.0]}))
    io.write_table(enrichment, tmp_path / "enrichment.tsv")
    summarize(tmp_path / "per_type.tsv", {"b_cell_vs_t_cell": tmp_path / "de.tsv"},
              {("b_cell_vs_t_cell", "toy"): tmp_path / "enrichment.tsv"}, "toy", tmp_path / "summary.tsv")
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t").set_index("quantity")
    assert list(summary.columns) == ["this_run", "paper", "paper_source", "note"]
    assert float(summary.loc["loto_closer_fraction_spearman", "this_run"]) == pytest.approx(0.9)
    assert float(summary.loc["loto_wilcoxon_p_mse", "this_run"]) == pytest.approx(0.001)
    assert int(summary.loc["b_vs_t_de_genes", "this_run"]) == 2
    assert int(summary.loc["b_vs_t_de_genes", "paper"]) == 380
    assert summary.loc["b_vs_t_top_pathway", "this_run"] == "B_CELL_RECEPTOR_SIGNALING"  # best combined score
    assert float(summary.loc["b_vs_t_top_pathway_adjusted_p", "this_run"]) == pytest.approx(0.01)
    assert summary.loc["b_cell_vs_t_cell_toy_top_term_by_adjusted_p", "this_run"] == "LYMPHOID"
    assert int(summary.loc["held_out_rep_closer_than_training_mse", "this_run"]) == 13
    assert int(summary.loc["types_with_median_rep_better_than_nearest_training_spearman", "this_run"]) == 1
    assert int(summary.loc["b_cell_rep_closer_than_training_mse", "paper"]) == 65
    assert pd.isna(summary.loc["heart_rep_closer_than_training_mse", "paper"])  # the paper reports B cells only
