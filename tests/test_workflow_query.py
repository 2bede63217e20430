"""The reference bundle, a configured query and the novelty measure through snakemake on config/test.yaml."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import yaml

from cic import io
from cic.claims import CLAIMS
from cic.reference import load_reference
from cic.simulate import SimulationConfig, simulate_compendium
from cic.stages.novelty import NOVELTY_COLUMNS
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow

HELD_OUT = ["b_cell", "t_cell"]  # config/test.yaml universality.cell_types


def new_samples(folder, sample_seed: int = 99, per_type: int = 4):
    """Raw profiles of the test config's cell types from NEW studies (the simulator's genes and programs, another
    sample stream), as a user's matrix and sample sheet."""
    test = yaml.safe_load((REPO / "config/test.yaml").read_text())
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in test["dataset"]["synthetic"].items()}
    compendium = simulate_compendium(SimulationConfig(samples_per_type=per_type, seed=test["seed"],
                                                      sample_seed=sample_seed, **settings))
    matrix = compendium.intensities.rename(columns=lambda name: "NEW" + name[3:])
    sheet = compendium.samples.reset_index()[["sample", "cell_type"]]
    sheet["sample"] = "NEW" + sheet["sample"].str[3:]
    matrix.to_csv(folder / "new.tsv", sep="\t")
    sheet.to_csv(folder / "new_samples.tsv", sep="\t", index=False)
    return matrix, sheet


def test_the_bundle_describes_the_run(test_config_run):
    results = test_config_run / "results"
    reference = load_reference(results / "reference")
    adata = io.read_h5ad(results / "data/expression.h5ad")
    assert reference.genes == list(adata.var_names)
    fingerprint = hashlib.sha256(np.ascontiguousarray(adata.X, dtype=np.float32).tobytes()).hexdigest()
    assert reference.meta["data_fingerprint"]["sha256"] == fingerprint
    assert reference.meta["architecture"]["kind"] == "classifier_autoencoder"
    assert reference.meta["training"]["epochs"] == 20  # classification.training of config/test.yaml
    assert list(reference.codes["sample"]) == list(adata.obs_names)


def test_novelty_table_figure_and_claim(test_config_run):
    results = test_config_run / "results"
    table = pd.read_csv(results / "tables/novelty.tsv", sep="\t")
    assert list(table.columns) == NOVELTY_COLUMNS and list(table["cell_type"]) == HELD_OUT
    assert table["n_held_out"].tolist() == [12, 12]  # samples_per_type of config/test.yaml
    for column in ("unassigned_fraction", "false_unassigned_fraction"):
        assert table[column].between(0, 1).all()
    assert (table["most_common_prediction"] != table["cell_type"]).all()  # the classifier never saw the type
    assert (results / "figures/novelty.png").stat().st_size > 10_000 and (results / "figures/novelty.svg").exists()
    claims = pd.read_csv(results / "tables/claims.tsv", sep="\t", dtype=str, keep_default_na=False)
    claim = next(claim for claim in CLAIMS if claim.key == "novelty_unassigned")
    row = claims.set_index("claim").loc[claim.claim]
    assert "this project's own claim" in row["paper"] and row["holds"] in ("yes", "no")


def test_a_configured_query_identifies_new_samples(private_run):
    """New raw samples of the same types (new studies): at least 90 % predicted right, through the workflow."""
    _, sheet = new_samples(private_run)
    (private_run / "query.yaml").write_text(yaml.safe_dump(
        {"query": {"samples": {"new": {"expression": "new.tsv", "sample_sheet": "new_samples.tsv"}}}}))
    run_snakemake(private_run, "results/query/new/predictions.tsv", "--configfile", "config/test.yaml", "query.yaml")
    out = private_run / "results/query/new"
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t", dtype={"sample": str})
    assert list(predictions["sample"]) == list(sheet["sample"])
    accuracy = (predictions["predicted_cell_type"] == predictions["known_cell_type"]).mean()
    assert accuracy >= 0.9, predictions[predictions["predicted_cell_type"] != predictions["known_cell_type"]]
    assert predictions["assigned_cell_type"].isin(sorted(set(sheet["cell_type"])) + ["unassigned"]).all()
    assert io.read_h5ad(out / "reproduced.h5ad").shape == (len(sheet), 300)
    assert (out / "query_map.png").exists() and (out / "query_map.svg").exists()
    assert (private_run / "results/logs/query/new.log").exists()
