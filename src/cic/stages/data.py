"""Data stage: simulate or read the compendium, prepare it, select top-variance genes, assign splits."""

from __future__ import annotations

import logging
import numpy as np
import pandas as pd

from cic import io
from cic.dataset import read_expression
from cic.identifiers import map_to_symbols, read_symbol_mapping
from cic.prepare import PreparationSettings, prepare, top_variance_genes
from cic.simulate import SimulationConfig, simulate_compendium, write_compendium
from cic.splits import assign_splits, read_splits  # noqa: F401  (read_splits: its readers import it from here)

log = logging.getLogger(__name__)


def simulate(settings: dict, samples_per_type: int, seed: int, expression, sample_sheet, programs, activity,
             loadings) -> None:
    config = SimulationConfig(samples_per_type=samples_per_type, seed=seed,
                              **{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})
    log.info("simulating %d cell types x %d samples x %d genes (seed %d)", 16, samples_per_type, config.n_genes,
             seed)
    compendium = simulate_compendium(config)
    write_compendium(compendium, expression, sample_sheet, programs, activity, loadings)


def _sample_quantiles(matrix: np.ndarray, prefix: str) -> pd.DataFrame:
    quartiles = np.quantile(matrix, [0.25, 0.5, 0.75], axis=1).T
    return pd.DataFrame(quartiles, columns=[f"{prefix}_q25", f"{prefix}_median", f"{prefix}_q75"])


def prepare_expression(expression, sample_sheet, local: dict, dataset: dict, preprocess: dict, seed: int,
                       output, sample_quality, annotation=None) -> None:
    """Read (and validate) the matrix, prepare it, write the AnnData container and per-sample quality table.

    With ``annotation`` (a platform annotation file, ``dataset.local.annotation``), the matrix's probe ids are
    mapped to gene symbols first (:func:`cic.identifiers.map_to_symbols`). Everything is computed first and both
    files are then written together (:func:`cic.io.atomic_paths`): a bad input or a failed write leaves neither.
    """
    raw = read_expression(expression, local.get("orientation", "genes_x_samples"), sample_sheet,
                          local.get("sample_column", "sample"), local.get("cell_type_column", "cell_type"),
                          local.get("study_column", "study"), local.get("layer"))
    log.info("read %d samples x %d gene ids from %s", *raw.matrix.shape, expression)
    if annotation:
        settings = local.get("annotation") or {}
        mapping = read_symbol_mapping(annotation, settings.get("id_column"),
                                      settings.get("symbol_column", "Gene symbol"),
                                      settings.get("multi_symbol_probes", "drop"))
        raw = map_to_symbols(raw, mapping, annotation)
    settings = PreparationSettings(
        samples_per_type=dataset.get("samples_per_type"), cell_types=dataset.get("cell_types"),
        log2=preprocess["log2"], log2_offset=preprocess["log2_offset"], log2_floor=preprocess.get("log2_floor"),
        collapse_duplicate_genes=preprocess["collapse_duplicate_genes"],
        quantile_normalize=preprocess["quantile_normalize"], seed=seed)
    matrix, samples, genes, provenance = prepare(raw, settings)

    # Per-sample quartiles before (log2, not normalised) and after preparation, for the data overview figure.
    selected_raw = raw.matrix[raw.samples.index.get_indexer(samples.index)]
    floor = settings.log2_floor if settings.log2_floor is not None else 0
    before = np.log2(np.maximum(selected_raw, floor) + settings.log2_offset) if provenance["log2_applied"] \
        else selected_raw
    quality = pd.concat([samples.reset_index(), _sample_quantiles(before, "before"),
                         _sample_quantiles(matrix, "after")], axis=1)

    adata = io.expression_container(matrix, samples, genes, source=dataset["source"], expression_file=str(expression),
                                    sample_sheet=str(sample_sheet) if sample_sheet else None, seed=seed,
                                    **provenance)
    with io.atomic_paths(output, sample_quality) as (h5ad_tmp, quality_tmp):
        adata.write_h5ad(h5ad_tmp)
        io.write_table(quality, quality_tmp)
    log.info("wrote %d samples x %d genes to %s", *adata.shape, output)


def prepare_dataset(expression, local: dict, dataset: dict, preprocess: dict, seed: int, output, sample_quality,
                    sample_sheet=None, annotation=None) -> None:
    """The rule's entry (workflow/rules/data.smk, prepare_expression): :func:`prepare_expression` with the rule's
    named files; the sample sheet and the platform annotation are inputs only when the data have them."""
    prepare_expression(expression, sample_sheet, local, dataset, preprocess, seed, output, sample_quality, annotation)


def _annotation_source(adata) -> str:
    """The file the cell types of a prepared container came from (errors about types name it)."""
    provenance = adata.uns.get("provenance", {})
    return str(provenance.get("sample_sheet") or provenance.get("expression_file") or "the prepared data")


def select_top_variance(expression, n_genes: int, output) -> None:
    adata = io.read_h5ad(expression)
    keep = top_variance_genes(adata.X, list(adata.var_names), n_genes, expression)
    subset = adata[:, keep].copy()
    subset.uns["provenance"] = dict(adata.uns["provenance"]) | {"top_variance_genes": n_genes}
    io.write_h5ad(subset, output)
    log.info("kept the %d highest-variance genes of %d", n_genes, adata.n_vars)


def make_splits(expression, test_fraction: float, cv_folds: int, noise_cv_folds: int, seed: int, output) -> None:
    """results/data/splits.tsv; a cell type too small for the splits is a one-line error naming the sample sheet
    (before any training, since every training job reads the splits)."""
    adata = io.read_h5ad(expression)
    table = assign_splits(adata.obs, test_fraction, cv_folds, noise_cv_folds, seed, _annotation_source(adata))
    io.write_table(table, output)
    counts = table["split"].value_counts()
    log.info("train %d / test %d samples; %d CV folds, %d noise CV folds", counts.get("train", 0),
             counts.get("test", 0), cv_folds, noise_cv_folds)


def plot_overview(expression, sample_quality, splits, data_overview_png, data_overview_svg) -> None:
    from cic.figures.data import plot_data_overview

    quality = pd.read_csv(sample_quality, sep="\t", dtype={"sample": str})
    plot_data_overview(io.read_h5ad(expression), quality, read_splits(splits), data_overview_png, data_overview_svg)
