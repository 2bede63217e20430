"""The data stage through snakemake itself, on config/test.yaml and on a user's own files."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, load_test_config, run_snakemake

pytestmark = pytest.mark.workflow


def _config(root, **dataset_changes):
    config = load_test_config()
    for key, value in dataset_changes.items():
        config["dataset"][key] = value
    path = root / "config" / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_dry_run_of_the_default_config_works(workflow_copy):
    result = run_snakemake(workflow_copy, "-n")
    assert "simulate_compendium" in result.stdout


def test_data_stage_on_test_config(test_config_run, private_run):
    results = test_config_run / "results"
    adata = ad.read_h5ad(results / "data/expression.h5ad")
    assert adata.shape == (16 * 12, 300)
    assert adata.obs["cell_type"].value_counts().eq(12).all()
    assert adata.uns["provenance"]["log2_applied"] and adata.uns["provenance"]["quantile_normalized"]
    sorted_rows = np.sort(adata.X, axis=1)
    np.testing.assert_allclose(sorted_rows, np.broadcast_to(sorted_rows[0], sorted_rows.shape), rtol=1e-5)
    assert ad.read_h5ad(results / "data/expression_top_variance.h5ad").shape == (16 * 12, 100)
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    assert list(splits["sample"]) == list(adata.obs_names)
    assert set(splits["cv_fold"]) == {0, 1, 2} and set(splits["noise_cv_fold"]) == {0, 1}
    assert (results / "figures/data_overview.svg").stat().st_size > 0
    for rule in ("simulate_compendium", "prepare_expression", "assign_splits"):
        assert (results / f"logs/data/{rule}.log").exists()
    for rule in ("simulate_compendium", "prepare_expression"):  # benchmarks: the steps that grow with the data
        assert (results / f"benchmarks/data/{rule}.tsv").exists()
    # Nothing left to do: a re-run of the whole workflow is a no-op (dry-run on a private copy of the run).
    again = run_snakemake(private_run, "-n", "all", configfile="config/test.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_users_own_data_and_a_bad_input(workflow_copy, user_files):
    expression, sheet = user_files
    local = {"expression": str(expression), "orientation": "genes_x_samples", "sample_sheet": str(sheet),
             "sample_column": "sample", "cell_type_column": "cell_type", "study_column": "study"}
    config = _config(workflow_copy, source="local", samples_per_type=8, local=local)
    run_snakemake(workflow_copy, "results/data/splits.tsv", configfile=config)
    assert ad.read_h5ad(workflow_copy / "results/data/expression.h5ad").shape == (128, 150)

    # A broken sheet: the job fails with the one-line message and leaves no output.
    frame = pd.read_csv(sheet, sep="\t")
    frame.loc[3, "sample"] = frame.loc[2, "sample"]
    frame.to_csv(sheet, sep="\t", index=False)
    result = run_snakemake(workflow_copy, "--forceall", "results/data/expression.h5ad", configfile=config,
                           check=False)
    assert result.returncode != 0
    assert ("samples.tsv: duplicate sample id 'SIM00003' at line 5, column 'sample' (also at line 4, column "
            "'sample'); fix:") in result.stderr
    assert not (workflow_copy / "results/data/expression.h5ad").exists()
