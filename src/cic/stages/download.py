"""Public data sources: download (cached) and import GEO samples or CellNet's training data as a raw matrix.

Both write what the synthetic source writes: a genes x samples parquet matrix (gene ids may repeat: probe sets are
collapsed by ``prepare_expression``) and a sample sheet (``sample``, ``cell_type``, ``study``), so the existing
preparation (balanced selection, log2, probe collapsing, quantile normalisation) applies unchanged. The balanced
selection is done here first as well, so that only the samples that will be used are downloaded and written, and a
cell type with too few samples is reported against the user's sheet before anything is downloaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from cic import geo
from cic.cellnet import is_table_export, read_r_object, samples_from_table
from cic.dataset import read_expression
from cic.download import DownloadError, DownloadSettings, describe_failures, fetch, fetch_all
from cic.errors import InputError
from cic.io import atomic_path, write_table
from cic.prepare import select_balanced_samples

log = logging.getLogger(__name__)


def _cache_name(url: str) -> str:
    """The file name a URL is cached under: the last part of its path."""
    return Path(urlparse(url).path).name or "download"


def _fetch_one(url: str, destination: Path, settings: DownloadSettings, sha256: str | None, key: str) -> Path:
    try:
        downloaded = fetch(url, destination, settings, sha256=sha256, show_progress=True)
    except DownloadError as error:
        raise InputError(url, f"download failed: {error}",
                         f"check dataset.{key} and your connection, then re-run") from error
    log.info("%s: %s", destination, "downloaded" if downloaded else "from the cache")
    return destination


def _select(samples: pd.DataFrame, dataset: dict, seed: int, source) -> pd.DataFrame:
    keep = select_balanced_samples(samples, dataset.get("samples_per_type"), seed, dataset.get("cell_types"),
                                   str(source))
    log.info("selected %d of %d samples (%d cell types)", len(keep), len(samples),
             samples.loc[keep, "cell_type"].nunique())
    return samples.loc[keep]


def write_raw(matrix: pd.DataFrame, samples: pd.DataFrame, expression_path, samples_path) -> None:
    """genes x samples parquet (first column ``gene``) + sample sheet, each written atomically."""
    with atomic_path(expression_path) as tmp:
        matrix.rename_axis("gene").reset_index().to_parquet(tmp, index=False)
    write_table(samples.rename_axis("sample").reset_index(), samples_path)
    log.info("wrote %d gene rows x %d samples to %s", *matrix.shape, expression_path)


def import_geo(sample_sheet, geo_settings: dict, download: dict, dataset: dict, seed: int, expression,
               samples_out) -> None:
    """Download the sheet's samples and the platform annotation (cached), map probes to genes, write the matrix."""
    sheet_path = Path(sample_sheet)
    samples = _select(geo.read_geo_sample_sheet(sheet_path), dataset, seed, sheet_path)
    settings = DownloadSettings.from_config(download)
    cache = Path(download["cache_dir"]) / "geo"

    annotation_url = geo_settings["platform_annotation_url"]
    annotation_path = _fetch_one(annotation_url, cache / "platforms" / _cache_name(annotation_url), settings,
                                 None, "geo.platform_annotation_url")

    jobs = {accession: (geo.sample_url(geo_settings["base_url"], accession), cache / "samples" / f"{accession}.soft")
            for accession in samples.index}
    failures = fetch_all(jobs, settings, validate=geo.check_sample_record, description="GEO samples")
    if failures:
        raise InputError(sheet_path, f"{len(failures)} of {len(jobs)} sample(s) could not be downloaded: "
                                     f"{describe_failures(failures)}",
                         "check those accessions (HTTP 404 or a non-SOFT reply: GEO has no public sample of that "
                         "name) and your connection, then re-run; samples already downloaded are cached")

    mapping = geo.probe_symbols(geo.read_platform_annotation(annotation_path, geo_settings["symbol_column"]),
                                geo_settings["multi_symbol_probes"])
    paths = {accession: path for accession, (_, path) in jobs.items()}
    matrix, records = geo.read_samples(paths, mapping, geo_settings["platform"], sheet_path)
    if matrix.empty:
        raise InputError(annotation_path, f"no probe measured in all samples has a gene symbol in column "
                                          f"'{geo_settings['symbol_column']}'",
                         "check dataset.geo.platform_annotation_url and symbol_column")
    scales = geo.harmonise_scales(matrix)

    series = pd.Series({record.accession: record.series for record in records})
    sheet = pd.DataFrame({
        "cell_type": samples["cell_type"],
        # The sheet's study, else the sample's (first) GEO series.
        "study": samples["study"].where(samples["study"] != "", series).replace("", "unknown"),
        "geo_series": series,
        "platform": pd.Series({record.accession: record.platform for record in records}),
        "title": pd.Series({record.accession: record.title for record in records}),
        "value_scale": scales,  # as deposited in GEO (log2-looking samples are exponentiated when mixed)
    }, index=samples.index)
    write_raw(matrix, sheet, expression, samples_out)


def import_cellnet(cellnet: dict, download: dict, dataset: dict, seed: int, expression, samples_out) -> None:
    """Download (cached, checksummed) CellNet's training data, select the types and samples, write the matrix."""
    url = cellnet["url"]
    if not url:
        raise InputError("config", "dataset.cellnet.url is empty",
                         "set it to CellNet's training object (e.g. cnProc_Hg1332_062414.R) or a TSV export")
    settings = DownloadSettings.from_config(download)
    cache = Path(download["cache_dir"]) / "cellnet"
    path = _fetch_one(url, cache / _cache_name(url), settings, cellnet.get("sha256"), "cellnet.url / sha256")

    if is_table_export(url):
        table_url = cellnet.get("sample_table_url")
        if not table_url or not cellnet.get("sample_column"):
            raise InputError(url, "a TSV export needs its sample table",
                             "set dataset.cellnet.sample_table_url and sample_column")
        table_path = _fetch_one(table_url, cache / _cache_name(table_url), settings,
                                cellnet.get("sample_table_sha256"), "cellnet.sample_table_url / sample_table_sha256")
        raw = read_expression(path, "genes_x_samples", table_path, cellnet["sample_column"],
                              cellnet["cell_type_column"], cellnet.get("study_column"))
        matrix = pd.DataFrame(raw.matrix.T, index=raw.genes, columns=raw.samples.index)
        samples, source = raw.samples, table_path
    else:
        matrix, table = read_r_object(path, cellnet["expression_object"], cellnet["sample_table_object"])
        samples = samples_from_table(table, cellnet.get("sample_column"), cellnet["cell_type_column"],
                                     cellnet.get("study_column"), list(matrix.columns), path,
                                     cellnet["sample_table_object"])
        source = path
    log.info("read %d gene rows x %d samples (%d cell types) from %s", matrix.shape[0], len(samples),
             samples["cell_type"].nunique(), path)
    samples = _select(samples, dataset, seed, source)
    write_raw(matrix[samples.index], samples, expression, samples_out)


def import_dataset(database: str, settings: dict, download: dict, dataset: dict, seed: int, expression, samples_out,
                   sample_sheet=None) -> None:
    """Rule import_dataset (workflow/rules/download.smk): :func:`import_geo` (``database`` "geo", with the user's
    ``sample_sheet``) or :func:`import_cellnet` ("cellnet"); ``settings`` is dataset.geo or dataset.cellnet,
    ``dataset`` the selection keys (samples_per_type, cell_types)."""
    if database == "geo":
        import_geo(sample_sheet, settings, download, dataset, seed, expression, samples_out)
    else:
        import_cellnet(settings, download, dataset, seed, expression, samples_out)
