"""The reference bundle: a trained classifier autoencoder with everything a new sample needs to be compared with it.

A bundle is a folder (the workflow writes ``results/reference/``) of three files:

* ``weights.pt``: the network's state_dict, plain tensors only (``torch.load(path, weights_only=True)`` reads it),
  including the input centring buffers ``input_mean`` and ``input_scale`` (:mod:`cic.model`);
* ``reference.json``: format version, package version, the genes in order, the preprocessing as the data stage
  applied it (log2 rule, offset and floor; Ensembl version stripping; the repeated-gene rule; the quantile
  normalisation target: the reference's sorted mean quantiles), the input centring, the cell-type labels in the
  classifier's output order, the architecture and training settings, the unassigned threshold (the 99th
  percentile of the reconstruction MSE of the network's own training samples) and a data fingerprint (SHA-256 of
  the prepared expression matrix, float32, samples x genes);
* ``reference_codes.tsv``: the CICs of every reference sample (sample, cell_type, split, CIC01..).

:func:`write_reference` makes a bundle from the classifier autoencoder (the paper's model for classification, Fig 4);
:func:`load_reference` reads one back and refuses a bundle of another format version with one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cic import __version__, io
from cic.errors import InputError

log = logging.getLogger(__name__)

REFERENCE_FORMAT = "cic-reference-1"
REFERENCE_JSON = "reference.json"
WEIGHTS_FILE = "weights.pt"
CODES_FILE = "reference_codes.tsv"
MSE_QUANTILE = 0.99  # the unassigned threshold: this quantile of the training samples' reconstruction MSE
REBUILD_FIX = ("rebuild the bundle with this version (snakemake --cores all results/reference/reference.json), or "
               "install the cic-workflow version that wrote it")


@dataclass
class Reference:
    """A loaded bundle: ``model`` (a ClassifierAutoencoder in eval mode), ``meta`` (reference.json as a dict),
    ``codes`` (the reference samples' CICs with sample, cell_type and split columns), and ``folder``."""

    model: object
    meta: dict
    codes: pd.DataFrame
    folder: Path

    @property
    def genes(self) -> list[str]:
        return list(self.meta["genes"])

    @property
    def cell_types(self) -> list[str]:
        return list(self.meta["cell_types"])

    @property
    def code_matrix(self) -> np.ndarray:
        """The reference CICs, samples x code_size (float64)."""
        return self.codes[[c for c in self.codes.columns if c.startswith("CIC")]].to_numpy(dtype=np.float64)


def data_fingerprint(matrix: np.ndarray) -> str:
    """SHA-256 of a samples x genes matrix as contiguous float32 (the prepared expression the network saw)."""
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float32).tobytes()).hexdigest()


def target_distribution(matrix: np.ndarray) -> np.ndarray:
    """The quantile-normalisation target of a samples x genes matrix: the mean of its samples' sorted values
    (ascending, one value per gene; log2 scale). On the prepared (already normalised) reference this gives back the
    target it was normalised to (Bolstad et al. 2003; ties differ only within a tie group)."""
    return np.sort(np.asarray(matrix, dtype=np.float64), axis=1).mean(axis=0)


def reconstruction_mse(gep: np.ndarray, rep: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Per-sample MSE of REP vs GEP (samples x genes, log2), over the genes where ``present`` is True (all if None)."""
    squared = np.square(np.asarray(rep, dtype=np.float64) - np.asarray(gep, dtype=np.float64))
    if present is None:
        return squared.mean(axis=1)
    present = np.broadcast_to(np.asarray(present, dtype=bool), squared.shape)
    return np.where(present, squared, 0.0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def mse_threshold(mse: np.ndarray, train_rows: np.ndarray, validation_fraction: float, seed: int,
                  strata: np.ndarray) -> tuple[float, str, int]:
    """The unassigned threshold of a network: the MSE_QUANTILE of its training samples' reconstruction MSE
    (``mse``: one value per sample), over the validation subset that :func:`cic.train.fit` set aside from them
    (:func:`cic.train.validation_split` with the network's seed: training samples it never fitted, so their MSE is
    what an unseen sample of a known type gets), or over every training sample when it had none. Returns
    (threshold, which samples, how many)."""
    from cic.train import validation_split

    _, validation = validation_split(np.asarray(train_rows), float(validation_fraction), int(seed), strata)
    rows, which = (validation, "validation subset of the training samples") if len(validation) else \
        (np.asarray(train_rows), "training samples")
    return float(np.quantile(mse[rows], MSE_QUANTILE)), which, len(rows)


def log2_rule(preprocess: dict, provenance: dict) -> dict:
    """The log2 step as the data stage applied it, for a query to repeat: ``mode`` (``auto``: GEO2R's rule decided;
    ``true``/``false``: fixed by ``preprocess.log2``), whether it was applied to the reference, offset and floor."""
    setting = preprocess.get("log2", "auto")
    mode = "auto" if setting == "auto" else ("true" if bool(setting) else "false")
    return {"mode": mode, "applied_to_reference": bool(provenance.get("log2_applied", False)),
            "reference_decision": str(provenance.get("log2_decision", "")),
            "offset": float(preprocess.get("log2_offset", 1.0)),
            "floor": None if preprocess.get("log2_floor") is None else float(preprocess["log2_floor"]),
            "rule": "GEO2R: log2 when q99 > 100, or max - min > 50 and Q1 > 0, or 0 < Q1 < 1 < Q3 < 2; a query "
                    "sample is judged on its own values (cic.query)"}


def write_reference(model_path, expression, splits_path, preprocess: dict, training: dict, out_dir) -> None:
    """Write a bundle (module docstring) to ``out_dir`` from the classifier autoencoder at ``model_path``
    (:func:`cic.stages.classification.train_classifier_autoencoder`), the prepared expression it was trained on
    (``expression``, samples x genes, log2 and quantile normalised) and ``splits_path``. ``preprocess`` and
    ``training`` are the config sections the data were prepared and the network trained with.

    Raises :class:`InputError` when the model was trained on other genes or is not a classifier autoencoder.
    """
    import torch

    from cic.model import ClassifierAutoencoder
    from cic.stages.autoencoder import load_expression_and_splits
    from cic.train import encode, load_model, reconstruct

    model, model_meta = load_model(model_path)
    if not isinstance(model, ClassifierAutoencoder):
        raise InputError(model_path, f"is a {model.kind}, not a classifier autoencoder",
                         "make the bundle from results/models/classifier_autoencoder/model.pt")
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    if model_meta.get("genes") != genes:
        raise InputError(model_path, f"was trained on other genes than {expression}",
                         "re-run train_classifier_autoencoder")
    provenance = dict(io.read_h5ad(expression).uns.get("provenance", {}))
    train = (splits[model_meta["holdout_column"]].astype(str) != str(model_meta["holdout_value"])).to_numpy()
    mse = reconstruction_mse(matrix, reconstruct(model, matrix))
    threshold, threshold_from, n_threshold = mse_threshold(
        mse, np.flatnonzero(train), training.get("validation_fraction", 0.0), model_meta["seed"],
        splits["cell_type"].astype(str).to_numpy())
    codes = encode(model, matrix)
    quantile_normalised = bool(provenance.get("quantile_normalized", preprocess.get("quantile_normalize", True)))
    meta = {
        "format": REFERENCE_FORMAT,
        "package_version": __version__,
        "genes": genes,
        "cell_types": [str(name) for name in model_meta["classes"]],
        "preprocessing": {
            "log2": log2_rule(preprocess, provenance),
            "strip_ensembl_versions": True,
            "collapse_duplicate_genes": str(provenance.get("collapse_duplicate_genes",
                                                           preprocess.get("collapse_duplicate_genes", "max_mean"))),
            "quantile_normalisation": {
                "applied": quantile_normalised,
                "target": target_distribution(matrix).tolist() if quantile_normalised else None,
                "target_is": "mean of the reference samples' sorted log2 values, ascending (one per gene)",
            },
            "gene_id_kind": provenance.get("gene_id_kind"),
            "missing_genes_filled_with": "input_mean (the network's per-gene training mean, normalised log2 scale)",
        },
        "input_centring": {"conditioning": str(training.get("conditioning", "centre")),
                           "tensors": ["input_mean", "input_scale"], "file": WEIGHTS_FILE,
                           "applied_as": "(GEP - input_mean) / input_scale before the encoder; the decoder's output "
                                         "* input_scale + input_mean"},
        "architecture": model.metadata(),
        "training": dict(training) | {"seed": model_meta.get("seed")},
        "unassigned": {"reconstruction_mse_quantile": MSE_QUANTILE, "reconstruction_mse_threshold": threshold,
                       "threshold_from": threshold_from, "n_threshold_samples": n_threshold,
                       "training_samples_quantile": float(np.quantile(mse[train], MSE_QUANTILE)),
                       "n_training_samples": int(train.sum()),
                       "training_samples": f"{model_meta['holdout_column']} != {model_meta['holdout_value']}"},
        "data_fingerprint": {"sha256": data_fingerprint(matrix), "of": "prepared expression, float32, samples x "
                             "genes", "n_samples": int(matrix.shape[0]), "n_genes": int(matrix.shape[1]),
                             "expression_file": str(expression)},
    }
    table = pd.concat([splits[["sample", "cell_type", "split"]].reset_index(drop=True),
                       pd.DataFrame(codes, columns=[f"CIC{i + 1:02d}" for i in range(codes.shape[1])])], axis=1)
    out_dir = Path(out_dir)
    with io.atomic_paths(out_dir / WEIGHTS_FILE, out_dir / REFERENCE_JSON, out_dir / CODES_FILE) as (w, j, c):
        torch.save({name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}, w)
        j.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        io.write_table(table, c)
    log.info("wrote the reference bundle to %s: %d genes, %d cell types, %d samples; unassigned above MSE %.4g "
             "(%g quantile of %d samples it did not fit)", out_dir, len(genes), len(meta["cell_types"]), len(table),
             threshold, MSE_QUANTILE, n_threshold)


def load_reference(folder) -> Reference:
    """Read a bundle written by :func:`write_reference`. Raises :class:`InputError` (one line) for a missing folder
    or file, unreadable JSON, another format version (naming both), or weights that do not fit the architecture."""
    import torch

    from cic.model import build_model

    folder = Path(folder)
    path = folder / REFERENCE_JSON
    if not path.is_file():
        raise InputError(path, "reference bundle not found",
                         "give --model the folder the workflow wrote (results/reference)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(path, f"is not valid JSON ({error})", REBUILD_FIX) from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != REFERENCE_FORMAT:
        raise InputError(path, f"is a reference bundle of format {found!r}, but this cic (version {__version__}) "
                               f"reads format {REFERENCE_FORMAT!r} (the bundle was written by cic "
                               f"{meta.get('package_version', 'unknown') if isinstance(meta, dict) else 'unknown'})",
                         REBUILD_FIX)
    weights = folder / meta["input_centring"].get("file", WEIGHTS_FILE)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model = build_model(meta["architecture"])
        model.load_state_dict(state)
    except FileNotFoundError:
        raise InputError(weights, "weights file of the reference bundle not found", REBUILD_FIX) from None
    except Exception as error:  # unpickling or shape errors: one line, the bundle is damaged
        raise InputError(weights, f"cannot be loaded into the bundle's architecture ({type(error).__name__})",
                         REBUILD_FIX) from None
    codes = pd.read_csv(folder / CODES_FILE, sep="\t", dtype={"sample": str, "cell_type": str},
                        keep_default_na=False)
    return Reference(model.eval(), meta, codes, folder)
