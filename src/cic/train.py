"""Training loop, checkpoints and inference helpers for the networks of :mod:`cic.model`.

The paper (Methods) trained with Torch7's nn.StochasticGradient: 200 epochs of 100 iterations, each iteration one
pass over the shuffled training samples with an SGD update per sample, on the MSE criterion; within an epoch the
learning rate decays as lr / (1 + i * decay) and it restarts at each new epoch. :func:`fit` does the same, with
mini-batches, momentum, Adam, L1/L2 penalties, input noise and the classifier autoencoder's combined loss as
options in :class:`TrainConfig`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from cic.errors import InputError
from cic.io import atomic_path, write_table
from cic.model import Autoencoder, ClassifierAutoencoder, build_model, initialise_weights

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "cic-checkpoint-1"
MODEL_FORMAT = "cic-model-1"
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Matmul precision of float32 training: "off" = full float32, "tf32" = TF32 tensor cores for float32 matmuls
# (CUDA Ampere and newer; no effect on CPU), "bf16" = forward and loss under bfloat16 autocast.
MIXED_PRECISION = ("off", "tf32", "bf16")
OPTIMIZERS = ("sgd", "adam")
# Settings that may differ between a checkpoint and the run resuming it: they do not change the numbers.
RESUMABLE_CHANGES = ("epochs", "device", "checkpoint_every", "progress")
INFERENCE_BATCH_SIZE = 1024


@dataclass
class TrainConfig:
    """Every training setting; the defaults are the paper's (Methods) where it gives one.

    An *iteration* is ONE PASS over the training samples in a fresh random order, in mini-batches of
    ``batch_size`` with one update per mini-batch (Torch7 nn.StochasticGradient's iteration: "In each iteration,
    all training samples were fed into the neural network after a random shuffle"). ``batch_size=1`` is the
    paper's per-sample SGD; ``None`` puts all training samples in one batch (one update per iteration).
    An *epoch* is ``iterations_per_epoch`` iterations; the learning rate at iteration i (0-based) of an epoch is
    ``learning_rate / (1 + i * learning_rate_decay)`` and restarts at each epoch, as in the paper. The MSE is the
    mean over genes and samples (Torch7 MSECriterion with sizeAverage).
    """

    epochs: int = 200
    iterations_per_epoch: int = 100
    batch_size: int | None = 1
    learning_rate: float = 0.002  # the paper used 0.001-0.003
    learning_rate_decay: float = 0.0  # the paper decayed the rate within each epoch but gives no value
    momentum: float = 0.0  # 0 = plain SGD, as the paper; sgd only
    optimizer: str = "sgd"  # "sgd" (the paper) or "adam"
    weight_decay: float = 0.0  # L2 penalty on the weights of Linear layers
    l1: float = 0.0  # L1 penalty on the weights of Linear layers
    input_noise_sd: float = 0.0  # Gaussian noise added to the inputs while training; the clean profile is the target
    classification_weight: float = 0.5  # classifier AE: loss = (1 - w) * MSE + w * cross-entropy (paper: no value)
    seed: int = 1  # initial weights, shuffles, input noise and dropout all follow from it
    device: str = "auto"  # "auto" (cuda if available, else cpu), "cpu", "cuda" or "cuda:<index>"
    dtype: str = "float32"  # or "float64"
    mixed_precision: str = "off"  # "off", "tf32" or "bf16" (GPU speed-ups; see MIXED_PRECISION)
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch is always checkpointed)
    progress: bool = True  # show a progress bar over epochs

    def __post_init__(self):
        def require(condition: bool, name: str, what: str):
            if not condition:
                raise ValueError(f"training setting {name} must be {what}, got {getattr(self, name)!r}")

        require(self.epochs >= 1, "epochs", "at least 1")
        require(self.iterations_per_epoch >= 1, "iterations_per_epoch", "at least 1")
        require(self.batch_size is None or self.batch_size >= 1, "batch_size", "a positive integer or null")
        require(self.learning_rate > 0, "learning_rate", "positive")
        require(self.learning_rate_decay >= 0, "learning_rate_decay", "0 or more")
        require(0 <= self.momentum < 1, "momentum", "in [0, 1)")
        require(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        require(self.optimizer == "sgd" or self.momentum == 0, "momentum",
                "0 with optimizer adam (adam has its own moment estimates)")
        require(self.weight_decay >= 0, "weight_decay", "0 or more")
        require(self.l1 >= 0, "l1", "0 or more")
        require(self.input_noise_sd >= 0, "input_noise_sd", "0 or more")
        require(0 <= self.classification_weight <= 1, "classification_weight", "in [0, 1]")
        require(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"), "device",
                "auto, cpu, cuda or cuda:<index>")
        require(self.dtype in DTYPES, "dtype", f"one of {', '.join(DTYPES)}")
        require(self.mixed_precision in MIXED_PRECISION, "mixed_precision", f"one of {', '.join(MIXED_PRECISION)}")
        require(self.mixed_precision == "off" or self.dtype == "float32", "mixed_precision",
                "off with dtype float64 (mixed precision lowers float32 matmuls)")
        require(self.checkpoint_every >= 1, "checkpoint_every", "at least 1")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"training device {name!r} was requested but torch sees no CUDA GPU; use auto or cpu")
    return device


@contextlib.contextmanager
def matmul_precision(config: TrainConfig, device: torch.device):
    """The numeric mode of training steps: TF32 matmuls or bfloat16 autocast as ``config.mixed_precision`` asks.

    TF32 is switched on for the duration only (the global flag is restored), so inference and other code keep
    full float32. bfloat16 autocast covers forward and loss; gradients and the optimizer stay in float32.
    """
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = config.mixed_precision == "tf32"
    try:
        if config.mixed_precision == "bf16":
            with torch.autocast(device.type, dtype=torch.bfloat16):
                yield
        else:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def iteration_learning_rate(config: TrainConfig, iteration: int) -> float:
    """The learning rate of iteration ``iteration`` (0-based) of any epoch: Torch7's lr / (1 + i * decay)."""
    return config.learning_rate / (1.0 + iteration * config.learning_rate_decay)


def linear_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weight matrices of all Linear layers: what the L1 and L2 penalties act on (not biases, not BatchNorm)."""
    return [module.weight for module in model.modules() if isinstance(module, nn.Linear)]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    weights = linear_weights(model)
    penalised = {id(weight) for weight in weights}
    groups = [{"params": weights, "weight_decay": config.weight_decay},
              {"params": [p for p in model.parameters() if id(p) not in penalised], "weight_decay": 0.0}]
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.learning_rate)
    return torch.optim.SGD(groups, lr=config.learning_rate, momentum=config.momentum)


def training_loss(model: Autoencoder, inputs: torch.Tensor, targets: torch.Tensor,
                  labels: torch.Tensor | None, config: TrainConfig) -> torch.Tensor:
    """The minimised loss: MSE(reconstruction, targets), for a classifier autoencoder
    (1 - w) * MSE + w * cross-entropy with w = ``classification_weight``, plus the L1 penalty.

    A term whose weight is 0 is not computed at all, so its head gets no gradient (and costs nothing).
    """
    if not isinstance(model, ClassifierAutoencoder):
        loss = F.mse_loss(model(inputs), targets)
    else:
        weight = config.classification_weight
        code = model.encode(inputs)
        terms = []
        if weight < 1:
            terms.append((1 - weight) * F.mse_loss(model.decode(code), targets))
        if weight > 0:
            terms.append(weight * F.cross_entropy(model.classifier(code), labels))
        loss = sum(terms)
    if config.l1 > 0:
        loss = loss + config.l1 * sum(weight.abs().sum() for weight in linear_weights(model))
    return loss


def fit(model: Autoencoder, train_x: np.ndarray, config: TrainConfig, *, test_x: np.ndarray | None = None,
        train_labels: np.ndarray | None = None, test_labels: np.ndarray | None = None,
        checkpoint_path=None, history_path=None,
        on_epoch_end: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train ``model`` in place on ``train_x`` (samples x genes) and return the history, one row per epoch.

    The weights are first re-initialised from ``config.seed`` (:func:`cic.model.initialise_weights`), so each
    cross-validation fold starts from fresh random weights, as in the paper; give each fold its own seed for
    independent initialisations. Same seed and data -> identical weights and history on the CPU (GPU kernels may
    differ in the last bits). A :class:`ClassifierAutoencoder` needs ``train_labels`` (integers 0..n_classes-1),
    and ``test_labels`` with ``test_x``.

    History columns: epoch, train_mse, test_mse (NaN without test_x), for a classifier autoencoder also
    train/test_cross_entropy and train/test_accuracy, then learning_rate (the rate of the epoch's last iteration)
    and seconds (wall time of the epoch). Metrics are measured after the epoch in eval mode on clean inputs.

    ``checkpoint_path``: written atomically every ``checkpoint_every`` epochs and after the last one (weights,
    optimizer, random states, history). If it exists when fit starts, training resumes from it and ends with
    exactly the weights and history of an uninterrupted run (but for the seconds column); a checkpoint written
    with other settings or data is refused. ``history_path``: TSV rewritten atomically after each epoch.
    ``on_epoch_end(row)`` is called after each epoch's checkpoint and history are written.
    """
    train_x, train_labels = _checked_data(model, train_x, train_labels, "train")
    if test_x is not None:
        test_x, test_labels = _checked_data(model, test_x, test_labels, "test")
    _check_batchnorm_batches(model, config, len(train_x))
    fingerprint = data_fingerprint(train_x, train_labels, test_x, test_labels)

    device, dtype = resolve_device(config.device), DTYPES[config.dtype]
    # The data go to the device once; mini-batches are gathered there.
    train_set = _to_device(train_x, train_labels, device, dtype)
    test_set = _to_device(test_x, test_labels, device, dtype) if test_x is not None else None

    initialise_weights(model, config.seed)
    model.to(device=device, dtype=dtype)
    optimizer = make_optimizer(model, config)
    # Independent random streams for the shuffles, the input noise and dropout, all derived from the seed.
    shuffle_seed, noise_seed, dropout_seed = (int(s) for s in np.random.SeedSequence(config.seed).generate_state(3))
    shuffle_rng = np.random.default_rng(shuffle_seed)
    noise_generator = torch.Generator(device=device).manual_seed(noise_seed)
    history: list[dict] = []

    # nn.Dropout draws from torch's global generator: fork it so that the caller's random state is untouched.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(dropout_seed)
        if checkpoint_path is not None and Path(checkpoint_path).exists():
            history = _resume(checkpoint_path, model, optimizer, shuffle_rng, noise_generator, device, config,
                              fingerprint)
        start_epoch = len(history)
        with tqdm(range(start_epoch + 1, config.epochs + 1), initial=start_epoch, total=config.epochs,
                  desc="training", unit="epoch", disable=not config.progress) as bar:
            for epoch in bar:
                started = time.perf_counter()
                learning_rate = _train_epoch(model, optimizer, train_set, config, shuffle_rng, noise_generator)
                row = {"epoch": epoch, **_epoch_metrics(model, train_set, test_set),
                       "learning_rate": learning_rate, "seconds": time.perf_counter() - started}
                if not np.isfinite(row["train_mse"]):
                    raise FloatingPointError(f"training diverged: train MSE is {row['train_mse']} after epoch "
                                             f"{epoch}; lower learning_rate (now {config.learning_rate}) or momentum")
                history.append(row)
                if checkpoint_path is not None and (epoch % config.checkpoint_every == 0 or epoch == config.epochs):
                    _save_checkpoint(checkpoint_path, model, optimizer, shuffle_rng, noise_generator, device, config,
                                     fingerprint, history)
                if history_path is not None:
                    write_table(pd.DataFrame(history), history_path)
                summary = _summary(row)
                bar.set_postfix_str(summary, refresh=False)
                log.info("epoch %d/%d: %s", epoch, config.epochs, summary)
                if on_epoch_end is not None:
                    on_epoch_end(row)
    return pd.DataFrame(history)


def _train_epoch(model: Autoencoder, optimizer: torch.optim.Optimizer, train_set: dict, config: TrainConfig,
                 shuffle_rng: np.random.Generator, noise_generator: torch.Generator) -> float:
    """Run one epoch of ``iterations_per_epoch`` passes; return the learning rate of the last one."""
    x, all_labels = train_set["x"], train_set["labels"]
    model.train()
    for iteration in range(config.iterations_per_epoch):
        learning_rate = iteration_learning_rate(config, iteration)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        order = torch.from_numpy(shuffle_rng.permutation(len(x))).to(x.device)
        for batch in order.split(config.batch_size or len(x)):
            targets = x[batch]
            inputs = targets
            if config.input_noise_sd > 0:
                noise = torch.randn(targets.shape, generator=noise_generator, device=x.device, dtype=x.dtype)
                inputs = targets + config.input_noise_sd * noise
            labels = all_labels[batch] if all_labels is not None else None
            with matmul_precision(config, x.device):
                loss = training_loss(model, inputs, targets, labels, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return learning_rate


def _epoch_metrics(model: Autoencoder, train_set: dict, test_set: dict | None) -> dict[str, float]:
    """train_mse, test_mse, then (classifier) train/test_cross_entropy and train/test_accuracy."""
    train = _evaluate(model, train_set)
    test = _evaluate(model, test_set) if test_set is not None else dict.fromkeys(train, float("nan"))
    return {f"{split}_{name}": metrics[name] for name in train for split, metrics in (("train", train), ("test", test))}


def _checked_data(model: Autoencoder, x, labels, split: str):
    """Validate one split; return it as (float array, int64 labels or None)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != model.n_genes or len(x) == 0:
        raise ValueError(f"{split}_x must be a samples x genes matrix with {model.n_genes} genes "
                         f"(the model's n_genes), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        row, column = (int(i[0]) for i in np.nonzero(~finite))
        raise ValueError(f"{split}_x has the non-finite value {x[row, column]} at sample {row}, gene {column}; "
                         f"impute or drop it before training")
    if not isinstance(model, ClassifierAutoencoder):
        if labels is not None:
            raise ValueError(f"{split}_labels were given but only a ClassifierAutoencoder uses labels")
        return x, None
    if labels is None:
        raise ValueError(f"a ClassifierAutoencoder needs {split}_labels (class indices 0..{model.n_classes - 1})")
    labels = np.asarray(labels)
    if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{split}_labels must be {len(x)} integers, one per sample, got {labels.dtype} "
                         f"of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= model.n_classes:
        raise ValueError(f"{split}_labels must lie in 0..{model.n_classes - 1} (n_classes={model.n_classes}), "
                         f"got {labels.min()}..{labels.max()}")
    return x, labels.astype(np.int64)


def _check_batchnorm_batches(model: nn.Module, config: TrainConfig, n_train: int) -> None:
    # BatchNorm cannot normalise a batch of one sample in training mode; catch it before the first epoch.
    if not any(isinstance(module, nn.BatchNorm1d) for module in model.modules()):
        return
    batch_size = config.batch_size or n_train
    if batch_size == 1 or n_train % batch_size == 1:
        raise ValueError(f"the layer spec has BatchNorm (B), which needs at least 2 samples per mini-batch, but "
                         f"batch_size={batch_size} with {n_train} training samples makes a batch of 1; "
                         f"choose another batch_size")


def data_fingerprint(*arrays: np.ndarray | None) -> str:
    """A hash of the training and test data, so a checkpoint is not resumed on other data (another fold)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def _to_device(x: np.ndarray, labels: np.ndarray | None, device: torch.device, dtype: torch.dtype) -> dict:
    return {"x": torch.as_tensor(x).to(device=device, dtype=dtype),
            "labels": torch.as_tensor(labels).to(device) if labels is not None else None}


@contextlib.contextmanager
def _inference(model: nn.Module):
    """Eval mode (no dropout, BatchNorm running statistics) without gradients; the previous mode comes back."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _evaluate(model: Autoencoder, data: dict) -> dict[str, float]:
    """MSE over genes and samples on clean inputs; cross-entropy and accuracy too for a classifier autoencoder."""
    x, labels = data["x"], data["labels"]
    squared_error = cross_entropy = correct = 0.0
    with _inference(model):
        for start in range(0, len(x), INFERENCE_BATCH_SIZE):
            batch = x[start:start + INFERENCE_BATCH_SIZE]
            code = model.encode(batch)
            squared_error += float(((model.decode(code) - batch) ** 2).sum(dtype=torch.float64))
            if labels is not None:
                logits = model.classifier(code)
                batch_labels = labels[start:start + INFERENCE_BATCH_SIZE]
                cross_entropy += float(F.cross_entropy(logits, batch_labels, reduction="sum"))
                correct += float((logits.argmax(dim=1) == batch_labels).sum())
    metrics = {"mse": squared_error / x.numel()}
    if labels is not None:
        metrics |= {"cross_entropy": cross_entropy / len(x), "accuracy": correct / len(x)}
    return metrics


def _summary(row: dict) -> str:
    shown = [name for name in ("train_mse", "test_mse", "test_accuracy") if name in row]
    return " ".join(f"{name}={row[name]:.4g}" for name in shown)


def _save_checkpoint(path, model, optimizer, shuffle_rng, noise_generator, device, config, fingerprint,
                     history) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": history[-1]["epoch"],
        "config": asdict(config),
        "model": model.metadata(),
        "data_fingerprint": fingerprint,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "shuffle_rng_state": shuffle_rng.bit_generator.state,
        "noise_rng_state": noise_generator.get_state(),
        "dropout_rng_state": torch.get_rng_state(),
        "cuda_dropout_rng_state": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "history": history,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(path, model, optimizer, shuffle_rng, noise_generator, device, config, fingerprint) -> list[dict]:
    """Load a checkpoint into the training state after checking it belongs to this run; return its history."""
    delete = "delete the checkpoint to train from scratch"
    state = _load(path, CHECKPOINT_FORMAT, delete)
    for name, value in asdict(config).items():
        if name not in RESUMABLE_CHANGES and state["config"].get(name) != value:
            raise InputError(path, f"checkpoint was written with {name}={state['config'].get(name)!r} but this "
                                   f"run has {name}={value!r}", f"{delete}, or train with its settings")
    if state["model"] != model.metadata():
        raise InputError(path, f"checkpoint holds another network ({state['model']}) than this run's "
                               f"({model.metadata()})", delete)
    if state["data_fingerprint"] != fingerprint:
        raise InputError(path, "checkpoint was trained on other data (another split or fold?)", delete)
    if state["epoch"] > config.epochs:
        raise InputError(path, f"checkpoint is at epoch {state['epoch']}, beyond epochs={config.epochs}",
                         f"{delete}, or raise epochs")
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    shuffle_rng.bit_generator.state = state["shuffle_rng_state"]
    noise_generator.set_state(state["noise_rng_state"])
    torch.set_rng_state(state["dropout_rng_state"])
    if device.type == "cuda" and state["cuda_dropout_rng_state"] is not None:
        torch.cuda.set_rng_state(state["cuda_dropout_rng_state"], device)
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state["history"]


def _load(path, expected_format: str, fix: str) -> dict:
    """torch.load with weights_only=True (plain values and tensors only), with one-line errors."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(path, "file not found", fix) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise InputError(path, f"cannot be read as a torch file ({type(error).__name__})", fix) from None
    if not isinstance(content, dict) or content.get("format") != expected_format:
        raise InputError(path, f"is not a {expected_format} file", fix)
    return content


def save_model(model: Autoencoder, path, meta: dict | None = None) -> None:
    """Write a final model, loadable by :func:`load_model` without the training config, atomically.

    The file is a plain dict (``torch.load(path, weights_only=True)`` reads it): format, kind, n_genes, spec,
    n_classes and classifier_hidden (classifier autoencoder), state_dict, and the entries of ``meta`` (plain
    values, e.g. ``{"genes": [...], "classes": [...]}``).
    """
    content = {"format": MODEL_FORMAT, **model.metadata()}
    clashes = sorted(set(meta or {}) & (set(content) | {"state_dict"}))
    if clashes:
        raise ValueError(f"meta may not set {', '.join(clashes)}: save_model writes them from the model")
    content |= meta or {}
    content["state_dict"] = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(content, tmp)


def load_model(path, device: str = "cpu") -> tuple[Autoencoder, dict]:
    """Read a file of :func:`save_model`; return (model in eval mode on ``device``, everything else in the file)."""
    content = _load(path, MODEL_FORMAT, "write model files with cic.train.save_model")
    state_dict = content.pop("state_dict")
    model = build_model(content)
    model.load_state_dict(state_dict)
    return model.to(resolve_device(device)).eval(), content


def _map_batches(model: nn.Module, x: np.ndarray, function: Callable[[torch.Tensor], torch.Tensor],
                 batch_size: int) -> np.ndarray:
    """Apply ``function`` to ``x`` in batches on the model's device, in eval mode; return float32 numpy."""
    parameter = next(model.parameters())
    x = np.asarray(x)
    outputs = []
    with _inference(model):
        for start in range(0, max(len(x), 1), batch_size):  # an empty x still gives an output of the right width
            batch = torch.as_tensor(x[start:start + batch_size]).to(device=parameter.device, dtype=parameter.dtype)
            outputs.append(function(batch).to(dtype=torch.float32, device="cpu").numpy())
    return np.concatenate(outputs)


def encode(model: Autoencoder, x: np.ndarray, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Cell identity codes (samples x code_size) of expression profiles ``x`` (samples x genes)."""
    return _map_batches(model, x, model.encode, batch_size)


def decode(model: Autoencoder, codes: np.ndarray, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Reproduced expression profiles (samples x genes) from codes (samples x code_size)."""
    return _map_batches(model, codes, model.decode, batch_size)


def reconstruct(model: Autoencoder, x: np.ndarray, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Reproduced expression profiles (REPs) of ``x``: decode(encode(x))."""
    return _map_batches(model, x, lambda batch: model.decode(model.encode(batch)), batch_size)


def predict_proba(model: ClassifierAutoencoder, x: np.ndarray,
                  batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Class probabilities (samples x n_classes) of a classifier autoencoder."""
    if not isinstance(model, ClassifierAutoencoder):
        raise TypeError(f"predictions need a ClassifierAutoencoder, got {type(model).__name__}")
    return _map_batches(model, x, model.predict_proba, batch_size)


def predict(model: ClassifierAutoencoder, x: np.ndarray, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Predicted class indices (0..n_classes-1) of a classifier autoencoder."""
    return predict_proba(model, x, batch_size).argmax(axis=1)
