"""Identify new samples with a reference bundle (:mod:`cic.reference`): ``cic query`` and the workflow's
``query`` rules.

A query's profiles get the reference's preprocessing, each sample on its own, so that a sample alone gets the same
answer as in a batch and a batch's make-up never changes one sample's numbers:

1. **log2**: with the reference's ``preprocess.log2: auto``, GEO2R's rule (:func:`cic.prepare.geo2r_log2_decision`)
   judges each query sample on its own values (a raw array has q99 far above 100, a log2 one far below, so one
   sample is enough, and the decision cannot flip because the sample is alone or in other company); log2 is then
   applied with the reference's offset and floor. With ``log2: true``/``false`` the reference's fixed choice is
   used. This lets raw and log2 query files both work against one reference.
2. **gene ids**: Ensembl version suffixes are stripped and repeated ids collapsed by the reference's rule
   (``preprocess.collapse_duplicate_genes``), applied to each sample separately (``max_mean`` on one sample keeps
   the probe with the highest value: the mean over a batch would make a sample depend on its batch).
3. **alignment**: genes are matched to the reference's by identifier, in any order; query genes the reference does
   not have are dropped; reference genes the query lacks are *missing*.
4. **quantile normalisation** to the reference's stored target (its sorted mean quantiles): each sample's present
   genes take the target's values at their ranks (with m of the n genes present, rank r maps to the target's
   quantile (r + 0.5) / m, linearly interpolated; ties take the mean of their values, as preprocessCore). With
   every gene present this is exactly the target value at each rank.
5. **missing genes** are filled, after normalisation, with the network's ``input_mean`` (the per-gene mean of its
   training samples on the normalised scale): the centred input is 0 there, so a missing gene pushes the code
   nowhere. A warning gives the count; above ``max_missing_gene_fraction`` (default 0.2) the query stops with one
   line. The reconstruction MSE is taken over the present genes only.

A sample is ``unassigned`` when the classifier's probability is below ``min_probability`` or its reconstruction
MSE is above the reference's own threshold (the 99th percentile of the MSE of its validation subset: training
samples it set aside and never fitted, :func:`cic.reference.mse_threshold`): a profile the network reproduces
worse than 99 % of unseen samples of its known types is unlike anything it knows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cic import io
from cic.dataset import RawDataset, read_expression
from cic.errors import InputError
from cic.identifiers import strip_ensembl_versions
from cic.prepare import check_degenerate_samples, collapse_duplicate_genes, geo2r_log2_decision, log2_transform
from cic.reference import Reference, load_reference, reconstruction_mse

log = logging.getLogger(__name__)

UNASSIGNED = "unassigned"
DEFAULT_MIN_PROBABILITY = 0.5
DEFAULT_MAX_MISSING_GENE_FRACTION = 0.2
PREDICTION_COLUMNS = ["sample", "predicted_cell_type", "probability", "assigned_cell_type", "reason",
                      "reconstruction_mse", "nearest_reference_cell_type", "nearest_reference_similarity"]
OUTPUT_FILES = ("predictions.tsv", "codes.tsv", "reproduced.h5ad", "query_map.png", "query_map.svg")


@dataclass
class QueryProfiles:
    """A query prepared for the reference: ``matrix`` (samples x reference genes, log2 and quantile normalised,
    missing genes filled), ``present`` (per reference gene: found in the query), ``samples`` (indexed by sample,
    column cell_type: the sheet's label or empty) and ``log2_applied`` (per sample)."""

    matrix: np.ndarray
    present: np.ndarray
    samples: pd.DataFrame
    log2_applied: np.ndarray

    @property
    def n_missing(self) -> int:
        return int((~self.present).sum())


def quantile_normalize_to_target(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """One sample's values (1-D, log2) quantile normalised to ``target`` (ascending, length n): with m values,
    rank r takes the target's quantile (r + 0.5) / m (linear interpolation between the target's quantiles
    (j + 0.5) / n); tied values take the mean of their ranks' values. For m == n this is target[r] exactly.
    Source: Bolstad et al., Bioinformatics 2003 (quantile normalisation to a fixed reference distribution)."""
    values = np.asarray(values, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    m, n = len(values), len(target)
    at_ranks = target if m == n else np.interp((np.arange(m) + 0.5) / m, (np.arange(n) + 0.5) / n, target)
    cumulative = np.concatenate([[0.0], np.cumsum(at_ranks)])
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], m]
    normalized = np.empty(m)
    normalized[order] = np.repeat((cumulative[ends] - cumulative[starts]) / (ends - starts), ends - starts)
    return normalized


def _log2_per_sample(raw: RawDataset, rule: dict) -> tuple[np.ndarray, np.ndarray]:
    """The matrix after the reference's log2 step, each sample judged alone (module docstring); and which samples
    were transformed."""
    if rule["mode"] == "auto":
        apply = np.array([geo2r_log2_decision(row).raw_scale for row in raw.matrix], dtype=bool)
    else:
        apply = np.full(len(raw.matrix), rule["mode"] == "true")
    matrix = raw.matrix.astype(np.float64, copy=True)
    rows = np.flatnonzero(apply)
    if rows.size:
        matrix[rows], _ = log2_transform(matrix[rows], rule["offset"], rule["floor"], raw, rows)
    if rule["applied_to_reference"] and not apply.all():
        log.warning("%d of %d query samples look log-scaled already (GEO2R's rule on each sample): log2 not applied "
                    "to them (the reference's raw data were log2-transformed)", int((~apply).sum()), len(apply))
    return matrix, apply


def _collapse_per_sample(matrix: np.ndarray, genes: list[str], rule: str) -> tuple[np.ndarray, list[str]]:
    """:func:`cic.prepare.collapse_duplicate_genes` by the reference's rule, each sample alone (module docstring)."""
    if pd.Index(genes).is_unique:
        return matrix, list(genes)
    if rule != "max_mean":  # mean, median and first already treat each sample alone
        return collapse_duplicate_genes(matrix, genes, rule)
    rows = []
    for row in matrix:
        collapsed, kept = collapse_duplicate_genes(row[None, :], genes, rule)
        rows.append(pd.Series(collapsed[0], index=kept))
    frame = pd.DataFrame(rows)
    return frame.to_numpy(), [str(g) for g in frame.columns]


def prepare_query(raw: RawDataset, reference: Reference,
                  max_missing_gene_fraction: float = DEFAULT_MAX_MISSING_GENE_FRACTION) -> QueryProfiles:
    """The reference's preprocessing of a query (module docstring, steps 1-5) on ``raw`` (samples x gene ids, the
    file's scale). Raises :class:`InputError` (against the expression file) for a constant sample, values log2
    cannot take, and more missing reference genes than ``max_missing_gene_fraction``; warns with the count of
    missing genes otherwise."""
    steps = reference.meta["preprocessing"]
    samples = np.arange(len(raw.samples))
    check_degenerate_samples(raw.matrix, raw, samples)
    matrix, log2_applied = _log2_per_sample(raw, steps["log2"])
    genes = strip_ensembl_versions(raw.genes)[0] if steps.get("strip_ensembl_versions", True) else list(raw.genes)
    matrix, genes = _collapse_per_sample(matrix, genes, steps["collapse_duplicate_genes"])
    reference_genes = reference.genes
    columns = pd.Index(genes).get_indexer(reference_genes)
    present = columns >= 0
    n_missing, n = int((~present).sum()), len(reference_genes)
    share = n_missing / n
    extra = len(genes) - int(present.sum())
    if share > max_missing_gene_fraction:
        example = next(gene for gene, found in zip(reference_genes, present) if not found)
        problem = (f"{n_missing} of the reference's {n} genes ({share:.1%}) are missing from the query (e.g. "
                   f"'{example}'; the query's ids look like '{genes[0]}'), above max_missing_gene_fraction = "
                   f"{max_missing_gene_fraction:g}")
        # Sample ids that are the reference's genes: the file is samples x genes, read the other way round.
        if len(set(map(str, raw.samples.index)) & set(reference_genes)) > len(raw.samples) // 2:
            raise InputError(raw.source, problem + "; its sample ids are the reference's gene ids",
                             "the file has samples in rows: pass --orientation samples_x_genes (orientation: "
                             "samples_x_genes in the config's query block)")
        raise InputError(raw.source, problem,
                         "give profiles measured on the reference's genes with the same kind of gene ids (map probe "
                         "sets to the reference's ids first), or raise --max-missing-gene-fraction "
                         "(query.max_missing_gene_fraction in the config) if the rest is enough")
    if n_missing:
        log.warning("%d of the reference's %d genes (%.1f%%) are missing from %s: filled with the reference's "
                    "per-gene training mean", n_missing, n, 100 * share, raw.source)
    if extra:
        log.info("%d query genes are not among the reference's genes and are left out", extra)
    aligned = matrix[:, columns[present]]
    qn = steps["quantile_normalisation"]
    if qn["applied"]:
        target = np.asarray(qn["target"], dtype=np.float64)
        aligned = np.stack([quantile_normalize_to_target(row, target) for row in aligned]) if len(aligned) \
            else aligned
    fill = reference.model.input_mean.detach().cpu().numpy().astype(np.float64)
    full = np.tile(fill, (len(aligned), 1))
    full[:, present] = aligned
    return QueryProfiles(full, present, raw.samples[["cell_type"]].copy(), log2_applied)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of ``a`` with every row of ``b`` (rows x rows)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def identify(profiles: QueryProfiles, reference: Reference,
             min_probability: float = DEFAULT_MIN_PROBABILITY) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Predictions of prepared query profiles: (predictions table with PREDICTION_COLUMNS, CICs samples x
    code_size, REPs samples x genes on the log2 scale).

    ``probability`` is the classifier head's SoftMax probability of the predicted type; ``reconstruction_mse`` the
    mean squared difference of REP and GEP over the query's present genes (log2 units squared);
    ``nearest_reference_similarity`` the Pearson correlation of the sample's CIC with the nearest reference CIC
    (over all reference samples), whose type is ``nearest_reference_cell_type``.
    """
    from cic.train import encode, predict_proba, reconstruct

    model = reference.model
    codes = encode(model, profiles.matrix)
    reproduced = reconstruct(model, profiles.matrix)
    probabilities = predict_proba(model, profiles.matrix)
    best = probabilities.argmax(axis=1)
    probability = probabilities[np.arange(len(best)), best]
    predicted = np.asarray(reference.cell_types, dtype=object)[best]
    mse = reconstruction_mse(profiles.matrix, reproduced, profiles.present)
    threshold = float(reference.meta["unassigned"]["reconstruction_mse_threshold"])
    similarity = _pearson_rows(codes.astype(np.float64), reference.code_matrix)
    nearest = similarity.argmax(axis=1)
    reasons = []
    for p, error in zip(probability, mse):
        why = []
        if p < min_probability:
            why.append(f"probability {p:.3f} < min_probability {min_probability:g}")
        if error > threshold:
            why.append(f"reconstruction MSE {error:.4g} > reference 99th percentile {threshold:.4g}")
        reasons.append("; ".join(why) or "assigned")
    assigned = np.where(np.array(reasons) == "assigned", predicted, UNASSIGNED)
    table = pd.DataFrame({
        "sample": profiles.samples.index.astype(str), "predicted_cell_type": predicted,
        "probability": probability.astype(np.float64), "assigned_cell_type": assigned, "reason": reasons,
        "reconstruction_mse": mse, "nearest_reference_cell_type": reference.codes["cell_type"].to_numpy()[nearest],
        "nearest_reference_similarity": similarity[np.arange(len(nearest)), nearest],
    }, columns=PREDICTION_COLUMNS)
    known = profiles.samples["cell_type"].astype(str).to_numpy()
    if (known != "").any():
        table["known_cell_type"] = known
    return table, codes, reproduced


def run_query(model_dir, expression, out_dir, sample_sheet=None, orientation: str = "genes_x_samples",
              sample_column: str = "sample", cell_type_column: str = "cell_type", layer: str | None = None,
              min_probability: float = DEFAULT_MIN_PROBABILITY,
              max_missing_gene_fraction: float = DEFAULT_MAX_MISSING_GENE_FRACTION) -> pd.DataFrame:
    """Identify the samples of ``expression`` (any format :func:`cic.dataset.read_expression` reads; the sample
    sheet is optional) with the bundle in ``model_dir`` and write OUTPUT_FILES to ``out_dir`` together, atomically
    (nothing is written when any step fails). Returns the predictions table.

    Raises :class:`InputError` for a bad bundle (another format version), a bad input file, or too many missing
    genes.
    """
    reference = load_reference(model_dir)
    raw = read_expression(expression, orientation, sample_sheet, sample_column, cell_type_column, None, layer,
                          labels=False)
    log.info("read %d query samples x %d gene ids from %s", *raw.matrix.shape, expression)
    profiles = prepare_query(raw, reference, max_missing_gene_fraction)
    table, codes, reproduced = identify(profiles, reference, min_probability)
    counts = table["assigned_cell_type"].value_counts()
    log.info("%d samples: %s", len(table), ", ".join(f"{name} {count}" for name, count in counts.items()))
    if "known_cell_type" in table.columns:
        labelled = table["known_cell_type"] != ""
        accuracy = float((table.loc[labelled, "predicted_cell_type"] == table.loc[labelled, "known_cell_type"]).mean())
        log.info("predicted type equals the sample sheet's type for %.1f%% of %d samples", 100 * accuracy,
                 int(labelled.sum()))
    write_outputs(table, codes, reproduced, profiles, reference, out_dir, expression)
    return table


def write_outputs(table: pd.DataFrame, codes: np.ndarray, reproduced: np.ndarray, profiles: QueryProfiles,
                  reference: Reference, out_dir, expression) -> None:
    """predictions.tsv, codes.tsv (sample, CIC01..), reproduced.h5ad (REPs, samples x genes, log2; obs: the
    prediction) and the query map (PNG + SVG), renamed into ``out_dir`` together."""
    from cic.figures.query import plot_query_map

    out_dir = Path(out_dir)
    code_table = pd.concat([table[["sample"]], pd.DataFrame(codes, columns=[f"CIC{i + 1:02d}"
                                                                            for i in range(codes.shape[1])])], axis=1)
    obs = pd.DataFrame({"cell_type": table["assigned_cell_type"].to_numpy(), "study": "query"},
                       index=pd.Index(table["sample"], name="sample"))
    container = io.expression_container(reproduced, obs, reference.genes, query_file=str(expression),
                                        reference=str(reference.folder), missing_genes=profiles.n_missing,
                                        scale="log2, quantile normalised to the reference's target")
    container.obs["predicted_cell_type"] = table["predicted_cell_type"].to_numpy()
    container.var["present_in_query"] = profiles.present
    paths = [out_dir / name for name in OUTPUT_FILES]
    with io.atomic_paths(*paths) as (predictions, code_path, h5ad, png, svg):
        io.write_table(table, predictions)
        io.write_table(code_table, code_path)
        container.write_h5ad(h5ad)
        plot_query_map(reference.code_matrix, reference.codes["cell_type"].astype(str).to_numpy(), codes,
                       table["assigned_cell_type"].to_numpy(), table["sample"].to_numpy(), png, svg)
    log.info("wrote %s to %s", ", ".join(OUTPUT_FILES), out_dir)
