"""The stacked trainer (cic.batched) reproduces cic.train.fit fold by fold, resumes, and feeds the CV rules."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from cic.batched import can_stack, fit_stacked
from cic.errors import InputError
from cic.model import Autoencoder, ClassifierAutoencoder
from cic.train import TrainConfig, fit, load_model

N_SAMPLES, N_GENES = 53, 12
SEEDS = [11, 12, 13]
BASE = TrainConfig(epochs=3, iterations_per_epoch=2, batch_size=5, learning_rate=0.01, device="cpu", progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folds():
    """log2-like data in 3 folds of 18/18/17 samples: 35/35/36 training samples, so batches of 5 give 7, 7 and 8
    updates per pass (the last fold's 8th batch has one sample; the others sit that step out)."""
    rng = np.random.default_rng(0)
    x = (8 + 2 * rng.standard_normal((N_SAMPLES, N_GENES))).astype(np.float32)
    fold_of = np.arange(N_SAMPLES) % 3
    return x, [np.flatnonzero(fold_of != f) for f in range(3)], [np.flatnonzero(fold_of == f) for f in range(3)]


def fold_by_fold(spec, x, train_rows, test_rows, config):
    results = []
    for rows, test, seed in zip(train_rows, test_rows, SEEDS):
        model = Autoencoder(N_GENES, spec)
        history = fit(model, x[rows], replace(config, seed=seed), test_x=x[test])
        results.append((model, history))
    return results


def assert_same_training(stacked, reference, tolerance):
    models, histories = stacked
    for fold, (model, history) in enumerate(reference):
        expected, got = model.state_dict(), models[fold].state_dict()
        assert list(expected) == list(got)
        for name in expected:
            torch.testing.assert_close(got[name], expected[name], rtol=tolerance, atol=tolerance,
                                       msg=lambda message: f"fold {fold} {name}: {message}")
        assert list(histories[fold].columns) == list(history.columns)
        assert histories[fold]["epoch"].tolist() == history["epoch"].tolist()
        for column in ("train_mse", "test_mse", "learning_rate"):
            np.testing.assert_allclose(histories[fold][column], history[column], rtol=tolerance, atol=tolerance,
                                       err_msg=f"fold {fold} {column}")


SETTINGS = {
    "sgd": dict(optimizer="sgd"),
    "sgd_momentum_penalties": dict(optimizer="sgd", momentum=0.9, learning_rate=0.003, weight_decay=0.01, l1=1e-3),
    "adam_penalties_decay": dict(optimizer="adam", weight_decay=0.01, l1=1e-3, learning_rate_decay=0.5),
    "adam_noise": dict(optimizer="adam", input_noise_sd=0.3),
    "adam_full_batch": dict(optimizer="adam", batch_size=None),
}


@pytest.mark.parametrize("setting", SETTINGS)
def test_stacked_matches_fit_fold_by_fold_in_float64(folds, setting):
    x, train_rows, test_rows = folds
    config = replace(BASE, dtype="float64", **SETTINGS[setting])
    spec = "L7,T,L5,S,L3"  # activations, a per-sample SoftMax and three Linear layers each way
    stacked = fit_stacked(Autoencoder(N_GENES, spec), x, train_rows, config, SEEDS, test_rows=test_rows)
    assert_same_training(stacked, fold_by_fold(spec, x, train_rows, test_rows, config), 1e-10)


@pytest.mark.parametrize("spec", ["L6,G,L3", "L6,R,L4,Sig,L3", "L6,SP,L5,SS,L4,W,L3"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_stacked_matches_fit_in_float32(folds, spec, optimizer):
    x, train_rows, test_rows = folds
    config = replace(BASE, optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0.0,
                     learning_rate=0.001 if optimizer == "sgd" else 0.01)  # stable: rounding is not amplified
    stacked = fit_stacked(Autoencoder(N_GENES, spec), x, train_rows, config, SEEDS, test_rows=test_rows)
    assert_same_training(stacked, fold_by_fold(spec, x, train_rows, test_rows, config), 1e-5)


def test_a_fold_without_a_batch_left_is_not_updated(folds):
    """Fold 2 has 36 samples (8 batches of 5) and the others 35 (7 batches): with one pass and one epoch the
    stacked run's last step updates fold 2 only; the other folds must equal fit's 7-update result, Adam's step
    count included (a masked-but-updated fold would move through Adam's moments)."""
    x, train_rows, test_rows = folds
    config = replace(BASE, epochs=1, iterations_per_epoch=1, optimizer="adam", dtype="float64")
    models, _ = fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, train_rows, config, SEEDS, test_rows=test_rows)
    for fold, (model, _) in enumerate(fold_by_fold("L6,G,L3", x, train_rows, test_rows, config)):
        for name, tensor in model.state_dict().items():
            torch.testing.assert_close(models[fold].state_dict()[name], tensor, rtol=1e-12, atol=1e-12)


def test_resume_from_the_stacked_checkpoint_ends_as_an_uninterrupted_run(folds, tmp_path):
    x, train_rows, test_rows = folds
    config = replace(BASE, optimizer="adam", epochs=4, input_noise_sd=0.2)
    spec = "L6,G,L3"
    whole_models, whole_histories = fit_stacked(Autoencoder(N_GENES, spec), x, train_rows, config, SEEDS,
                                                test_rows=test_rows)
    checkpoint = tmp_path / "stacked.checkpoint.pt"
    history_paths = [tmp_path / f"fold{fold}.tsv" for fold in range(3)]
    fit_stacked(Autoencoder(N_GENES, spec), x, train_rows, replace(config, epochs=2), SEEDS, test_rows=test_rows,
                checkpoint_path=checkpoint, history_paths=history_paths)
    assert [len(pd.read_csv(path, sep="\t")) for path in history_paths] == [2, 2, 2]
    models, histories = fit_stacked(Autoencoder(N_GENES, spec), x, train_rows, config, SEEDS, test_rows=test_rows,
                                    checkpoint_path=checkpoint, history_paths=history_paths)
    for fold in range(3):
        for name, tensor in whole_models[fold].state_dict().items():
            assert torch.equal(models[fold].state_dict()[name], tensor), f"fold {fold} {name}"
        columns = ["epoch", "train_mse", "test_mse", "learning_rate"]
        pd.testing.assert_frame_equal(histories[fold][columns], whole_histories[fold][columns])
        written = pd.read_csv(history_paths[fold], sep="\t")
        assert written["epoch"].tolist() == [1, 2, 3, 4]


def test_a_checkpoint_of_other_folds_or_settings_is_refused(folds, tmp_path):
    x, train_rows, test_rows = folds
    checkpoint = tmp_path / "stacked.checkpoint.pt"
    config = replace(BASE, epochs=1)
    fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, train_rows, config, SEEDS, test_rows=test_rows,
                checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="other seeds"):
        fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, train_rows, replace(config, epochs=2), [1, 2, 3],
                    test_rows=test_rows, checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="other data or folds"):
        fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, train_rows[::-1], replace(config, epochs=2), SEEDS,
                    test_rows=test_rows[::-1], checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="other training settings"):
        fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, train_rows, replace(config, epochs=2, learning_rate=0.5),
                    SEEDS, test_rows=test_rows, checkpoint_path=checkpoint)


def test_batchnorm_and_dropout_specs_fall_back_to_fit(folds, caplog):
    x, train_rows, test_rows = folds
    assert can_stack(Autoencoder(N_GENES, "L6,G,L3"))
    assert not can_stack(Autoencoder(N_GENES, "L6,B,G,L3"))
    assert not can_stack(Autoencoder(N_GENES, "L6,D0.2,G,L3"))
    assert not can_stack(ClassifierAutoencoder(N_GENES, "L6,G,L3", n_classes=3))
    config = replace(BASE, epochs=1, batch_size=4)
    with caplog.at_level("INFO", logger="cic.batched"):
        models, histories = fit_stacked(Autoencoder(N_GENES, "L6,D0.2,G,L3"), x, train_rows, config, SEEDS,
                                        test_rows=test_rows)
    assert "one after another" in caplog.text
    for fold, (model, history) in enumerate(fold_by_fold("L6,D0.2,G,L3", x, train_rows, test_rows, config)):
        for name, tensor in model.state_dict().items():
            assert torch.equal(models[fold].state_dict()[name], tensor)
        assert histories[fold]["test_mse"].tolist() == history["test_mse"].tolist()


def test_bad_fold_lists_are_refused(folds):
    x, train_rows, test_rows = folds
    with pytest.raises(ValueError, match="one seed"):
        fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, train_rows, BASE, SEEDS[:2], test_rows=test_rows)
    with pytest.raises(ValueError, match=r"train_rows\[1\]"):
        fit_stacked(Autoencoder(N_GENES, "L6,G,L3"), x, [train_rows[0], [N_SAMPLES], train_rows[2]], BASE, SEEDS)


def test_stage_writes_the_files_of_the_per_fold_stage(tmp_path):
    """train_autoencoder_folds writes, per fold, the model file and history train_autoencoder writes."""
    import anndata

    from cic.io import write_h5ad
    from cic.stages.autoencoder import cv_holdout, train_autoencoder, train_autoencoder_folds

    rng = np.random.default_rng(1)
    samples = [f"S{i:02d}" for i in range(30)]
    expression = tmp_path / "expression.h5ad"
    adata = anndata.AnnData((8 + rng.standard_normal((30, N_GENES))).astype(np.float32))
    adata.obs_names, adata.var_names = samples, [f"G{j}" for j in range(N_GENES)]
    adata.obs["cell_type"], adata.obs["study"] = ["a", "b"] * 15, "s1"
    write_h5ad(adata, expression)
    splits = tmp_path / "splits.tsv"
    pd.DataFrame({"sample": samples, "cell_type": ["a", "b"] * 15, "study": "s1",
                  "split": ["train"] * 22 + ["test"] * 8, "cv_fold": np.arange(30) % 3,
                  "noise_cv_fold": np.arange(30) % 2}).to_csv(splits, sep="\t", index=False)
    training = {"epochs": 2, "iterations_per_epoch": 2, "batch_size": 4, "learning_rate": 0.002,
                "learning_rate_decay": 0.0, "momentum": 0.0, "optimizer": "adam", "device": "cpu",
                "progress": False, "batched_folds": True}
    holdouts, seeds = [cv_holdout(fold) for fold in range(3)], [7, 8, 9]
    stacked_models = [tmp_path / "stacked" / f"fold{f}" / "model.pt" for f in range(3)]
    stacked_histories = [path.with_name("history.tsv") for path in stacked_models]
    train_autoencoder_folds(expression, splits, holdouts, "L5,G,L3", training, seeds, stacked_models,
                            stacked_histories, tmp_path / "stacked" / "folds.checkpoint.pt")
    assert not (tmp_path / "stacked" / "folds.checkpoint.pt").exists()
    for fold in range(3):
        single_model, single_history = tmp_path / "single" / "model.pt", tmp_path / "single" / "history.tsv"
        train_autoencoder(expression, splits, holdouts[fold], "L5,G,L3", training, seeds[fold], single_model,
                          single_history)
        model, meta = load_model(stacked_models[fold])
        expected_model, expected_meta = load_model(single_model)
        assert meta == expected_meta
        for name, tensor in expected_model.state_dict().items():
            torch.testing.assert_close(model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)
        history, expected = pd.read_csv(stacked_histories[fold], sep="\t"), pd.read_csv(single_history, sep="\t")
        assert list(history.columns) == list(expected.columns)
        np.testing.assert_allclose(history["test_mse"], expected["test_mse"], rtol=1e-5)


@pytest.mark.workflow
def test_batched_cv_job_feeds_fig2a(test_config_run):
    """config/test.yaml sets training.batched_folds: the one stacked job wrote every fold's model and history."""
    import yaml

    config = yaml.safe_load((test_config_run / "config" / "test.yaml").read_text())
    if not config["training"].get("batched_folds"):
        pytest.skip("config/test.yaml trains the CV folds one by one")
    assert (test_config_run / "results" / "logs" / "cv" / "folds_batched.log").exists()
    for fold in range(config["splits"]["cv_folds"]):
        folder = test_config_run / "results" / "models" / "cv" / f"fold{fold}"
        _, meta = load_model(folder / "model.pt")
        assert meta["holdout_column"] == "cv_fold" and meta["holdout_value"] == str(fold)
        assert meta["seed"] == config["seed"] + fold
        assert len(pd.read_csv(folder / "history.tsv", sep="\t")) == config["training"]["epochs"]
    assert not (test_config_run / "results" / "models" / "cv" / "folds_batched.checkpoint.pt").exists()
    table = pd.read_csv(test_config_run / "results" / "tables" / "fig2a_cv_mse.tsv", sep="\t")
    assert not table.empty
