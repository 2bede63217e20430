"""Training of 1..k networks of one architecture (one loop), checkpoints, model files and inference helpers.

The paper (Methods) trained each network with Torch7's nn.StochasticGradient: 200 epochs of 100 iterations, each
iteration one pass over the shuffled training samples with an SGD update per sample, on the MSE criterion; within an
epoch the learning rate decays as lr / (1 + i * decay) and restarts at each new epoch. :func:`fit` trains k networks
of one architecture at once (the k folds of a cross-validation, the runs of a sweep, the held-out types; k = 1 for
one network) as one :class:`cic.model.NetworkStack` with torch's own optimizers (SGD, Adam) and learning-rate
schedulers (the paper's decay, one-cycle, cosine), and adds what makes the training converge and the kept weights
honest (:class:`TrainConfig`):

- conditioned inputs: each network's per-gene mean (and optionally SD), fitted on its own training samples, is
  stored in the network and applied by encode/decode (:mod:`cic.model`);
- validation: each network sets aside a seeded, stratified fraction of its OWN training samples; the weights kept
  are those of the epoch with the lowest validation loss, and training stops early after ``patience`` epochs
  without improvement. The test samples are measured after every epoch and never used to choose.

Network i of a stack trains exactly as it would alone (tested in float64, tests/test_train.py): its own initial
weights (:func:`cic.model.initialise_weights` with its seed), its own shuffles, input noise, dropout masks and
validation subset (all derived from its seed), its own loss (the mean over its own samples), and its own rows of
every parameter and of the optimizer's per-element state. Two things are shared by the group: the number of updates
per pass and the scheduler's step count. When networks have different numbers of training samples, a pass has as
many updates as the largest network needs; a network whose samples are used up sits the remaining updates of the
pass out: its loss is 0 (its rows of the block are padding) and its rows of the parameters and of the optimizer's
state (Adam's moments, SGD's momentum) are put back after the step, so it is not moved. The optimizer's step
counter (Adam's bias correction) counts the group's steps, so for such a network the bias correction runs a few
steps ahead of training alone; it tends to 1 within a few thousand steps. A network that stopped early sits out
every later update in the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
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
from cic.model import Autoencoder, ClassifierAutoencoder, NetworkStack, build_model, initialise_weights

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "cic-checkpoint-2"
MODEL_FORMAT = "cic-model-1"
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Matmul precision of float32 training: "off" = full float32, "tf32" = TF32 tensor cores for float32 matmuls
# (CUDA Ampere and newer; no effect on CPU), "bf16" = forward and loss under bfloat16 autocast.
MIXED_PRECISION = ("off", "tf32", "bf16")
OPTIMIZERS = ("sgd", "adam")
# constant: learning_rate throughout; paper_decay: lr / (1 + i * learning_rate_decay) at iteration i of each epoch,
# restarting every epoch (Torch7, the paper); one_cycle: torch's OneCycleLR over the whole budget, peak
# learning_rate; cosine: torch's CosineAnnealingLR from learning_rate to 0 over the whole budget.
SCHEDULES = ("constant", "paper_decay", "one_cycle", "cosine")
# none: the network sees the data as they are; centre: minus each gene's training mean; standardise: also divided
# by each gene's training SD. Fitted per network on its own training samples (not its validation subset).
CONDITIONING = ("none", "centre", "standardise")
# Settings that may differ between a checkpoint and the run resuming it: they do not change the numbers. epochs
# also, for the schedules that do not depend on the length of the run.
RESUMABLE_CHANGES = ("device", "checkpoint_every", "progress")
BUDGET_FREE_SCHEDULES = ("constant", "paper_decay")
INFERENCE_BATCH_SIZE = 1024
EVALUATION_BLOCK = 2 ** 24  # values per block (networks x samples x genes) when a stack is evaluated
# Test/ops hook, inert unless the variable is set: CIC_HOLD_AFTER_EPOCH=N makes a training that checkpoints wait
# HOLD_SECONDS right after epoch N's checkpoint is written, so a preemption can be staged at a known point
# (tests/test_slurm.py cancels the job while it waits). The numbers do not change; the retried job resumes after
# epoch N and never waits again.
HOLD_AFTER_EPOCH = "CIC_HOLD_AFTER_EPOCH"
HOLD_SECONDS = 300


@dataclass
class TrainConfig:
    """Every training setting (config/README.md, ``training``, gives each default's reason).

    An *iteration* is ONE PASS over the training samples in a fresh random order, in mini-batches of
    ``batch_size`` with one update per mini-batch (Torch7 nn.StochasticGradient's iteration: "In each iteration,
    all training samples were fed into the neural network after a random shuffle"). ``batch_size=1`` is the
    paper's per-sample SGD; ``None`` puts all training samples in one batch (one update per iteration).
    An *epoch* is ``iterations_per_epoch`` iterations; metrics, the validation check and the checkpoint come after
    each epoch. The MSE is the mean over genes and samples (Torch7 MSECriterion with sizeAverage), on the data's
    scale whatever the conditioning.
    """

    epochs: int = 15
    iterations_per_epoch: int = 4
    batch_size: int | None = 32
    optimizer: str = "adam"  # "sgd" (the paper) or "adam"
    learning_rate: float = 0.002  # the start of cosine, the peak of one_cycle; the paper used 0.001-0.003 with SGD
    schedule: str = "cosine"  # one of SCHEDULES
    learning_rate_decay: float = 0.0  # paper_decay only: lr / (1 + i * decay) at iteration i of an epoch
    warmup_fraction: float = 0.3  # one_cycle only: share of the budget spent raising the rate (OneCycleLR pct_start)
    momentum: float = 0.0  # sgd only; 0 = plain SGD, as the paper
    weight_decay: float = 0.0  # L2 penalty on the weights of Linear layers
    l1: float = 0.0  # L1 penalty on the weights of Linear layers
    input_noise_sd: float = 0.0  # Gaussian noise added to the inputs while training; the clean profile is the target
    classification_weight: float = 0.5  # classifier AE: loss = (1 - w) * MSE + w * cross-entropy (paper: no value)
    conditioning: str = "centre"  # one of CONDITIONING
    validation_fraction: float = 0.1  # of each network's training samples; 0 = no validation (keep the last epoch)
    patience: int | None = 5  # epochs without a better validation loss before stopping; None = never stop early
    min_delta: float = 0.0  # patience only: an epoch counts as better below reference * (1 - min_delta)
    seed: int = 1  # initial weights, shuffles, input noise, dropout and validation subset all follow from it
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
        require(self.schedule in SCHEDULES, "schedule", f"one of {', '.join(SCHEDULES)}")
        require(self.learning_rate_decay >= 0, "learning_rate_decay", "0 or more")
        require(self.learning_rate_decay == 0 or self.schedule == "paper_decay", "learning_rate_decay",
                "0 unless schedule is paper_decay (the within-epoch decay)")
        require(0 < self.warmup_fraction < 1, "warmup_fraction", "between 0 and 1")
        require(0 <= self.momentum < 1, "momentum", "in [0, 1)")
        require(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        require(self.optimizer == "sgd" or self.momentum == 0, "momentum",
                "0 with optimizer adam (adam has its own moment estimates)")
        require(self.weight_decay >= 0, "weight_decay", "0 or more")
        require(self.l1 >= 0, "l1", "0 or more")
        require(self.input_noise_sd >= 0, "input_noise_sd", "0 or more")
        require(0 <= self.classification_weight <= 1, "classification_weight", "in [0, 1]")
        require(self.conditioning in CONDITIONING, "conditioning", f"one of {', '.join(CONDITIONING)}")
        require(0 <= self.validation_fraction < 1, "validation_fraction", "in [0, 1)")
        require(self.patience is None or self.patience >= 1, "patience", "a positive integer or null")
        require(0 <= self.min_delta < 1, "min_delta", "in [0, 1)")
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


def linear_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weight matrices of all Linear layers: what the L1 and L2 penalties act on (not biases, not BatchNorm)."""
    if isinstance(model, NetworkStack):
        return model.linear_weights()
    return [module.weight for module in model.modules() if isinstance(module, nn.Linear)]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """torch.optim.Adam or SGD (fused kernels: one pass over each tensor), weight decay on Linear weights only."""
    weights = linear_weights(model)
    penalised = {id(weight) for weight in weights}
    groups = [{"params": weights, "weight_decay": config.weight_decay},
              {"params": [p for p in model.parameters() if id(p) not in penalised], "weight_decay": 0.0}]
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.learning_rate, fused=True)
    return torch.optim.SGD(groups, lr=config.learning_rate, momentum=config.momentum, fused=True)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                   steps_per_pass: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule of ``config.schedule``, stepped after every update (see SCHEDULES)."""
    total = config.epochs * config.iterations_per_epoch * steps_per_pass
    if config.schedule == "one_cycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=total,
                                                   pct_start=config.warmup_fraction, cycle_momentum=False)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    iterations, decay = config.iterations_per_epoch, config.learning_rate_decay

    def paper_decay(step: int) -> float:  # constant when decay is 0
        return 1.0 / (1.0 + (step // steps_per_pass % iterations) * decay)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, paper_decay)


def training_loss(stack: NetworkStack, inputs: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor | None,
                  counts: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """The minimised loss: the SUM over the k networks of each one's loss on its block of ``[k, width, genes]``.

    A network's loss is the MSE of its reconstructions against ``targets`` over genes and its ``counts[i]`` real
    rows (the first ones; the rest are padding), for a classifier autoencoder (1 - w) * MSE + w * cross-entropy
    with w = ``classification_weight``, plus the L1 penalty on its Linear weights. Summed, each network's
    gradient is that of its own loss. A term whose weight is 0 is not computed (its head gets no gradient).
    """
    real = torch.arange(targets.shape[1], device=targets.device) < counts.unsqueeze(1)
    row_weights = real.to(targets.dtype) / counts.clamp(min=1).to(targets.dtype).unsqueeze(1)
    code = stack.encode(inputs, counts)
    weight = config.classification_weight if stack.is_classifier else 0.0
    loss = targets.new_zeros(())
    if weight < 1:
        squared_error = (stack.decode(code, counts).float() - targets).square().mean(dim=2)
        loss = loss + (1 - weight) * (squared_error * row_weights).sum()
    if weight > 0:
        logits = stack.classify(code, counts).float()
        cross_entropy = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
        loss = loss + weight * (cross_entropy.view_as(row_weights) * row_weights).sum()
    if config.l1 > 0:
        loss = loss + config.l1 * sum(weight.abs().sum() for weight in stack.linear_weights())
    return loss


def validation_split(rows: np.ndarray, fraction: float, seed: int,
                     strata: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split a network's training rows into (rows it trains on, its validation rows), both sorted: the split
    :func:`fit` makes for the network of ``seed``.

    ``round(fraction * len(rows))`` rows (at least 1 when ``fraction`` > 0) are drawn from the network's validation
    stream (derived from ``seed``, independent of its other streams), stratified by
    ``strata[rows]`` (e.g. the cell type) with scikit-learn's ``train_test_split`` when every stratum has at least
    2 samples and both parts can hold one of each; otherwise a plain random draw (logged).
    """
    from sklearn.model_selection import train_test_split

    rows = np.asarray(rows)
    if fraction == 0:
        return rows, rows[:0]
    n_validation = max(1, int(round(fraction * len(rows))))
    if n_validation >= len(rows):
        raise ValueError(f"validation_fraction {fraction} leaves no training sample of {len(rows)}; lower it or "
                         f"set it to 0")
    stratify = None
    if strata is not None:
        groups, sizes = np.unique(np.asarray(strata)[rows], return_counts=True)
        if sizes.min() >= 2 and min(n_validation, len(rows) - n_validation) >= len(groups):
            stratify = np.asarray(strata)[rows]
        else:
            log.info("validation subset of %d samples drawn without stratification (%d strata, smallest %d)",
                     n_validation, len(groups), sizes.min())
    kept, validation = train_test_split(rows, test_size=n_validation, random_state=_streams(seed, None)["validation"],
                                        stratify=stratify)
    return np.sort(kept), np.sort(validation)


def conditioning(x: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene (mean, scale) of training samples ``x`` (samples x genes) for ``mode`` (see CONDITIONING).

    A gene without spread on these samples keeps scale 1.
    """
    x = np.asarray(x, dtype=np.float64)
    if mode == "none":
        return np.zeros(x.shape[1]), np.ones(x.shape[1])
    mean = x.mean(axis=0)
    if mode == "centre":
        return mean, np.ones(x.shape[1])
    sd = x.std(axis=0)
    return mean, np.where(sd > 1e-8, sd, 1.0)


@dataclass
class _Group:
    """The checked inputs of one :func:`fit` call: the data and each network's rows, seed and random streams."""

    x: np.ndarray
    labels: np.ndarray | None
    strata: np.ndarray | None
    train_rows: list[np.ndarray]  # as given: the network's training samples (validation included)
    fit_rows: list[np.ndarray]  # what it trains on
    validation_rows: list[np.ndarray]
    test_rows: list[np.ndarray]
    seeds: list[int]

    @property
    def k(self) -> int:
        return len(self.seeds)


def fit(template: Autoencoder, x: np.ndarray, config: TrainConfig, *, train_rows=None, test_rows=None, seeds=None,
        labels=None, strata=None, checkpoint_path=None, history_paths=None,
        on_epoch_end: Callable[[int, list], None] | None = None) -> tuple[list[Autoencoder], list[pd.DataFrame]]:
    """Train k networks with ``template``'s architecture (its weights are not used); return (networks, histories).

    ``x``: the whole matrix (samples x genes, the data's log2 scale; kept once on the device). Network i trains on
    rows ``train_rows[i]`` (default: one network on every row) with seed ``seeds[i]`` (default ``[config.seed]``)
    and is tested on ``test_rows[i]``. A :class:`ClassifierAutoencoder` needs ``labels`` (one class index
    0..n_classes-1 per row of ``x``). Each network's validation subset is ``validation_fraction`` of its training
    rows, stratified by ``strata`` (one value per row of ``x``, e.g. the cell type; default ``labels``).

    Returns each network in eval mode with the weights of its best validation epoch (the last epoch without
    validation), and its history, one row per epoch it trained: epoch, train_mse (on the rows it trains on),
    validation_mse, test_mse (NaN without test rows), for a classifier autoencoder also the cross-entropies and
    accuracies of the three and validation_loss (the criterion), then learning_rate (of the epoch's last update),
    seconds (the epoch's wall time divided by k) and kept (true on the epoch whose weights are returned). Metrics
    are measured after each epoch in eval mode on clean inputs. Same seeds, data and group -> identical weights and
    histories on the CPU; network i of a group trains as it would alone, to floating-point rounding (the batched
    products may sum in another order).

    ``checkpoint_path``: written atomically every ``checkpoint_every`` epochs and after the last one; if it exists
    when fit starts, training resumes from it and ends with exactly the weights and histories of an uninterrupted
    run (but for the seconds column); a checkpoint of other settings, seeds, data or network is refused with a
    one-line :class:`InputError`. ``history_paths[i]``: network i's history TSV, rewritten after each epoch.
    ``on_epoch_end(epoch, rows)`` is called after each epoch's checkpoint and histories are written, with each
    network's new history row (None for a network that has stopped).
    """
    group = _checked_group(template, x, config, train_rows, test_rows, seeds, labels, strata, history_paths)
    fingerprint = data_fingerprint(group.x, group.labels, group.strata, *group.train_rows, *group.test_rows)
    device, dtype = resolve_device(config.device), DTYPES[config.dtype]
    data = torch.as_tensor(group.x).to(device=device, dtype=dtype)
    labels_t = torch.as_tensor(group.labels).to(device) if group.labels is not None else None

    stack = _initial_stack(template, group, config).to(device=device, dtype=dtype)
    streams = [_streams(seed, device) for seed in group.seeds]
    stack.dropout_generators = [stream["dropout"] for stream in streams]
    optimizer = make_optimizer(stack, config)
    steps_per_pass = max(_steps(len(rows), config.batch_size) for rows in group.fit_rows)
    scheduler = make_scheduler(optimizer, config, steps_per_pass)
    selection = _Selection(group.k, stack, validated=config.validation_fraction > 0)
    histories: list[list[dict]] = [[] for _ in range(group.k)]
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        histories = _resume(checkpoint_path, stack, optimizer, scheduler, streams, selection, config, group,
                            fingerprint, template)

    start_epoch = max(len(history) for history in histories)
    log.info("training %d network(s) %s on %s genes (%s training / %s validation samples; seeds %s) on %s",
             group.k, template.spec, template.n_genes, "/".join(str(len(r)) for r in group.fit_rows),
             "/".join(str(len(r)) for r in group.validation_rows), ", ".join(map(str, group.seeds)), device)
    with tqdm(range(start_epoch + 1, config.epochs + 1), initial=start_epoch, total=config.epochs,
              desc=f"training {group.k}" if group.k > 1 else "training", unit="epoch",
              disable=not config.progress) as bar:
        for epoch in bar:
            if selection.stopped.all():
                log.info("every network has stopped early (patience %s): training ends", config.patience)
                break
            started = time.perf_counter()
            active = ~selection.stopped
            learning_rate = _train_epoch(stack, optimizer, scheduler, data, labels_t, group, active, config,
                                         streams, steps_per_pass)
            rows = _epoch_rows(stack, data, labels_t, group, active, config, epoch, learning_rate,
                               (time.perf_counter() - started) / group.k)
            selection.update(stack, rows, epoch, config)
            for history, row in zip(histories, rows):
                if row is not None:
                    history.append(row)
            checkpointed = checkpoint_path is not None and (epoch % config.checkpoint_every == 0
                                                            or epoch == config.epochs or selection.stopped.all())
            if checkpointed:
                _save_checkpoint(checkpoint_path, stack, optimizer, scheduler, streams, selection, config, group,
                                 fingerprint, template, histories, epoch)
            frames = [_history_frame(history, selection.kept_epoch(i)) for i, history in enumerate(histories)]
            for path, frame in zip(history_paths or [], frames):
                write_table(frame, path)
            summary = _summary(rows)
            bar.set_postfix_str(summary, refresh=False)
            log.info("epoch %d/%d: %s", epoch, config.epochs, summary)
            if on_epoch_end is not None:
                on_epoch_end(epoch, rows)
            if checkpointed:
                _hold_if_asked(epoch)
    selection.restore_best(stack)
    networks = [stack.network(i).eval() for i in range(group.k)]
    frames = [_history_frame(history, selection.kept_epoch(i)) for i, history in enumerate(histories)]
    return networks, frames


def _hold_if_asked(epoch: int) -> None:
    """The HOLD_AFTER_EPOCH hook, called once an epoch's checkpoint is written: wait HOLD_SECONDS after epoch N."""
    hold = os.environ.get(HOLD_AFTER_EPOCH)
    if hold and epoch == int(hold):
        log.warning("holding after epoch %d's checkpoint for up to %d s (%s=%s, a test/ops hook)", epoch,
                    HOLD_SECONDS, HOLD_AFTER_EPOCH, hold)
        time.sleep(HOLD_SECONDS)
        log.warning("nothing stopped the hold after epoch %d: training goes on", epoch)


def _steps(n_samples: int, batch_size: int | None) -> int:
    return math.ceil(n_samples / (batch_size or n_samples))


def _checked_group(template, x, config, train_rows, test_rows, seeds, labels, strata, history_paths) -> _Group:
    x = _checked_matrix(template, x)
    train_rows = [np.arange(len(x))] if train_rows is None else list(train_rows)
    k = len(train_rows)
    seeds = [config.seed] if seeds is None and k == 1 else seeds
    for name, values in (("seeds", seeds), ("test_rows", test_rows), ("history_paths", history_paths)):
        if (values is not None or name == "seeds") and (values is None or len(values) != k):
            raise ValueError(f"fit needs one entry of {name} per network: {k} train_rows, "
                             f"{'no' if values is None else len(values)} {name}")
    train_rows = [_checked_rows(rows, len(x), f"train_rows[{i}]") for i, rows in enumerate(train_rows)]
    test_rows = [_checked_rows(rows, len(x), f"test_rows[{i}]", allow_empty=True)
                 for i, rows in enumerate(test_rows or [[]] * k)]
    labels = _checked_labels(template, labels, len(x))
    if strata is None and labels is not None:
        strata = labels
    if strata is not None:
        strata = np.asarray(strata)
        if strata.shape != (len(x),):
            raise ValueError(f"strata must hold one value per sample ({len(x)}), got shape {strata.shape}")
        strata = np.unique(strata.astype(str), return_inverse=True)[1]
    seeds = [int(seed) for seed in seeds]
    splits = [validation_split(rows, config.validation_fraction, seed, strata) for rows, seed in zip(train_rows, seeds)]
    group = _Group(x, labels, strata, train_rows, [fit for fit, _ in splits], [validation for _, validation in splits],
                   test_rows, seeds)
    _check_batchnorm_batches(template, config, group.fit_rows)
    return group


def _checked_matrix(model: Autoencoder, x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != model.n_genes or len(x) == 0:
        raise ValueError(f"x must be a samples x genes matrix with {model.n_genes} genes (the model's n_genes), "
                         f"got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        row, column = (int(i[0]) for i in np.nonzero(~finite))
        raise ValueError(f"x has the non-finite value {x[row, column]} at sample {row}, gene {column}; "
                         f"impute or drop it before training")
    return x


def _checked_rows(rows, n_samples: int, name: str, allow_empty: bool = False) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if (len(rows) == 0 and not allow_empty) or (len(rows) and (rows.min() < 0 or rows.max() >= n_samples)):
        raise ValueError(f"{name} must be {'' if allow_empty else 'non-empty '}row indices of x (0..{n_samples - 1})")
    return rows


def _checked_labels(model: Autoencoder, labels, n_samples: int) -> np.ndarray | None:
    if not isinstance(model, ClassifierAutoencoder):
        if labels is not None:
            raise ValueError("labels were given but only a ClassifierAutoencoder uses labels")
        return None
    if labels is None:
        raise ValueError(f"a ClassifierAutoencoder needs labels (class indices 0..{model.n_classes - 1})")
    labels = np.asarray(labels)
    if labels.shape != (n_samples,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {n_samples} integers, one per sample, got {labels.dtype} "
                         f"of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= model.n_classes:
        raise ValueError(f"labels must lie in 0..{model.n_classes - 1} (n_classes={model.n_classes}), "
                         f"got {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def _check_batchnorm_batches(model: nn.Module, config: TrainConfig, fit_rows: list[np.ndarray]) -> None:
    # BatchNorm cannot normalise a batch of one sample in training mode; catch it before the first epoch.
    if not any(isinstance(module, nn.BatchNorm1d) for module in model.modules()):
        return
    for rows in fit_rows:
        batch_size = config.batch_size or len(rows)
        if batch_size == 1 or len(rows) % batch_size == 1:
            raise ValueError(f"the layer spec has BatchNorm (B), which needs at least 2 samples per mini-batch, but "
                             f"batch_size={batch_size} with {len(rows)} training samples makes a batch of 1; "
                             f"choose another batch_size")


def _initial_stack(template: Autoencoder, group: _Group, config: TrainConfig) -> NetworkStack:
    """The k networks' initial weights (each from its seed, float32 on the CPU as for one network alone) and their
    conditioning, fitted on the rows each trains on."""
    stack = NetworkStack(template, group.k)
    for index, (seed, rows) in enumerate(zip(group.seeds, group.fit_rows)):
        with torch.random.fork_rng(devices=[]):  # torch's constructors draw from the global generator: the caller's
            network = build_model(template.metadata())  # random state stays as it was
        initialise_weights(network, seed)
        mean, scale = conditioning(group.x[rows], config.conditioning)
        with torch.no_grad():
            network.input_mean.copy_(torch.from_numpy(mean))
            network.input_scale.copy_(torch.from_numpy(scale))
        stack.set_network(index, network)
    return stack


def _streams(seed: int, device: torch.device | None) -> dict:
    """Network ``seed``'s independent random streams: shuffles, input noise, dropout, the validation draw."""
    shuffle, noise, dropout, validation = (int(s) for s in np.random.SeedSequence(seed).generate_state(4))
    if device is None:
        return {"validation": validation}
    return {"shuffle": np.random.default_rng(shuffle),
            "noise": torch.Generator(device=device).manual_seed(noise),
            "dropout": torch.Generator(device=device).manual_seed(dropout)}


def _train_epoch(stack: NetworkStack, optimizer, scheduler, data: torch.Tensor, labels: torch.Tensor | None,
                 group: _Group, active: np.ndarray, config: TrainConfig, streams: list[dict],
                 steps_per_pass: int) -> float:
    """``iterations_per_epoch`` passes of the active networks; return the learning rate of the last update."""
    stack.train()
    width = min(config.batch_size or len(data), max(len(rows) for rows in group.fit_rows))
    learning_rate = float("nan")
    for _ in range(config.iterations_per_epoch):
        rows, counts = _pass_plan(group.fit_rows, active, width, steps_per_pass, streams)
        rows_t = torch.from_numpy(rows).to(data.device)
        counts_t = torch.from_numpy(counts).to(data.device)
        for step in range(steps_per_pass):
            targets = data[rows_t[step]]  # [k, width, genes]
            inputs = targets
            if config.input_noise_sd > 0:
                inputs = targets + config.input_noise_sd * _input_noise(streams, counts[step], targets)
            batch_labels = labels[rows_t[step]] if labels is not None else None
            with matmul_precision(config, data.device):
                loss = training_loss(stack, inputs, targets, batch_labels, counts_t[step], config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            learning_rate = optimizer.param_groups[0]["lr"]
            resting = np.flatnonzero(counts[step] == 0)
            saved = _rows_of(stack, optimizer, resting) if len(resting) else []
            optimizer.step()
            with torch.no_grad():
                for tensor, index, values in saved:
                    tensor[index] = values
            scheduler.step()
    return learning_rate


def _pass_plan(fit_rows: list[np.ndarray], active: np.ndarray, width: int, steps: int,
               streams: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """One pass: each active network's rows in a fresh order from its shuffle stream, cut into batches of
    ``width``, as ``rows [steps, k, width]`` (padding: row 0) and ``counts [steps, k]`` (real rows per batch)."""
    rows = np.zeros((steps, len(fit_rows), width), dtype=np.int64)
    counts = np.zeros((steps, len(fit_rows)), dtype=np.int64)
    for network in np.flatnonzero(active):
        own = fit_rows[network]
        order = own[streams[network]["shuffle"].permutation(len(own))]
        for step, start in enumerate(range(0, len(order), width)):
            batch = order[start:start + width]
            rows[step, network, :len(batch)] = batch
            counts[step, network] = len(batch)
    return rows, counts


def _input_noise(streams: list[dict], counts: np.ndarray, targets: torch.Tensor) -> torch.Tensor:
    """Each network's N(0, 1) input noise for its real rows, from its own generator (padding: 0)."""
    noise = torch.zeros_like(targets)
    for network, count in enumerate(counts):
        if count:
            noise[network, :count] = torch.randn((int(count), targets.shape[2]), generator=streams[network]["noise"],
                                                 device=targets.device, dtype=targets.dtype)
    return noise


def _rows_of(stack: NetworkStack, optimizer: torch.optim.Optimizer, networks: np.ndarray) -> list:
    """Copies of the rows of ``networks`` in every parameter and in the optimizer's per-element state (Adam's
    moments, SGD's momentum), to put back after a step those networks sit out."""
    index = torch.from_numpy(networks).to(next(stack.parameters()).device)
    saved = []
    for parameter in stack.parameters():
        state = optimizer.state.get(parameter, {})
        for tensor in [parameter, *(value for value in state.values()
                                    if torch.is_tensor(value) and value.shape == parameter.shape)]:
            saved.append((tensor.data, index, tensor.data[index].clone()))
    return saved


class _Selection:
    """Which epoch's weights each network keeps and which networks stopped early.

    A network keeps the weights of its epoch with the lowest validation loss (MSE; for a classifier autoencoder
    the weighted loss it trains on); without validation, of its last epoch. It stops after ``patience`` epochs in a
    row without a validation loss below ``reference * (1 - min_delta)``, where ``reference`` is the loss of the last
    epoch that passed that bar.
    """

    def __init__(self, k: int, stack: NetworkStack, validated: bool):
        self.validated = validated
        self.best_score = np.full(k, np.inf)
        self.reference = np.full(k, np.inf)
        self.best_epoch = np.zeros(k, dtype=np.int64)
        self.stale = np.zeros(k, dtype=np.int64)
        self.stopped = np.zeros(k, dtype=bool)
        self.best_state = {name: tensor.clone() for name, tensor in stack.state_dict().items()} if validated else None

    def update(self, stack: NetworkStack, rows: list[dict | None], epoch: int, config: TrainConfig) -> None:
        improved = []
        for network, row in enumerate(rows):
            if row is None:
                continue
            if not self.validated:
                self.best_epoch[network] = epoch
                continue
            score = row["validation_loss" if stack.is_classifier else "validation_mse"]
            # Until a finite validation loss is seen, the latest epoch is the one kept.
            if (np.isfinite(score) and score < self.best_score[network]) or not np.isfinite(self.best_score[network]):
                self.best_score[network], self.best_epoch[network] = score if np.isfinite(score) else np.inf, epoch
                improved.append(network)
            reference = self.reference[network]
            if np.isfinite(score) and (not np.isfinite(reference) or score < reference * (1 - config.min_delta)):
                self.reference[network], self.stale[network] = score, 0
                continue
            self.stale[network] += 1
            if config.patience is not None and self.stale[network] >= config.patience:
                self.stopped[network] = True
                log.info("network %d stops after epoch %d: no better validation loss for %d epochs (best: epoch "
                         "%d)", network, epoch, config.patience, self.best_epoch[network])
        if improved:
            index = torch.tensor(improved, device=next(stack.parameters()).device)
            with torch.no_grad():
                for name, tensor in stack.state_dict().items():
                    self.best_state[name][index] = tensor[index]

    def kept_epoch(self, network: int) -> int:
        return int(self.best_epoch[network])

    def restore_best(self, stack: NetworkStack) -> None:
        if self.validated:
            stack.load_state_dict(self.best_state)

    COUNTERS = {"best_score": np.float64, "reference": np.float64, "best_epoch": np.int64, "stale": np.int64,
                "stopped": bool}

    def state_dict(self) -> dict:
        return {name: getattr(self, name).tolist() for name in self.COUNTERS} | {
            "best_state": None if self.best_state is None else {n: t.cpu() for n, t in self.best_state.items()}}

    def load_state_dict(self, state: dict) -> None:
        for name, dtype in self.COUNTERS.items():
            setattr(self, name, np.array(state[name], dtype=dtype))
        if self.best_state is not None:
            for name, tensor in self.best_state.items():
                tensor.copy_(state["best_state"][name])


def _epoch_rows(stack: NetworkStack, data: torch.Tensor, labels: torch.Tensor | None, group: _Group,
                active: np.ndarray, config: TrainConfig, epoch: int, learning_rate: float,
                seconds: float) -> list[dict | None]:
    """Each active network's history row (None for the others); a diverged network stops the run."""
    splits = {"train": group.fit_rows, "validation": group.validation_rows, "test": group.test_rows}
    measured = {split: _evaluate(stack, data, labels, rows) for split, rows in splits.items()}
    rows = []
    for network in range(group.k):
        if not active[network]:
            rows.append(None)
            continue
        row = {"epoch": epoch}
        for name in measured["train"][network]:
            row |= {f"{split}_{name}": measured[split][network][name] for split in splits}
        if stack.is_classifier:
            weight = config.classification_weight
            row["validation_loss"] = (1 - weight) * row["validation_mse"] + weight * row["validation_cross_entropy"]
        row |= {"learning_rate": learning_rate, "seconds": seconds}
        if not np.isfinite(row["train_mse"]):
            which = f"network {network}'s " if group.k > 1 else ""
            raise FloatingPointError(f"training diverged: {which}train MSE is {row['train_mse']} after epoch {epoch}; "
                                     f"lower learning_rate (now {config.learning_rate}) or momentum")
        rows.append(row)
    return rows


@torch.no_grad()
def _evaluate(stack: NetworkStack, data: torch.Tensor, labels: torch.Tensor | None,
              rows: list[np.ndarray]) -> list[dict[str, float]]:
    """Per network, on its ``rows`` of ``data`` (eval mode, clean inputs): mse over genes and samples; for a
    classifier autoencoder also cross_entropy and accuracy. NaN for a network without rows."""
    lengths = np.array([len(r) for r in rows])
    k, genes = len(rows), data.shape[1]
    sums = np.zeros((3, k))  # squared error, cross-entropy, correct
    block = max(1, min(INFERENCE_BATCH_SIZE, EVALUATION_BLOCK // (k * genes)))
    was_training = stack.training
    stack.eval()
    for start in range(0, int(lengths.max(initial=0)), block):
        counts = np.clip(lengths - start, 0, block)
        width = int(counts.max())
        index = np.zeros((k, width), dtype=np.int64)
        for network, count in enumerate(counts):
            index[network, :count] = rows[network][start:start + count]
        index_t = torch.from_numpy(index).to(data.device)
        real = torch.arange(width, device=data.device) < torch.from_numpy(counts).to(data.device).unsqueeze(1)
        x = data[index_t]
        code = stack.encode(x)
        squared_error = (stack.decode(code) - x).square().sum(dim=2, dtype=torch.float64)
        sums[0] += (squared_error * real).sum(dim=1).cpu().numpy()
        if stack.is_classifier:
            logits = stack.classify(code).float()
            targets = labels[index_t]
            cross_entropy = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
            sums[1] += (cross_entropy.view(k, width).double() * real).sum(dim=1).cpu().numpy()
            sums[2] += ((logits.argmax(dim=2) == targets) & real).sum(dim=1).cpu().numpy()
    stack.train(was_training)
    with np.errstate(invalid="ignore", divide="ignore"):
        metrics = [{"mse": sums[0, i] / (lengths[i] * genes)} for i in range(k)]
        if stack.is_classifier:
            for i, metric in enumerate(metrics):
                metric |= {"cross_entropy": sums[1, i] / lengths[i], "accuracy": sums[2, i] / lengths[i]}
    return [{name: float(value) if lengths[i] else float("nan") for name, value in metric.items()}
            for i, metric in enumerate(metrics)]


def _history_frame(history: list[dict], kept_epoch: int) -> pd.DataFrame:
    frame = pd.DataFrame(history)
    if len(frame):
        frame["kept"] = frame["epoch"] == kept_epoch
    return frame


def _summary(rows: list[dict | None]) -> str:
    present = [row for row in rows if row is not None]
    names = [name for name in ("train_mse", "validation_mse", "test_mse", "test_accuracy")
             if any(np.isfinite(row.get(name, np.nan)) for row in present)]
    shown = " ".join(f"{name}={np.nanmean([row[name] for row in present]):.4g}" for name in names)
    return shown if len(rows) == 1 else f"{shown} (mean of {len(present)} of {len(rows)} networks)"


def data_fingerprint(*arrays: np.ndarray | None) -> str:
    """A hash of the training data and rows, so a checkpoint is not resumed on other data (another fold)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def _identity(config: TrainConfig, group: _Group, fingerprint: str, template: Autoencoder) -> dict:
    """What a checkpoint must share with the run that resumes it."""
    free = RESUMABLE_CHANGES + ("seed",) + (("epochs",) if config.schedule in BUDGET_FREE_SCHEDULES else ())
    settings = {name: value for name, value in asdict(config).items() if name not in free}
    return {"settings": settings, "seeds": group.seeds, "model": template.metadata(), "data": fingerprint}


def _save_checkpoint(path, stack, optimizer, scheduler, streams, selection, config, group, fingerprint, template,
                     histories, epoch) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        **_identity(config, group, fingerprint, template),
        "stack_state": {name: tensor.detach().cpu() for name, tensor in stack.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(),
        "shuffle_rng_states": [stream["shuffle"].bit_generator.state for stream in streams],
        "noise_rng_states": [stream["noise"].get_state() for stream in streams],
        "dropout_rng_states": [stream["dropout"].get_state() for stream in streams],
        "selection": selection.state_dict(),
        "histories": histories,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(path, stack, optimizer, scheduler, streams, selection, config, group, fingerprint,
            template) -> list[list[dict]]:
    """Load a checkpoint into the training state after checking it belongs to this run; return the histories."""
    delete = "delete the checkpoint to train from scratch"
    state = _load(path, CHECKPOINT_FORMAT, delete)
    expected = _identity(config, group, fingerprint, template)
    for name, value in expected["settings"].items():
        if state["settings"].get(name) != value:
            raise InputError(path, f"checkpoint was written with {name}={state['settings'].get(name)!r} but this "
                                   f"run has {name}={value!r}", f"{delete}, or train with its settings")
    if state["seeds"] != expected["seeds"]:
        raise InputError(path, f"checkpoint was written with seeds={state['seeds']} but this run has "
                               f"seeds={expected['seeds']}", f"{delete}, or train with its seeds")
    if state["model"] != expected["model"]:
        raise InputError(path, f"checkpoint holds another network ({state['model']}) than this run's "
                               f"({expected['model']})", delete)
    if state["data"] != expected["data"]:
        raise InputError(path, "checkpoint was trained on other data or samples (another split or fold?)", delete)
    if state["epoch"] > config.epochs:
        raise InputError(path, f"checkpoint is at epoch {state['epoch']}, beyond epochs={config.epochs}",
                         f"{delete}, or raise epochs")
    stack.load_state_dict(state["stack_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    scheduler.load_state_dict(state["scheduler_state"])
    for stream, shuffle, noise, dropout in zip(streams, state["shuffle_rng_states"], state["noise_rng_states"],
                                               state["dropout_rng_states"]):
        stream["shuffle"].bit_generator.state = shuffle
        stream["noise"].set_state(noise)
        stream["dropout"].set_state(dropout)
    selection.load_state_dict(state["selection"])
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state["histories"]


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


# --------------------------------------------------------------------------------------------------------------
# Model files and inference


def save_model(model: Autoencoder, path, meta: dict | None = None) -> None:
    """Write a final model, loadable by :func:`load_model` without the training config, atomically.

    The file is a plain dict (``torch.load(path, weights_only=True)`` reads it): format, kind, n_genes, spec,
    n_classes and classifier_hidden (classifier autoencoder), state_dict (the weights and the conditioning buffers
    ``input_mean`` and ``input_scale``), and the entries of ``meta`` (plain values, e.g.
    ``{"genes": [...], "classes": [...]}``).
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
    for name in ("input_mean", "input_scale"):  # files written before conditioned inputs: no conditioning
        state_dict.setdefault(name, getattr(model, name))
    model.load_state_dict(state_dict)
    return model.to(resolve_device(device)).eval(), content


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
    """Cell identity codes (samples x code_size) of expression profiles ``x`` (samples x genes, log2 scale)."""
    return _map_batches(model, x, model.encode, batch_size)


def decode(model: Autoencoder, codes: np.ndarray, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Reproduced expression profiles (samples x genes, log2 scale) from codes (samples x code_size)."""
    return _map_batches(model, codes, model.decode, batch_size)


def reconstruct(model: Autoencoder, x: np.ndarray, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Reproduced expression profiles (REPs) of ``x``: decode(encode(x)), on the data's scale."""
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
