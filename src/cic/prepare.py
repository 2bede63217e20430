"""Data preparation: balanced sample selection, log2, probe collapsing, quantile normalisation, top-variance genes.

Order (as in the paper's Methods: "log2 transformed and quantile normalized"):
select ``samples_per_type`` per type -> log2(x + offset) -> strip Ensembl version suffixes -> collapse repeated gene
ids -> quantile normalise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cic.dataset import RawDataset
from cic.errors import InputError
from cic.identifiers import describe, identifier_kind, strip_ensembl_versions
from cic.labels import normalize_label, safe_names

log = logging.getLogger(__name__)

COLLAPSE_RULES = ("max_mean", "mean", "median", "first")


@dataclass
class PreparationSettings:
    samples_per_type: int | None = 65  # None keeps every sample
    cell_types: list[str] | None = None  # None keeps every type of the sample sheet
    log2: str | bool = "auto"  # True, False or "auto" (GEO2R's rule)
    log2_offset: float = 1.0
    log2_floor: float | None = None  # values below it are raised to it before log2; None: negatives are an error
    collapse_duplicate_genes: str = "max_mean"
    quantile_normalize: bool = True
    seed: int = 1


GEO2R_QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.99, 1.0)


@dataclass
class Log2Decision:
    """Whether data look raw-scale (log2 needed), why, and the quantiles GEO2R's rule looked at."""

    raw_scale: bool
    reason: str
    quantiles: dict[str, float]


def geo2r_log2_decision(matrix: np.ndarray) -> Log2Decision:
    """GEO2R's rule for "are these values raw intensities?" (NCBI GEO2R's R script, limma tab):

    ``LogC <- (q99 > 100) || (max - min > 50 && Q1 > 0) || (Q1 > 0 && Q1 < 1 && Q3 > 1 && Q3 < 2)``

    with R's default (type 7, numpy's "linear") quantiles over every value. The third clause catches linear data
    scaled to about 1 (e.g. ratios to each sample's median), which the first two miss.
    """
    q0, q25, q50, q75, q99, q100 = (float(q) for q in np.quantile(matrix, GEO2R_QUANTILES))
    quantiles = {"min": q0, "q25": q25, "median": q50, "q75": q75, "q99": q99, "max": q100}
    if q99 > 100:
        return Log2Decision(True, f"q99 = {q99:.6g} > 100", quantiles)
    if q100 - q0 > 50 and q25 > 0:
        return Log2Decision(True, f"max - min = {q100 - q0:.6g} > 50 and Q1 = {q25:.6g} > 0", quantiles)
    if 0 < q25 < 1 < q75 < 2:
        return Log2Decision(True, f"0 < Q1 = {q25:.6g} < 1 < Q3 = {q75:.6g} < 2 (linear data scaled to about 1)",
                            quantiles)
    return Log2Decision(False, f"q99 = {q99:.6g} <= 100, max - min = {q100 - q0:.6g}, Q1 = {q25:.6g}, "
                               f"Q3 = {q75:.6g}: no clause of GEO2R's rule holds", quantiles)


def looks_log_transformed(matrix: np.ndarray) -> bool:
    """True when GEO2R's rule (:func:`geo2r_log2_decision`) finds the values already on a log scale."""
    return not geo2r_log2_decision(matrix).raw_scale


def log2_transform(matrix: np.ndarray, offset: float, floor: float | None, raw: RawDataset,
                   rows: np.ndarray) -> tuple[np.ndarray, int]:
    """log2(max(x, floor) + offset) of a samples x genes matrix (rows ``rows`` of ``raw``); returns it and the
    number of values raised to the floor.

    Without a floor, a negative value (or a zero with ``offset`` 0) is an :class:`InputError` naming the matrix
    file, the sample and the gene: background-subtracted MAS4/MAS5 arrays have such values and the usual remedy,
    flooring before log2 (e.g. Golub et al. 1999, Dudoit et al. 2002), is the user's choice
    (``preprocess.log2_floor``), not a silent one.
    """
    floored = 0
    if floor is not None:
        below = matrix < floor
        floored = int(below.sum())
        matrix = np.where(below, floor, matrix)
    bad = (matrix + offset) <= 0 if offset == 0 else matrix < 0
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        value = matrix[row, col]
        what = f"negative value {value:g}" if value < 0 else "zero (log2 of 0 is -inf with log2_offset 0)"
        raise InputError(raw.source, f"{what} at {raw.where_sample(int(rows[row]))}, {raw.where_gene(col)} "
                                     f"({int(bad.sum())} such values) but log2 is applied",
                         "set preprocess.log2_floor (e.g. 1, or 20 for MAS4/MAS5 background-subtracted arrays) to "
                         "raise small values before log2, or preprocess.log2: false if the data are already on a "
                         "log scale")
    return np.log2(matrix + offset), floored


def check_degenerate_samples(matrix: np.ndarray, raw: RawDataset, rows: np.ndarray) -> None:
    """A sample with one value for every gene (all zero: a failed array or library) is an :class:`InputError`:
    quantile normalisation would turn it into an ordinary-looking profile. ``matrix`` holds rows ``rows`` of
    ``raw``."""
    constant = np.flatnonzero(np.ptp(matrix, axis=1) == 0) if matrix.shape[1] else np.array([], dtype=int)
    if constant.size:
        row = int(constant[0])
        value = matrix[row, 0]
        what = "is zero for every gene" if value == 0 else f"has the same value ({value:g}) for every gene"
        others = [str(raw.samples.index[int(rows[i])]) for i in constant[1:4]]
        also = f"; {constant.size - 1} more: {', '.join(others)}{', ...' if constant.size > 4 else ''}" \
            if constant.size > 1 else ""
        raise InputError(raw.source, f"{raw.where_sample(int(rows[row]))} {what}{also}",
                         "remove it from the matrix and the sample sheet (a failed array or library), or leave its "
                         "cell type out with dataset.cell_types")


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
        cell_types = [normalize_label(cell_type) for cell_type in cell_types]
        unknown = [t for t in cell_types if t not in present.index]
        if unknown:
            raise InputError(source, f"cell type '{unknown[0]}' of dataset.cell_types has no samples "
                                     f"(types present: {', '.join(repr(t) for t in sorted(present.index))})",
                             "spell the type in dataset.cell_types exactly as the data do")
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


def prepare(raw: RawDataset, settings: PreparationSettings, source: str | None = None):
    """Run the preparation chain on a :class:`RawDataset` (samples x gene ids, the file's scale).

    Returns (matrix samples x genes, log2 and quantile normalised; samples frame; genes; provenance dict). Raises
    :class:`InputError` for too few samples or types (against ``source``, default the sample sheet), two cell
    types with one file name (:func:`cic.labels.safe_names`), a sample with one value for every gene, and values
    log2 cannot take (against the matrix file).
    """
    source = source or raw.sample_source or raw.source
    keep = select_balanced_samples(raw.samples, settings.samples_per_type, settings.seed,
                                   settings.cell_types, source)
    safe_names(raw.samples.loc[keep, "cell_type"], source)
    kept_types = raw.samples["cell_type"].isin(set(raw.samples.loc[keep, "cell_type"])).to_numpy()
    candidates = np.flatnonzero(kept_types)  # every sample of a kept type, whether the selection drew it or not
    check_degenerate_samples(raw.matrix[candidates], raw, candidates)
    rows = raw.samples.index.get_indexer(keep)
    matrix, samples = raw.matrix[rows], raw.samples.loc[keep]
    log.info("selected %d samples of %d cell types", len(samples), samples["cell_type"].nunique())

    decision = geo2r_log2_decision(matrix)
    if settings.log2 == "auto":
        apply_log2, reason = decision.raw_scale, f"auto (GEO2R's rule): {decision.reason}"
    else:
        apply_log2, reason = bool(settings.log2), f"preprocess.log2: {str(bool(settings.log2)).lower()}"
    log.info("log2 %s: %s (quantiles %s)", "applied" if apply_log2 else "not applied", reason,
             ", ".join(f"{name} {value:.4g}" for name, value in decision.quantiles.items()))
    floored = 0
    if apply_log2:
        matrix, floored = log2_transform(matrix, settings.log2_offset, settings.log2_floor, raw, rows)
        if floored:
            log.warning("raised %d of %d values (%.2g%%) to preprocess.log2_floor = %g before log2", floored,
                        matrix.size, 100 * floored / matrix.size, settings.log2_floor)
    genes, stripped = strip_ensembl_versions(raw.genes)  # ENSG...16 and ENSG...17 are one gene: collapse them
    if stripped:
        first = next(i for i, (old, new) in enumerate(zip(raw.genes, genes)) if old != new)
        log.info("stripped the version suffix of %d Ensembl gene ids (e.g. %s -> %s)", stripped, raw.genes[first],
                 genes[first])
    matrix, genes = collapse_duplicate_genes(matrix, genes, settings.collapse_duplicate_genes)
    gene_id_kind, example = identifier_kind(genes)
    log.info("gene ids: %s", describe(gene_id_kind, example))
    if settings.quantile_normalize:
        matrix = quantile_normalize(matrix)
    provenance = {
        "log2_applied": bool(apply_log2),
        "log2_decision": reason,
        "log2_input_quantiles": decision.quantiles,
        "log2_offset": float(settings.log2_offset) if apply_log2 else None,
        "log2_floor": float(settings.log2_floor) if apply_log2 and settings.log2_floor is not None else None,
        "log2_floored_values": floored if apply_log2 and settings.log2_floor is not None else None,
        "collapse_duplicate_genes": settings.collapse_duplicate_genes,
        "quantile_normalized": bool(settings.quantile_normalize),
        "n_input_gene_ids": len(raw.genes),
        "gene_id_kind": gene_id_kind,
        "ensembl_versions_stripped": stripped,
        "n_input_samples": len(raw.samples),
        **raw.notes,
    }
    return matrix, samples, genes, provenance


def top_variance_genes(matrix: np.ndarray, genes: list[str], n: int, source="the prepared data") -> list[str]:
    """The ``n`` genes with the highest variance over all samples (ties broken by gene order); more genes than the
    data have is an :class:`InputError` against ``source``."""
    if n > len(genes):
        raise InputError(source, f"preprocess.top_variance_genes = {n} exceeds the {len(genes)} genes in the data",
                         f"set preprocess.top_variance_genes to at most {len(genes)}")
    variance = matrix.var(axis=0)
    order = np.argsort(-variance, kind="stable")[:n]
    return [genes[i] for i in np.sort(order)]
