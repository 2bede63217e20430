"""The same config gives the same numbers on CPU (README, Determinism), end to end through Snakemake.

A second full run of config/test.yaml would double the suite's longest step, so the session's run (conftest's
``test_config_run``) is the first run, and a private copy of it re-runs one chain from scratch with ``--forcerun``:
the simulator, data preparation and splits, both trainings of that chain (the main model and the classifier
autoencoder), encoding, the Fig 2 evaluation, the PCA/NMF/kernel PCA baselines (Fig 2g) and the classifiers (RF, SVM;
Supp S7). Every file the second run rewrites must equal the first run's: text tables byte for byte, .h5ad/.parquet
containers and .pt weights value for value (their binary wrappers may carry library metadata). Tables a benchmark or
log writes (timings) are not results and are left out.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import run_snakemake

pytestmark = pytest.mark.workflow

FORCED = ["simulate_compendium", "train_main_model"]  # and so everything between them and the targets
TARGETS = ["results/tables/sample_quality.tsv", "results/data/splits.tsv", "results/tables/cic_codes.tsv",
           "results/tables/fig2_per_sample.tsv", "results/tables/fig2g_method_mse.tsv",
           "results/tables/classification_metrics.tsv"]
# The files the chain must rewrite (a check that the re-run ran): its jobs' outputs, less logs and benchmarks.
REMADE = TARGETS + ["results/data/synthetic/expression.parquet", "results/data/synthetic/programs.gmt",
                    "results/data/expression.h5ad", "results/data/reproduced_profiles.h5ad",
                    "results/models/main/model.pt", "results/models/main/history.tsv",
                    "results/models/classifier_autoencoder/model.pt", "results/tables/fig2bc_rank_counts.tsv",
                    "results/tables/classification_predictions.tsv"]
NOT_RESULTS = ("results/logs/", "results/benchmarks/")
# A column that measures time, not a result: the history's per-epoch wall time.
TIMING_COLUMNS = {"history.tsv": ["seconds"]}


def _results(root: Path) -> dict[str, int]:
    """{path under root: modification time in ns} of every result file."""
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in sorted((root / "results").rglob("*"))
            if path.is_file() and not str(path.relative_to(root)).startswith(NOT_RESULTS)}


def _difference(name: str, first: Path, second: Path) -> str | None:
    """Why the two files differ (None when they hold the same results)."""
    if name.endswith(".h5ad"):
        a, b = ad.read_h5ad(first), ad.read_h5ad(second)
        for part in ("obs", "var"):
            if not getattr(a, part).equals(getattr(b, part)):
                return f"{part} differs"
        for layer in [None, *a.layers]:
            x, y = (a.X, b.X) if layer is None else (a.layers[layer], b.layers.get(layer))
            if y is None or not np.array_equal(x, y):
                return f"{'X' if layer is None else 'layer ' + layer} differs"
        return None
    if name.endswith(".parquet"):
        return None if pd.read_parquet(first).equals(pd.read_parquet(second)) else "the table differs"
    if name.endswith(".pt"):
        a, b = (torch.load(path, map_location="cpu", weights_only=True) for path in (first, second))
        for key in a["state_dict"]:
            if not torch.equal(a["state_dict"][key], b["state_dict"][key]):
                return f"weights {key} differ"
        meta = {key: value for key, value in a.items() if key != "state_dict"}
        return None if meta == {key: value for key, value in b.items() if key != "state_dict"} else "metadata differ"
    timing = TIMING_COLUMNS.get(Path(name).name)
    if timing:
        a, b = (pd.read_csv(path, sep="\t").drop(columns=timing) for path in (first, second))
        return None if a.equals(b) else "the table (less its timing columns) differs"
    return None if filecmp.cmp(first, second, shallow=False) else "the bytes differ"


def test_a_second_run_of_the_test_config_gives_identical_results(test_config_run, private_run, tmp_path):
    first = Path(shutil.copytree(test_config_run / "results", tmp_path / "first_results"))
    before = _results(private_run)
    run_snakemake(private_run, "--forcerun", *FORCED, "--configfile", "config/test.yaml", "--", *TARGETS)
    after = _results(private_run)
    remade = sorted(name for name, mtime in after.items() if before.get(name) != mtime)
    assert set(REMADE) <= set(remade), f"the forced chain did not rewrite {sorted(set(REMADE) - set(remade))}"
    assert set(remade) <= set(before), f"the second run wrote files the first did not: {set(remade) - set(before)}"
    differences = {name: why for name in remade
                   if (why := _difference(name, first / name[len("results/"):], private_run / name))}
    assert not differences, (f"a second run of config/test.yaml gave other numbers: first in "
                             f"{next(iter(differences))} ({next(iter(differences.values()))}); all: {differences}")
