"""Training one network (k = 1 of cic.train.fit): convergence, what an iteration is, schedules, conditioned
inputs, validation and early stopping, determinism, resuming, noise, penalties, the combined loss, model files."""

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

import cic.train
from cic.errors import InputError
from cic.model import Autoencoder, ClassifierAutoencoder, NetworkStack, initialise_weights
from cic.train import (
    TrainConfig,
    decode,
    encode,
    fit,
    linear_weights,
    load_model,
    make_optimizer,
    predict,
    predict_proba,
    reconstruct,
    save_model,
    training_loss,
    validation_split,
)

N_GENES = 200
N_TRAIN = 90
FAST = TrainConfig(epochs=4, iterations_per_epoch=3, batch_size=16, learning_rate=0.1, momentum=0.9,
                   optimizer="sgd", schedule="constant", validation_fraction=0.0, patience=None, device="cpu",
                   progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


def low_rank_data(n_samples=120, n_genes=N_GENES, n_classes=3, seed=0):
    """Samples x genes from 5 latent factors + noise around a per-gene level; the class shifts the factors."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % n_classes
    factors = rng.normal(size=(n_samples, 5))
    factors[:, :n_classes] += 2.0 * np.eye(n_classes)[labels]
    loadings = rng.normal(size=(5, n_genes)) / np.sqrt(5)
    x = factors @ loadings + 0.1 * rng.normal(size=(n_samples, n_genes)) + rng.uniform(4, 10, size=n_genes)
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def data():
    x, labels = low_rank_data()
    return {"x": x, "labels": labels, "train": np.arange(N_TRAIN), "test": np.arange(N_TRAIN, len(x))}


def train(model, data, config, labelled=False, test=True, **kwargs):
    """fit one network on the first N_TRAIN samples, tested on the others; return (network, history)."""
    networks, histories = fit(model, data["x"], config, train_rows=[data["train"]],
                              test_rows=[data["test"]] if test else None,
                              labels=data["labels"] if labelled else None, **kwargs)
    return networks[0], histories[0]


def same_parameters(first, second) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def mse(network, x) -> float:
    return float(np.mean((reconstruct(network, x).astype(np.float64) - x) ** 2))


# --- convergence and history -------------------------------------------------------------------------------

def test_training_reduces_test_mse(data):
    _, history = train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(FAST, epochs=8, iterations_per_epoch=4))
    assert history["test_mse"].iloc[-1] < 0.5 * history["test_mse"].iloc[0]
    assert history["train_mse"].iloc[-1] < 0.5 * history["train_mse"].iloc[0]


def test_history_rows_columns_and_file(data, tmp_path):
    history_path = tmp_path / "history.tsv"
    _, history = train(Autoencoder(N_GENES, "L32,G,L8"), data, FAST, history_paths=[history_path])
    assert list(history.columns) == ["epoch", "train_mse", "validation_mse", "test_mse", "learning_rate", "seconds",
                                     "kept"]
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert (history["seconds"] > 0).all()
    assert history["validation_mse"].isna().all() and history["kept"].tolist() == [False] * 3 + [True]
    written = pd.read_csv(history_path, sep="\t")
    pd.testing.assert_frame_equal(written, history, check_exact=False, rtol=1e-8)


def test_history_without_test_rows_has_nan_test_mse(data):
    _, history = train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(FAST, epochs=1), test=False)
    assert history["test_mse"].isna().all()
    assert history["train_mse"].notna().all()


def test_history_mse_is_the_mean_over_genes_and_samples_of_clean_reconstructions(data):
    model = Autoencoder(N_GENES, "L32,D0.3,G,L8")
    network, history = train(model, data, replace(FAST, epochs=1, input_noise_sd=0.5))
    for split in ("train", "test"):
        x = data["x"][data[split]]
        assert history[f"{split}_mse"].iloc[-1] == pytest.approx(mse(network, x), rel=1e-5)


def test_classifier_history_and_accuracy(data):
    model = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3)
    config = replace(FAST, epochs=6, optimizer="adam", momentum=0.0, learning_rate=0.01, validation_fraction=0.2)
    network, history = train(model, data, config, labelled=True)
    assert list(history.columns) == ["epoch", "train_mse", "validation_mse", "test_mse", "train_cross_entropy",
                                     "validation_cross_entropy", "test_cross_entropy", "train_accuracy",
                                     "validation_accuracy", "test_accuracy", "validation_loss", "learning_rate",
                                     "seconds", "kept"]
    kept = history[history["kept"]].iloc[0]
    assert kept["test_accuracy"] >= 0.9  # chance is 1/3
    assert kept["validation_loss"] == pytest.approx(0.5 * kept["validation_mse"]
                                                    + 0.5 * kept["validation_cross_entropy"])
    assert kept["validation_loss"] == history["validation_loss"].min()
    test = data["test"]
    assert kept["test_accuracy"] == pytest.approx(np.mean(predict(network, data["x"][test]) == data["labels"][test]))


# --- what one iteration and one epoch are ---------------------------------------------------------------------

def training_batches(monkeypatch):
    """Record the real rows of every training-mode encoding (the network's raw inputs)."""
    batches = []
    encode_stack = NetworkStack.encode

    def recording(self, x, counts=None):
        if self.training:
            batches.append(x[0, :int(counts[0])].detach().clone())
        return encode_stack(self, x, counts)

    monkeypatch.setattr(NetworkStack, "encode", recording)
    return batches


def test_an_iteration_is_one_pass_over_shuffled_samples(data, monkeypatch):
    batches = training_batches(monkeypatch)
    train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(FAST, epochs=2, iterations_per_epoch=2, batch_size=16))
    # 90 samples in batches of 16: 5 full batches and one of 10, per iteration; 2 x 2 iterations.
    assert [len(batch) for batch in batches] == [16, 16, 16, 16, 16, 10] * 4
    training = torch.from_numpy(data["x"][data["train"]])
    orders = []
    for iteration in range(4):
        seen = torch.cat(batches[6 * iteration:6 * iteration + 6])
        matches = (seen[:, None, :] == training[None, :, :]).all(dim=2)  # seen row i == training row j
        order = matches.float().argmax(dim=1)
        assert matches.any(dim=1).all()
        assert sorted(order.tolist()) == list(range(N_TRAIN))  # every sample exactly once
        orders.append(order.tolist())
    assert len({tuple(order) for order in orders}) == 4  # a fresh shuffle each iteration
    assert orders[0] != list(range(N_TRAIN))


def test_batch_size_none_is_one_batch_of_all_samples(data, monkeypatch):
    batches = training_batches(monkeypatch)
    train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(FAST, epochs=2, iterations_per_epoch=3, batch_size=None))
    assert [len(batch) for batch in batches] == [N_TRAIN] * 6


# --- learning-rate schedules -------------------------------------------------------------------------------------

def recorded_rates(monkeypatch, data, config):
    rates = []
    optimizer_class = torch.optim.SGD if config.optimizer == "sgd" else torch.optim.Adam
    step = optimizer_class.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(optimizer_class, "step", recording_step)
    _, history = train(Autoencoder(N_GENES, "L32,G,L8"), data, config)
    return rates, history


def test_paper_decay_lowers_the_rate_within_an_epoch_and_restarts_it_each_epoch(data, monkeypatch):
    config = replace(FAST, epochs=2, iterations_per_epoch=3, batch_size=None, learning_rate=0.03,
                     schedule="paper_decay", learning_rate_decay=0.5, momentum=0.0)
    rates, history = recorded_rates(monkeypatch, data, config)
    one_epoch = [0.03, 0.03 / 1.5, 0.03 / 2.0]
    assert rates == pytest.approx(one_epoch * 2)
    assert history["learning_rate"].tolist() == pytest.approx([0.03 / 2.0] * 2)


def test_one_cycle_rises_to_the_learning_rate_and_anneals_over_the_whole_budget(data, monkeypatch):
    config = replace(FAST, epochs=5, iterations_per_epoch=2, batch_size=None, learning_rate=0.01,
                     schedule="one_cycle", warmup_fraction=0.3, momentum=0.0)
    rates, _ = recorded_rates(monkeypatch, data, config)
    assert len(rates) == 10
    peak = int(np.argmax(rates))
    assert rates[peak] == pytest.approx(0.01) and peak == 2  # torch's OneCycleLR: after 0.3 * 10 - 1 updates
    assert rates[0] == pytest.approx(0.01 / 25)  # torch's OneCycleLR default div_factor
    assert np.all(np.diff(rates[:peak + 1]) > 0) and np.all(np.diff(rates[peak:]) < 0)
    assert rates[-1] < 1e-5


def test_cosine_anneals_from_the_learning_rate_to_zero(data, monkeypatch):
    config = replace(FAST, epochs=4, iterations_per_epoch=2, batch_size=None, learning_rate=0.01, schedule="cosine",
                     momentum=0.0)
    rates, _ = recorded_rates(monkeypatch, data, config)
    expected = [0.005 * (1 + np.cos(np.pi * step / 8)) for step in range(8)]
    assert rates == pytest.approx(expected)


# --- conditioned inputs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("conditioning", ["none", "centre", "standardise"])
def test_conditioning_is_fitted_on_the_rows_the_network_trains_on(data, conditioning):
    config = replace(FAST, epochs=1, conditioning=conditioning, validation_fraction=0.2, learning_rate=0.001)
    network, _ = train(Autoencoder(N_GENES, "L32,G,L8"), data, config)
    fit_rows, _ = validation_split(data["train"], 0.2, config.seed)
    x = data["x"][fit_rows].astype(np.float64)
    mean = {"none": 0.0, "centre": x.mean(axis=0), "standardise": x.mean(axis=0)}[conditioning]
    scale = x.std(axis=0) if conditioning == "standardise" else 1.0
    np.testing.assert_allclose(network.input_mean.numpy(), np.broadcast_to(mean, (N_GENES,)), rtol=1e-6)
    np.testing.assert_allclose(network.input_scale.numpy(), np.broadcast_to(scale, (N_GENES,)), rtol=1e-5)


def test_encode_and_decode_work_on_the_data_scale():
    model = Autoencoder(6, "L4,G,L2")
    initialise_weights(model, seed=2)
    model.input_mean.copy_(torch.arange(6.0) + 5)
    model.input_scale.copy_(torch.full((6,), 2.0))
    x = torch.randn(3, 6) + 7
    with torch.no_grad():
        assert torch.allclose(model.encode(x), model.encoder((x - model.input_mean) / 2))
        code = torch.zeros(1, 2)  # the perturbation experiment decodes shifted codes: the means come back
        assert torch.allclose(model.decode(code), model.decoder(code) * 2 + model.input_mean)


def test_centring_makes_the_demo_schedule_converge(data):
    """Uncentred log2-like inputs (levels 4-10) against centred ones, same network and schedule."""
    config = replace(FAST, epochs=6, iterations_per_epoch=2, optimizer="adam", momentum=0.0, learning_rate=0.01)
    _, raw = train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(config, conditioning="none"))
    _, centred = train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(config, conditioning="centre"))
    assert centred["test_mse"].iloc[-1] < 0.5 * raw["test_mse"].iloc[-1]


# --- validation, kept weights, early stopping ----------------------------------------------------------------

def test_validation_subset_is_seeded_stratified_and_drawn_from_the_training_rows():
    rows = np.arange(10, 110)
    strata = np.repeat(["a", "b", "c", "d"], 30)[:120]
    kept, validation = validation_split(rows, 0.2, seed=5, strata=strata)
    assert len(validation) == 20 and len(kept) == 80
    assert set(kept) | set(validation) == set(rows) and not set(kept) & set(validation)
    counts = pd.Series(strata[validation]).value_counts()
    expected = pd.Series(strata[rows]).value_counts() * 0.2
    assert (abs(counts - expected.reindex(counts.index)) <= 1).all()
    assert np.array_equal(validation_split(rows, 0.2, seed=5, strata=strata)[1], validation)
    assert not np.array_equal(validation_split(rows, 0.2, seed=6, strata=strata)[1], validation)
    assert len(validation_split(rows, 0.0, seed=5)[1]) == 0


def overfitting_config():
    """Few samples and many passes at a high rate: the validation loss turns up long before the end."""
    return replace(FAST, epochs=30, iterations_per_epoch=3, optimizer="adam", momentum=0.0, learning_rate=0.01,
                   validation_fraction=0.3)


@pytest.fixture(scope="module")
def small(data):
    return data | {"train": np.arange(30)}


def test_kept_weights_are_those_of_the_best_validation_epoch(small):
    config = overfitting_config()
    network, history = train(Autoencoder(N_GENES, "L64,G,L16"), small, config)
    best = int(history["validation_mse"].idxmin())
    assert history["kept"].tolist() == [row == best for row in range(len(history))]
    assert best < len(history) - 1  # the last epoch was not the best: the test means something
    _, validation = validation_split(small["train"], 0.3, config.seed)
    assert mse(network, small["x"][validation]) == pytest.approx(history["validation_mse"].iloc[best], rel=1e-5)
    assert mse(network, small["x"][small["test"]]) == pytest.approx(history["test_mse"].iloc[best], rel=1e-5)


def test_training_stops_after_patience_epochs_without_a_better_validation_loss(small):
    config = replace(overfitting_config(), patience=3, min_delta=0.0)
    _, history = train(Autoencoder(N_GENES, "L64,G,L16"), small, config)
    best = int(history.loc[history["kept"], "epoch"].iloc[0])
    assert history["epoch"].max() == best + 3 < config.epochs
    _, unlimited = train(Autoencoder(N_GENES, "L64,G,L16"), small, replace(config, patience=None))
    assert len(unlimited) == config.epochs
    pd.testing.assert_frame_equal(history.drop(columns=["seconds", "kept"]),
                                  unlimited.drop(columns=["seconds", "kept"]).head(len(history)))


def test_the_test_samples_never_choose(small):
    """Replacing the test samples by noise changes the test_mse column and nothing else."""
    config = overfitting_config()
    network, history = train(Autoencoder(N_GENES, "L64,G,L16"), small, config)
    x = small["x"].copy()
    x[small["test"]] = np.random.default_rng(3).normal(size=(len(small["test"]), N_GENES)).astype(np.float32)
    other, other_history = train(Autoencoder(N_GENES, "L64,G,L16"), small | {"x": x}, config)
    assert same_parameters(network, other)
    assert not np.allclose(history["test_mse"], other_history["test_mse"])
    columns = ["epoch", "train_mse", "validation_mse", "kept"]
    pd.testing.assert_frame_equal(history[columns], other_history[columns])


# --- determinism and resuming ----------------------------------------------------------------------------------

# Dropout, input noise, momentum, mini-batches and validation: every random stream and all optimizer state.
RANDOM_CONFIG = replace(FAST, input_noise_sd=0.3, validation_fraction=0.2)


def test_same_seed_gives_identical_weights_and_history(data):
    first, first_history = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, RANDOM_CONFIG)
    second, second_history = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, RANDOM_CONFIG)
    other, _ = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, replace(RANDOM_CONFIG, seed=2))
    assert same_parameters(first, second)
    pd.testing.assert_frame_equal(first_history.drop(columns="seconds"), second_history.drop(columns="seconds"))
    assert not same_parameters(first, other)


def test_fit_ignores_the_templates_weights(data):
    trained, _ = train(Autoencoder(N_GENES, "L32,G,L8"), data, RANDOM_CONFIG)
    again, _ = train(trained, data, RANDOM_CONFIG)  # a trained network as the template: fit starts afresh
    assert same_parameters(trained, again)


def test_fit_leaves_the_callers_random_state_alone(data):
    model = Autoencoder(N_GENES, "L32,D0.5,G,L8")  # torch's own constructors do draw from the global generator
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    train(model, data, replace(RANDOM_CONFIG, epochs=1))
    assert torch.equal(torch.rand(3), expected)


class Killed(Exception):
    pass


def kill_after(epoch):
    def callback(finished, rows):
        if finished == epoch:
            raise Killed(f"killed after epoch {epoch}")

    return callback


@pytest.mark.parametrize("make_model, config, labelled", [
    (lambda: Autoencoder(N_GENES, "L32,D0.2,G,L8"), replace(RANDOM_CONFIG, schedule="one_cycle"), False),
    (lambda: ClassifierAutoencoder(N_GENES, "L32,B,G,L8", n_classes=3, classifier_hidden=6),
     replace(RANDOM_CONFIG, optimizer="adam", momentum=0.0, learning_rate=0.01, weight_decay=0.01, l1=1e-4,
             schedule="cosine", conditioning="standardise"), True),
])
def test_resume_after_kill_equals_an_uninterrupted_run(data, tmp_path, make_model, config, labelled):
    uninterrupted, expected = train(make_model(), data, config, labelled)

    checkpoint, history_path = tmp_path / "run.ckpt", tmp_path / "history.tsv"
    with pytest.raises(Killed, match="killed after epoch 2"):
        train(make_model(), data, config, labelled, checkpoint_path=checkpoint, history_paths=[history_path],
              on_epoch_end=kill_after(2))
    assert len(pd.read_csv(history_path, sep="\t")) == 2

    resumed, history = train(make_model(), data, config, labelled, checkpoint_path=checkpoint,
                             history_paths=[history_path])
    assert same_parameters(resumed, uninterrupted)
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), expected.drop(columns="seconds"))
    assert len(pd.read_csv(history_path, sep="\t")) == config.epochs


def test_the_hold_hook_stops_a_run_after_the_checkpoint_of_its_epoch(data, tmp_path, monkeypatch):
    """CIC_HOLD_AFTER_EPOCH=N (the test/ops hook tests/test_slurm.py stages its preemption with) waits right after
    epoch N's checkpoint is written, and only there: a preemption during the wait (here: the wait raises, as a
    SIGTERM would end it) resumes after epoch N and ends with the weights and history of an uninterrupted run."""
    config = replace(RANDOM_CONFIG, epochs=5, checkpoint_every=2)
    uninterrupted, expected = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, config)
    checkpoint = tmp_path / "run.ckpt"
    holds = []

    def preempted_while_held(seconds):
        holds.append((torch.load(checkpoint, weights_only=True)["epoch"], seconds))
        raise Killed("cancelled while held")

    monkeypatch.setattr("cic.train.time.sleep", preempted_while_held)
    monkeypatch.setenv("CIC_HOLD_AFTER_EPOCH", "3")  # no checkpoint after epoch 3 (every 2): nothing to hold at
    train(Autoencoder(N_GENES, "L8"), data, replace(config, epochs=4), checkpoint_path=tmp_path / "other.ckpt")
    assert holds == []
    monkeypatch.setenv("CIC_HOLD_AFTER_EPOCH", "2")
    with pytest.raises(Killed, match="cancelled while held"):
        train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, config, checkpoint_path=checkpoint)
    assert holds == [(2, cic.train.HOLD_SECONDS)]
    train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, config)  # without a checkpoint nothing holds
    resumed, history = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, config, checkpoint_path=checkpoint)
    assert len(holds) == 1  # the resumed run starts after epoch 2 and does not hold again
    assert same_parameters(resumed, uninterrupted)
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), expected.drop(columns="seconds"))


def test_resume_can_extend_a_constant_schedule_but_not_a_budgeted_one(data, tmp_path):
    uninterrupted, expected = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, RANDOM_CONFIG)
    checkpoint = tmp_path / "run.ckpt"
    train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, replace(RANDOM_CONFIG, epochs=1), checkpoint_path=checkpoint)
    extended, history = train(Autoencoder(N_GENES, "L32,D0.2,G,L8"), data, RANDOM_CONFIG, checkpoint_path=checkpoint)
    assert same_parameters(extended, uninterrupted)
    pd.testing.assert_frame_equal(history.drop(columns=["seconds", "kept"]), expected.drop(columns=["seconds", "kept"]))

    one_cycle = replace(RANDOM_CONFIG, schedule="one_cycle")
    checkpoint.unlink()
    train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(one_cycle, epochs=1), checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="epochs=1 but this run has epochs=4.*delete the checkpoint"):
        train(Autoencoder(N_GENES, "L32,G,L8"), data, one_cycle, checkpoint_path=checkpoint)


def test_checkpoint_holds_plain_content(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(RANDOM_CONFIG, epochs=3, checkpoint_every=2),
          checkpoint_path=checkpoint)
    content = torch.load(checkpoint, weights_only=True)
    assert content["epoch"] == 3  # every 2 epochs, and after the last
    assert content["model"] == {"kind": "autoencoder", "n_genes": N_GENES, "spec": "L32,G,L8"}
    assert content["seeds"] == [RANDOM_CONFIG.seed]
    assert [row["epoch"] for row in content["histories"][0]] == [1, 2, 3]
    assert list(tmp_path.iterdir()) == [checkpoint]  # no temporary files left behind


@pytest.mark.parametrize("change, named", [
    ({"learning_rate": 0.05}, "learning_rate"),
    ({"seed": 9}, "seeds"),
    ({"input_noise_sd": 0.0}, "input_noise_sd"),
    ({"validation_fraction": 0.3}, "validation_fraction"),
])
def test_resume_refuses_a_checkpoint_of_other_settings(data, tmp_path, change, named):
    checkpoint = tmp_path / "run.ckpt"
    train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(RANDOM_CONFIG, epochs=1), checkpoint_path=checkpoint)
    with pytest.raises(InputError, match=f"run.ckpt: checkpoint was written with {named}=.*delete the checkpoint"):
        train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(RANDOM_CONFIG, **change), checkpoint_path=checkpoint)


def test_resume_refuses_other_data_or_network(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(RANDOM_CONFIG, epochs=1), checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="other data or samples.*delete the checkpoint"):
        train(Autoencoder(N_GENES, "L32,G,L8"), data | {"train": data["train"][1:]}, RANDOM_CONFIG,
              checkpoint_path=checkpoint)
    with pytest.raises(InputError, match="another network.*delete the checkpoint"):
        train(Autoencoder(N_GENES, "L16,G,L8"), data, RANDOM_CONFIG, checkpoint_path=checkpoint)


def test_resume_refuses_a_file_that_is_not_a_checkpoint(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_text("not a checkpoint")
    with pytest.raises(InputError, match="run.ckpt.*delete the checkpoint"):
        train(Autoencoder(N_GENES, "L32,G,L8"), data, RANDOM_CONFIG, checkpoint_path=checkpoint)


# --- input noise ----------------------------------------------------------------------------------------------

def test_input_noise_is_added_to_training_inputs_only(data, monkeypatch):
    """Training inputs are noisy, the targets stay the clean profiles, and evaluation sees clean profiles."""
    noise_sd = 0.5
    steps = []  # (inputs, targets) of every update, real rows only
    evaluated = []  # inputs of eval-mode encodings
    loss, encode_stack = training_loss, NetworkStack.encode

    def recording_loss(stack, inputs, targets, labels, counts, config):
        steps.append((inputs[0, :int(counts[0])].clone(), targets[0, :int(counts[0])].clone()))
        return loss(stack, inputs, targets, labels, counts, config)

    def recording_encode(self, x, counts=None):
        if not self.training:
            evaluated.append(x.detach().clone())
        return encode_stack(self, x, counts)

    monkeypatch.setattr("cic.train.training_loss", recording_loss)
    monkeypatch.setattr(NetworkStack, "encode", recording_encode)
    network, _ = train(Autoencoder(N_GENES, "L32,G,L8"), data,
                       replace(FAST, epochs=2, iterations_per_epoch=2, input_noise_sd=noise_sd))
    monkeypatch.undo()

    assert len(steps) == 2 * 2 * 6
    training = torch.from_numpy(data["x"][data["train"]])
    for noisy, target in steps:
        assert (target[:, None, :] == training[None, :, :]).all(dim=2).any(dim=1).all()  # clean training rows
        assert (noisy - target).std().item() == pytest.approx(noise_sd, rel=0.1)
        assert abs((noisy - target).mean().item()) < 0.05
    clean = torch.from_numpy(data["x"])
    for block in evaluated:
        assert (block[0][:, None, :] == clean[None, :, :]).all(dim=2).any(dim=1).all()
    assert np.array_equal(reconstruct(network, data["x"]), reconstruct(network, data["x"]))


# --- the combined loss of the classifier autoencoder ----------------------------------------------------------

def loss_and_gradients(classification_weight, data):
    model = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3, classifier_hidden=5)
    initialise_weights(model, seed=1)
    stack = NetworkStack(model, 1)
    stack.set_network(0, model)
    x = torch.from_numpy(data["x"][data["train"]])
    labels = torch.from_numpy(data["labels"][data["train"]]).long()
    loss = training_loss(stack, x[None], x[None], labels[None], torch.tensor([len(x)]),
                         TrainConfig(classification_weight=classification_weight))
    loss.backward()
    reconstruction, logits = model(x)
    return stack, loss, F.mse_loss(reconstruction, x), F.cross_entropy(logits, labels)


def no_gradient(module) -> bool:
    return all(parameter.grad is None for parameter in module.parameters())


def has_gradient(module) -> bool:
    return all(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in module.parameters())


def test_classification_weight_0_is_reconstruction_only(data):
    stack, loss, mse_loss, _ = loss_and_gradients(0.0, data)
    assert loss.item() == pytest.approx(mse_loss.item(), rel=1e-5)
    assert no_gradient(stack.classifier)
    assert has_gradient(stack.decoder) and has_gradient(stack.encoder)


def test_classification_weight_1_is_classification_only(data):
    stack, loss, _, cross_entropy = loss_and_gradients(1.0, data)
    assert loss.item() == pytest.approx(cross_entropy.item(), rel=1e-5)
    assert no_gradient(stack.decoder)
    assert has_gradient(stack.classifier) and has_gradient(stack.encoder)


def test_classification_weight_between_mixes_both(data):
    stack, loss, mse_loss, cross_entropy = loss_and_gradients(0.3, data)
    assert loss.item() == pytest.approx(0.7 * mse_loss.item() + 0.3 * cross_entropy.item(), rel=1e-5)
    assert has_gradient(stack.classifier) and has_gradient(stack.decoder)


def test_fit_with_weight_0_leaves_the_classifier_untrained(data):
    network, _ = train(ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3), data,
                       replace(FAST, epochs=1, classification_weight=0.0), labelled=True)
    initial = ClassifierAutoencoder(N_GENES, "L32,G,L8", n_classes=3)
    initialise_weights(initial, FAST.seed)
    assert all(torch.equal(a, b) for a, b in zip(network.classifier.parameters(), initial.classifier.parameters()))
    assert not torch.equal(network.decoder[0].weight, initial.decoder[0].weight)


# --- L1 and L2 penalties --------------------------------------------------------------------------------------

def test_l1_and_l2_penalties_shrink_the_weights(data):
    config = replace(FAST, momentum=0.0, learning_rate=0.05)
    models = {"none": train(Autoencoder(N_GENES, "L32,G,L8"), data, config)[0],
              "l2": train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(config, weight_decay=0.5))[0],
              "l1": train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(config, l1=1e-2))[0]}

    def norm(model, p):
        return sum(float(weight.detach().abs().pow(p).sum()) for weight in linear_weights(model))

    assert norm(models["l2"], 2) < 0.9 * norm(models["none"], 2)
    assert norm(models["l1"], 1) < 0.9 * norm(models["none"], 1)


def test_penalties_act_on_linear_weights_only(data):
    model = Autoencoder(N_GENES, "L32,B,G,L8")
    initialise_weights(model, seed=1)
    stack = NetworkStack(model, 1)
    stack.set_network(0, model)
    x = torch.from_numpy(data["x"][data["train"]])[None]
    weights = linear_weights(stack)
    assert len(weights) == 4 and all(weight.dim() == 3 for weight in weights)
    counts = torch.tensor([x.shape[1]])
    penalty = (training_loss(stack, x, x, None, counts, TrainConfig(l1=0.01))
               - training_loss(stack, x, x, None, counts, TrainConfig()))
    assert penalty.item() == pytest.approx(0.01 * sum(weight.abs().sum().item() for weight in weights), rel=1e-4)
    decayed = [group for group in make_optimizer(stack, TrainConfig(weight_decay=0.1)).param_groups
               if group["weight_decay"] > 0]
    assert len(decayed) == 1 and {id(p) for p in decayed[0]["params"]} == {id(w) for w in weights}


# --- inference helpers and model files ------------------------------------------------------------------------

def test_inference_helpers_shapes_batching_and_mode(data):
    model = ClassifierAutoencoder(N_GENES, "L32,D0.5,G,L8", n_classes=3)
    initialise_weights(model, seed=4)
    model.train()
    x = data["x"][data["test"]]
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
        predict(Autoencoder(N_GENES, "L8"), data["x"])


def test_saved_model_loads_without_training_config(data, tmp_path):
    network, _ = train(ClassifierAutoencoder(N_GENES, "L32,B,G,L8", n_classes=3, classifier_hidden=4), data,
                       replace(FAST, epochs=1, conditioning="standardise", batch_size=15), labelled=True)
    path = tmp_path / "models" / "final.pt"
    genes = [f"G{i}" for i in range(N_GENES)]
    save_model(network, path, {"genes": genes, "classes": ["a", "b", "c"]})

    plain = torch.load(path, weights_only=True)
    assert plain["kind"] == "classifier_autoencoder" and plain["spec"] == "L32,B,G,L8"
    assert torch.equal(plain["state_dict"]["input_mean"], network.input_mean)  # the conditioning travels along
    loaded, meta = load_model(path)
    assert meta["genes"] == genes and meta["classes"] == ["a", "b", "c"] and meta["n_classes"] == 3
    assert not loaded.training
    x = data["x"][data["test"]]
    assert np.array_equal(reconstruct(loaded, x), reconstruct(network, x))
    assert np.array_equal(predict_proba(loaded, x), predict_proba(network, x))
    assert abs(reconstruct(loaded, x).mean() - x.mean()) < 0.5  # REPs on the data's scale (genes at 4-10)


def test_model_files_without_conditioning_still_load(tmp_path):
    model = Autoencoder(N_GENES, "L8")
    save_model(model, tmp_path / "old.pt")
    content = torch.load(tmp_path / "old.pt", weights_only=True)
    for name in ("input_mean", "input_scale"):  # as written before conditioned inputs existed
        del content["state_dict"][name]
    torch.save(content, tmp_path / "old.pt")
    loaded, _ = load_model(tmp_path / "old.pt")
    assert torch.equal(loaded.input_mean, torch.zeros(N_GENES)) and torch.equal(loaded.input_scale, torch.ones(N_GENES))


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

@pytest.mark.parametrize("model, labelled, labels, match", [
    (Autoencoder(N_GENES + 1, "L8"), False, None, r"201 genes .* shape \(120, 200\)"),
    (Autoencoder(N_GENES, "L8"), True, None, "only a ClassifierAutoencoder"),
    (ClassifierAutoencoder(N_GENES, "L8", n_classes=3), False, None, "needs labels"),
    (ClassifierAutoencoder(N_GENES, "L8", n_classes=2), True, np.arange(120) % 3, r"0\.\.1"),
    (ClassifierAutoencoder(N_GENES, "L8", n_classes=3), True, np.zeros(120), "integers"),
    (Autoencoder(N_GENES, "L8,B,L4"), False, None, "BatchNorm"),
])
def test_fit_refuses_bad_inputs(data, model, labelled, labels, match):
    config = replace(FAST, batch_size=89) if "B" in model.spec else FAST  # 90 samples leave a batch of 1
    given = data if labels is None else data | {"labels": labels}
    with pytest.raises(ValueError, match=match):
        train(model, given, config, labelled)


def test_diverging_training_stops_with_advice(data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(FloatingPointError, match="diverged.*after epoch 1.*lower learning_rate"):
        train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(FAST, learning_rate=5.0, conditioning="none"),
              checkpoint_path=checkpoint)
    assert not checkpoint.exists()  # a diverged state is not kept for resuming


def test_fit_refuses_non_finite_values(data):
    x = data["x"].copy()
    x[3, 7] = np.nan
    with pytest.raises(ValueError, match="non-finite value nan at sample 3, gene 7"):
        train(Autoencoder(N_GENES, "L8"), data | {"x": x}, FAST)


@pytest.mark.parametrize("setting", [
    {"epochs": 0}, {"batch_size": 0}, {"learning_rate": 0.0}, {"momentum": 1.0}, {"optimizer": "rmsprop"},
    {"optimizer": "adam", "momentum": 0.9}, {"classification_weight": 1.5}, {"input_noise_sd": -0.1},
    {"device": "tpu"}, {"dtype": "float16"}, {"checkpoint_every": 0}, {"mixed_precision": "fp8"},
    {"mixed_precision": "bf16", "dtype": "float64"}, {"schedule": "linear"}, {"learning_rate_decay": 0.1},
    {"warmup_fraction": 1.0}, {"conditioning": "scale"}, {"validation_fraction": 1.0}, {"patience": 0},
    {"min_delta": -0.1},
])
def test_config_refuses_bad_settings(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):
        TrainConfig(**setting)


# --- mixed precision ---------------------------------------------------------------------------------------------

def test_bf16_autocast_trains_in_bfloat16_and_still_converges(data, monkeypatch):
    seen = []
    run = NetworkStack._run

    def spy(self, layers, x, counts):
        output = run(self, layers, x, counts)
        if self.training:
            seen.append(output.dtype)
        return output

    monkeypatch.setattr(NetworkStack, "_run", spy)
    config = replace(FAST, mixed_precision="bf16")
    bf16_model, bf16 = train(Autoencoder(N_GENES, "L32,G,L8"), data, config)
    full_model, full = train(Autoencoder(N_GENES, "L32,G,L8"), data, replace(config, mixed_precision="off"))
    assert set(seen[:len(seen) // 2]) == {torch.bfloat16} and set(seen[len(seen) // 2:]) == {torch.float32}
    assert bf16["test_mse"].iloc[-1] < bf16["test_mse"].iloc[0]
    # Weights stay float32 and the run is close to, but not bit-identical with, full precision.
    assert all(p.dtype == torch.float32 for p in bf16_model.parameters())
    assert not same_parameters(bf16_model, full_model)
    assert bf16["test_mse"].iloc[-1] == pytest.approx(full["test_mse"].iloc[-1], rel=0.2)


@pytest.mark.parametrize("mode, before, during", [("tf32", False, True), ("off", True, False), ("bf16", True, False)])
def test_tf32_is_on_exactly_while_tf32_training_steps_run(data, monkeypatch, mode, before, during):
    """The TF32 flag (torch.backends.cuda.matmul.allow_tf32, a process-wide switch that also reaches code after
    training) is what ``mixed_precision`` asks for during each training forward pass, whatever it was before, and
    is given back afterwards; metrics and inference run at full float32. The flag can be set on a CPU-only torch,
    so a spy on the forward pass sees what a GPU's matmuls would use."""
    seen = []
    run = NetworkStack._run

    def spy(self, layers, x, counts):
        seen.append((self.training, torch.backends.cuda.matmul.allow_tf32,
                     torch.is_autocast_enabled(x.device.type)))
        return run(self, layers, x, counts)

    monkeypatch.setattr(NetworkStack, "_run", spy)
    flags = torch.backends.cuda.matmul  # its attributes are properties of torch's C++ side: no monkeypatch
    original = flags.allow_tf32
    flags.allow_tf32 = before
    try:
        train(Autoencoder(N_GENES, "L8"), data, replace(FAST, epochs=1, mixed_precision=mode))
        after = flags.allow_tf32
    finally:
        flags.allow_tf32 = original
    training = {(flag, autocast) for in_training, flag, autocast in seen if in_training}
    evaluating = {(flag, autocast) for in_training, flag, autocast in seen if not in_training}
    assert training == {(during, mode == "bf16")}
    assert evaluating == {(before, False)}  # the epoch's metrics: outside the training steps' numeric mode
    assert after is before


# --- progress ----------------------------------------------------------------------------------------------------

def test_progress_bar_and_log(data, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="cic.train"):
        train(Autoencoder(N_GENES, "L8"), data, replace(FAST, epochs=2, progress=True))
    assert "2/2" in capsys.readouterr().err  # tqdm's bar
    assert any("epoch 2/2" in message and "test_mse=" in message for message in caplog.messages)
    train(Autoencoder(N_GENES, "L8"), data, replace(FAST, epochs=1, progress=False))
    assert capsys.readouterr().err == ""
