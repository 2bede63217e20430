"""The reference bundle and `cic query` on a tiny compendium: round trip, batch independence, gene order, missing
genes, format versions and one-line errors."""

import json
import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from cic import io
from cic.cli import main
from cic.dataset import RawDataset
from cic.errors import InputError
from cic.model import ClassifierAutoencoder, initialise_weights
from cic.prepare import PreparationSettings, prepare
from cic.query import (OUTPUT_FILES, PREDICTION_COLUMNS, prepare_query, quantile_normalize_to_target, run_query)
from cic.reference import REFERENCE_FORMAT, load_reference, target_distribution, write_reference
from cic.train import save_model

N_GENES = 150  # conftest's tiny_compendium


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_compendium):
    """A bundle of a (briefly fitted) classifier autoencoder on the tiny compendium, and the raw matrix it came from
    (genes x samples, raw intensities)."""
    from cic.train import TrainConfig, fit

    folder = tmp_path_factory.mktemp("bundle")
    raw_frame = tiny_compendium.intensities
    samples = tiny_compendium.samples[["cell_type", "study"]]
    raw = RawDataset(raw_frame.T.to_numpy(np.float64), list(raw_frame.index), samples, "raw.tsv", "samples.tsv")
    matrix, kept, genes, provenance = prepare(raw, PreparationSettings(samples_per_type=None))
    adata = io.expression_container(matrix, kept, genes, **provenance)
    io.write_h5ad(adata, folder / "expression.h5ad")
    splits = kept.reset_index()[["sample", "cell_type", "study"]]
    splits["split"] = np.where(np.arange(len(splits)) % 4 == 0, "test", "train")
    io.write_table(splits, folder / "splits.tsv")
    classes = sorted(splits["cell_type"].unique())
    labels = splits["cell_type"].map({name: i for i, name in enumerate(classes)}).to_numpy()
    template = ClassifierAutoencoder(len(genes), "L16,G,L4", len(classes))
    initialise_weights(template, 5)
    train = np.flatnonzero(splits["split"] == "train")
    (network,), _ = fit(template, matrix.astype(np.float32), TrainConfig(epochs=3, iterations_per_epoch=2,
                                                                          progress=False, validation_fraction=0),
                        train_rows=[train], seeds=[5], labels=labels)
    save_model(network, folder / "model.pt", {"genes": genes, "holdout_column": "split", "holdout_value": "test",
                                              "seed": 5, "classes": classes})
    write_reference(folder / "model.pt", folder / "expression.h5ad", folder / "splits.tsv",
                    {"log2": "auto", "log2_offset": 1.0, "log2_floor": None, "collapse_duplicate_genes": "max_mean",
                     "quantile_normalize": True}, {"conditioning": "centre", "epochs": 3}, folder / "reference")
    return folder / "reference", raw_frame, matrix, kept


def write_query(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, sep="\t")
    return str(path)


def error_lines(stderr: str) -> list[str]:
    """stderr without the progress lines (INFO: ...): what a failure printed."""
    assert "Traceback" not in stderr
    return [line for line in stderr.strip().splitlines() if not line.startswith("INFO: ")]


def test_bundle_round_trip(bundle):
    folder, _, matrix, kept = bundle
    meta = json.loads((folder / "reference.json").read_text())
    assert meta["format"] == REFERENCE_FORMAT and len(meta["genes"]) == N_GENES
    assert meta["preprocessing"]["log2"]["mode"] == "auto" and meta["preprocessing"]["log2"]["applied_to_reference"]
    np.testing.assert_allclose(meta["preprocessing"]["quantile_normalisation"]["target"], target_distribution(matrix))
    weights = torch.load(folder / "weights.pt", weights_only=True)  # plain tensors
    assert {"input_mean", "input_scale"} <= set(weights)
    reference = load_reference(folder)
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(tensor, weights[name]), name
    assert reference.cell_types == sorted(kept["cell_type"].unique())
    assert reference.code_matrix.shape == (len(kept), 4)
    assert 0 < meta["unassigned"]["reconstruction_mse_threshold"] < 10


def test_the_references_own_raw_samples_come_back_as_prepared(bundle):
    """Query preprocessing of the reference's raw profiles, one sample at a time, gives the prepared matrix."""
    folder, raw_frame, matrix, kept = bundle
    raw = RawDataset(raw_frame.T.to_numpy(np.float64), list(raw_frame.index), kept[["cell_type"]], "q.tsv")
    profiles = prepare_query(raw, load_reference(folder))
    assert profiles.log2_applied.all() and profiles.present.all()
    np.testing.assert_allclose(profiles.matrix, matrix, atol=1e-6)


def test_one_sample_alone_equals_the_same_sample_in_a_batch(bundle, tmp_path):
    folder, raw_frame, _, _ = bundle
    batch = run_query(folder, write_query(raw_frame, tmp_path / "batch.tsv"), tmp_path / "batch")
    sample = raw_frame.columns[5]
    alone = run_query(folder, write_query(raw_frame[[sample]], tmp_path / "one.tsv"), tmp_path / "one")
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  batch[batch["sample"] == sample].reset_index(drop=True))
    codes = pd.read_csv(tmp_path / "batch/codes.tsv", sep="\t", index_col=0)
    # the same preprocessed input; only float32 matrix products of another batch shape round differently
    np.testing.assert_allclose(pd.read_csv(tmp_path / "one/codes.tsv", sep="\t", index_col=0).loc[sample],
                               codes.loc[sample], rtol=1e-5, atol=1e-6)


def test_a_log2_query_gets_the_same_answer_as_the_raw_one(bundle, tmp_path):
    """GEO2R's rule judges each query sample: a file already on log2 scale is not transformed again."""
    folder, raw_frame, _, _ = bundle
    raw = run_query(folder, write_query(raw_frame, tmp_path / "raw.tsv"), tmp_path / "raw")
    logged = run_query(folder, write_query(np.log2(raw_frame + 1.0), tmp_path / "log.tsv"), tmp_path / "log")
    pd.testing.assert_frame_equal(raw, logged, atol=1e-5)


def test_shuffled_gene_order_gives_the_same_result(bundle, tmp_path):
    folder, raw_frame, _, _ = bundle
    ordered = run_query(folder, write_query(raw_frame, tmp_path / "a.tsv"), tmp_path / "a")
    shuffled = raw_frame.iloc[np.random.default_rng(0).permutation(len(raw_frame))]
    assert list(shuffled.index) != list(raw_frame.index)
    pd.testing.assert_frame_equal(ordered, run_query(folder, write_query(shuffled, tmp_path / "b.tsv"), tmp_path / "b"))


def test_ten_percent_missing_genes_warns_with_the_count(bundle, tmp_path, caplog):
    folder, raw_frame, _, _ = bundle
    dropped = raw_frame.drop(index=raw_frame.index[::10])  # 15 of 150
    with caplog.at_level(logging.WARNING, logger="cic"):
        table = run_query(folder, write_query(dropped, tmp_path / "q.tsv"), tmp_path / "out")
    assert "15 of the reference's 150 genes (10.0%) are missing" in caplog.text
    assert list(table.columns[:len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(OUTPUT_FILES)
    reproduced = io.read_h5ad(tmp_path / "out/reproduced.h5ad")
    assert reproduced.shape == (raw_frame.shape[1], N_GENES) and (~reproduced.var["present_in_query"]).sum() == 15


def test_too_many_missing_genes_stop_with_one_line_and_no_output(bundle, tmp_path, capsys):
    folder, raw_frame, _, _ = bundle
    query = write_query(raw_frame.iloc[:45], tmp_path / "q.tsv")  # 70 % missing
    code = main(["query", "--model", str(folder), "--expression", query, "--out", str(tmp_path / "out")])
    error = error_lines(capsys.readouterr().err)
    assert code == 1 and len(error) == 1
    assert "q.tsv" in error[0] and "105 of the reference's 150 genes (70.0%)" in error[0]
    assert "max_missing_gene_fraction = 0.2" in error[0] and "fix:" in error[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # with --log the traceback goes to that file, and still one line on the terminal
    log = tmp_path / "query.log"
    assert main(["query", "--model", str(folder), "--expression", query, "--out", str(tmp_path / "out"),
                 "--log", str(log)]) == 1
    assert len(error_lines(capsys.readouterr().err)) == 1 and "Traceback" in log.read_text()


def test_a_query_in_the_other_orientation_is_told_to_pass_orientation(bundle, tmp_path, capsys):
    folder, raw_frame, _, _ = bundle
    query = write_query(raw_frame.T, tmp_path / "q.tsv")  # samples x genes, read as genes x samples by default
    code = main(["query", "--model", str(folder), "--expression", query, "--out", str(tmp_path / "out")])
    # read the wrong way round, its rows also look log-scaled: a warning may come before the error line
    error = [line for line in error_lines(capsys.readouterr().err) if not line.startswith("WARNING: ")]
    assert code == 1 and len(error) == 1, error
    assert "its sample ids are the reference's gene ids" in error[0]
    assert "fix: the file has samples in rows: pass --orientation samples_x_genes" in error[0]


def test_a_missing_query_file_names_the_option_to_fix(bundle, tmp_path, capsys):
    code = main(["query", "--model", str(bundle[0]), "--expression", str(tmp_path / "nope.tsv"), "--out",
                 str(tmp_path / "out")])
    error = error_lines(capsys.readouterr().err)
    assert code == 1 and len(error) == 1
    assert "nope.tsv: expression matrix not found" in error[0] and "--expression" in error[0]


def test_a_bundle_of_another_format_version_stops_with_one_line(bundle, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(bundle[0], tmp_path / "old")
    meta = json.loads((folder / "reference.json").read_text())
    (folder / "reference.json").write_text(json.dumps(meta | {"format": "cic-reference-0"}))
    with pytest.raises(InputError, match=r"format 'cic-reference-0', but this cic .* reads format 'cic-reference-1'"):
        load_reference(folder)
    query = write_query(bundle[1], tmp_path / "q.tsv")
    assert main(["query", "--model", str(folder), "--expression", query, "--out", str(tmp_path / "out")]) == 1
    error = error_lines(capsys.readouterr().err)
    assert len(error) == 1 and "cic-reference-0" in error[0] and "cic-reference-1" in error[0]
    assert not (tmp_path / "out").exists()


def test_the_cic_command_lists_query_and_refuses_bad_input_in_one_line(bundle, tmp_path):
    """The installed console script: `cic --help` lists the subcommands; a missing file is one line, exit 1."""
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="console_scripts") if e.name == "cic"] == ["cic.cli:main"]
    shown = subprocess.run([sys.executable, "-m", "cic.cli", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "query" in shown.stdout and "reference" in shown.stdout
    bad = tmp_path / "bad.tsv"
    bad.write_text("gene\tS1\tS2\nG1\t1\tabc\n")
    result = subprocess.run([sys.executable, "-m", "cic.cli", "query", "--model", str(bundle[0]), "--expression",
                             str(bad), "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 1
    assert len(error_lines(result.stderr)) == 1 and "Traceback" not in result.stderr
    assert "bad.tsv" in result.stderr and "abc" in result.stderr and "fix:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_quantile_normalisation_to_a_target_with_missing_genes():
    target = np.arange(10, dtype=float)
    np.testing.assert_array_equal(quantile_normalize_to_target(np.array([5.0, 1, 3, 9, 7, 2, 4, 6, 8, 0]), target),
                                  [5, 1, 3, 9, 7, 2, 4, 6, 8, 0])
    # 5 of 10 genes: ranks take the target's quantiles 0.1, 0.3, ..., 0.9 -> values 0.5, 2.5, ... 8.5; ties share
    np.testing.assert_allclose(quantile_normalize_to_target(np.array([3.0, 1, 1, 7, 9]), target),
                               [4.5, 1.5, 1.5, 6.5, 8.5])


def test_repeated_gene_ids_are_collapsed_per_sample_by_the_references_rule(bundle, tmp_path):
    """max_mean on one sample keeps the higher probe: the same whether the sample is alone or in a batch."""
    folder, raw_frame, _, _ = bundle
    low = raw_frame.iloc[:20] * 0.5  # a second, dimmer probe set of 20 genes
    repeated = pd.concat([raw_frame, low])
    plain = run_query(folder, write_query(raw_frame, tmp_path / "plain.tsv"), tmp_path / "plain")
    batch = run_query(folder, write_query(repeated, tmp_path / "rep.tsv"), tmp_path / "rep")
    pd.testing.assert_frame_equal(plain, batch)
    sample = raw_frame.columns[3]
    alone = run_query(folder, write_query(repeated[[sample]], tmp_path / "one.tsv"), tmp_path / "one")
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  batch[batch["sample"] == sample].reset_index(drop=True))


def test_query_rule_entries_refuse_files_the_library_does_not_write(tmp_path):
    """The rules name each file; the entries hand on one folder, so the names must be the library's set there."""
    from cic.stages.query import identify_query, write_reference_bundle

    with pytest.raises(ValueError, match="not .* in one folder"):  # a bundle split over two folders
        write_reference_bundle("model.pt", "expression.h5ad", "splits.tsv", {}, {}, tmp_path / "a/weights.pt",
                               tmp_path / "b/reference.json", tmp_path / "a/reference_codes.tsv")
    swapped = [tmp_path / name for name in ("codes.tsv", "predictions.tsv", "reproduced.h5ad", "query_map.png",
                                            "query_map.svg")]
    with pytest.raises(ValueError, match="not .* in one folder"):
        identify_query("query.tsv", ["reference/weights.pt"], {}, {}, *swapped)
