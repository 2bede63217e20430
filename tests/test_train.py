"""The training loop: convergence, determinism, resuming, input noise, penalties, the combined loss, model files."""

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from cic.errors import InputError
from cic.model import Autoencoder, ClassifierAutoencoder, initialise_weights
from cic.train import (
    TrainConfig,
    decode,
    encode,
    fit,
    iteration_learning_rate,
    linear_weights,
    load_model,
    make_optimizer,
    predict,
    predict_proba,
    reconstruct,
    save_model,
    training_loss,
)

N_GENES = 200
N_TRAIN = 90
FAST = TrainConfig(epochs=4, iterations_per_epoch=3, batch_size=16, learning_rate=0.1, momentum=0.9,
                   device="cpu", progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


def low_rank_data(n_samples=120, n_genes=N_GENES, n_classes=3, seed=0):
    """Samples x genes from 5 latent factors + noise (unit variance per gene); the class shifts the factors."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % n_classes
    factors = rng.normal(size=(n_samples, 5))
    factors[:, :n_classes] += 2.0 * np.eye(n_classes)[labels]
    loadings = rng.normal(size=(5, n_genes)) / np.sqrt(5)
    x = factors @ loadings + 0.1 * rng.normal(size=(n_samples, n_genes))
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def data():
    x, labels = low_rank_data()
    return {"train_x": x[:N_TRAIN], "test_x": x[N_TRAIN:], "train_labels": labels[:N_TRAIN],
            "test_labels": labels[N_TRAIN:]}


def unlabelled(data):
    return {"train_x": data["train_x"], "test_x": data["test_x"]}


def same_parameters(first, second) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


# --- convergence and history -------------------------------------------------------------------------------

def test_training_reduces_test_mse(data):
    history = fit(Autoencoder(N_GENES, "L32,G,L8"), **unlabelled(data),
                  config=replace(FAST, epochs=8, iterations_per_epoch=4))
    assert history["test_mse"].iloc[-1] < 0.5 * history["test_mse"].iloc[0]
    assert history["train_mse"].iloc[-1] < 0.5 * history["train_mse"].iloc[0]


def test_history_rows_columns_and_file(data, tmp_path):
    history_path = tmp_path / "history.tsv"
    history = fit(Autoencoder(N_GENES, "L32,G,L8"), **unlabelled(data), config=FAST, history_path=history_path)
    assert list(history.columns) == ["epoch", "train_mse", "test_mse", "learning_rate", "seconds"]
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert (history["seconds"] > 0).all()
    written = pd.read_csv(history_path, sep="\t")
    pd.testing.assert_frame_equal(written, history, check_exact=False, rtol=1e-8)


def test_history_without_test_data_has_nan_test_mse(data):
    history = fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], replace(FAST, epochs=1))
    assert history["test_mse"].isna().all()
    assert history["train_mse"].notna().all()


def test_history_mse_is_the_mean_over_genes_and_samples_of_clean_reconstructions(data):
    model = Autoencoder(N_GENES, "L32,D0.3,G,L8")
    history = fit(model, **unlabelled(data), config=replace(FAST, epochs=1, input_noise_sd=0.5))
    for split in ("train", "test"):
        x = data[f"{split}_x"]
        expected = np.mean((reconstruct(model, x).astype(np.float64) - x) ** 2)
        assert history[f"{split}_mse"].iloc[-1] == pytest.approx(expected, rel=1e-5)


def test_classifier_history_and_accuracy(data):
    model = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3)
    history = fit(model, **data, config=replace(FAST, epochs=6, classification_weight=0.5))
    assert list(history.columns) == ["epoch", "train_mse", "test_mse", "train_cross_entropy", "test_cross_entropy",
                                     "train_accuracy", "test_accuracy", "learning_rate", "seconds"]
    assert history["test_accuracy"].iloc[-1] >= 0.9  # chance is 1/3
    accuracy = np.mean(predict(model, data["test_x"]) == data["test_labels"])
    assert history["test_accuracy"].iloc[-1] == pytest.approx(accuracy)


# --- what one iteration and one epoch are ---------------------------------------------------------------------

def training_batches(model):
    """Record the inputs of every training-mode forward pass of the encoder."""
    batches = []
    model.encoder.register_forward_pre_hook(
        lambda module, args: batches.append(args[0].detach().clone()) if module.training else None)
    return batches


def test_an_iteration_is_one_pass_over_shuffled_samples(data):
    model = Autoencoder(N_GENES, "L32,G,L8")
    batches = training_batches(model)
    fit(model, data["train_x"], replace(FAST, epochs=2, iterations_per_epoch=2, batch_size=16))
    # 90 samples in batches of 16: 5 full batches and one of 10, per iteration; 2 x 2 iterations.
    assert [len(batch) for batch in batches] == [16, 16, 16, 16, 16, 10] * 4
    train = torch.from_numpy(data["train_x"])
    orders = []
    for iteration in range(4):
        seen = torch.cat(batches[6 * iteration:6 * iteration + 6])
        matches = (seen[:, None, :] == train[None, :, :]).all(dim=2)  # seen row i == training row j
        order = matches.float().argmax(dim=1)
        assert matches.any(dim=1).all()
        assert sorted(order.tolist()) == list(range(N_TRAIN))  # every sample exactly once
        orders.append(order.tolist())
    assert len({tuple(order) for order in orders}) == 4  # a fresh shuffle each iteration
    assert orders[0] != list(range(N_TRAIN))


def test_batch_size_none_is_one_batch_of_all_samples(data):
    model = Autoencoder(N_GENES, "L32,G,L8")
    batches = training_batches(model)
    fit(model, data["train_x"], replace(FAST, epochs=2, iterations_per_epoch=3, batch_size=None))
    assert [len(batch) for batch in batches] == [N_TRAIN] * 6


def test_learning_rate_decays_within_an_epoch_and_restarts_at_each_epoch(data, monkeypatch):
    rates = []
    step = torch.optim.SGD.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", recording_step)
    config = replace(FAST, epochs=2, iterations_per_epoch=3, batch_size=None, learning_rate=0.03,
                     learning_rate_decay=0.5, momentum=0.0)
    history = fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], config)
    one_epoch = [0.03, 0.03 / 1.5, 0.03 / 2.0]
    assert rates == pytest.approx(one_epoch * 2)
    assert history["learning_rate"].tolist() == pytest.approx([0.03 / 2.0] * 2)
    assert iteration_learning_rate(config, 4) == pytest.approx(0.03 / 3.0)


# --- determinism and resuming ----------------------------------------------------------------------------------

# Dropout, input noise, momentum and mini-batches: every random stream and all optimizer state are exercised.
RANDOM_CONFIG = replace(FAST, input_noise_sd=0.3)


def test_same_seed_gives_identical_weights_and_history(data):
    first, second, other = (Autoencoder(N_GENES, "L32,D0.2,G,L8") for _ in range(3))
    first_history = fit(first, **unlabelled(data), config=RANDOM_CONFIG)
    second_history = fit(second, **unlabelled(data), config=RANDOM_CONFIG)
    fit(other, **unlabelled(data), config=replace(RANDOM_CONFIG, seed=2))
    assert same_parameters(first, second)
    pd.testing.assert_frame_equal(first_history.drop(columns="seconds"), second_history.drop(columns="seconds"))
    assert not same_parameters(first, other)


def test_fit_reinitialises_from_the_seed(data):
    trained = Autoencoder(N_GENES, "L32,G,L8")
    fit(trained, data["train_x"], RANDOM_CONFIG)
    retrained = Autoencoder(N_GENES, "L32,G,L8")
    retrained.load_state_dict(trained.state_dict())  # start from already trained weights...
    fit(retrained, data["train_x"], RANDOM_CONFIG)
    assert same_parameters(trained, retrained)  # ...which fit discards: each fold starts afresh


def test_fit_leaves_the_callers_random_state_alone(data):
    model = Autoencoder(N_GENES, "L32,D0.5,G,L8")  # torch's own constructors do draw from the global generator
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    fit(model, data["train_x"], replace(RANDOM_CONFIG, epochs=1))
    assert torch.equal(torch.rand(3), expected)


class Killed(Exception):
    pass


def kill_after(epoch):
    def callback(row):
        if row["epoch"] == epoch:
            raise Killed(f"killed after epoch {epoch}")

    return callback


@pytest.mark.parametrize("make_model, config, labelled", [
    (lambda: Autoencoder(N_GENES, "L32,D0.2,G,L8"), RANDOM_CONFIG, False),
    (lambda: ClassifierAutoencoder(N_GENES, "L32,B,G,L8", n_classes=3, classifier_hidden=6),
     replace(RANDOM_CONFIG, optimizer="adam", momentum=0.0, learning_rate=0.01, weight_decay=0.01, l1=1e-4), True),
])
def test_resume_after_kill_equals_an_uninterrupted_run(data, tmp_path, make_model, config, labelled):
    inputs = data if labelled else unlabelled(data)
    uninterrupted = make_model()
    expected = fit(uninterrupted, **inputs, config=config)

    checkpoint, history_path = tmp_path / "run.ckpt", tmp_path / "history.tsv"
    with pytest.raises(Killed, match="killed after epoch 2"):
        fit(make_model(), **inputs, config=config, checkpoint_path=checkpoint, history_path=history_path,
            on_epoch_end=kill_after(2))
    assert len(pd.read_csv(history_path, sep="\t")) == 2

    resumed = make_model()
    history = fit(resumed, **inputs, config=config, checkpoint_path=checkpoint, history_path=history_path)
    assert same_parameters(resumed, uninterrupted)
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), expected.drop(columns="seconds"))
    assert len(pd.read_csv(history_path, sep="\t")) == config.epochs


def test_resume_can_extend_training(data, tmp_path):
    uninterrupted = Autoencoder(N_GENES, "L32,D0.2,G,L8")
    expected = fit(uninterrupted, **unlabelled(data), config=RANDOM_CONFIG)
    checkpoint = tmp_path / "run.ckpt"
    fit(Autoencoder(N_GENES, "L32,D0.2,G,L8"), **unlabelled(data), config=replace(RANDOM_CONFIG, epochs=1),
        checkpoint_path=checkpoint)
    extended = Autoencoder(N_GENES, "L32,D0.2,G,L8")
    history = fit(extended, **unlabelled(data), config=RANDOM_CONFIG, checkpoint_path=checkpoint)
    assert same_parameters(extended, uninterrupted)
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), expected.drop(columns="seconds"))


def test_checkpoint_holds_plain_content(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], replace(RANDOM_CONFIG, epochs=3, checkpoint_every=2),
        checkpoint_path=checkpoint)
    content = torch.load(checkpoint, weights_only=True)
    assert content["epoch"] == 3  # every 2 epochs, and after the last
    assert content["model"] == {"kind": "autoencoder", "n_genes": N_GENES, "spec": "L32,G,L8"}
    assert [row["epoch"] for row in content["history"]] == [1, 2, 3]
    assert list(tmp_path.iterdir()) == [checkpoint]  # no temporary files left behind


@pytest.mark.parametrize("change, named", [
    ({"learning_rate": 0.05}, "learning_rate"),
    ({"seed": 9}, "seed"),
    ({"input_noise_sd": 0.0}, "input_noise_sd"),
])
def test_resume_refuses_a_checkpoint_of_other_settings(data, tmp_path, change, named):
    checkpoint = tmp_path / "run.ckpt"
    fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], replace(RANDOM_CONFIG, epochs=1),
        checkpoint_path=checkpoint)
    with pytest.raises(InputError, match=f"{named}=.*delete the checkpoint"):
        fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], replace(RANDOM_CONFIG, **change),
            checkpoint_path=checkpoint)


def test_resume_refuses_other_data_or_network(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], replace(RANDOM_CONFIG, epochs=1),
        checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="other data.*delete the checkpoint"):
        fit(Autoencoder(N_GENES, "L32,G,L8"), data["test_x"], RANDOM_CONFIG, checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="another network.*delete the checkpoint"):
        fit(Autoencoder(N_GENES, "L16,G,L8"), data["train_x"], RANDOM_CONFIG, checkpoint_path=checkpoint)


def test_resume_refuses_a_file_that_is_not_a_checkpoint(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_text("not a checkpoint")
    with pytest.raises(InputError, match="run.ckpt.*delete the checkpoint"):
        fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"], RANDOM_CONFIG, checkpoint_path=checkpoint)


# --- input noise ----------------------------------------------------------------------------------------------

def test_input_noise_is_added_to_training_inputs_only(data, monkeypatch):
    """Training inputs are noisy, the targets stay the clean profiles, and evaluation sees clean profiles."""
    noise_sd = 0.5
    model = Autoencoder(N_GENES, "L32,G,L8")
    inputs = []  # (training mode, encoder input)
    model.encoder.register_forward_pre_hook(
        lambda module, args: inputs.append((module.training, args[0].detach().clone())))
    targets = []
    mse_loss = F.mse_loss

    def recording_mse_loss(prediction, target, *args, **kwargs):
        targets.append(target.detach().clone())
        return mse_loss(prediction, target, *args, **kwargs)

    monkeypatch.setattr(F, "mse_loss", recording_mse_loss)
    config = replace(FAST, epochs=2, iterations_per_epoch=2, input_noise_sd=noise_sd)
    fit(model, **unlabelled(data), config=config)
    monkeypatch.undo()

    training_inputs = [x for training, x in inputs if training]
    assert len(training_inputs) == len(targets) == 2 * 2 * 6
    train = torch.from_numpy(data["train_x"])
    for noisy, target in zip(training_inputs, targets):
        assert (target[:, None, :] == train[None, :, :]).all(dim=2).any(dim=1).all()  # clean training rows
        assert (noisy - target).std().item() == pytest.approx(noise_sd, rel=0.1)
        assert abs((noisy - target).mean().item()) < 0.05

    evaluation_inputs = [x for training, x in inputs if not training]
    clean = torch.from_numpy(np.concatenate([data["train_x"], data["test_x"]] * 2))  # 2 epochs of train + test
    assert torch.equal(torch.cat(evaluation_inputs), clean)

    first, second = reconstruct(model, data["test_x"]), reconstruct(model, data["test_x"])
    assert np.array_equal(first, second)


# --- the combined loss of the classifier autoencoder ----------------------------------------------------------

def loss_and_gradients(classification_weight, data):
    model = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3, classifier_hidden=5)
    initialise_weights(model, seed=1)
    x = torch.from_numpy(data["train_x"])
    labels = torch.from_numpy(data["train_labels"]).long()
    loss = training_loss(model, x, x, labels, TrainConfig(classification_weight=classification_weight))
    loss.backward()
    reconstruction, logits = model(x)
    return model, loss, F.mse_loss(reconstruction, x), F.cross_entropy(logits, labels)


def no_gradient(module) -> bool:
    return all(parameter.grad is None for parameter in module.parameters())


def has_gradient(module) -> bool:
    return all(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in module.parameters())


def test_classification_weight_0_is_reconstruction_only(data):
    model, loss, mse, _ = loss_and_gradients(0.0, data)
    assert loss.item() == pytest.approx(mse.item())
    assert no_gradient(model.classifier)
    assert has_gradient(model.decoder) and has_gradient(model.encoder)


def test_classification_weight_1_is_classification_only(data):
    model, loss, _, cross_entropy = loss_and_gradients(1.0, data)
    assert loss.item() == pytest.approx(cross_entropy.item())
    assert no_gradient(model.decoder)
    assert has_gradient(model.classifier) and has_gradient(model.encoder)


def test_classification_weight_between_mixes_both(data):
    model, loss, mse, cross_entropy = loss_and_gradients(0.3, data)
    assert loss.item() == pytest.approx(0.7 * mse.item() + 0.3 * cross_entropy.item())
    assert has_gradient(model.classifier) and has_gradient(model.decoder)


def test_fit_with_weight_0_leaves_the_classifier_untrained(data):
    model = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3)
    fit(model, **data, config=replace(FAST, epochs=1, classification_weight=0.0))
    initial = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3)
    initialise_weights(initial, FAST.seed)
    assert all(torch.equal(a, b) for a, b in zip(model.classifier.parameters(), initial.classifier.parameters()))
    assert not torch.equal(model.decoder[0].weight, initial.decoder[0].weight)


# --- L1 and L2 penalties --------------------------------------------------------------------------------------

def test_l1_and_l2_penalties_shrink_the_weights(data):
    config = replace(FAST, momentum=0.0, learning_rate=0.05)
    models = {name: Autoencoder(N_GENES, "L32,G,L8") for name in ("none", "l2", "l1")}
    fit(models["none"], data["train_x"], config)
    fit(models["l2"], data["train_x"], replace(config, weight_decay=0.5))
    fit(models["l1"], data["train_x"], replace(config, l1=1e-2))

    def norm(model, p):
        return sum(float(weight.detach().abs().pow(p).sum()) for weight in linear_weights(model))

    assert norm(models["l2"], 2) < 0.9 * norm(models["none"], 2)
    assert norm(models["l1"], 1) < 0.9 * norm(models["none"], 1)


def test_penalties_act_on_linear_weights_only(data):
    model = Autoencoder(N_GENES, "L32,B,G,L8")
    initialise_weights(model, seed=1)
    x = torch.from_numpy(data["train_x"])
    weights = linear_weights(model)
    assert len(weights) == 4 and all(weight.dim() == 2 for weight in weights)
    penalty = training_loss(model, x, x, None, TrainConfig(l1=0.01)) - training_loss(model, x, x, None, TrainConfig())
    assert penalty.item() == pytest.approx(0.01 * sum(weight.abs().sum().item() for weight in weights), rel=1e-4)
    decayed = [group for group in make_optimizer(model, TrainConfig(weight_decay=0.1)).param_groups
               if group["weight_decay"] > 0]
    assert len(decayed) == 1 and {id(p) for p in decayed[0]["params"]} == {id(w) for w in weights}


# --- inference helpers and model files ------------------------------------------------------------------------

def test_inference_helpers_shapes_batching_and_mode(data):
    model = ClassifierAutoencoder(N_GENES, "L32,D0.5,G,L8", n_classes=3)
    initialise_weights(model, seed=4)
    model.train()
    x = data["test_x"]
    codes = encode(model, x)
    assert codes.shape == (len(x), 8) and codes.dtype == np.float32
    np.testing.assert_allclose(encode(model, x, batch_size=7), codes, rtol=1e-5, atol=1e-6)
    reproduced = reconstruct(model, x)
    assert reproduced.shape == x.shape and reproduced.dtype == np.float32
    np.testing.assert_allclose(decode(model, codes), reproduced, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reconstruct(model, x, batch_size=4), reproduced, rtol=1e-5, atol=1e-6)
    probabilities = predict_proba(model, x)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(predict(model, x), probabilities.argmax(axis=1))
    assert model.training  # the caller's mode comes back
    assert encode(model, x[:0]).shape == (0, 8)


def test_predict_needs_a_classifier_autoencoder(data):
    with pytest.raises(TypeError, match="ClassifierAutoencoder"):
        predict(Autoencoder(N_GENES, "L8"), data["test_x"])


def test_saved_model_loads_without_training_config(data, tmp_path):
    model = ClassifierAutoencoder(N_GENES, "L32,B,G,L8", n_classes=3, classifier_hidden=4)
    fit(model, **data, config=replace(FAST, epochs=1))
    path = tmp_path / "models" / "final.pt"
    genes = [f"G{i}" for i in range(N_GENES)]
    save_model(model, path, {"genes": genes, "classes": ["a", "b", "c"]})

    plain = torch.load(path, weights_only=True)
    assert plain["kind"] == "classifier_autoencoder" and plain["spec"] == "L32,B,G,L8"
    loaded, meta = load_model(path)
    assert meta["genes"] == genes and meta["classes"] == ["a", "b", "c"] and meta["n_classes"] == 3
    assert not loaded.training
    assert np.array_equal(reconstruct(loaded, data["test_x"]), reconstruct(model, data["test_x"]))
    assert np.array_equal(predict_proba(loaded, data["test_x"]), predict_proba(model, data["test_x"]))


def test_save_model_refuses_meta_that_overrides_the_model(tmp_path):
    with pytest.raises(ValueError, match="spec"):
        save_model(Autoencoder(N_GENES, "L8"), tmp_path / "m.pt", {"spec": "L9"})


def test_load_model_reports_bad_files(tmp_path):
    with pytest.raises(InputError, match="missing.pt: file not found"):
        load_model(tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a cic-model-1 file"):
        load_model(tmp_path / "other.pt")


# --- input and setting checks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model, kwargs, match", [
    (Autoencoder(N_GENES + 1, "L8"), {}, r"201 genes .* shape \(90, 200\)"),
    (Autoencoder(N_GENES, "L8"), {"train_labels": np.zeros(N_TRAIN, dtype=int)}, "only a ClassifierAutoencoder"),
    (ClassifierAutoencoder(N_GENES, "L8", n_classes=3), {}, "needs train_labels"),
    (ClassifierAutoencoder(N_GENES, "L8", n_classes=2), {"train_labels": np.arange(N_TRAIN) % 3}, r"0\.\.1"),
    (ClassifierAutoencoder(N_GENES, "L8", n_classes=3), {"train_labels": np.zeros(N_TRAIN)}, "integers"),
    (Autoencoder(N_GENES, "L8,B,L4"), {}, "BatchNorm"),
])
def test_fit_refuses_bad_inputs(data, model, kwargs, match):
    config = replace(FAST, batch_size=89) if "B" in getattr(model, "spec", "") else FAST  # leaves a batch of 1
    with pytest.raises(ValueError, match=match):
        fit(model, data["train_x"], config, **kwargs)


def test_diverging_training_stops_with_advice(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(FloatingPointError, match="diverged.*after epoch 1.*lower learning_rate"):
        fit(Autoencoder(N_GENES, "L32,G,L8"), data["train_x"] + 8, replace(FAST, learning_rate=5.0),
            checkpoint_path=checkpoint)
    assert not checkpoint.exists()  # a diverged state is not kept for resuming


def test_fit_refuses_non_finite_values(data):
    x = data["train_x"].copy()
    x[3, 7] = np.nan
    with pytest.raises(ValueError, match="non-finite value nan at sample 3, gene 7"):
        fit(Autoencoder(N_GENES, "L8"), x, FAST)


@pytest.mark.parametrize("setting", [
    {"epochs": 0}, {"batch_size": 0}, {"learning_rate": 0.0}, {"momentum": 1.0}, {"optimizer": "rmsprop"},
    {"optimizer": "adam", "momentum": 0.9}, {"classification_weight": 1.5}, {"input_noise_sd": -0.1},
    {"device": "tpu"}, {"dtype": "float16"}, {"checkpoint_every": 0}, {"mixed_precision": "fp8"},
    {"mixed_precision": "bf16", "dtype": "float64"},
])
def test_config_refuses_bad_settings(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):
        TrainConfig(**setting)


# --- mixed precision ---------------------------------------------------------------------------------------------

def test_bf16_autocast_trains_in_bfloat16_and_still_converges(data, monkeypatch):
    seen = []
    real_loss = training_loss

    def spy(model, inputs, targets, labels, config):
        seen.append(model(inputs).dtype)
        return real_loss(model, inputs, targets, labels, config)

    monkeypatch.setattr("cic.train.training_loss", spy)
    config = replace(FAST, mixed_precision="bf16")
    bf16_model, full_model = Autoencoder(N_GENES, "L32,G,L8"), Autoencoder(N_GENES, "L32,G,L8")
    bf16 = fit(bf16_model, **unlabelled(data), config=config)
    full = fit(full_model, **unlabelled(data), config=replace(config, mixed_precision="off"))
    assert set(seen[:len(seen) // 2]) == {torch.bfloat16} and set(seen[len(seen) // 2:]) == {torch.float32}
    assert bf16["test_mse"].iloc[-1] < bf16["test_mse"].iloc[0]
    # Weights stay float32 and the run is close to, but not bit-identical with, full precision.
    assert all(p.dtype == torch.float32 for p in bf16_model.parameters())
    assert not same_parameters(bf16_model, full_model)
    assert bf16["test_mse"].iloc[-1] == pytest.approx(full["test_mse"].iloc[-1], rel=0.2)


def test_tf32_switch_is_restored_after_training(data):
    before = torch.backends.cuda.matmul.allow_tf32
    fit(Autoencoder(N_GENES, "L8"), data["train_x"], replace(FAST, epochs=1, mixed_precision="tf32"))
    assert torch.backends.cuda.matmul.allow_tf32 == before


# --- progress ----------------------------------------------------------------------------------------------------

def test_progress_bar_and_log(data, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="cic.train"):
        fit(Autoencoder(N_GENES, "L8"), **unlabelled(data), config=replace(FAST, epochs=2, progress=True))
    assert "2/2" in capsys.readouterr().err  # tqdm's bar
    assert any("epoch 2/2" in message and "test_mse=" in message for message in caplog.messages)
    fit(Autoencoder(N_GENES, "L8"), data["train_x"], replace(FAST, epochs=1, progress=False))
    assert capsys.readouterr().err == ""
