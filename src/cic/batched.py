"""Train several copies of one network at once, as one stacked model: the k folds of a cross-validation.

Every fold of a configuration has the same architecture; only its training samples and its seed differ. Instead of
k small jobs, :func:`fit_stacked` keeps the k networks' parameters as stacked tensors (Linear weight
``[k, in, out]``, bias ``[k, out]``) and runs each layer of all k networks as one batched matrix multiply
(``torch.baddbmm``) on a ``[k, batch, features]`` block of mini-batches, one mini-batch per fold. Small networks
(the 1000-gene sweep models) are latency-bound one at a time; stacked, each kernel does k times the work.

It reproduces :func:`cic.train.fit` fold by fold (to floating-point rounding, tested in tests/test_batched.py):

- initial weights: :func:`cic.model.initialise_weights` with each fold's seed;
- random streams: each fold's own shuffle and input-noise streams from ``np.random.SeedSequence(seed)``;
- batches: each fold's own shuffled order split into ``batch_size`` chunks. Folds of different sizes have different
  numbers of batches per pass: the batches are padded to the longest fold and masked. A fold with no batch left at
  a step is not updated at all (its Adam step count and moments stay as they are), and a short last batch averages
  its loss over its real samples only;
- optimizer: torch's SGD (with momentum) and Adam written out on the stacked tensors, weight decay on Linear
  weights only, the L1 penalty, the learning rate of :func:`cic.train.iteration_learning_rate`, the matmul
  precision of :func:`cic.train.matmul_precision` (``mixed_precision``);
- history: the same columns per fold, measured with the same code (:func:`cic.train._evaluate`); ``seconds`` is the
  stacked epoch's wall time divided by k (each model's share).

Networks with BatchNorm (B) or Dropout (D) layers, and classifier autoencoders, are trained fold by fold with
:func:`cic.train.fit` instead (a log line says so): the stacked loop does not reproduce their random and running
state.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from cic.errors import InputError
from cic.io import atomic_path, write_table
from cic.model import Autoencoder, ClassifierAutoencoder, initialise_weights
from cic.train import (DTYPES, RESUMABLE_CHANGES, TrainConfig, _checked_data, _evaluate, _load, _summary,
                       data_fingerprint, fit, iteration_learning_rate, matmul_precision, resolve_device)

log = logging.getLogger(__name__)

STACKED_CHECKPOINT_FORMAT = "cic-stacked-checkpoint-1"
# Parameter-free layers that act on each feature (or, SoftMax, on each sample) independently: they work unchanged
# on a [folds, batch, features] block.
ELEMENTWISE = (nn.LogSigmoid, nn.Sigmoid, nn.ReLU, nn.Tanh, nn.Softplus, nn.Softshrink, nn.SiLU)
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which fit uses
ADAM_EPS = 1e-8


def can_stack(model: nn.Module) -> bool:
    """Whether :func:`fit_stacked` reproduces ``fit`` for this network: a plain autoencoder whose layers are all
    Linear or parameter-free activations (no BatchNorm, no Dropout)."""
    if isinstance(model, ClassifierAutoencoder) or not isinstance(model, Autoencoder):
        return False
    layers = [*model.encoder, *model.decoder]
    return all(isinstance(layer, (nn.Linear, nn.Softmax, *ELEMENTWISE)) for layer in layers)


class StackedAutoencoder:
    """k autoencoders of one architecture as stacked parameters; ``forward`` maps ``[k, batch, genes]`` to the
    k reconstructions.

    ``params`` maps each Linear parameter's state_dict name (``encoder.0.weight``...) to a stacked leaf tensor:
    biases ``[k, out]``, weights TRANSPOSED, ``[k, in, out]``, so that both the forward product ``x @ W`` and the
    weight gradient ``x^T @ grad`` are plain batched products of contiguous matrices (with ``[k, out, in]`` autograd
    copies every weight gradient into the parameter's layout: on a CPU that copy costs as much as the product).
    ``weights`` are the names of the Linear weights (penalised by weight decay and L1, not the biases).
    """

    def __init__(self, template: Autoencoder, seeds: list[int], device: torch.device, dtype: torch.dtype):
        self.template = copy.deepcopy(template).cpu().float()
        self.layers = [*self.template.encoder, *self.template.decoder]
        self.linear_names = []  # (weight name, bias name) of each Linear layer, in order
        for part in ("encoder", "decoder"):
            for index, layer in enumerate(getattr(self.template, part)):
                if isinstance(layer, nn.Linear):
                    self.linear_names.append((f"{part}.{index}.weight", f"{part}.{index}.bias"))
        self.weights = [weight for weight, _ in self.linear_names]
        states = []
        for seed in seeds:  # the initial weights fit draws: float32 on the CPU from the seed, then cast
            initialise_weights(self.template, seed)
            states.append({name: tensor.clone() for name, tensor in self.template.state_dict().items()})
        self.params = {name: torch.stack([self._stacked_layout(name, state[name]) for state in states])
                       .to(device=device, dtype=dtype).contiguous().requires_grad_()
                       for pair in self.linear_names for name in pair}

    def _stacked_layout(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """A Linear parameter of one model as stacked here: weights transposed to [in, out], biases as they are."""
        return tensor.T if name in self.weights else tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        linear = iter(self.linear_names)
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                weight, bias = next(linear)
                x = torch.baddbmm(self.params[bias].unsqueeze(1), x, self.params[weight])
            elif isinstance(layer, nn.Softmax):
                x = torch.softmax(x, dim=-1)  # over the features of each sample, as the model's Softmax(dim=1)
            else:
                x = layer(x)
        return x

    def model(self, index: int) -> Autoencoder:
        """Network ``index`` as an ordinary :class:`Autoencoder` (a copy on the stacked parameters' device)."""
        model = copy.deepcopy(self.template)
        first = next(iter(self.params.values()))
        model.to(device=first.device, dtype=first.dtype)
        model.load_state_dict({name: self._stacked_layout(name, tensor[index].detach())
                               for name, tensor in self.params.items()})
        return model


class StackedOptimizer:
    """torch.optim.SGD (momentum, no dampening, no Nesterov) and torch.optim.Adam (defaults), as ``fit`` builds
    them (:func:`cic.train.make_optimizer`), on stacked parameters, updating only the models in ``active``."""

    def __init__(self, params: dict[str, torch.Tensor], weights: list[str], config: TrainConfig):
        self.params, self.config = params, config
        self.decay = {name: config.weight_decay if name in weights else 0.0 for name in params}
        n_models = len(next(iter(params.values())))
        self.state = {"steps": torch.zeros(n_models, dtype=torch.float64)}  # per model, as Adam's "step"
        for name, tensor in params.items():
            if config.optimizer == "adam":
                self.state[f"{name}.exp_avg"] = torch.zeros_like(tensor, requires_grad=False)
                self.state[f"{name}.exp_avg_sq"] = torch.zeros_like(tensor, requires_grad=False)
            elif config.momentum > 0:
                self.state[f"{name}.momentum"] = torch.zeros_like(tensor, requires_grad=False)

    def _state_names(self, name: str) -> list[str]:
        if self.config.optimizer == "adam":
            return [f"{name}.exp_avg", f"{name}.exp_avg_sq"]
        return [f"{name}.momentum"] if self.config.momentum > 0 else []

    @torch.no_grad()
    def step(self, learning_rate: float, active: np.ndarray) -> None:
        """One update of the models where ``active`` (bool per model) is true, with their gradients."""
        everyone = bool(active.all())
        chosen = torch.from_numpy(np.flatnonzero(active))
        steps = self.state["steps"]
        steps[chosen] += 1
        for name, param in self.params.items():
            full = [param.detach(), *(self.state[state] for state in self._state_names(name))]
            rows = slice(None) if everyone else chosen.to(param.device)
            # Updated in place: the tensors themselves when every model is active, else the active models' rows
            # (copies), written back afterwards.
            tensors = full if everyone else [tensor[rows] for tensor in full]
            grads, active_steps = param.grad[rows], steps[chosen]
            # On the CPU one model at a time: its slices stay in cache through the update's chain of elementwise
            # operations (all models at once stream every operation's operands from memory: 2x slower). On a GPU
            # all models at once: one kernel per operation.
            one_by_one = param.device.type == "cpu"
            for chunk in [slice(i, i + 1) for i in range(len(grads))] if one_by_one else [slice(None)]:
                value, *state = (tensor[chunk] for tensor in tensors)
                grad = grads[chunk]
                if self.decay[name]:
                    grad = grad.add(value, alpha=self.decay[name])
                if self.config.optimizer == "adam":
                    self._adam(value, *state, grad, active_steps[chunk], learning_rate)
                else:
                    self._sgd(value, *state, grad, learning_rate=learning_rate)
            if not everyone:
                for whole, part in zip(full, tensors):
                    whole[rows] = part

    def _sgd(self, value, *buffer_and_grad, learning_rate):
        """torch.optim.SGD's update: its first step copies the gradient into the momentum buffer (ours is still 0
        then: the same), later steps decay the buffer and add the gradient."""
        *buffer, grad = buffer_and_grad
        if buffer:
            grad = buffer[0].mul_(self.config.momentum).add_(grad)
        value.add_(grad, alpha=-learning_rate)

    def _adam(self, value, exp_avg, exp_avg_sq, grad, steps, learning_rate):
        """torch.optim.Adam's update, with bias corrections per model (models may have taken different numbers of
        steps), computed in float64 as torch does."""
        beta1, beta2 = ADAM_BETAS
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        shape = (-1, *[1] * (grad.dim() - 1))
        step_size = (learning_rate / (1 - beta1 ** steps)).to(grad.device, grad.dtype).view(shape)
        correction2_sqrt = torch.sqrt(1 - beta2 ** steps).to(grad.device, grad.dtype).view(shape)
        denominator = exp_avg_sq.sqrt().div_(correction2_sqrt).add_(ADAM_EPS)
        value.sub_(exp_avg.div(denominator).mul_(step_size))

    def state_dict(self) -> dict:
        return {name: tensor.detach().cpu() for name, tensor in self.state.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, tensor in state.items():
            self.state[name] = tensor.to(self.state[name].device, self.state[name].dtype)


def fit_stacked(template: Autoencoder, x: np.ndarray, train_rows: list[np.ndarray], config: TrainConfig,
                seeds: list[int], *, test_rows: list[np.ndarray] | None = None, checkpoint_path=None,
                history_paths: list | None = None) -> tuple[list[Autoencoder], list[pd.DataFrame]]:
    """Train one copy of ``template``'s architecture per fold, all at once; return (models, histories).

    ``x`` is the whole matrix (samples x genes, kept once on the device); fold i trains on rows ``train_rows[i]``
    of ``x`` with seed ``seeds[i]`` (``config.seed`` is not used) and is tested on ``test_rows[i]``. Fold i ends
    with the weights and history that ``fit(model, x[train_rows[i]], replace(config, seed=seeds[i]),
    test_x=x[test_rows[i]])`` gives, up to floating-point rounding (batched kernels sum in another order).

    ``checkpoint_path``: one checkpoint for all folds (stacked weights, optimizer state, every fold's random
    streams and history), written atomically every ``checkpoint_every`` epochs and after the last; a run finding
    it resumes and ends as an uninterrupted run would. ``history_paths[i]``: fold i's history TSV, rewritten after
    each epoch. Networks that cannot be stacked (:func:`can_stack`) are trained fold by fold with ``fit``.
    """
    n_folds = len(train_rows)
    if n_folds == 0 or len(seeds) != n_folds or (test_rows is not None and len(test_rows) != n_folds) or (
            history_paths is not None and len(history_paths) != n_folds):
        raise ValueError(f"fit_stacked needs one seed (got {len(seeds)}), test row set and history path per fold "
                         f"(got {n_folds} training row sets)")
    x, _ = _checked_data(template, x, None, "x")
    train_rows = [_checked_rows(rows, len(x), f"train_rows[{i}]") for i, rows in enumerate(train_rows)]
    if test_rows is not None:
        test_rows = [_checked_rows(rows, len(x), f"test_rows[{i}]") for i, rows in enumerate(test_rows)]
    if not can_stack(template):
        return _fit_one_by_one(template, x, train_rows, config, seeds, test_rows, checkpoint_path, history_paths)

    device, dtype = resolve_device(config.device), DTYPES[config.dtype]
    data = torch.as_tensor(x).to(device=device, dtype=dtype)  # the whole matrix, once; batches are gathered
    stack = StackedAutoencoder(template, seeds, device, dtype)
    optimizer = StackedOptimizer(stack.params, stack.weights, config)
    streams = [_fold_streams(seed, device) for seed in seeds]
    train_index = [torch.from_numpy(rows).to(device) for rows in train_rows]
    test_index = [torch.from_numpy(rows).to(device) for rows in test_rows] if test_rows is not None else None
    fingerprint = data_fingerprint(x, *train_rows, *(test_rows or []))
    histories: list[list[dict]] = [[] for _ in range(n_folds)]
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        histories = _resume(checkpoint_path, stack, optimizer, streams, config, seeds, fingerprint, template)

    log.info("training %d %s networks stacked (%s training samples, seeds %s) on %s", n_folds, template.spec,
             "/".join(str(len(rows)) for rows in train_rows), ", ".join(map(str, seeds)), device)
    start_epoch = len(histories[0])
    with tqdm(range(start_epoch + 1, config.epochs + 1), initial=start_epoch, total=config.epochs,
              desc=f"training {n_folds} stacked", unit="epoch", disable=not config.progress) as bar:
        for epoch in bar:
            started = time.perf_counter()
            learning_rate = _train_epoch(stack, optimizer, data, train_rows, config, streams)
            seconds = (time.perf_counter() - started) / n_folds
            for fold in range(n_folds):
                model = stack.model(fold)
                train = _evaluate(model, {"x": data[train_index[fold]], "labels": None})
                test = (_evaluate(model, {"x": data[test_index[fold]], "labels": None}) if test_index is not None
                        else dict.fromkeys(train, float("nan")))
                row = {"epoch": epoch, "train_mse": train["mse"], "test_mse": test["mse"],
                       "learning_rate": learning_rate, "seconds": seconds}
                if not np.isfinite(row["train_mse"]):
                    raise FloatingPointError(f"training diverged: fold {fold} (seed {seeds[fold]}) has train MSE "
                                             f"{row['train_mse']} after epoch {epoch}; lower learning_rate "
                                             f"(now {config.learning_rate}) or momentum")
                histories[fold].append(row)
            if checkpoint_path is not None and (epoch % config.checkpoint_every == 0 or epoch == config.epochs):
                _save_checkpoint(checkpoint_path, stack, optimizer, streams, config, seeds, fingerprint, template,
                                 histories)
            for fold, path in enumerate(history_paths or []):
                write_table(pd.DataFrame(histories[fold]), path)
            mean_row = {name: float(np.mean([h[-1][name] for h in histories])) for name in ("train_mse", "test_mse")}
            summary = "mean " + _summary(mean_row)
            bar.set_postfix_str(summary, refresh=False)
            log.info("epoch %d/%d: %s", epoch, config.epochs, summary)
    models = [stack.model(fold).eval() for fold in range(n_folds)]
    return models, [pd.DataFrame(history) for history in histories]


def _checked_rows(rows, n_samples: int, name: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    if rows.ndim != 1 or len(rows) == 0 or not np.issubdtype(rows.dtype, np.integer) or rows.min() < 0 or \
            rows.max() >= n_samples:
        raise ValueError(f"{name} must be a non-empty list of row indices in 0..{n_samples - 1} (or a boolean mask)")
    return rows.astype(np.int64)


def _fold_streams(seed: int, device: torch.device) -> dict:
    """A fold's shuffle and input-noise streams, derived from its seed exactly as fit derives them."""
    shuffle_seed, noise_seed, _dropout_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
    return {"shuffle": np.random.default_rng(shuffle_seed),
            "noise": torch.Generator(device=device).manual_seed(noise_seed)}


def _train_epoch(stack: StackedAutoencoder, optimizer: StackedOptimizer, data: torch.Tensor,
                 train_rows: list[np.ndarray], config: TrainConfig, streams: list[dict]) -> float:
    """One epoch of ``iterations_per_epoch`` passes over every fold's training samples; return the last rate."""
    n_folds, n_genes = len(train_rows), data.shape[1]
    sizes = np.array([len(rows) for rows in train_rows])
    width = config.batch_size or int(sizes.max())  # padded batch width
    batches_per_fold = -(-sizes // (config.batch_size or sizes))  # ceil; one batch per fold when batch_size is None
    n_steps = int(batches_per_fold.max())
    for iteration in range(config.iterations_per_epoch):
        learning_rate = iteration_learning_rate(config, iteration)
        # Every fold's shuffled order, cut into its batches and padded: rows[step, fold, :] are data rows.
        rows = np.zeros((n_steps, n_folds, width), dtype=np.int64)
        real = np.zeros((n_steps, n_folds, width), dtype=bool)
        for fold, fold_rows in enumerate(train_rows):
            order = fold_rows[streams[fold]["shuffle"].permutation(len(fold_rows))]
            size = config.batch_size or len(fold_rows)
            for step in range(batches_per_fold[fold]):
                batch = order[step * size:(step + 1) * size]
                rows[step, fold, :len(batch)] = batch
                real[step, fold, :len(batch)] = True
        counts = real.sum(axis=2)  # real samples per step and fold; 0 = the fold sits this step out
        # Each fold's loss is the mean over its real samples and the genes: weight 1 / (count * genes) per row.
        row_weights = real / np.maximum(counts, 1)[:, :, None] / n_genes
        rows_t = torch.from_numpy(rows).to(data.device)
        weights_t = torch.from_numpy(row_weights).to(device=data.device, dtype=data.dtype)
        for step in range(n_steps):
            targets = data[rows_t[step]]  # [folds, width, genes]
            inputs = targets
            if config.input_noise_sd > 0:
                inputs = targets + config.input_noise_sd * _noise(streams, counts[step], targets)
            with matmul_precision(config, data.device):
                reconstruction = stack.forward(inputs)
                loss = ((reconstruction - targets) ** 2 * weights_t[step].unsqueeze(2)).sum()
                if config.l1 > 0:
                    loss = loss + config.l1 * sum(stack.params[name].abs().sum() for name in stack.weights)
            for param in stack.params.values():
                param.grad = None
            loss.backward()
            optimizer.step(learning_rate, counts[step] > 0)
    return learning_rate


def _noise(streams: list[dict], counts: np.ndarray, targets: torch.Tensor) -> torch.Tensor:
    """Each fold's input noise for its real rows, drawn from its own generator as fit draws it (padding: 0)."""
    noise = torch.zeros_like(targets)
    for fold, count in enumerate(counts):
        if count:
            noise[fold, :count] = torch.randn((int(count), targets.shape[2]), generator=streams[fold]["noise"],
                                              device=targets.device, dtype=targets.dtype)
    return noise


def _fit_one_by_one(template, x, train_rows, config, seeds, test_rows, checkpoint_path, history_paths):
    log.info("layer spec %s (%s) cannot be trained stacked (BatchNorm, Dropout or a classifier head): training "
             "the %d folds one after another with cic.train.fit", template.spec, type(template).__name__,
             len(train_rows))
    models, histories = [], []
    for fold, (rows, seed) in enumerate(zip(train_rows, seeds)):
        model = copy.deepcopy(template)
        checkpoint = None if checkpoint_path is None else Path(checkpoint_path).with_suffix(f".fold{fold}.pt")
        history = fit(model, x[rows], _with_seed(config, seed), test_x=None if test_rows is None else
                      x[test_rows[fold]], checkpoint_path=checkpoint,
                      history_path=None if history_paths is None else history_paths[fold])
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        models.append(model.eval())
        histories.append(history)
    return models, histories


def _with_seed(config: TrainConfig, seed: int) -> TrainConfig:
    return TrainConfig(**(asdict(config) | {"seed": int(seed)}))


def _checkpoint_identity(config: TrainConfig, seeds, fingerprint: str, template: Autoencoder) -> dict:
    settings = {name: value for name, value in asdict(config).items()
                if name not in RESUMABLE_CHANGES and name != "seed"}
    return {"config": settings, "seeds": [int(seed) for seed in seeds], "data_fingerprint": fingerprint,
            "model": template.metadata()}


def _save_checkpoint(path, stack, optimizer, streams, config, seeds, fingerprint, template, histories) -> None:
    state = {
        "format": STACKED_CHECKPOINT_FORMAT,
        "epoch": histories[0][-1]["epoch"],
        **_checkpoint_identity(config, seeds, fingerprint, template),
        "params": {name: tensor.detach().cpu() for name, tensor in stack.params.items()},
        "optimizer_state": optimizer.state_dict(),
        "shuffle_rng_states": [fold["shuffle"].bit_generator.state for fold in streams],
        "noise_rng_states": [fold["noise"].get_state() for fold in streams],
        "histories": histories,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(path, stack, optimizer, streams, config, seeds, fingerprint, template) -> list[list[dict]]:
    """Load a stacked checkpoint after checking it belongs to this run; return the folds' histories."""
    delete = "delete the checkpoint to train from scratch"
    state = _load(path, STACKED_CHECKPOINT_FORMAT, delete)
    expected = _checkpoint_identity(config, seeds, fingerprint, template)
    for key, value in expected.items():
        if state.get(key) != value:
            what = {"config": "other training settings", "seeds": "other seeds", "model": "another network",
                    "data_fingerprint": "other data or folds"}[key]
            raise InputError(path, f"checkpoint was written with {what} ({key}: {state.get(key)!r}, this run: "
                                   f"{value!r})", f"{delete}, or train with its settings")
    if state["epoch"] > config.epochs:
        raise InputError(path, f"checkpoint is at epoch {state['epoch']}, beyond epochs={config.epochs}",
                         f"{delete}, or raise epochs")
    with torch.no_grad():
        for name, tensor in stack.params.items():
            tensor.copy_(state["params"][name])
    optimizer.load_state_dict(state["optimizer_state"])
    for fold, shuffle_state, noise_state in zip(streams, state["shuffle_rng_states"], state["noise_rng_states"]):
        fold["shuffle"].bit_generator.state = shuffle_state
        fold["noise"].set_state(noise_state)
    log.info("resuming %d stacked networks from %s after epoch %d", len(seeds), path, state["epoch"])
    return state["histories"]
