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


def test_the_test_config_holds_only_differences_from_the_defaults():
    """config/test.yaml repeats no default (the one pinned exception says why), so a changed default reaches it."""
    import yaml

    defaults = yaml.safe_load((REPO / "config/config.yaml").read_text())
    overlay = yaml.safe_load((REPO / "config/test.yaml").read_text())
    pinned = {"training.batched_folds"}

    def repeated(base, values, path=""):
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                yield from repeated(base[key], value, f"{path}{key}.")
            elif base.get(key) == value and f"{path}{key}" not in pinned:
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
