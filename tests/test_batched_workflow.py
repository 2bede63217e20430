"""training.batched_folds through snakemake: one job per sweep run / one universality training job, the same per-fold files and
numbers as the per-fold (per-type) jobs."""

import numpy as np
import pandas as pd
import pytest
import yaml

from cic.stages.universality import universality_model_paths, universality_seed
from cic.sweep_plan import architecture_jobs, sweep_folds
from cic.train import load_model
from conftest import REPO, load_test_config, run_snakemake
from test_workflow_sweeps import dry_run

pytestmark = pytest.mark.workflow

TEST_CONFIG = load_test_config()
PER_FOLD = {"training": {"batched_folds": False}}
UNIVERSALITY_TARGET = "results/tables/fig3_loto.tsv"


def test_configs_stack_the_folds_except_the_papers_literal_schedule():
    """Laptop and one-GPU configs train each group in one job; the literal batch-1 schedule wants a cluster."""
    assert TEST_CONFIG["training"]["batched_folds"] is True
    assert yaml.safe_load((REPO / "config/config.yaml").read_text())["training"]["batched_folds"] is True
    assert yaml.safe_load((REPO / "config/paper.yaml").read_text())["training"]["batched_folds"] is True
    literal = yaml.safe_load((REPO / "config/paper_literal.yaml").read_text())["training"]
    assert literal["batched_folds"] is False
    assert (literal["epochs"], literal["iterations_per_epoch"], literal["batch_size"], literal["optimizer"]) == (
        200, 100, 1, "sgd")


def test_universality_is_one_job_with_batched_folds(workflow_copy):
    counts = dry_run(workflow_copy, UNIVERSALITY_TARGET)
    assert counts["train_universality"] == 1  # every held-out type in it: the checkpoint's list is not needed to plan


def test_universality_waits_for_the_type_list_without_batched_folds(workflow_copy):
    counts = dry_run(workflow_copy, UNIVERSALITY_TARGET, overrides=PER_FOLD)
    # the per-type jobs join the DAG once the checkpoint has listed the types
    assert counts["list_held_out_cell_types"] == 1
    assert not any(rule.startswith("train_universality") for rule in counts)


def test_batched_universality_models_keep_their_per_type_seeds(test_config_run):
    models = test_config_run / "results/models/loto"
    cell_types = (test_config_run / "results/tables/fig3_held_out_cell_types.txt").read_text().split()
    assert universality_model_paths([models], cell_types) == [str(models / t / "model.pt") for t in cell_types]
    for cell_type in cell_types:
        _, meta = load_model(models / cell_type / "model.pt")
        assert meta["seed"] == universality_seed(TEST_CONFIG["seed"], cell_type)
    assert not (test_config_run / "results/models/loto_batched.checkpoint.pt").exists()


def test_both_modes_give_the_same_per_fold_histories(private_run):
    """One architecture run of config/test.yaml: trained stacked by the session's run (conftest's
    test_config_run, batched_folds true), then fold by fold in a private copy of it."""
    slug = next(iter(architecture_jobs(TEST_CONFIG["sweeps"]["architectures"]["specs"])))
    folds = sweep_folds(TEST_CONFIG["sweeps"]["architectures"]["folds"], TEST_CONFIG["splits"]["cv_folds"])
    assert len(folds) >= 2
    run = private_run / "results/models/sweeps/architectures" / slug
    targets = [f"results/models/sweeps/architectures/{slug}/fold{fold}/history.tsv" for fold in folds]

    assert (private_run / f"results/logs/sweeps/architectures/{slug}/folds_batched.log").exists()
    assert not (run / "folds_batched.checkpoint.pt").exists()
    batched = [pd.read_csv(run / f"fold{fold}/history.tsv", sep="\t") for fold in folds]
    for fold in folds:
        (run / f"fold{fold}/history.tsv").unlink()

    (private_run / "config/override.yaml").write_text(yaml.safe_dump(PER_FOLD))
    result = run_snakemake(private_run, *targets, "--configfile", "config/test.yaml", "config/override.yaml")
    assert result.stderr.count("localrule ") == len(folds), result.stderr[-3000:]  # the per-fold jobs only
    assert (private_run / f"results/logs/sweeps/architectures/{slug}/fold{folds[0]}.log").exists()
    per_fold = [pd.read_csv(run / f"fold{fold}/history.tsv", sep="\t") for fold in folds]

    for stacked, single in zip(batched, per_fold):
        assert list(stacked.columns) == list(single.columns)
        assert len(stacked) == len(single) == TEST_CONFIG["sweeps"]["training"].get(
            "epochs", TEST_CONFIG["training"]["epochs"])
        numeric = [column for column in single.columns if column != "seconds"]
        np.testing.assert_allclose(stacked[numeric].to_numpy(float), single[numeric].to_numpy(float),
                                   rtol=1e-4, atol=1e-6)
    # the folds differ (own samples and seed), so the comparison above is not trivially true
    assert not np.allclose(per_fold[0]["test_mse"], per_fold[1]["test_mse"])
