"""Autoencoder stage: train networks on subsets of samples, encode every profile, reproduce it.

Shared by every experiment that trains: Fig 2a cross-validation, the main 75/25 model, the sweeps (Figs 8, 9),
leave-one-type-out (Fig 3) and the classifiers. Which samples train and which test is a :class:`Holdout`; one call
of :func:`train_autoencoders` trains one network per holdout (one for a per-fold rule, all folds for a stacked one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cic import io
from cic.splits import read_splits

if TYPE_CHECKING:  # torch loads in the functions that train or encode: the table and figure steps import this
    from cic.model import Autoencoder  # module for its holdouts and readers only
    from cic.train import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holdout:
    """Samples whose ``column`` in splits.tsv equals ``value`` are the test set; the others train."""

    column: str
    value: str | int

    def test_mask(self, splits: pd.DataFrame) -> np.ndarray:
        if self.column not in splits.columns:
            raise ValueError(f"splits table has no column {self.column!r}")
        return (splits[self.column].astype(str) == str(self.value)).to_numpy()


MAIN_HOLDOUT = Holdout("split", "test")


def cv_holdout(fold: int) -> Holdout:
    return Holdout("cv_fold", int(fold))


def load_expression_and_splits(expression_path, splits_path) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """The prepared matrix (samples x genes, float32) and the splits table, checked to describe the same samples."""
    adata = io.read_h5ad(expression_path)
    splits = read_splits(splits_path)
    if list(splits["sample"]) != list(adata.obs_names):
        raise ValueError(f"{splits_path} does not list the samples of {expression_path} in the same order; "
                         "re-run the data stage (snakemake --forcerun assign_splits)")
    return np.asarray(adata.X, dtype=np.float32), splits, list(adata.var_names)


# Keys of the config's ``training`` section that choose how the workflow trains, not what: not TrainConfig fields.
WORKFLOW_TRAINING_KEYS = ("batched_folds",)


def train_config(training: dict, seed: int, **overrides) -> TrainConfig:
    """TrainConfig from the config's ``training`` section, a seed, and experiment-specific overrides."""
    from cic.train import TrainConfig

    settings = {name: value for name, value in dict(training).items() if name not in WORKFLOW_TRAINING_KEYS}
    return TrainConfig(**(settings | {"seed": int(seed)} | overrides))


def checked_test_mask(holdout: Holdout, splits: pd.DataFrame) -> np.ndarray:
    """The holdout's test mask, refused when it leaves no training or no test sample."""
    test = holdout.test_mask(splits)
    if not test.any() or test.all():
        raise ValueError(f"holdout {holdout} leaves {int((~test).sum())} training and {int(test.sum())} test samples")
    return test


def model_meta(genes: list[str], holdout: Holdout, seed: int) -> dict:
    """What every trained autoencoder's model file records beside the weights (cic.train.save_model's meta)."""
    return {"genes": genes, "holdout_column": holdout.column, "holdout_value": str(holdout.value), "seed": int(seed)}


def default_checkpoint(model_path) -> Path:
    """The checkpoint of a job training one network: beside its model file (model.checkpoint.pt)."""
    return Path(model_path).with_name(Path(model_path).stem + ".checkpoint.pt")


def train_autoencoders(expression, splits_path, holdouts: list[Holdout], architecture: str, training: dict,
                       seeds: list[int], model_paths: list, history_paths: list, checkpoint_path=None,
                       threads: int = 1) -> list[pd.DataFrame]:
    """Train one network of ``architecture`` per holdout, all at once (:func:`cic.train.fit`; one holdout for a
    job that trains one network; a holdout may be given as its ``(column, value)`` pair, as a rule's params do):
    network i trains on the samples outside ``holdouts[i]`` with ``seeds[i]``
    (its validation subset drawn from them, stratified by cell type), is tested on the holdout after every epoch,
    and ends in ``model_paths[i]`` (the weights of its best validation epoch) and ``history_paths[i]``.

    ``checkpoint_path`` (default: beside the first model file) lets a killed job resume when the rule is re-run;
    it is deleted once every model is written.
    """
    holdouts = [holdout if isinstance(holdout, Holdout) else Holdout(*holdout) for holdout in holdouts]
    if not len(holdouts) == len(seeds) == len(model_paths) == len(history_paths) >= 1:
        raise ValueError(f"train_autoencoders needs one seed, model path and history path per holdout, got "
                         f"{len(holdouts)} holdouts, {len(seeds)} seeds, {len(model_paths)} model paths and "
                         f"{len(history_paths)} history paths")
    import torch

    from cic.model import Autoencoder

    torch.set_num_threads(max(1, int(threads)))
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    template = Autoencoder(matrix.shape[1], architecture)
    log.info("training %s on %d genes for %d holdout(s): %s", template.spec, matrix.shape[1], len(holdouts),
             ", ".join(f"{h.column} == {h.value}" for h in holdouts))
    return fit_and_save(template, matrix, splits, holdouts, train_config(training, seeds[0]), seeds, model_paths,
                        history_paths, checkpoint_path, [model_meta(genes, h, s) for h, s in zip(holdouts, seeds)])


def fit_and_save(template: Autoencoder, matrix: np.ndarray, splits: pd.DataFrame, holdouts: list[Holdout],
                 config: TrainConfig, seeds: list[int], model_paths: list, history_paths: list, checkpoint_path,
                 metas: list[dict], labels: np.ndarray | None = None) -> list[pd.DataFrame]:
    """:func:`cic.train.fit` of one network per holdout (validation stratified by the splits' cell type), with a
    checkpoint (default: beside the first model file; deleted at the end), then :func:`cic.train.save_model` of
    each network with its ``metas[i]``."""
    from cic.train import fit, save_model

    tests = [checked_test_mask(holdout, splits) for holdout in holdouts]
    checkpoint = Path(checkpoint_path) if checkpoint_path is not None else default_checkpoint(model_paths[0])
    networks, histories = fit(template, matrix, config, train_rows=[np.flatnonzero(~test) for test in tests],
                              test_rows=[np.flatnonzero(test) for test in tests], seeds=[int(s) for s in seeds],
                              labels=labels, strata=splits["cell_type"].astype(str).to_numpy(),
                              checkpoint_path=checkpoint, history_paths=history_paths)
    for network, path, meta, holdout, history in zip(networks, model_paths, metas, holdouts, histories):
        save_model(network, path, meta)
        kept = history[history["kept"]].iloc[0]
        log.info("%s == %s: kept epoch %d of %d, test MSE %.4f (validation %.4f)", holdout.column, holdout.value,
                 kept["epoch"], len(history), kept["test_mse"], kept["validation_mse"])
    checkpoint.unlink(missing_ok=True)
    return histories


def encode_profiles(model_path, expression, splits_path, codes_path, reproduced_path) -> None:
    """CICs of every sample (table) and REPs of every sample (AnnData with the split in obs)."""
    from cic.train import encode, load_model, reconstruct

    model, meta = load_model(model_path)
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    if meta.get("genes") != genes:
        raise ValueError(f"{model_path} was trained on other genes than {expression}")
    write_codes(encode(model, matrix), splits, codes_path)
    reproduced = reconstruct(model, matrix)
    samples = splits.set_index("sample")[["cell_type", "study", "split"]]
    container = io.expression_container(reproduced, samples, genes, model=str(model_path), spec=model.spec)
    io.write_h5ad(container, reproduced_path)


def write_codes(codes: np.ndarray, splits: pd.DataFrame, codes_path) -> None:
    """The CIC table: sample, cell_type, study, split, then CIC01..CICnn, one row per sample of ``splits``."""
    code_columns = [f"CIC{i + 1:02d}" for i in range(codes.shape[1])]
    code_table = pd.concat([splits[["sample", "cell_type", "study", "split"]].reset_index(drop=True),
                            pd.DataFrame(codes, columns=code_columns)], axis=1)
    io.write_table(code_table, codes_path)


def read_histories(paths, key_name: str, keys) -> pd.DataFrame:
    """Concatenate per-run history tables, adding a column ``key_name`` (e.g. fold) with each run's key."""
    frames = [pd.read_csv(path, sep="\t").assign(**{key_name: key}) for path, key in zip(paths, keys)]
    return pd.concat(frames, ignore_index=True)
