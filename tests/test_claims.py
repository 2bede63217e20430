"""The claims table: every claim judged by its stated criterion, missing quantities named, README regenerated."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from cic import claims as claims_module
from cic.claims import (CLAIMS, CLAIMS_COLUMNS, CRITERIA_END, CRITERIA_START, README_END, README_START,
                        SUMMARY_TABLES, criteria_table, evaluate_claims, main)
from cic.errors import InputError
from cic.paper import summary_row
from cic.stages.report import dataset_label, write_run_config
from conftest import REPO

# Values of a run for which every claim holds (the paper's findings on a fresh dataset of 100 test samples).
HOLDING = {
    "fig2": {"cv_test_mse_epoch1": 0.3, "cv_test_mse_final": 0.11, "cv_test_mse_last_quarter_mean": 0.112,
             "cv_max_standard_error": 0.0025, "rank1_fraction_spearman": 0.884, "rank1_fraction_mse": 0.87,
             "reverse_rank1_fraction_spearman": 1.0, "reverse_rank1_fraction_mse": 0.97,
             "wilcoxon_p_spearman": 1e-16, "wilcoxon_p_mse": 2e-16, "best_reconstruction_method": "CIC"},
    "universality": {"loto_closer_fraction_spearman": 1.0, "loto_closer_fraction_mse": 1.0, "b_vs_t_de_genes": 380,
                     "b_vs_t_top_pathway": "B cell receptor signaling pathway", "b_vs_t_top_pathway_adjusted_p": 0.026},
    "classification": {"accuracy_pca_rf": 0.90, "accuracy_pca_svm": 0.90, "accuracy_cic_rf": 0.94,
                       "accuracy_cic_svm": 0.90, "accuracy_classifier_ae_rf": 0.97, "accuracy_classifier_ae_svm": 0.97,
                       "noise_accuracy_mean": 0.994, "noise_accuracy_min": 0.986},
    "sweeps": {"best_architecture": "L300,G,L30", "rank_of_paper_best_architecture": 1,
               "final_test_mse_code_size_10": 0.13, "final_test_mse_code_size_20": 0.12,
               "final_test_mse_code_size_30": 0.11, "final_test_mse_code_size_100": 0.105},
    "perturbation": {},
    "novelty": {"novelty_unassigned_fraction_mean": 0.8, "reference_false_unassigned_fraction": 0.05},
}


def write_summaries(folder, values_by_stage=HOLDING):
    """Stage summary tables as the stages write them (cic.paper.summary_row rows, extra unrelated rows too)."""
    paths = {}
    for stage, values in values_by_stage.items():
        rows = [summary_row(quantity, value) for quantity, value in values.items()]
        rows.append(summary_row("unrelated_quantity", "text", note="claims ignore it"))
        path = folder / f"{stage}_summary.tsv"
        pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
        paths[stage] = str(path)
    return paths


def changed(stage, **values):
    return {**HOLDING, stage: {**HOLDING[stage], **values}}


def holds_of(table, key):
    claim = next(claim for claim in CLAIMS if claim.key == key)
    return table.set_index("claim").loc[claim.claim, "holds"]


def test_every_claim_holds_on_the_papers_findings(tmp_path):
    table = evaluate_claims(write_summaries(tmp_path), "synthetic (simulation)")
    assert list(table.columns) == CLAIMS_COLUMNS
    assert len(table) == len(CLAIMS) and table["claim"].is_unique
    assert (table["holds"] == "yes").all(), table.loc[table["holds"] != "yes", ["claim", "this_run"]]
    assert (table["dataset"] == "synthetic (simulation)").all()
    rank1 = table.set_index("claim").loc[next(c.claim for c in CLAIMS if c.key == "rank1_spearman")]
    assert rank1["this_run"] == "88.4 %" and rank1["criterion"] == "rank-1 fraction >= 80%"
    assert "fig2_summary.tsv: rank1_fraction_spearman" == rank1["source"]


def test_the_brief_lists_claims_are_all_present():
    keys = {claim.key for claim in CLAIMS}
    assert {"cv_plateau", "rank1_spearman", "rank1_mse", "reverse_rank", "wilcoxon_spearman", "wilcoxon_mse",
            "cic_best_reconstruction", "held_out_b_cells", "b_vs_t_de_genes", "b_vs_t_top_pathway",
            "cic_rf_beats_pca_rf", "classifier_ae_beats_both", "noise_accuracy", "best_architecture",
            "code_size_trade_off"} <= keys
    for claim in CLAIMS:
        assert claim.criterion and claim.paper and claim.figure
        assert all(ref.stage in SUMMARY_TABLES for ref in claim.inputs.values())


@pytest.mark.parametrize("stage, values, key", [
    ("fig2", {"rank1_fraction_spearman": 0.79}, "rank1_spearman"),
    ("fig2", {"rank1_fraction_mse": 0.5}, "rank1_mse"),
    ("fig2", {"cv_test_mse_final": 0.31, "cv_test_mse_last_quarter_mean": 0.31}, "cv_plateau"),  # never fell
    ("fig2", {"cv_test_mse_last_quarter_mean": 0.14}, "cv_plateau"),  # still falling
    ("fig2", {"cv_max_standard_error": 0.004}, "cv_standard_error"),  # 3.6 % of 0.11
    ("fig2", {"reverse_rank1_fraction_mse": 0.9}, "reverse_rank"),
    ("fig2", {"wilcoxon_p_spearman": 0.05}, "wilcoxon_spearman"),
    ("fig2", {"wilcoxon_p_mse": 0.2}, "wilcoxon_mse"),
    ("fig2", {"best_reconstruction_method": "KPCA_RBF"}, "cic_best_reconstruction"),
    ("universality", {"loto_closer_fraction_spearman": 0.9}, "held_out_b_cells"),
    ("universality", {"b_vs_t_de_genes": 0}, "b_vs_t_de_genes"),
    ("universality", {"b_vs_t_top_pathway": "T cell receptor signaling pathway"}, "b_vs_t_top_pathway"),
    ("universality", {"b_vs_t_top_pathway_adjusted_p": 0.2}, "b_vs_t_top_pathway"),
    ("classification", {"accuracy_cic_rf": 0.90}, "cic_rf_beats_pca_rf"),  # a tie is not "fewer errors"
    ("classification", {"accuracy_cic_svm": 0.89}, "cic_svm_matches_pca_svm"),
    ("classification", {"accuracy_cic_svm": 0.97}, "classifier_ae_beats_both"),  # AE ties plain CICs
    ("classification", {"accuracy_classifier_ae_rf": 0.95}, "classifier_ae_error"),  # 5 % > 3.8 %
    ("classification", {"noise_accuracy_mean": 0.94}, "noise_accuracy"),
    ("sweeps", {"best_architecture": "L300,S,L100,L30", "rank_of_paper_best_architecture": 2}, "best_architecture"),
    ("sweeps", {"final_test_mse_code_size_20": 0.11}, "code_size_trade_off"),
    ("novelty", {"novelty_unassigned_fraction_mean": 0.4}, "novelty_unassigned"),
    ("novelty", {"reference_false_unassigned_fraction": 0.2}, "novelty_unassigned"),
])
def test_a_run_that_misses_the_criterion_gets_no(tmp_path, stage, values, key):
    table = evaluate_claims(write_summaries(tmp_path, changed(stage, **values)), "local (mine.tsv)")
    assert holds_of(table, key) == "no"
    assert (table["holds"] == "no").sum() == 1, "only the claim that reads the changed quantity changes"


def test_a_comparison_outside_this_runs_design_is_not_tested(tmp_path):
    sweeps = {"best_architecture": "L32,G,L8", "rank_of_paper_best_architecture": "not swept",
              "final_test_mse_code_size_4": 0.3, "final_test_mse_code_size_8": 0.2}
    table = evaluate_claims(write_summaries(tmp_path, {**HOLDING, "sweeps": sweeps}), "synthetic (simulation)")
    assert holds_of(table, "best_architecture") == "not tested"
    assert holds_of(table, "code_size_trade_off") == "not tested"
    shown = table.set_index("holds").loc["not tested", "this_run"].tolist()
    assert shown == ["best: L32,G,L8; L300,G,L30: not swept", "4: 0.3, 8: 0.2"]
    assert (table["holds"] == "yes").sum() == len(CLAIMS) - 2


def test_code_size_claim_reads_every_swept_size(tmp_path):
    sweeps = {**HOLDING["sweeps"], "final_test_mse_code_size_5": 0.10}  # a size below 30 that does better
    table = evaluate_claims(write_summaries(tmp_path, {**HOLDING, "sweeps": sweeps}), "synthetic (simulation)")
    assert holds_of(table, "code_size_trade_off") == "no"
    row = table.set_index("claim").loc[next(c.claim for c in CLAIMS if c.key == "code_size_trade_off")]
    assert row["this_run"] == "5: 0.1, 10: 0.13, 20: 0.12, 30: 0.11, 100: 0.105"
    assert row["source"] == "sweeps_summary.tsv: final_test_mse_code_size_*"


def test_b_cell_names_are_recognised_in_gene_set_names():
    for name in ("B cell receptor signaling pathway", "B_CELL_RECEPTOR_SIGNALING", "b-cell activation",
                 "B lymphocyte differentiation", "GOBP_B_CELL_ACTIVATION"):
        assert claims_module._names_b_cells(name), name
    for name in ("T cell receptor signaling pathway", "LYMPHOID", "Rab cell adhesion"):
        assert not claims_module._names_b_cells(name), name


def test_a_missing_quantity_names_table_and_quantity(tmp_path):
    values = {**HOLDING, "fig2": {k: v for k, v in HOLDING["fig2"].items() if k != "wilcoxon_p_mse"}}
    paths = write_summaries(tmp_path, values)
    with pytest.raises(InputError, match=r"fig2_summary\.tsv: no row with quantity 'wilcoxon_p_mse'.*wilcoxon_mse"):
        evaluate_claims(paths, "synthetic (simulation)")


def test_a_nan_value_is_an_error_not_a_no(tmp_path):
    paths = write_summaries(tmp_path, changed("fig2", rank1_fraction_mse=float("nan")))
    with pytest.raises(InputError, match="rank1_fraction_mse' is empty or NaN"):
        evaluate_claims(paths, "synthetic (simulation)")


def test_a_stage_outside_the_run_says_not_run(tmp_path):
    paths = write_summaries(tmp_path)
    del paths["sweeps"]
    table = evaluate_claims(paths, "synthetic (simulation)")
    sweep_claims = {claim.claim for claim in CLAIMS if any(ref.stage == "sweeps" for ref in claim.inputs.values())}
    assert set(table.loc[table["holds"] == "not run", "claim"]) == sweep_claims
    assert (table.loc[~table["claim"].isin(sweep_claims), "holds"] == "yes").all()


def test_text_where_a_number_belongs_is_an_error_naming_the_claim(tmp_path):
    paths = write_summaries(tmp_path, changed("classification", noise_accuracy_mean="high"))
    with pytest.raises(InputError, match=r"classification_summary\.tsv: claim 'noise_accuracy' cannot judge"):
        evaluate_claims(paths, "synthetic (simulation)")


def test_a_malformed_summary_table_is_named(tmp_path):
    paths = write_summaries(tmp_path)
    pd.DataFrame({"name": ["x"], "value": [1]}).to_csv(paths["fig2"], sep="\t", index=False)
    with pytest.raises(InputError, match=r"fig2_summary\.tsv: missing column\(s\) quantity, this_run"):
        evaluate_claims(paths, "synthetic (simulation)")


def test_readme_table_is_generated_between_the_markers(tmp_path, capsys):
    claims_path = tmp_path / "claims.tsv"
    evaluate_claims(write_summaries(tmp_path, changed("fig2", rank1_fraction_mse=0.5)),
                    "synthetic (simulation)").to_csv(claims_path, sep="\t", index=False)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n{CRITERIA_START}\n{CRITERIA_END}\n{README_START}\nold table\n"
                      f"{README_END}\nAfter.\n")
    assert main(["readme", str(claims_path), str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Title\n\nBefore.\n") and text.endswith("After.\n")
    assert f"{len(CLAIMS) - 1} of {len(CLAIMS)} judged claims hold" in text
    assert "| Claim | Figure | Paper | This run | Holds when | Holds |" in text
    assert text.count("\n| ") == 2 * (len(CLAIMS) + 1), "claims table and criteria table, each with a header"
    main(["readme", str(claims_path), str(readme)])
    assert readme.read_text() == text, "rerunning replaces the table, never appends"
    readme.write_text("no markers\n")
    assert main(["readme", str(claims_path), str(readme)]) == 1
    assert "markers" in capsys.readouterr().err


def test_a_second_claims_table_has_its_own_markers(tmp_path):
    """The real example's table sits beside the default run's: each `readme --table` replaces only its own."""
    claims_path = tmp_path / "claims.tsv"
    evaluate_claims(write_summaries(tmp_path), "local (expression.tsv.gz)").to_csv(claims_path, sep="\t", index=False)
    readme = tmp_path / "README.md"
    readme.write_text(f"{CRITERIA_START}\n{CRITERIA_END}\n{README_START}\ndefault run\n{README_END}\n"
                      "<!-- claims-table-nakayama2007:start -->\nold\n<!-- claims-table-nakayama2007:end -->\n")
    assert main(["readme", str(claims_path), str(readme), "--table", "claims-table-nakayama2007"]) == 0
    text = readme.read_text()
    assert "default run" in text and "\nold\n" not in text and "Dataset: local (expression.tsv.gz)." in text
    assert text.index("Dataset: local") > text.index("claims-table-nakayama2007:start")
    assert "claims-table-nakayama2007:start -->" in (REPO / "README.md").read_text()


def test_readme_criteria_table_is_the_codes(tmp_path):
    """The README documents exactly the criteria the code applies (regenerate: python -m cic.claims criteria)."""
    readme = (REPO / "README.md").read_text()
    start, end = readme.index(CRITERIA_START) + len(CRITERIA_START), readme.index(CRITERIA_END)
    assert readme[start:end].strip() == criteria_table(), "run: python -m cic.claims criteria README.md"
    assert README_START in readme and README_END in readme


def test_dataset_label_and_run_config(tmp_path):
    config = {"seed": 3, "dataset": {"source": "synthetic", "samples_per_type": 12,
                                     "synthetic": {"n_genes": 300}, "local": {"expression": ""}}}
    label = dataset_label(config)
    assert label.startswith("synthetic (simulation") and "300 genes" in label
    local = {**config, "dataset": {**config["dataset"], "source": "local", "local": {"expression": "/d/my.tsv"}}}
    assert dataset_label(local) == "local (my.tsv)"
    output = tmp_path / "run_config.yaml"
    write_run_config(config, label, output)
    assert yaml.safe_load(output.read_text()) == config
    assert output.read_text().startswith(f"# Configuration of this run. Dataset: {label}")
