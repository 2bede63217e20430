"""The workflow layer keeps the field's conventions: snakefmt-formatted and clean under `snakemake --lint`."""

import subprocess
import sys

import pytest

from conftest import REPO, copy_workflow, load_test_config

SMK = [REPO / "workflow" / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]


def test_snakefmt_leaves_the_workflow_unchanged():
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *map(str, SMK)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"run `snakefmt workflow/`:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("batched", [True, False], ids=["stacked", "per-fold"])
def test_snakemake_lint_is_clean(tmp_path, batched):
    """Both layouts of the training jobs (training.batched_folds) pass the linter."""
    root = copy_workflow(tmp_path / "project")
    overlay = root / "config" / "layout.yaml"
    overlay.write_text(f"training:\n  batched_folds: {str(batched).lower()}\n")
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", "config/test.yaml",
                             str(overlay)], cwd=root, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Congratulations, your workflow is in a good condition" in output, output


# Keys an example config states although the default has the same value, and why: the paper's own values (the
# "paper:" comments in config/paper.yaml), so that a changed demo default cannot change the reproduction, and the
# places a user fills in.
PINNED = {
    "test.yaml": {"training.batched_folds"},  # the suite tests the stacked layout whatever the default
    "paper_literal.yaml": {"training.learning_rate_decay"},  # says where the paper gives no value
    "paper.yaml": {"dataset.samples_per_type", "preprocess.top_variance_genes", "dataset.cell_types", "dataset.cellnet.url", "dataset.cellnet.sha256",
                   "dataset.cellnet.sample_table_url", "dataset.cellnet.sample_table_sha256", "preprocess.log2",
                   "preprocess.quantile_normalize", "splits.test_fraction", "splits.cv_folds", "splits.noise_cv_folds",
                   "training.iterations_per_epoch", "training.batched_folds", "sweeps.architectures.genes",
                   "sweeps.code_sizes.genes", "sweeps.code_sizes.architecture", "sweeps.regularisation.genes",
                   "sweeps.regularisation.reference", "universality.cell_types", "universality.min_log2_fold_change",
                   "universality.max_adjusted_p", "universality.top_terms", "perturbation.model",
                   "perturbation.n_sigma", "perturbation.top_genes", "perturbation.count_cutoffs",
                   "perturbation.program_match_max_adjusted_p", "classification.classifier_hidden",
                   "classification.classification_weight", "classification.noise.input_noise_sd",
                   "classification.noise.test_sigmas", "resources.training.cpus",
                   *(f"classification.random_forest.{key}" for key in ("n_estimators", "max_features",
                                                                       "min_samples_leaf")),
                   *(f"classification.svm.{key}" for key in ("kernel", "C", "gamma", "standardize"))},
}


@pytest.mark.parametrize("name", ["test.yaml", "paper.yaml", "paper_literal.yaml", "nakayama2007.yaml"])
def test_an_example_config_holds_only_differences_from_the_defaults(name):
    """An example config repeats no default (PINNED says which and why), so a changed default reaches it;
    paper_literal.yaml is passed after paper.yaml, so its defaults are those two merged."""
    import yaml
    from snakemake.utils import update_config

    defaults = yaml.safe_load((REPO / "config/config.yaml").read_text())
    if name == "paper_literal.yaml":
        update_config(defaults, yaml.safe_load((REPO / "config/paper.yaml").read_text()))
    overlay = yaml.safe_load((REPO / "config" / name).read_text())

    def repeated(base, values, path=""):
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                yield from repeated(base[key], value, f"{path}{key}.")
            elif base.get(key) == value and f"{path}{key}" not in PINNED.get(name, set()):
                yield f"{path}{key}"

    assert list(repeated(defaults, overlay)) == []
    assert load_test_config()["dataset"]["source"] == "synthetic"  # the rest comes from config.yaml


def test_an_overlay_does_not_change_the_order_of_the_config():
    """Snakemake puts an overlay's keys first; common.smk restores config.yaml's order (run_config.yaml, params),
    and a key config.yaml lacks stays after the key it followed."""
    import yaml
    from snakemake.utils import update_config

    from cic.defaults import order_like

    defaults = yaml.safe_load((REPO / "config/config.yaml").read_text())
    overlay = yaml.safe_load((REPO / "config/test.yaml").read_text())
    config = dict(overlay)  # what Snakemake does with --configfile: the overlay, the defaults, the overlay again
    update_config(config, defaults)
    update_config(config, overlay)
    assert list(config) != list(defaults)
    order_like(config, defaults)
    assert list(config) == list(defaults)
    assert list(config["dataset"]) == list(defaults["dataset"])
    assert list(config["sweeps"]["training"]) == ["epochs", "iterations_per_epoch", "progress"]
