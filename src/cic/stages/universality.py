"""Fig 3: universality of cell identity codes (leave-one-cell-type-out), limma on held-out REPs, enrichment.

For every held-out cell type T a network is trained on all other types (:func:`train_universality_model`); its
REPs of the T samples are compared with their own GEPs and with the training GEPs (:func:`evaluate_held_out_models`).
The REPs of a held-out type are then tested against the GEPs of a comparison type with limma
(:func:`differential_expression`, paper: B-cell REPs vs T-cell GEPs, 380 genes) and the genes up in the REPs go to an enrichment test
(:func:`enrich_up_genes`, paper: Enrichr, top hit "B cell receptor signaling pathway").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cic import io
from cic.defaults import PAPER_DE_PAIR, not_run
from cic.errors import InputError
from cic.labels import normalize_label, safe_name
from cic.paper import summary_row

if TYPE_CHECKING:
    from cic.stages.autoencoder import Holdout

# Each rule of this stage runs in its own process, so the heavy libraries (torch, scipy/scikit-learn, inmoose,
# gseapy, matplotlib) are imported by the functions that use them: the light jobs stay quick to start.

log = logging.getLogger(__name__)

HOLDOUT_COLUMN = "cell_type"
# The paper's numbers are about this comparison; other pairs are reported without a paper value.
PAPER_PAIR = (PAPER_DE_PAIR["case"], PAPER_DE_PAIR["control"])
# The summary rows the claims read from the first comparison (cic.claims).
PAPER_COMPARISON_ROWS = ("loto_closer_fraction_spearman", "loto_wilcoxon_p_spearman", "loto_closer_fraction_mse",
                         "loto_wilcoxon_p_mse", "b_vs_t_de_genes", "b_vs_t_top_pathway",
                         "b_vs_t_top_pathway_adjusted_p")


def universality_holdout(cell_type: str) -> Holdout:
    """All samples of ``cell_type`` are the test set; every other type trains."""
    from cic.stages.autoencoder import Holdout

    return Holdout(HOLDOUT_COLUMN, str(cell_type))


def held_out_cell_types(splits: pd.DataFrame, requested: Sequence[str] | None,
                        de_pairs: Sequence[Mapping[str, str]], splits_path="splits.tsv") -> list[str]:
    """The types to hold out one at a time: ``requested`` (in its order) or every type of the data (in data order).

    Checks that each requested type and each comparison's control exists, and that each comparison's case is held
    out (its REPs come from the network that never saw it).
    """
    present = list(dict.fromkeys(splits[HOLDOUT_COLUMN].astype(str)))
    known = ", ".join(repr(cell_type) for cell_type in present)
    chosen = [normalize_label(cell_type) for cell_type in requested] if requested else present
    de_pairs = [{side: normalize_label(pair[side]) for side in ("case", "control")} for pair in de_pairs]
    missing = [cell_type for cell_type in chosen if cell_type not in present]
    if missing:
        raise InputError(splits_path, f"column {HOLDOUT_COLUMN} has no sample of {', '.join(missing)}",
                         f"list types of the data in universality.cell_types ({known})")
    for pair in de_pairs:
        if pair["case"] not in chosen:
            raise InputError("universality.de_pairs", f"case {pair['case']!r} is not a held-out cell type",
                             f"add it to universality.cell_types or choose one of {', '.join(chosen)}")
        if pair["control"] not in present:
            raise InputError(splits_path, f"column {HOLDOUT_COLUMN} has no sample of the control {pair['control']!r} "
                             "of universality.de_pairs", f"choose a control among {known}")
        if pair["control"] == pair["case"]:
            raise InputError("universality.de_pairs", f"case and control are both {pair['case']!r}",
                             "compare two different cell types")
    if len(present) < 2:
        raise InputError(splits_path, "leave-one-type-out needs at least two cell types", "add another type")
    return chosen


def list_held_out_cell_types(splits_path, requested, de_pairs, output) -> None:
    """The checkpoint behind the per-type training jobs: one held-out type per line."""
    from cic.splits import read_splits

    chosen = held_out_cell_types(read_splits(splits_path), requested, de_pairs, splits_path)
    io.write_text("".join(f"{cell_type}\n" for cell_type in chosen), output)
    log.info("holding out %d cell types one at a time: %s", len(chosen),
             ", ".join(f"{cell_type!r} (results/models/loto/{safe_name(cell_type)})" for cell_type in chosen))


def universality_seed(seed: int, cell_type: str) -> int:
    """Seed of the network holding out ``cell_type``: ``seed`` + a fixed offset per type name (CRC32), so a type's
    network does not change when other types are added or removed."""
    import zlib

    return int(seed) + 1000 + zlib.crc32(str(cell_type).encode()) % 100000


def universality_model_dir(models_dir, cell_type: str) -> Path:
    """``<models_dir>/<file name of the type>`` (:func:`cic.labels.safe_name`): where its network is written."""
    return Path(models_dir) / safe_name(cell_type)


def universality_model_paths(models: Sequence, cell_types: Sequence[str]) -> list[str]:
    """The model of each held-out type: ``models`` is one path per type (per-type jobs) or the one directory the
    stacked job writes (training.batched_folds), holding ``<type file name>/model.pt``."""
    models = [str(path) for path in models]
    if len(models) == 1 and Path(models[0]).is_dir():
        return [str(universality_model_dir(models[0], cell_type) / "model.pt") for cell_type in cell_types]
    return models


def train_universality(expression, splits_path, cell_types_path, architecture: str, training: dict, seed: int,
                       models_dir=None, checkpoint_path=None, held_out: str | None = None, model_path=None,
                       history_path=None, threads: int = 1) -> list[pd.DataFrame]:
    """The rule's entry (workflow/rules/universality.smk, train_universality): every held-out type into
    ``models_dir`` (:func:`train_universality_models`, stacked), or the one type whose file name
    (:func:`cic.labels.safe_name`) is ``held_out`` into ``model_path`` and ``history_path``
    (:func:`train_universality_model`, with its per-type seed)."""
    if models_dir is not None:
        return train_universality_models(expression, splits_path, cell_types_path, architecture, training, seed,
                                         models_dir, checkpoint_path, threads)
    from cic.labels import label_of

    cell_type = label_of(held_out, read_lines(cell_types_path), cell_types_path)
    return [train_universality_model(expression, splits_path, cell_type, architecture, training,
                                     universality_seed(seed, cell_type), model_path, history_path, threads)]


def train_universality_models(expression, splits_path, cell_types_path, architecture: str, training: dict, seed: int,
                              models_dir, checkpoint_path, threads: int = 1) -> list[pd.DataFrame]:
    """Every leave-one-type-out network of ``cell_types_path`` in one call
    (:func:`cic.stages.autoencoder.train_autoencoders`): writes ``<models_dir>/<type>/model.pt`` and
    ``history.tsv``, each network with its per-type seed (:func:`universality_seed`), as
    :func:`train_universality_model` does."""
    from cic.stages.autoencoder import train_autoencoders

    cell_types = read_lines(cell_types_path)
    return train_autoencoders(
        expression, splits_path, [universality_holdout(cell_type) for cell_type in cell_types], architecture, training,
        [universality_seed(seed, cell_type) for cell_type in cell_types],
        [universality_model_dir(models_dir, cell_type) / "model.pt" for cell_type in cell_types],
        [universality_model_dir(models_dir, cell_type) / "history.tsv" for cell_type in cell_types], checkpoint_path,
        threads)


def train_universality_model(expression, splits_path, cell_type: str, architecture: str, training: dict, seed: int,
                             model_path, history_path, threads: int = 1) -> pd.DataFrame:
    """Train the selected network on every type except ``cell_type`` (the held-out samples are the test set)."""
    from cic.stages.autoencoder import train_autoencoders

    return train_autoencoders(expression, splits_path, [universality_holdout(cell_type)], architecture, training,
                              [seed], [model_path], [history_path], threads=threads)[0]


# --------------------------------------------------------------------------------------------------------------
# Held-out REPs vs their own GEPs and the training GEPs


def held_out_comparison(gep: np.ndarray, rep: np.ndarray, training_gep: np.ndarray,
                        training_types: Sequence[str]) -> pd.DataFrame:
    """Per held-out sample and metric: its REP vs its GEP, and its GEP vs the closest training GEP.

    Columns per metric (``spearman``, ``mse``):

    * ``rep_gep_<m>``: similarity of the sample's REP to its own GEP;
    * ``nearest_training_<m>``: similarity of the GEP to its most similar training GEP, and
      ``nearest_training_type_<m>`` that training sample's cell type;
    * ``rep_rank_<m>``: 1 + the number of training GEPs closer to the GEP than its REP is (1 = the REP is closer
      to the own GEP than every training GEP: the paper's "65 of 65");
    * ``reverse_rank_<m>``: 1 + the number of training GEPs closer to the REP than its own GEP is (1 = the REP is
      recognised as its own sample rather than as a training sample).
    """
    from cic import evaluation

    training_types = np.asarray(training_types, dtype=str)
    if len(training_types) != len(training_gep):
        raise ValueError(f"{len(training_types)} training cell types for {len(training_gep)} training GEPs")
    table = {}
    for metric in evaluation.METRICS:
        to_training = evaluation.similarity_matrix(gep, training_gep, metric)
        nearest = to_training.argmax(axis=1) if metric == "spearman" else to_training.argmin(axis=1)
        table[f"rep_gep_{metric}"] = evaluation.paired_similarity(gep, rep, metric)
        table[f"nearest_training_{metric}"] = to_training[np.arange(len(gep)), nearest]
        table[f"nearest_training_type_{metric}"] = training_types[nearest]
        table[f"rep_rank_{metric}"] = evaluation.rank_among_references(gep, rep, training_gep, metric)
        table[f"reverse_rank_{metric}"] = evaluation.rank_among_references(rep, gep, training_gep, metric)
    return pd.DataFrame(table)


def summarize_held_out(per_sample: pd.DataFrame) -> dict:
    """One Fig 3 row from :func:`held_out_comparison`'s table of one held-out type."""
    from cic import evaluation

    row = {"n_held_out": len(per_sample)}
    for metric in evaluation.METRICS:
        rep_gep, nearest = per_sample[f"rep_gep_{metric}"], per_sample[f"nearest_training_{metric}"]
        row[f"median_rep_gep_{metric}"] = float(rep_gep.median())
        row[f"median_nearest_training_{metric}"] = float(nearest.median())
        row[f"rep_closer_than_training_{metric}"] = int((per_sample[f"rep_rank_{metric}"] == 1).sum())
        row[f"own_gep_closest_to_rep_{metric}"] = int((per_sample[f"reverse_rank_{metric}"] == 1).sum())
        row[f"most_common_nearest_type_{metric}"] = str(per_sample[f"nearest_training_type_{metric}"].mode().iloc[0])
        row[f"wilcoxon_p_{metric}"] = _wilcoxon_or_nan(rep_gep.to_numpy(), nearest.to_numpy(), metric)
    return row


def _wilcoxon_or_nan(rep_gep: np.ndarray, nearest: np.ndarray, metric: str) -> float:
    """One-sided paired test that REP-GEP is closer than GEP-nearest training GEP; NaN when all pairs tie."""
    from cic import evaluation

    if np.allclose(rep_gep, nearest):
        return float("nan")
    return evaluation.wilcoxon_rep_closer(rep_gep, nearest, metric)[1]


def evaluate_universality(models: Sequence, cell_types, expression, splits, per_sample, table, reproduced) -> None:
    """The rule's entry (workflow/rules/universality.smk, evaluate_universality): :func:`evaluate_held_out_models`
    for the types listed in the file ``cell_types`` (one per line), their models found in ``models``
    (:func:`universality_model_paths`)."""
    held_out = read_lines(cell_types)
    evaluate_held_out_models(universality_model_paths(models, held_out), held_out, expression, splits, per_sample,
                             table, reproduced)


def evaluate_held_out_models(model_paths: Sequence, cell_types: Sequence[str], expression, splits_path,
                             per_sample_path, table_path, reproduced_path) -> None:
    """Encode and decode each held-out type with its own leave-one-type-out model; compare with the GEPs.

    Writes the per-sample table, the per-type Fig 3 table (``results/tables/fig3_loto.tsv``, one row per type)
    and the held-out REPs of every type (an AnnData, each row reproduced by the model that never saw its type).
    """
    from cic.stages.autoencoder import load_expression_and_splits
    from cic.train import load_model, reconstruct

    if len(model_paths) != len(cell_types):
        raise ValueError(f"{len(model_paths)} models for {len(cell_types)} held-out cell types")
    matrix, splits, genes = load_expression_and_splits(expression, splits_path)
    types = splits[HOLDOUT_COLUMN].astype(str).to_numpy()
    per_sample_frames, rows = [], []
    reproduced = np.full(matrix.shape, np.nan, dtype=np.float32)
    held_out_any = np.zeros(len(matrix), dtype=bool)
    for model_path, cell_type in zip(model_paths, cell_types):
        held_out = universality_holdout(cell_type).test_mask(splits)
        if not held_out.any():
            raise InputError(splits_path, f"no sample of cell type {cell_type!r} (column {HOLDOUT_COLUMN})",
                             f"hold out types the data has ({', '.join(sorted(set(types)))}) in "
                             "universality.cell_types")
        model, meta = load_model(model_path)
        _check_model(model_path, meta, genes, cell_type)
        reproduced[held_out] = reconstruct(model, matrix[held_out])
        held_out_any |= held_out
        comparison = held_out_comparison(matrix[held_out], reproduced[held_out], matrix[~held_out],
                                         types[~held_out])
        comparison.insert(0, "cell_type", cell_type)
        comparison.insert(0, "sample", splits.loc[held_out, "sample"].to_numpy())
        per_sample_frames.append(comparison)
        row = {"cell_type": cell_type, "n_training": int((~held_out).sum()), **summarize_held_out(comparison)}
        rows.append(row)
        log.info("%s held out: REP closer to own GEP than every training GEP in %d/%d (Spearman), %d/%d (MSE)",
                 cell_type, row["rep_closer_than_training_spearman"], row["n_held_out"],
                 row["rep_closer_than_training_mse"], row["n_held_out"])
    io.write_table(pd.concat(per_sample_frames, ignore_index=True), per_sample_path)
    io.write_table(pd.DataFrame(rows), table_path)
    samples = splits.loc[held_out_any].set_index("sample")[["cell_type", "study"]]
    container = io.expression_container(reproduced[held_out_any], samples, genes,
                                        models=[str(path) for path in model_paths])
    io.write_h5ad(container, reproduced_path)


def _check_model(model_path, meta: Mapping, genes: list[str], cell_type: str) -> None:
    if meta.get("genes") != genes:
        raise InputError(model_path, "trained on other genes than the expression matrix",
                         "re-run its training rule (snakemake --forcerun train_universality)")
    if (meta.get("holdout_column"), meta.get("holdout_value")) != (HOLDOUT_COLUMN, str(cell_type)):
        raise InputError(model_path, f"was trained holding out {meta.get('holdout_column')} == "
                         f"{meta.get('holdout_value')!r}, not cell_type == {cell_type!r}",
                         f"use the model of results/models/loto/{safe_name(cell_type)}/ for that type")


# --------------------------------------------------------------------------------------------------------------
# limma: held-out REPs of the case type vs GEPs of the control type


def case_vs_control_profiles(expression, reproduced, case: str, control: str) -> tuple[pd.DataFrame, pd.Series]:
    """Samples x genes frame of the ``case`` type's held-out REPs and the ``control`` type's GEPs, with labels."""
    from cic.differential import CASE, CONTROL

    reps = io.read_h5ad(reproduced)
    geps = io.read_h5ad(expression)
    if list(reps.var_names) != list(geps.var_names):
        raise InputError(reproduced, f"has other genes than {expression}", "re-run rule evaluate_universality")
    case_rows = (reps.obs["cell_type"].astype(str) == case).to_numpy()
    control_rows = (geps.obs["cell_type"].astype(str) == control).to_numpy()
    if not case_rows.any():
        raise InputError(reproduced, f"holds no REP of cell type {case!r}",
                         "list the case type in universality.cell_types (or set it to null)")
    if not control_rows.any():
        raise InputError(expression, f"has no sample of cell type {control!r}",
                         f"choose a control among {', '.join(sorted(set(geps.obs['cell_type'].astype(str))))}")
    case_frame = pd.DataFrame(np.asarray(reps.X[case_rows]), index="REP:" + reps.obs_names[case_rows],
                              columns=reps.var_names)
    control_frame = pd.DataFrame(np.asarray(geps.X[control_rows]), index="GEP:" + geps.obs_names[control_rows],
                                 columns=geps.var_names)
    profiles = pd.concat([case_frame, control_frame])
    labels = pd.Series([CASE] * len(case_frame) + [CONTROL] * len(control_frame), index=profiles.index)
    return profiles, labels


def differential_expression(expression, reproduced, case: str, control: str, min_log2_fold_change: float,
                            max_adjusted_p: float, table_path, genes_path) -> None:
    """limma (lmFit + eBayes, BH) of ``case`` REPs vs ``control`` GEPs; the full table and the genes up in case.

    The gene list (one gene per line, best first) keeps genes with log2 fold change > ``min_log2_fold_change``
    and adjusted p <= ``max_adjusted_p`` (paper: 1 and 0.05, 380 genes for B-cell REPs vs T-cell GEPs).
    """
    from cic.differential import CASE, CONTROL, limma_two_groups, select_up_genes

    profiles, labels = case_vs_control_profiles(expression, reproduced, case, control)
    table = limma_two_groups(profiles, labels)
    up = select_up_genes(table, min_log2_fold_change, max_adjusted_p)
    table = table.assign(up_in_case=table.index.isin(up.index))
    table = table.sort_values(["p_value", "log2_fold_change"], ascending=[True, False], kind="stable")
    io.write_table(table.reset_index(), table_path)
    io.write_text("".join(f"{gene}\n" for gene in up.index), genes_path)
    log.info("%s REPs (%d) vs %s GEPs (%d): %d genes up (log2 FC > %g, adjusted p <= %g)", case,
             int((labels == CASE).sum()), control, int((labels == CONTROL).sum()), len(up), min_log2_fold_change,
             max_adjusted_p)


def read_lines(path) -> list[str]:
    """The non-empty lines of a text file (a gene list, the held-out cell types), stripped."""
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip()]


# --------------------------------------------------------------------------------------------------------------
# Enrichment of the genes up in the held-out REPs


def rank_terms(table: pd.DataFrame) -> pd.DataFrame:
    """Add the two term rankings (1 = best; ties share the best rank).

    ``rank_combined_score``: highest combined score first (Enrichr's -ln(p) times its odds ratio; the paper ranked
    by Enrichr's z-score, which cannot be computed offline: config/README.md). ``rank_adjusted_p``: smallest BH-adjusted p first, ties (BH plateaus) broken by the raw p; since BH
    keeps the order of the p-values this is the rank by p.
    """
    return table.assign(
        rank_combined_score=table["combined_score"].astype(float).rank(ascending=False, method="min").astype("Int64"),
        rank_adjusted_p=table["p_value"].astype(float).rank(method="min").astype("Int64"),
    )


def enrich_up_genes(genes_path, de_table_path, source: Mapping, enrichment_path) -> None:
    """Over-representation of the genes up in the case REPs in one gene set source; background = genes tested.

    An Enrichr source without network ends the job with a one-line message telling how to use a GMT instead.
    """
    from cic.enrichment import EnrichmentOffline, enrich_source

    genes = read_lines(genes_path)
    background = pd.read_csv(de_table_path, sep="\t", usecols=["gene"])["gene"].astype(str).tolist()
    try:
        table = enrich_source(genes, source, background)
    except EnrichmentOffline as error:
        raise InputError("enrichment.sources", str(error)) from error
    table = rank_terms(table)
    io.write_table(table, enrichment_path)
    if table.empty:
        log.info("%s: no term overlaps the %d genes", source.get("name"), len(genes))
    else:
        best = table.sort_values("rank_combined_score", kind="stable").iloc[0]
        log.info("%s: %d terms overlap the %d genes; top by combined score: %s (adjusted p %.3g)",
                 source.get("name"), len(table), len(genes), best["term"], best["adjusted_p_bh"])


def plot_enrichment(enrichment_path, n_terms: int, case: str, control: str, source_name: str, png, svg) -> None:
    """Bar chart of the top terms of a stored enrichment table (no recomputation)."""
    from cic.figures.network import plot_top_terms

    table = pd.read_csv(enrichment_path, sep="\t")
    plot_top_terms(table, n_terms, png, svg, title=f"{case} REPs vs {control} GEPs: {source_name}")


def true_program_ranks(enrichment_path, activity_path, case: str, control: str) -> pd.DataFrame:
    """Where the simulator's programs of the ``case`` type land in the enrichment of the synthetic data.

    One row per program the case type has (activity > 0 in program_activity.tsv), the programs more active in
    the case than in the control first: activities, ``expected_up`` (case activity > control activity) and the
    program's ranks, p-values and overlap in the enrichment table (NaN when no gene of it came up).
    """
    activity = pd.read_csv(activity_path, sep="\t", index_col=0)
    for cell_type in (case, control):
        if cell_type not in activity.index:
            raise InputError(activity_path, f"has no row for cell type {cell_type!r}",
                             "run the synthetic data stage with this type (dataset.cell_types)")
    table = pd.DataFrame({"case_activity": activity.loc[case], "control_activity": activity.loc[control]})
    table = table[table["case_activity"] > 0].rename_axis("program")
    table["expected_up"] = table["case_activity"] > table["control_activity"]
    enrichment = pd.read_csv(enrichment_path, sep="\t").set_index("term")
    columns = ["rank_combined_score", "rank_adjusted_p", "n_overlap", "term_size", "p_value", "adjusted_p_bh",
               "combined_score"]
    table = table.join(enrichment[columns].reindex(table.index))
    table["terms_with_overlap"] = len(enrichment)
    table["difference"] = table["case_activity"] - table["control_activity"]
    table = table.sort_values(["difference", "rank_adjusted_p"], ascending=[False, True], kind="stable")
    return table.drop(columns="difference").reset_index()


# --------------------------------------------------------------------------------------------------------------
# Figure and summary


def plot_fig3(table, fig3_png, fig3_svg) -> None:
    """Fig 3 from the stored per-type table."""
    from cic.figures import fig3

    fig3.plot_universality_medians(pd.read_csv(table, sep="\t"), fig3_png, fig3_svg)


def summarize(table_path, de_paths: Mapping[str, str], enrichment_paths: Mapping[tuple[str, str], str],
              pathway_source: str, output, comparisons: Mapping[str, Mapping[str, str]] | None = None,
              activity_path=None, program_paths: Mapping[tuple[str, str], str] | None = None) -> None:
    """results/tables/universality_summary.tsv: the Fig 3 numbers with the paper's beside them.

    ``de_paths`` maps each comparison ("<case>_vs_<control>", in config order) to its limma table and
    ``enrichment_paths`` maps (comparison, source) to its enrichment table. On synthetic data, ``program_paths``
    maps (comparison, planted-program source) to the true-program table to write (:func:`true_program_ranks`,
    from ``activity_path`` and the ``comparisons``' case and control types); each program's rank is summarized.
    The first comparison stands for the paper's B-cell REPs vs T-cell GEPs: its rows ``loto_closer_fraction_*``
    (its case type held out), ``b_vs_t_de_genes`` and ``b_vs_t_top_pathway[_adjusted_p]`` (the top term of
    ``pathway_source``) are the ones the claims table reads. Without a comparison, or without ``pathway_source``
    (no enrichment source), those rows say "not run: set `<key>`" (:func:`cic.defaults.not_run`).
    """
    from cic import evaluation

    per_type = pd.read_csv(table_path, sep="\t", dtype={"cell_type": str})
    n_samples = int(per_type["n_held_out"].sum())
    rows = [summary_row("held_out_cell_types", len(per_type), note="paper: 16, one network each")]
    for metric in evaluation.METRICS:
        closer = int(per_type[f"rep_closer_than_training_{metric}"].sum())
        rows.append(summary_row(f"held_out_rep_closer_than_training_{metric}", closer,
                                note=f"of {n_samples} held-out samples (all types)"))
        reverse = int(per_type[f"own_gep_closest_to_rep_{metric}"].sum())
        rows.append(summary_row(f"held_out_own_gep_closest_to_rep_{metric}", reverse,
                                note=f"of {n_samples}; reverse check: no training GEP closer to the REP"))
        rep, nearest = per_type[f"median_rep_gep_{metric}"], per_type[f"median_nearest_training_{metric}"]
        better = rep > nearest if metric == "spearman" else rep < nearest
        rows.append(summary_row(f"types_with_median_rep_better_than_nearest_training_{metric}", int(better.sum()),
                                note=f"of {len(per_type)} types; paper: 'almost all tissues'"))
    for record in per_type.to_dict("records"):
        for metric in evaluation.METRICS:
            rows.append(summary_row(
                f"{record['cell_type']}_rep_closer_than_training_{metric}",
                record[f"rep_closer_than_training_{metric}"],
                "loto_b_cell_closer_than_training" if record["cell_type"] == PAPER_PAIR[0] else None,
                f"of {record['n_held_out']}; own GEP closest to the REP (reverse): "
                f"{record[f'own_gep_closest_to_rep_{metric}']}"))
    comparisons = comparisons or {pair: dict(zip(("case", "control"), pair.split("_vs_"))) for pair in de_paths}
    rows += _paper_comparison_rows(per_type, de_paths, enrichment_paths, pathway_source, comparisons)
    for pair, path in de_paths.items():
        table = pd.read_csv(path, sep="\t")
        rows.append(summary_row(f"{pair}_de_genes_up", int(table["up_in_case"].sum()),
                                note=f"{_described(comparisons[pair])}: of {len(table)} genes tested; limma "
                                     "moderated t, BH"))
    for (pair, source), path in enrichment_paths.items():
        table = pd.read_csv(path, sep="\t")
        by_score, by_p = _top_term(table, "rank_combined_score"), _top_term(table, "rank_adjusted_p")
        rows.append(summary_row(f"{pair}_{source}_top_term", by_score["term"],
                                note=f"{_described(comparisons[pair])}: highest combined score; adjusted p "
                                     f"{by_score['adjusted_p_bh']:.3g}"))
        rows.append(summary_row(f"{pair}_{source}_top_term_by_adjusted_p", by_p["term"],
                                note=f"adjusted p {by_p['adjusted_p_bh']:.3g}"))
        rows.append(summary_row(f"{pair}_{source}_terms_adjusted_p_le_0.05",
                                int((table["adjusted_p_bh"] <= 0.05).sum()), note=f"of {len(table)} with overlap"))
    for (pair, source), path in (program_paths or {}).items():
        ranks = true_program_ranks(enrichment_paths[(pair, source)], activity_path, comparisons[pair]["case"],
                                   comparisons[pair]["control"])
        io.write_table(ranks, path)
        for row in ranks.itertuples():
            rows.append(summary_row(
                f"{pair}_{source}_rank_of_{row.program}", _rank_text(row.rank_adjusted_p),
                note=f"planted program, activity {row.case_activity:g} in case, {row.control_activity:g} in control; "
                     f"rank by adjusted p among {row.terms_with_overlap} terms with overlap; by combined score "
                     f"{_rank_text(row.rank_combined_score)}"))
    io.write_table(pd.DataFrame(rows), output)


def summarize_universality(table, de_tables: Sequence, enrichment: Sequence, summary, pairs: Mapping[str, Mapping],
                           sources: Sequence[str], truth_sources: Sequence[str], pathway_source: str | None,
                           activity=None, true_programs: Sequence = ()) -> None:
    """The rule's entry (workflow/rules/universality.smk, summarize_universality): :func:`summarize` with each limma
    and enrichment table paired with its comparison (and source) by its file name (:func:`cic.runner.paths_by_key`),
    not by list order; ``activity`` and ``true_programs`` only on synthetic data."""
    from cic.runner import paths_by_key

    enrichment_keys = [(pair, source) for pair in pairs for source in sources]
    summarize(
        table,
        {pair: path for (pair,), path in paths_by_key(de_tables, "results/tables/de_{}.tsv",
                                                      [(pair,) for pair in pairs]).items()},
        paths_by_key(enrichment, "results/tables/enrichment_{}_{}.tsv", enrichment_keys),
        pathway_source,
        summary,
        comparisons=pairs,
        activity_path=activity,
        program_paths=paths_by_key(true_programs, "results/tables/enrichment_{}_{}_true_programs.tsv",
                                   [(pair, source) for pair in pairs for source in truth_sources]),
    )


def _described(comparison: Mapping[str, str]) -> str:
    """A comparison in the data's own labels, for the notes of the summary."""
    return f"{comparison['case']} REPs vs {comparison['control']} GEPs"


def _paper_comparison_rows(per_type: pd.DataFrame, de_paths: Mapping[str, str],
                           enrichment_paths: Mapping[tuple[str, str], str], pathway_source: str,
                           comparisons: Mapping[str, Mapping[str, str]]) -> list[dict]:
    """The rows the claims read, from the first comparison (the paper's B-cell REPs vs T-cell GEPs)."""
    from cic import evaluation

    if not de_paths:  # limma left out (cic.defaults): the claims say which key runs it
        reason = not_run("universality.de_pairs", "its first case stands for the paper's B cells")
        return [summary_row(quantity, reason, note="no comparison configured") for quantity in PAPER_COMPARISON_ROWS]
    pair = next(iter(de_paths))
    case = comparisons[pair]["case"]
    held_out = per_type.set_index("cell_type")
    rows = []
    if case in held_out.index:
        record = held_out.loc[case]
        for metric in evaluation.METRICS:
            count, n = int(record[f"rep_closer_than_training_{metric}"]), int(record["n_held_out"])
            rows.append(summary_row(f"loto_closer_fraction_{metric}", count / n, note=(
                f"{case}: {count} of {n} held-out REPs closer to their own GEP than to every training GEP "
                f"(paper, B cells: 65 of 65 = 1.0)")))
            rows.append(summary_row(f"loto_wilcoxon_p_{metric}", float(record[f"wilcoxon_p_{metric}"]), note=(
                f"{case}: one-sided paired Wilcoxon, REP-GEP closer than GEP-nearest training GEP (paper: "
                "'significantly better for REPs than for the samples of other tissues')")))
    de_table = pd.read_csv(de_paths[pair], sep="\t")
    rows.append(summary_row("b_vs_t_de_genes", int(de_table["up_in_case"].sum()), "b_vs_t_de_genes",
                            f"{_described(comparisons[pair])}: log2 FC > threshold and BH p <= threshold, of "
                            f"{len(de_table)} genes"))
    if (pair, pathway_source) in enrichment_paths:
        top = _top_term(pd.read_csv(enrichment_paths[(pair, pathway_source)], sep="\t"), "rank_combined_score")
        rows.append(summary_row("b_vs_t_top_pathway", top["term"], "b_vs_t_top_pathway",
                                f"{_described(comparisons[pair])}, {pathway_source}: highest combined score "
                                "(Enrichr's ranking; the paper ranked Enrichr's terms by z-score)"))
        rows.append(summary_row("b_vs_t_top_pathway_adjusted_p", top["adjusted_p_bh"],
                                "b_vs_t_top_pathway_adjusted_p", "BH over the terms tested"))
    elif pathway_source is None:  # no enrichment source (cic.defaults)
        rows += [summary_row(quantity, not_run("enrichment.sources", "a GMT file of the data's gene ids"),
                             note="no gene set source configured")
                 for quantity in ("b_vs_t_top_pathway", "b_vs_t_top_pathway_adjusted_p")]
    return rows


def _top_term(table: pd.DataFrame, rank_column: str) -> dict:
    """The best term by ``rank_column`` (ties: smallest p); a placeholder when no term overlaps the genes."""
    if table.empty:
        return {"term": "none (no term overlaps the genes)", "adjusted_p_bh": 1.0}
    return table.sort_values([rank_column, "p_value"], kind="stable").iloc[0].to_dict()


def _rank_text(rank) -> str | int:
    return "absent" if pd.isna(rank) else int(rank)
