"""k networks in one cic.train.fit call: each trains as it would alone (float64), folds of unequal size, early
stopping per network, resuming a group, checkpoint checks, and the stage function the training rules call."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from cic.errors import InputError
from cic.model import Autoencoder, ClassifierAutoencoder
from cic.train import TrainConfig, fit, load_model

N_SAMPLES, N_GENES = 53, 12
SEEDS = [11, 12, 13]
BASE = TrainConfig(epochs=3, iterations_per_epoch=2, batch_size=8, learning_rate=0.01, optimizer="sgd",
                   schedule="constant", validation_fraction=0.0, patience=None, device="cpu", progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folds():
    """log2-like data in 3 folds of 18/18/17 samples: 35/35/36 training samples, 5 batches of 8 per pass each
    (4 with 15 % set aside for validation: 30/30/31)."""
    rng = np.random.default_rng(0)
    x = (8 + 2 * rng.standard_normal((N_SAMPLES, N_GENES))).astype(np.float32)
    fold_of = np.arange(N_SAMPLES) % 3
    labels = np.arange(N_SAMPLES) % 2
    x[labels == 1, :3] += 2  # a class signal for the classifier autoencoders
    return x, [np.flatnonzero(fold_of != f) for f in range(3)], [np.flatnonzero(fold_of == f) for f in range(3)], labels


def together_and_alone(make, folds, config, labelled=False):
    x, train_rows, test_rows, labels = folds
    labels = labels if labelled else None
    together = fit(make(), x, config, train_rows=train_rows, test_rows=test_rows, seeds=SEEDS, labels=labels)
    alone = [fit(make(), x, config, train_rows=[rows], test_rows=[test], seeds=[seed], labels=labels)
             for rows, test, seed in zip(train_rows, test_rows, SEEDS)]
    return together, [(networks[0], histories[0]) for networks, histories in alone]


def assert_same_training(together, alone, tolerance):
    networks, histories = together
    for index, (network, history) in enumerate(alone):
        expected, got = network.state_dict(), networks[index].state_dict()
        assert list(expected) == list(got)
        for name in expected:
            torch.testing.assert_close(got[name], expected[name], rtol=tolerance, atol=tolerance,
                                       msg=lambda message: f"network {index} {name}: {message}")
        assert list(histories[index].columns) == list(history.columns)
        assert histories[index]["epoch"].tolist() == history["epoch"].tolist()
        assert histories[index]["kept"].tolist() == history["kept"].tolist()
        numeric = [column for column in history.columns if column not in ("epoch", "seconds", "kept")]
        np.testing.assert_allclose(histories[index][numeric], history[numeric], rtol=tolerance, atol=tolerance,
                                   err_msg=f"network {index}")


SETTINGS = {
    "sgd": dict(),
    "sgd_momentum_penalties": dict(momentum=0.9, learning_rate=0.003, weight_decay=0.01, l1=1e-3),
    "adam_penalties_paper_decay": dict(optimizer="adam", weight_decay=0.01, l1=1e-3, schedule="paper_decay",
                                       learning_rate_decay=0.5),
    "adam_noise_one_cycle_validation": dict(optimizer="adam", input_noise_sd=0.3, schedule="one_cycle",
                                            validation_fraction=0.15, conditioning="standardise"),
    "adam_full_batch_cosine": dict(optimizer="adam", batch_size=None, schedule="cosine"),
}


@pytest.mark.parametrize("setting", SETTINGS)
def test_networks_trained_together_match_networks_trained_alone_in_float64(folds, setting):
    config = replace(BASE, dtype="float64", **SETTINGS[setting])
    spec = "L7,T,L5,S,L3"  # activations, a per-sample SoftMax and three Linear layers each way
    together, alone = together_and_alone(lambda: Autoencoder(N_GENES, spec), folds, config)
    assert_same_training(together, alone, 1e-10)


@pytest.mark.parametrize("make, labelled", [
    (lambda: Autoencoder(N_GENES, "L8,B,G,D0.3,L3"), False),
    (lambda: ClassifierAutoencoder(N_GENES, "L8,G,D0.2,L3", n_classes=2, classifier_hidden=4), True),
])
def test_dropout_batchnorm_and_classifiers_train_together_as_alone(folds, make, labelled):
    config = replace(BASE, dtype="float64", optimizer="adam", validation_fraction=0.15, input_noise_sd=0.1)
    together, alone = together_and_alone(make, folds, config, labelled)
    assert_same_training(together, alone, 1e-10)


@pytest.mark.parametrize("spec", ["L6,G,L3", "L6,R,L4,Sig,L3", "L6,SP,L5,SS,L4,W,L3"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_networks_trained_together_match_alone_in_float32(folds, spec, optimizer):
    config = replace(BASE, optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0.0,
                     learning_rate=0.001 if optimizer == "sgd" else 0.01)
    together, alone = together_and_alone(lambda: Autoencoder(N_GENES, spec), folds, config)
    assert_same_training(together, alone, 1e-5)


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.9), ("adam", 0.0)])
def test_a_network_whose_samples_are_used_up_is_not_moved(folds, optimizer, momentum):
    """Batches of 5: networks 0 and 1 (35 samples) need 7 updates per pass, network 2 (36) 8. In the group's 8th
    update networks 0 and 1 sit out: their loss is 0 and their rows of the weights and of the optimizer's state
    (momentum, Adam's moments) are put back, so after one pass they equal their 7-update runs alone."""
    config = replace(BASE, epochs=1, iterations_per_epoch=1, batch_size=5, optimizer=optimizer, momentum=momentum,
                     dtype="float64")
    (networks, _), alone = together_and_alone(lambda: Autoencoder(N_GENES, "L6,G,L3"), folds, config)
    for index, (network, _) in enumerate(alone):
        for name, tensor in network.state_dict().items():
            torch.testing.assert_close(networks[index].state_dict()[name], tensor, rtol=1e-12, atol=1e-12)


def test_a_sitting_out_network_keeps_its_sgd_trajectory_over_many_passes(folds):
    """SGD with momentum and a constant rate has no step counter: unequal folds match their runs alone."""
    config = replace(BASE, epochs=3, iterations_per_epoch=2, batch_size=5, momentum=0.9, dtype="float64")
    together, alone = together_and_alone(lambda: Autoencoder(N_GENES, "L6,G,L3"), folds, config)
    assert_same_training(together, alone, 1e-10)


def test_each_network_stops_early_on_its_own(folds):
    config = replace(BASE, epochs=25, optimizer="adam", learning_rate=0.05, validation_fraction=0.3, patience=2,
                     min_delta=0.0, dtype="float64")
    together, alone = together_and_alone(lambda: Autoencoder(N_GENES, "L10,G,L6"), folds, config)
    lengths = [len(history) for history in together[1]]
    assert min(lengths) < config.epochs and len(set(lengths)) > 1  # stopped, at different epochs
    assert_same_training(together, alone, 1e-10)


class Killed(Exception):
    pass


@pytest.mark.parametrize("make, labelled", [
    (lambda: Autoencoder(N_GENES, "L6,G,L3"), False),
    (lambda: ClassifierAutoencoder(N_GENES, "L8,B,G,D0.2,L3", n_classes=2), True),
])
def test_resume_a_group_after_a_kill_ends_as_an_uninterrupted_run(folds, tmp_path, make, labelled):
    x, train_rows, test_rows, labels = folds
    config = replace(BASE, optimizer="adam", epochs=5, input_noise_sd=0.2, schedule="one_cycle",
                     validation_fraction=0.15, patience=2)
    group = dict(train_rows=train_rows, test_rows=test_rows, seeds=SEEDS, labels=labels if labelled else None)
    whole_networks, whole_histories = fit(make(), x, config, **group)
    checkpoint = tmp_path / "group.checkpoint.pt"
    history_paths = [tmp_path / f"fold{fold}.tsv" for fold in range(3)]

    def kill_after_3(epoch, rows):
        if epoch == 3:
            raise Killed("killed after epoch 3")

    with pytest.raises(Killed, match="killed after epoch 3"):
        fit(make(), x, config, **group, checkpoint_path=checkpoint, history_paths=history_paths,
            on_epoch_end=kill_after_3)
    assert [len(pd.read_csv(path, sep="\t")) for path in history_paths] == [3, 3, 3]
    networks, histories = fit(make(), x, config, **group, checkpoint_path=checkpoint, history_paths=history_paths)
    for fold in range(3):
        for name, tensor in whole_networks[fold].state_dict().items():
            assert torch.equal(networks[fold].state_dict()[name], tensor), f"network {fold} {name}"
        pd.testing.assert_frame_equal(histories[fold].drop(columns="seconds"),
                                      whole_histories[fold].drop(columns="seconds"))
        written = pd.read_csv(history_paths[fold], sep="\t")
        assert written["epoch"].tolist() == whole_histories[fold]["epoch"].tolist()


def test_a_checkpoint_of_other_folds_or_settings_is_refused(folds, tmp_path):
    x, train_rows, test_rows, _ = folds
    checkpoint = tmp_path / "group.checkpoint.pt"
    config = replace(BASE, epochs=1)

    def run(config, seeds=SEEDS, train=train_rows, test=test_rows):
        fit(Autoencoder(N_GENES, "L6,G,L3"), x, config, train_rows=train, test_rows=test, seeds=seeds,
            checkpoint_path=checkpoint)

    run(config)
    with pytest.raises(InputError, match=r"seeds=\[11, 12, 13\] but this run has seeds=\[1, 2, 3\]"):
        run(replace(config, epochs=2), seeds=[1, 2, 3])
    with pytest.raises(InputError, match="other data or samples"):
        run(replace(config, epochs=2), train=train_rows[::-1], test=test_rows[::-1])
    with pytest.raises(InputError, match="learning_rate=0.01 but this run has learning_rate=0.5"):
        run(replace(config, epochs=2, learning_rate=0.5))


def test_bad_group_lists_are_refused(folds):
    x, train_rows, test_rows, _ = folds
    with pytest.raises(ValueError, match="one entry of seeds per network: 3 train_rows, 2 seeds"):
        fit(Autoencoder(N_GENES, "L6,G,L3"), x, BASE, train_rows=train_rows, test_rows=test_rows, seeds=SEEDS[:2])
    with pytest.raises(ValueError, match=r"train_rows\[1\]"):
        fit(Autoencoder(N_GENES, "L6,G,L3"), x, BASE, train_rows=[train_rows[0], [N_SAMPLES], train_rows[2]],
            seeds=SEEDS)


@pytest.fixture
def stage_inputs(tmp_path):
    import anndata

    from cic.io import write_h5ad

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
    return expression, splits


def test_one_call_trains_a_group_into_the_files_of_one_call_per_network(tmp_path, stage_inputs):
    """train_autoencoders with 3 holdouts writes, per network, the model file and history that 3 calls with one
    holdout each write (the per-fold rules): same metadata, weights and numbers."""
    from cic.stages.autoencoder import cv_holdout, train_autoencoders

    expression, splits = stage_inputs
    training = {"epochs": 2, "iterations_per_epoch": 2, "batch_size": 4, "learning_rate": 0.002,
                "optimizer": "adam", "device": "cpu", "progress": False, "batched_folds": True}
    holdouts, seeds = [cv_holdout(fold) for fold in range(3)], [7, 8, 9]
    group_models = [tmp_path / "group" / f"fold{f}" / "model.pt" for f in range(3)]
    group_histories = [path.with_name("history.tsv") for path in group_models]
    train_autoencoders(expression, splits, holdouts, "L5,G,L3", training, seeds, group_models, group_histories,
                       tmp_path / "group" / "folds.checkpoint.pt")
    assert not (tmp_path / "group" / "folds.checkpoint.pt").exists()
    for fold in range(3):
        single_model, single_history = tmp_path / "single" / "model.pt", tmp_path / "single" / "history.tsv"
        train_autoencoders(expression, splits, [holdouts[fold]], "L5,G,L3", training, [seeds[fold]], [single_model],
                           [single_history])
        assert not (tmp_path / "single" / "model.checkpoint.pt").exists()
        model, meta = load_model(group_models[fold])
        expected_model, expected_meta = load_model(single_model)
        assert meta == expected_meta and meta["holdout_value"] == str(fold) and meta["seed"] == seeds[fold]
        for name, tensor in expected_model.state_dict().items():
            torch.testing.assert_close(model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)
        history, expected = pd.read_csv(group_histories[fold], sep="\t"), pd.read_csv(single_history, sep="\t")
        assert list(history.columns) == list(expected.columns)
        np.testing.assert_allclose(history["test_mse"], expected["test_mse"], rtol=1e-5)


def test_the_stage_refuses_lists_of_different_lengths(tmp_path, stage_inputs):
    from cic.stages.autoencoder import cv_holdout, train_autoencoders

    expression, splits = stage_inputs
    with pytest.raises(ValueError, match="one seed, model path and history path per holdout"):
        train_autoencoders(expression, splits, [cv_holdout(0), cv_holdout(1)], "L5,G,L3", {}, [1],
                           [tmp_path / "m.pt"], [tmp_path / "h.tsv"])
    assert not list(tmp_path.glob("*.pt"))


@pytest.mark.workflow
def test_batched_cv_job_feeds_fig2a(test_config_run):
    """config/test.yaml sets training.batched_folds: the one stacked job wrote every fold's model and history."""
    from conftest import load_test_config

    config = load_test_config(test_config_run)
    assert config["training"]["batched_folds"] is True
    assert (test_config_run / "results" / "logs" / "cv" / "folds_batched.log").exists()
    for fold in range(config["splits"]["cv_folds"]):
        folder = test_config_run / "results" / "models" / "cv" / f"fold{fold}"
        _, meta = load_model(folder / "model.pt")
        assert meta["holdout_column"] == "cv_fold" and meta["holdout_value"] == str(fold)
        assert meta["seed"] == config["seed"] + fold
        history = pd.read_csv(folder / "history.tsv", sep="\t")
        assert len(history) == config["training"]["epochs"] and history["kept"].sum() == 1
        assert history["validation_mse"].notna().all()
    assert not (test_config_run / "results" / "models" / "cv" / "folds_batched.checkpoint.pt").exists()
    # Fig 2a's curve is each epoch's mean and standard error (SD with ddof 1 / sqrt(n)) over the folds' test MSE.
    table = pd.read_csv(test_config_run / "results" / "tables" / "fig2a_cv_mse.tsv", sep="\t")
    test_mse = np.array([pd.read_csv(test_config_run / "results" / "models" / "cv" / f"fold{fold}" / "history.tsv",
                                     sep="\t")["test_mse"] for fold in range(config["splits"]["cv_folds"])])
    assert list(table["epoch"]) == list(range(1, config["training"]["epochs"] + 1))
    assert (table["n"] == config["splits"]["cv_folds"]).all()
    np.testing.assert_allclose(table["mean"], test_mse.mean(axis=0), rtol=1e-8)
    np.testing.assert_allclose(table["se"], test_mse.std(axis=0, ddof=1) / np.sqrt(len(test_mse)), rtol=1e-8)
