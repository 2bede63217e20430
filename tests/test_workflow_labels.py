"""Labels are data, through snakemake: the whole workflow on case 12's labels ('/', '+', spaces, non-ASCII), named
in universality.de_pairs, universality.cell_types and reconstruction.example_cell_types, in both layouts; and bad
inputs and impossible configs stopping the workflow with one line."""

import copy

import pandas as pd
import pytest
import yaml

from cic.labels import safe_name
from conftest import REPO, load_test_config, run_snakemake

pytestmark = pytest.mark.workflow

CASE = REPO / "tests/data/cases/12-celltype-slash-plus"
NAIVE_T, GLIA = "CD4+/CD45RA+ naive T", "Müller glia"
LABELS = [NAIVE_T, "b_cell", "t_cell", GLIA]


def _config(root, overlay: dict, name="run.yaml"):
    """config/test.yaml with ``overlay`` merged in (section by section), written into the workflow copy."""
    config = load_test_config()
    for section, values in overlay.items():
        config[section] = config[section] | values if isinstance(values, dict) else values
    path = root / "config" / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


# config/test.yaml's sizes, made as small as every rule allows: 60 genes, one sweep run per sweep, one epoch or two.
LABELS_OVERLAY = {
    "dataset": {"source": "local", "samples_per_type": None,
                "local": {"expression": str(CASE / "expression.tsv"), "orientation": "genes_x_samples",
                          "sample_sheet": str(CASE / "samples.tsv"), "sample_column": "sample",
                          "cell_type_column": "cell_type", "study_column": "study", "layer": None}},
    "preprocess": {"top_variance_genes": 30},
    "splits": {"test_fraction": 0.25, "cv_folds": 2, "noise_cv_folds": 2},
    "model": {"architecture": "L16,G,L4"},
    "training": {"epochs": 2, "iterations_per_epoch": 1},
    "sweeps": {"training": {"epochs": 1, "iterations_per_epoch": 1, "progress": False},
               "architectures": {"genes": "top_variance", "folds": 1, "specs": ["L16,G,L4"]},
               "code_sizes": {"genes": "all", "folds": 1, "architecture": "selected", "sizes": [4]},
               "regularisation": {"genes": "all", "folds": 1, "reference": "none", "variants": [{"name": "none"}]}},
    "reconstruction": {"example_cell_types": [NAIVE_T, GLIA], "baselines": ["pca"]},
    # Explicit, not auto (cic.defaults): labels named in every key that takes one; a GMT of case 12's markers.
    "enrichment": {"sources": [{"name": "markers", "gmt": str(CASE / "gene_sets.gmt")}]},
    "universality": {"cell_types": [NAIVE_T, GLIA], "de_pairs": [{"case": NAIVE_T, "control": GLIA}],
                     "training": {"epochs": 1}},
    "perturbation": {"top_genes": 10,
                     "figures": {figure: {"source": "markers", "terms": "all", "bonferroni_cutoff": 0.05}
                                 for figure in ("fig5", "fig6", "fig7")}},
    "classification": {"random_forest": {"n_estimators": 10, "max_features": "sqrt", "min_samples_leaf": 1},
                       "noise": {"input_noise_sd": 0.1, "test_sigmas": [0.0, 0.5], "training": {"epochs": 1}}},
}
PAIR = f"{safe_name(NAIVE_T)}_vs_{safe_name(GLIA)}"


def _check_universality_outputs(results):
    """Files under the safe names, tables with the labels as the data spell them."""
    assert sorted(path.name for path in (results / "models/loto").iterdir() if path.is_dir()) == sorted(
        [safe_name(NAIVE_T), safe_name(GLIA)]) == ["CD4_CD45RA_naive_T_1fd1d3ca", "Muller_glia_7159a9ae"]
    assert (results / "tables/fig3_held_out_cell_types.txt").read_text().splitlines() == [NAIVE_T, GLIA]
    assert pd.read_csv(results / "tables/fig3_loto.tsv", sep="\t")["cell_type"].tolist() == [NAIVE_T, GLIA]
    assert len(pd.read_csv(results / f"tables/de_{PAIR}.tsv", sep="\t")) == 60
    assert (results / f"tables/enrichment_{PAIR}_markers.tsv").exists()
    for extension in ("png", "svg"):
        assert (results / f"figures/fig3_enrichment_{PAIR}_markers.{extension}").stat().st_size > 1000
    summary = pd.read_csv(results / "tables/universality_summary.tsv", sep="\t").set_index("quantity")
    assert f"{NAIVE_T} REPs vs {GLIA} GEPs" in summary.loc["b_vs_t_de_genes", "note"]
    assert f"{GLIA}_rep_closer_than_training_mse" in summary.index


def test_labels_run_to_the_end_in_both_layouts(workflow_copy):
    root = workflow_copy
    config = _config(root, LABELS_OVERLAY)
    run_snakemake(root, "all", configfile=config)  # training.batched_folds: true (test.yaml), one stacked training job
    results = root / "results"
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    assert set(splits["cell_type"]) == set(LABELS)
    assert set(pd.read_csv(results / "tables/fig2d_examples.tsv", sep="\t")["cell_type"]) == {NAIVE_T, GLIA}
    predictions = pd.read_csv(results / "tables/classification_predictions.tsv", sep="\t")
    assert set(predictions["cell_type"]) == set(LABELS) and set(predictions["predicted"]) <= set(LABELS)
    assert (results / "logs/universality/train/batched.log").exists()
    _check_universality_outputs(results)
    assert (results / "tables/claims.tsv").exists()

    # The cluster layout: one job per held-out type through the checkpoint, the wildcard being the safe name.
    # Only what the layout changes is rerun (the other stages' files are the same in both layouts).
    overlay = copy.deepcopy(LABELS_OVERLAY)
    overlay["training"] = overlay["training"] | {"batched_folds": False}
    config = _config(root, overlay, "per_type.yaml")
    result = run_snakemake(root, "all", "--rerun-triggers", "mtime", "--forcerun", "list_held_out_cell_types",
                           configfile=config)
    assert result.stderr.count("localrule train_universality:") == 2
    for label in (NAIVE_T, GLIA):
        assert (results / f"logs/universality/train/{safe_name(label)}.log").exists()
        assert (results / f"benchmarks/universality/train/{safe_name(label)}.tsv").exists()
    _check_universality_outputs(results)
    assert (results / "tables/claims.tsv").stat().st_mtime > (results / "data/splits.tsv").stat().st_mtime


def test_an_impossible_config_is_one_line_before_anything_runs(workflow_copy):
    config = _config(workflow_copy, {"dataset": {"samples_per_type": 3}, "splits": {"test_fraction": 0.25,
                                                                                    "cv_folds": 10,
                                                                                    "noise_cv_folds": 5}})
    result = run_snakemake(workflow_copy, "-n", configfile=config, check=False)
    assert result.returncode == 1
    assert ("config: dataset.samples_per_type = 3 is below what splits.cv_folds = 10 needs (10 samples of every cell "
            "type); fix:") in result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr


def test_a_refused_input_is_one_line_on_the_terminal_and_a_traceback_in_the_log(workflow_copy):
    """Case 13 (a type with one sample) through the rules: the data are prepared, the split refuses, one line."""
    case = REPO / "tests/data/cases/13-singleton-celltype"
    local = LABELS_OVERLAY["dataset"]["local"] | {"expression": str(case / "expression.tsv"),
                                                  "sample_sheet": str(case / "samples.tsv")}
    config = _config(workflow_copy, {"dataset": {"source": "local", "samples_per_type": None, "local": local}})
    result = run_snakemake(workflow_copy, "results/data/splits.tsv", configfile=config, check=False)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if "ERROR cic" in line]
    assert len(ours) == 1 and "samples.tsv: cell type 'hepatocyte' has 1 sample, but every type needs at least 3" \
        in ours[0] and "; fix: add samples of that type" in ours[0]
    assert "Traceback" not in result.stderr
    assert "Traceback" in (workflow_copy / "results/logs/data/assign_splits.log").read_text()
    assert not (workflow_copy / "results/data/splits.tsv").exists()
