"""Sweep rules (Figs 8, 9, regularisation) through snakemake: the jobs they expand to and what they produce."""

import re

import pandas as pd
import pytest
import yaml

from conftest import run_snakemake

pytestmark = pytest.mark.workflow

SWEEP_TARGETS = ("results/tables/sweeps_summary.tsv", "results/figures/fig8.png", "results/figures/fig9.png",
                 "results/figures/regularisation.png")


def job_counts(dry_run_output: str) -> dict[str, int]:
    """{rule: jobs} from the "Job stats" table of a dry run ({} when there is nothing to do)."""
    if "Job stats" not in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M)}


def dry_run(root, *targets, overrides: dict | None = None) -> dict[str, int]:
    configs = ["config/test.yaml"]
    if overrides:
        (root / "config/override.yaml").write_text(yaml.safe_dump(overrides))
        configs.append("config/override.yaml")
    result = run_snakemake(root, "-n", *targets, "--configfile", *configs)
    return job_counts(result.stdout + result.stderr)


PER_FOLD = {"training": {"batched_folds": False}}


def test_every_run_and_fold_is_one_job_without_batched_folds(workflow_copy):
    counts = dry_run(workflow_copy, *SWEEP_TARGETS, overrides=PER_FOLD)
    # config/test.yaml: 2 architectures x 2 folds, 2 code sizes x 1 fold, 2 variants x 1 fold
    assert counts["train_architecture_sweep"] == 4
    assert counts["train_code_size_sweep"] == 2
    assert counts["train_regularisation_variant"] == 2
    assert not any(rule.endswith("_batched") for rule in counts)
    assert counts["rank_architectures"] == counts["rank_code_sizes"] == counts["compare_regularisation"] == 1


def test_batched_folds_trains_each_run_in_one_job(workflow_copy):
    counts = dry_run(workflow_copy, *SWEEP_TARGETS)  # config/test.yaml: training.batched_folds true
    assert counts["train_architecture_sweep"] == 2  # one job per architecture, its 2 folds inside
    assert counts["train_code_size_sweep"] == 2
    assert counts["train_regularisation_variant"] == 2
    assert counts["rank_architectures"] == counts["rank_code_sizes"] == counts["compare_regularisation"] == 1


def test_folds_null_uses_every_cv_fold_and_auto_trains_the_sweep_winner(workflow_copy):
    counts = dry_run(workflow_copy, "results/models/main/model.pt",
                     overrides={"model": {"architecture": "auto"}, "sweeps": {"architectures": {"folds": None}},
                                **PER_FOLD})
    assert counts["train_architecture_sweep"] == 2 * 3  # test.yaml: splits.cv_folds 3
    assert counts["rank_architectures"] == 1 and counts["train_main_model"] == 1


def test_sweep_tables_and_figures(test_config_run):
    results = test_config_run / "results"
    for name in ("fig8", "fig9", "regularisation"):
        for extension in ("png", "svg"):
            assert (results / f"figures/{name}.{extension}").stat().st_size > 1000, name
    ranking = pd.read_csv(results / "tables/fig8_architecture_ranking.tsv", sep="\t")
    assert list(ranking["rank"]) == [1, 2]
    assert set(ranking["architecture"]) == {"L32,G,L8", "L32,S,L16,L8"}
    assert ranking["final_test_mse_mean"].is_monotonic_increasing
    assert (ranking["folds"] == 2).all() and (ranking["final_test_mse_se"] > 0).all()
    curves = pd.read_csv(results / "tables/fig8_cv_mse.tsv", sep="\t")
    assert len(curves) == 2 * 2 and (curves["folds"] == 2).all()  # 2 architectures x 2 epochs (test.yaml)
    sizes = pd.read_csv(results / "tables/fig9_code_size_ranking.tsv", sep="\t").set_index("code_size")
    assert sizes.loc[4, "architecture"] == "L64,G,L4" and sizes.loc[8, "architecture"] == "L64,G,L8"
    variants = pd.read_csv(results / "tables/regularisation.tsv", sep="\t").set_index("variant")
    assert variants.loc["dropout", "architecture"] == "L64,G,D0.2,L8"
    assert variants.loc["none", "change_vs_reference"] == 0
    histories = list((results / "models/sweeps").rglob("history.tsv"))
    assert len(histories) == 4 + 2 + 2
    assert not list((results / "models/sweeps").rglob("*.pt")), "sweeps.keep_models false: models are removed"


def test_sweeps_summary_puts_paper_values_beside_this_run(test_config_run):
    summary = pd.read_csv(test_config_run / "results/tables/sweeps_summary.tsv", sep="\t").set_index("quantity")
    ranking = pd.read_csv(test_config_run / "results/tables/fig8_architecture_ranking.tsv", sep="\t")
    assert summary.loc["best_architecture", "this_run"] == ranking.loc[0, "architecture"]
    assert summary.loc["best_architecture", "paper"] == "L300,G,L30"
    assert int(summary.loc["chosen_code_size", "paper"]) == 30
    assert int(summary.loc["chosen_code_size", "this_run"]) in (4, 8)
    assert summary.loc["regularisation_largest_relative_change", "paper"] == "no meaningful change"


def test_a_rerun_trains_only_the_missing_runs(private_run):
    root = private_run
    assert dry_run(root, *SWEEP_TARGETS) == {}
    with open(root / "config/test.yaml") as handle:
        specs = yaml.safe_load(handle)["sweeps"]["architectures"]["specs"]
    counts = dry_run(root, *SWEEP_TARGETS,
                     overrides={"sweeps": {"architectures": {"specs": specs + ["L32,T,L8"]}}})
    assert counts["train_architecture_sweep"] == 1  # the new architecture (its 2 folds), nothing else
    assert set(counts) & {"train_code_size_sweep", "train_regularisation_variant"} == set()
