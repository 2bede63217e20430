"""Gene identifiers: what kind a list of ids is, Ensembl version suffixes, probe sets -> gene symbols, and whether a
gene set source can meet the data at all.

Expression matrices name their rows with gene symbols (``TP53``), Ensembl gene ids (``ENSG00000141510``, often with
a version suffix, ``ENSG00000141510.16``), Entrez gene ids (``7157``) or the probe sets of an array
(``201746_at``); gene set libraries (GO, KEGG, Enrichr's GMT files) use gene symbols. An enrichment of probe sets
against symbols finds nothing, silently, so the workflow recognises both kinds (:func:`identifier_kind`), records
the data's in ``uns["provenance"]["gene_id_kind"]``, and stops with one line when a source shares too few genes
with the data (:func:`check_overlap`). Probe sets become gene symbols through the platform's annotation table
(:func:`map_to_symbols`, with the GEO source's own rules, :mod:`cic.geo`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cic.errors import InputError

if TYPE_CHECKING:
    from cic.dataset import RawDataset

log = logging.getLogger(__name__)

SYMBOL, ENSEMBL, ENSEMBL_VERSIONED, ENTREZ, PROBE_SET, OTHER = (
    "gene_symbol", "ensembl_gene", "ensembl_gene_versioned", "entrez_gene", "affymetrix_probe_set", "other")
# Tested in this order; the first pattern an id matches is its kind.
PATTERNS = {
    ENSEMBL: re.compile(r"ENS[A-Z]{0,6}G\d{11}"),  # ENSG (human), ENSMUSG (mouse), ...
    ENSEMBL_VERSIONED: re.compile(r"ENS[A-Z]{0,6}G\d{11}\.\d+(?:_PAR_Y)?"),  # GENCODE: ENSG00000002586.20_PAR_Y
    ENTREZ: re.compile(r"\d+"),
    # Affymetrix 3' arrays: 1007_s_at, 121_at, 1552256_a_at, AFFX-BioB-5_at, AFFX-HUMGAPDH/M33197_3_at.
    PROBE_SET: re.compile(r"AFFX[-_].+|[A-Za-z0-9./-]+?(?:_[a-z])?_at"),
    # HGNC-like symbols: a letter, then letters and digits, parts joined by '-', '.' or '@' (HLA-A, C1orf112,
    # MT-ND1, RP11-34P13.7, IGH@). Mouse symbols (Trp53) have the same shape.
    SYMBOL: re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.@][A-Za-z0-9]+)*@?"),
}
KIND_NAMES = {SYMBOL: "gene symbols", ENSEMBL: "Ensembl gene ids", ENSEMBL_VERSIONED: "Ensembl gene ids with version "
              "suffixes", ENTREZ: "Entrez gene ids", PROBE_SET: "Affymetrix probe sets", OTHER: "unrecognised ids"}
VERSION_SUFFIX = re.compile(r"^(ENS[A-Z]{0,6}G\d{11})\.\d+(?:_PAR_Y)?$")
# A kind needs more than this fraction of the ids; below it the list is "other" (a mixture).
MAJORITY = 0.5


def id_kind(gene_id: str) -> str:
    """The kind of one identifier (one of :data:`KIND_NAMES`'s keys)."""
    text = str(gene_id).strip()
    return next((kind for kind, pattern in PATTERNS.items() if pattern.fullmatch(text)), OTHER)


def identifier_kind(ids: Iterable[str]) -> tuple[str, str]:
    """(kind, an example id of that kind) of a list of identifiers: the kind of more than half of the distinct
    ids (:data:`MAJORITY`), else ``other``. Shapes only: a synthetic ``GENE00001`` is symbol-shaped."""
    distinct = list(dict.fromkeys(str(gene_id).strip() for gene_id in ids))
    if not distinct:
        return OTHER, ""
    kinds = pd.Series([id_kind(gene_id) for gene_id in distinct], index=distinct)
    counts = kinds.value_counts()
    kind = str(counts.index[0]) if counts.iloc[0] > MAJORITY * len(distinct) else OTHER
    example = kinds.index[kinds == kind][0] if kind != OTHER else distinct[0]
    return kind, str(example)


def describe(kind: str, example: str = "") -> str:
    """'Affymetrix probe sets (e.g. '1007_s_at')', for messages."""
    return KIND_NAMES.get(kind, kind) + (f" (e.g. {example!r})" if example else "")


def strip_ensembl_versions(genes: Iterable[str]) -> tuple[list[str], int]:
    """Ensembl gene ids without their version suffix (``ENSG00000141510.16`` -> ``ENSG00000141510``; GENCODE's
    ``_PAR_Y`` copies lose it too, so they collapse with their X copy); other ids are kept. Returns the ids and how
    many were changed. Two versions of one gene become repeated ids, which ``preprocess.collapse_duplicate_genes``
    collapses like repeated probe sets."""
    stripped, changed = [], 0
    for gene in genes:
        match = VERSION_SUFFIX.match(gene)
        stripped.append(match.group(1) if match else gene)
        changed += match is not None
    return stripped, changed


# --------------------------------------------------------------------------------------------------------------
# Probe sets -> gene symbols (dataset.local.annotation)


def read_symbol_mapping(path, id_column: str | None, symbol_column: str, multi_symbol_probes: str,
                        config_key: str = "dataset.local.annotation") -> pd.Series:
    """Probe id -> one gene symbol per row, from a platform annotation: GEO's ``GPLnnn.annot(.gz)`` (SOFT), or a
    tab-separated table with a header row (gzip or not). The GEO source's rules (:func:`cic.geo.probe_symbols`):
    probes without a symbol are dropped, probes with several (``A /// B``) dropped or split."""
    from cic.geo import probe_symbols, read_platform_annotation

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "annotation table not found", f"check {config_key}.file in your config")
    annotation = read_platform_annotation(path, symbol_column, id_column, config_key)
    return probe_symbols(annotation, multi_symbol_probes)


def map_to_symbols(raw: RawDataset, mapping: pd.Series, annotation_path) -> RawDataset:
    """The columns of ``raw`` (samples x probe ids) relabelled with gene symbols: a probe without a symbol in
    ``mapping`` is dropped, a probe mapped to several symbols (``split``) is repeated once per symbol, in the data's
    order. Repeated symbols stay separate columns for ``preprocess.collapse_duplicate_genes`` (as the GEO source).
    The counts go to the provenance. Raises :class:`InputError` when no probe of the data is in the annotation."""
    from cic.geo import map_probes

    positions, symbols = map_probes(pd.Index(raw.genes), mapping)
    input_kind, input_example = identifier_kind(raw.genes)
    if not len(positions):
        data, annotated = describe(input_kind, input_example), describe(*identifier_kind(mapping.index))
        raise InputError(annotation_path, f"none of the data's {len(raw.genes)} ids ({data}) has a gene symbol in "
                                          f"the annotation (its ids: {annotated})",
                         "give the annotation of the data's platform, and its id column in "
                         "dataset.local.annotation.id_column")
    unmapped = len(raw.genes) - len(np.unique(positions))
    log.info("%s: %d of %d probe ids mapped to %d gene symbols (%d rows); %d without a symbol dropped",
             annotation_path, len(raw.genes) - unmapped, len(raw.genes), len(set(symbols)), len(symbols), unmapped)
    notes = raw.notes | {"probe_annotation": str(annotation_path), "input_gene_id_kind": input_kind,
                         "probe_ids_mapped": len(raw.genes) - unmapped, "probe_ids_without_symbol": unmapped}
    locations = [raw.gene_locations[i] for i in positions] if raw.gene_locations else None
    return replace(raw, matrix=np.ascontiguousarray(raw.matrix[:, positions]), genes=list(symbols),
                   gene_locations=locations, notes=notes)


# --------------------------------------------------------------------------------------------------------------
# Do a gene set source and the data share their identifiers?


def source_genes(entry: Mapping) -> tuple[set[str], str]:
    """(every gene of a configured enrichment source, where it is): a local GMT's genes; an Enrichr library's are
    not known offline (an empty set: Enrichr's libraries use human gene symbols)."""
    from cic.enrichment import load_gene_set_source

    if "enrichr_library" in entry:
        return set(), f"Enrichr library {entry['enrichr_library']!r}"
    return {gene for genes in load_gene_set_source(entry).values() for gene in genes}, str(entry["gmt"])


OVERLAP_COLUMNS = ["source", "where", "source_kind", "source_example", "source_genes", "data_kind", "data_example",
                   "data_genes", "shared_genes", "fraction"]


def overlap_row(data_genes: list[str], entry: Mapping) -> dict:
    """One row of the overlap table: the source's and the data's kinds and sizes and the genes they share.
    ``fraction`` is the shared genes over the smaller of the two lists (a small, hand-made library of the data's
    genes, or a top-variance subset against a whole library, is not a mismatch); NaN for an Enrichr library."""
    data_kind, data_example = identifier_kind(data_genes)
    genes, where = source_genes(entry)
    if "enrichr_library" in entry:
        source_kind, source_example, shared, fraction = SYMBOL, "", np.nan, np.nan
    else:
        source_kind, source_example = identifier_kind(sorted(genes))
        shared = len(genes & set(data_genes))
        fraction = shared / max(1, min(len(genes), len(set(data_genes))))
    values = [entry["name"], where, source_kind, source_example, len(genes) if genes else np.nan, data_kind,
              data_example, len(set(data_genes)), shared, fraction]
    return dict(zip(OVERLAP_COLUMNS, values))


def check_overlap(row: Mapping, min_fraction: float) -> None:
    """:class:`InputError` (one line: both identifier kinds, the overlap, the fix) when a source of :func:`overlap_row`
    shares less than ``min_fraction`` of the smaller gene list with the data, or when an Enrichr library (gene
    symbols) meets data whose ids are not symbols."""
    data, source = describe(row["data_kind"], row["data_example"]), describe(row["source_kind"],
                                                                              row["source_example"])
    enrichr = pd.isna(row["fraction"])
    if enrichr and row["data_kind"] in (SYMBOL, OTHER):
        return
    if not enrichr and row["fraction"] >= min_fraction:
        return
    shared = "cannot be tested offline for overlap and needs gene symbols: " if enrichr else (
        f"shares {int(row['shared_genes'])} genes with the data ({row['fraction']:.1%} of the smaller list: "
        f"{int(row['source_genes'])} source genes, {int(row['data_genes'])} data genes; "
        f"enrichment.min_gene_overlap = {min_fraction:g}): ")
    raise InputError(row["where"], f"gene set source {row['source']!r} {shared}the data's ids are {data}, the "
                                   f"source's are {source}", _overlap_fix(row["data_kind"], row["source_kind"]))


def _overlap_fix(data_kind: str, source_kind: str) -> str:
    if source_kind == SYMBOL and data_kind in (PROBE_SET, ENSEMBL, ENSEMBL_VERSIONED, ENTREZ):
        what = ("your platform's probe annotation (GEO's GPLnnn.annot.gz, e.g. GPL96 for HG-U133A)"
                if data_kind == PROBE_SET else "a table of your ids and their gene symbols")
        return (f"map the data's ids to gene symbols: set dataset.local.annotation.file to {what} (README, "
                "'Gene identifiers'), or list a gene set source with the data's ids in enrichment.sources")
    if data_kind == SYMBOL and source_kind != SYMBOL:
        return "list a gene set source of gene symbols (a GMT file) in enrichment.sources"
    return ("check that the source is for the data's organism and identifier type, or lower "
            "enrichment.min_gene_overlap if a small overlap is expected")


def write_overlap_table(expression, sources: list[Mapping], min_gene_overlap: float, output) -> pd.DataFrame:
    """results/tables/gene_set_overlap.tsv: one :func:`overlap_row` per enrichment source; the first source that
    cannot meet the data stops the run (:func:`check_overlap`) before the table is written."""
    from cic import io

    data_genes = [str(gene) for gene in io.read_h5ad(expression).var_names]
    rows = [overlap_row(data_genes, entry) for entry in sources]
    for row in rows:
        log.info("%s: %s shared of %s source genes (%s) and %d data genes (%s)", row["source"], row["shared_genes"],
                 row["source_genes"], KIND_NAMES[row["source_kind"]], row["data_genes"], KIND_NAMES[row["data_kind"]])
        check_overlap(row, min_gene_overlap)
    table = pd.DataFrame(rows, columns=OVERLAP_COLUMNS)
    io.write_table(table, output)
    return table
