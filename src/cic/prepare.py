"""Data preparation: balanced sample selection, log2, probe collapsing, quantile normalisation, top-variance genes.

Order (as in the paper's Methods: "log2 transformed and quantile normalized"):
select ``samples_per_type`` per type -> log2(x + offset) -> collapse repeated gene ids -> quantile normalise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cic.dataset import RawDataset
from cic.errors import InputError

log = logging.getLogger(__name__)

COLLAPSE_RULES = ("max_mean", "mean", "median", "first")


@dataclass
class PreparationSettings:
    samples_per_type: int | None = 65  # None keeps every sample
    cell_types: list[str] | None = None  # None keeps every type of the sample sheet
    log2: str | bool = "auto"  # True, False or "auto" (GEO2R's rule)
    log2_offset: float = 1.0
    collapse_duplicate_genes: str = "max_mean"
    quantile_normalize: bool = True
    seed: int = 1


def looks_log_transformed(matrix: np.ndarray) -> bool:
    """GEO2R's rule: data are raw-scale if the 99th percentile > 100, or the range > 50 with a positive Q1."""
    q0, q25, q99, q100 = np.quantile(matrix, [0.0, 0.25, 0.99, 1.0])
    raw_scale = q99 > 100 or (q100 - q0 > 50 and q25 > 0)
    return not raw_scale


def log2_transform(matrix: np.ndarray, offset: float, source: str, sample_ids, genes) -> np.ndarray:
    negative = matrix < 0
    if negative.any():
        row, col = (int(i[0]) for i in np.nonzero(negative))
        raise InputError(source, f"negative value {matrix[row, col]:g} at sample '{sample_ids[row]}', "
                                 f"gene '{genes[col]}' but log2 was requested",
                         "set preprocess.log2 to false if the data are already on log scale")
    return np.log2(matrix + offset)


def collapse_duplicate_genes(matrix: np.ndarray, genes: list[str], rule: str = "max_mean"):
    """Collapse repeated gene ids (probe sets): ``max_mean`` keeps the row with the highest mean (WGCNA's
    collapseRows default), ``mean``/``median`` average them, ``first`` keeps the first. Returns (matrix, genes)."""
    if rule not in COLLAPSE_RULES:
        raise ValueError(f"unknown collapse rule {rule!r}; use one of {COLLAPSE_RULES}")
    gene_index = pd.Index(genes)
    if gene_index.is_unique:
        return matrix, list(genes)
    frame = pd.DataFrame(matrix.T, index=gene_index)
    if rule == "first":
        collapsed = frame[~gene_index.duplicated(keep="first")]
    elif rule == "max_mean":
        means = pd.Series(frame.mean(axis=1).to_numpy(), index=np.arange(len(genes)))
        best = means.groupby(gene_index.to_numpy(), sort=False).idxmax()
        collapsed = frame.iloc[np.sort(best.to_numpy())]
    else:
        collapsed = frame.groupby(level=0, sort=False).agg(rule)
    log.info("collapsed %d gene ids into %d genes (%s)", len(genes), len(collapsed), rule)
    return np.ascontiguousarray(collapsed.to_numpy().T), [str(g) for g in collapsed.index]


def quantile_normalize(matrix: np.ndarray) -> np.ndarray:
    """Quantile-normalise samples (rows of a samples x genes matrix) to their mean sorted distribution.

    Tied values within a sample get the mean of the reference values over their tied ranks (as preprocessCore).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    reference = np.sort(matrix, axis=1).mean(axis=0)
    # Cumulative sums let each tie group take the mean of its reference slice in O(n).
    cumulative = np.concatenate([[0.0], np.cumsum(reference)])
    normalized = np.empty_like(matrix)
    for row, values in enumerate(matrix):
        order = np.argsort(values, kind="stable")
        sorted_values = values[order]
        starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
        ends = np.r_[starts[1:], len(values)]
        group_means = (cumulative[ends] - cumulative[starts]) / (ends - starts)
        normalized[row, order] = np.repeat(group_means, ends - starts)
    return normalized


def select_balanced_samples(samples: pd.DataFrame, samples_per_type: int | None, seed: int,
                            cell_types: list[str] | None = None, source: str = "sample sheet") -> pd.Index:
    """Pick ``samples_per_type`` samples of each type, spread over studies (round robin in a seeded order)."""
    present = samples["cell_type"].value_counts()
    if cell_types:
        unknown = [t for t in cell_types if t not in present.index]
        if unknown:
            raise InputError(source, f"cell type '{unknown[0]}' of dataset.cell_types has no samples "
                                     f"(types present: {', '.join(sorted(present.index))})",
                             "fix the name in dataset.cell_types")
        samples = samples[samples["cell_type"].isin(cell_types)]
        present = present.loc[cell_types]
    if len(present) < 2:
        raise InputError(source, f"only {len(present)} cell type(s) in column 'cell_type'",
                         "provide samples of at least 2 cell types")
    if samples_per_type is None:
        return samples.index
    too_few = present[present < samples_per_type]
    if len(too_few):
        cell_type, count = too_few.index[0], int(too_few.iloc[0])
        raise InputError(source, f"cell type '{cell_type}' (column 'cell_type') has {count} samples, fewer than "
                                 f"samples_per_type = {samples_per_type}",
                         "lower dataset.samples_per_type or leave that type out with dataset.cell_types")
    rng = np.random.default_rng(seed)
    chosen = []
    for cell_type in sorted(present.index):
        of_type = samples[samples["cell_type"] == cell_type]
        by_study = [list(rng.permutation(group.index)) for _, group in of_type.groupby("study", sort=True)]
        by_study = [by_study[i] for i in rng.permutation(len(by_study))]
        picked = []
        while len(picked) < samples_per_type:
            for queue in by_study:
                if queue and len(picked) < samples_per_type:
                    picked.append(queue.pop(0))
        chosen.extend(picked)
    chosen_set = set(chosen)
    return pd.Index([s for s in samples.index if s in chosen_set], name=samples.index.name)


def prepare(raw: RawDataset, settings: PreparationSettings, source: str):
    """Run the preparation chain; returns (matrix samples x genes, samples frame, genes, provenance dict)."""
    keep = select_balanced_samples(raw.samples, settings.samples_per_type, settings.seed,
                                   settings.cell_types, source)
    rows = raw.samples.index.get_indexer(keep)
    matrix, samples = raw.matrix[rows], raw.samples.loc[keep]
    log.info("selected %d samples of %d cell types", len(samples), samples["cell_type"].nunique())

    apply_log2 = settings.log2
    if apply_log2 == "auto":
        apply_log2 = not looks_log_transformed(matrix)
        log.info("log2 auto-detection: data look %s", "raw-scale -> log2" if apply_log2 else "already log2")
    if apply_log2:
        matrix = log2_transform(matrix, settings.log2_offset, source, list(samples.index), raw.genes)
    matrix, genes = collapse_duplicate_genes(matrix, raw.genes, settings.collapse_duplicate_genes)
    if settings.quantile_normalize:
        matrix = quantile_normalize(matrix)
    provenance = {
        "log2_applied": bool(apply_log2),
        "log2_offset": float(settings.log2_offset) if apply_log2 else None,
        "collapse_duplicate_genes": settings.collapse_duplicate_genes,
        "quantile_normalized": bool(settings.quantile_normalize),
        "n_input_gene_ids": len(raw.genes),
        "n_input_samples": len(raw.samples),
    }
    return matrix, samples, genes, provenance


def top_variance_genes(matrix: np.ndarray, genes: list[str], n: int) -> list[str]:
    """The ``n`` genes with the highest variance over all samples (ties broken by gene order)."""
    if n > len(genes):
        raise ValueError(f"preprocess.top_variance_genes = {n} exceeds the {len(genes)} genes in the data")
    variance = matrix.var(axis=0)
    order = np.argsort(-variance, kind="stable")[:n]
    return [genes[i] for i in np.sort(order)]
