"""GEO samples (GSM) as SOFT text, the platform's probe annotation, and the probes x samples -> genes matrix.

Download format: one SOFT text per sample from GEO's accession display (``acc.cgi?acc=GSM...&targ=self&form=text
&view=full``): ``!Sample_*`` header lines (platform, series, title) followed by the sample's data table between
``!sample_table_begin`` and ``!sample_table_end`` with columns ``ID_REF`` (probe set) and ``VALUE``. Per-sample files
(rather than whole-series matrices) let a sample sheet pick any samples of any series, and are cached one by one.

The platform annotation is GEO's ``GPLxxx.annot.gz`` (SOFT as well, a ``!platform_table_begin`` table with a
``Gene symbol`` column); a plain tab-separated table with a header row is accepted too.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cic.dataset import MISSING_GENE_IDS, read_sample_sheet
from cic.download import DownloadError
from cic.errors import InputError
from cic.prepare import looks_log_transformed

log = logging.getLogger(__name__)

ACCESSION = re.compile(r"^GSM\d+$")
MULTI_SYMBOL_SEPARATOR = "///"
MULTI_SYMBOL_RULES = ("drop", "split")
MISSING_VALUES = {"", "null", "NULL", "NA", "NaN", "nan"}


def sample_url(base_url: str, accession: str) -> str:
    """GEO's accession display URL for the full SOFT text of one record."""
    return f"{base_url}?acc={accession}&targ=self&form=text&view=full"


def _open_text(path: Path):
    """Open a text file that may be gzip-compressed (recognised by its magic bytes, not its name)."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


@dataclass
class SoftRecord:
    """A SOFT text: ``^ENTITY = accession`` lines, ``!Key = value`` attributes and the data table (as text)."""

    entities: dict[str, str]  # e.g. {"SAMPLE": "GSM1"}, {"PLATFORM": "GPL570"}
    attributes: dict[str, list[str]]  # "!Sample_platform_id" -> ["GPL570"]; keys repeat in SOFT, so lists
    table_text: str | None  # header row + rows, tab-separated; None when the record has no table
    table_line: int  # line number of the table's header row (for error messages)


TABLE_BEGIN = re.compile(r"^!\w+_table_begin[ \t]*\r?$", re.MULTILINE | re.IGNORECASE)
TABLE_END = re.compile(r"^!\w+_table_end[ \t]*\r?$", re.MULTILINE | re.IGNORECASE)


def read_soft(path: Path) -> SoftRecord:
    with _open_text(path) as handle:
        text = handle.read()
    begin = TABLE_BEGIN.search(text)
    header = text[: begin.start()] if begin else text
    table_text, table_line = None, 0
    if begin:
        end = TABLE_END.search(text, begin.end())
        table_text = text[begin.end() + 1: end.start() if end else len(text)]
        table_line = header.count("\n") + 2
    entities: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for line in header.splitlines():
        if line.startswith("^"):
            key, _, value = line[1:].partition("=")
            entities[key.strip().upper()] = value.strip()
        elif line.startswith("!"):
            key, _, value = line.partition("=")
            attributes.setdefault(key.strip(), []).append(value.strip())
    return SoftRecord(entities, attributes, table_text or None, table_line)


def check_sample_record(accession: str, path: Path) -> None:
    """Reject what is not GEO's SOFT text of ``accession`` (an error page, another record) before it is cached."""
    if read_soft(path).entities.get("SAMPLE") != accession:
        with _open_text(path) as handle:
            first = next((line.strip() for line in handle if line.strip()), "")
        shown = first[:60] + ("..." if len(first) > 60 else "")
        raise DownloadError(f"the reply is not GEO's SOFT record of {accession} (starts with {shown!r}); "
                            f"unknown or private accession?")


# --- the sample sheet -------------------------------------------------------------------------------------------

def read_geo_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Sheet columns: ``sample`` (GSM accession), ``cell_type``, optional ``study``; other columns are ignored.

    Returns a frame indexed by accession with ``cell_type`` and ``study`` (empty where the sheet has no study: it
    is then taken from the sample's GEO series).
    """
    path = Path(path)
    separator = "," if path.name.lower().endswith((".csv", ".csv.gz")) else "\t"
    try:
        columns = pd.read_csv(path, sep=separator, nrows=0).columns
    except FileNotFoundError:
        raise InputError(path, "GEO sample sheet not found", "check dataset.geo.sample_sheet in your config")
    except Exception as error:
        raise InputError(path, f"cannot be parsed as a tab-separated table ({error})",
                         "save it as tab-separated text with a header row") from error
    has_study = "study" in columns
    samples = read_sample_sheet(path, "sample", "cell_type", "study" if has_study else None)
    if not has_study:
        samples["study"] = ""
    bad = [accession for accession in samples.index if not ACCESSION.match(accession)]
    if bad:
        line = int(np.flatnonzero(samples.index == bad[0])[0]) + 2
        raise InputError(path, f"'{bad[0]}' at line {line}, column 'sample' is not a GEO sample accession",
                         "use GSM accessions such as GSM1234567, one per row")
    return samples


# --- the platform annotation ------------------------------------------------------------------------------------

def _read_table_text(text: str, path: Path, first_line: int, usecols: list[str] | None = None,
                     na_values=None) -> pd.DataFrame:
    """A SOFT data table; every column is text except those read with ``na_values`` (then numbers if they can)."""
    dtype = str if na_values is None else {column: str for column in usecols if column != "VALUE"}
    try:
        return pd.read_csv(io.StringIO(text), sep="\t", dtype=dtype, keep_default_na=False, na_values=na_values,
                           usecols=usecols, quoting=3, on_bad_lines="error")
    except Exception as error:
        raise InputError(path, f"the data table starting at line {first_line} cannot be parsed ({error})",
                         "delete the cached file so that it is downloaded again") from error


def read_platform_annotation(path: Path, symbol_column: str, id_column: str | None = None,
                             config_key: str = "dataset.geo") -> pd.Series:
    """Probe id -> gene symbol text (may be empty or 'A /// B'), in the annotation's order. ``id_column`` None:
    ``ID`` when the table has it (GEO), else its first column. A symbol spelled as missing (``---``, ``NA``, as
    Affymetrix' and R's exports write it) is empty. ``config_key`` is named in the fixes of the errors."""
    record = read_soft(path)
    if record.table_text is not None:
        table = _read_table_text(record.table_text, path, record.table_line)
    else:  # a plain tab-separated table; '#' lines are comments
        with _open_text(path) as handle:
            table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, comment="#", quoting=3)
    for column, key in ((symbol_column, "symbol_column"), (id_column, "id_column")):
        if column is not None and column not in table.columns:
            raise InputError(path, f"the platform annotation has no column '{column}' "
                                   f"(columns: {', '.join(table.columns[:12])})",
                             f"set {config_key}.{key} to the column with the "
                             f"{'gene symbols' if key == 'symbol_column' else 'probe ids'}")
    id_column = id_column or ("ID" if "ID" in table.columns else table.columns[0])
    symbols = table[symbol_column].str.strip()
    symbols[symbols.str.lower().isin(MISSING_GENE_IDS)] = ""
    symbols.index = table[id_column].str.strip()
    return symbols[~symbols.index.duplicated(keep="first")]


def probe_symbols(annotation: pd.Series, multi_symbol_probes: str = "drop") -> pd.Series:
    """Probe -> one gene symbol per row. Probes without a symbol are dropped; probes annotated with several
    symbols ('A /// B', typically cross-hybridising probe sets) are dropped (``drop``) or kept once per symbol
    (``split``). The index may repeat with ``split``."""
    if multi_symbol_probes not in MULTI_SYMBOL_RULES:
        raise ValueError(f"unknown multi_symbol_probes {multi_symbol_probes!r}; use one of {MULTI_SYMBOL_RULES}")
    annotated = annotation[annotation != ""]
    multi = annotated.str.contains(MULTI_SYMBOL_SEPARATOR, regex=False)
    single = annotated[~multi]
    if multi_symbol_probes == "drop":
        mapping = single
    else:
        split = annotated[multi].str.split(MULTI_SYMBOL_SEPARATOR).explode().str.strip()
        mapping = pd.concat([single, split[split != ""]])
        mapping = mapping.iloc[np.argsort(annotation.index.get_indexer(mapping.index), kind="stable")]
    log.info("platform annotation: %d probes, %d without a symbol (dropped), %d with several symbols (%s)",
             len(annotation), len(annotation) - len(annotated), int(multi.sum()),
             "dropped" if multi_symbol_probes == "drop" else "split")
    return mapping


def map_probes(probes: pd.Index, mapping: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(positions in ``probes`` of the probes that ``mapping`` annotates, their symbols): a probe once per symbol of
    :func:`probe_symbols` (its index may repeat), in the order of ``probes``; probes without a symbol are left out."""
    symbols = pd.DataFrame({"probe": mapping.index.astype(str), "symbol": mapping.to_numpy(),
                            "order": np.arange(len(mapping))})
    rows = pd.DataFrame({"probe": pd.Index(probes).astype(str), "row": np.arange(len(probes))})
    joined = rows.merge(symbols, on="probe", how="inner").sort_values(["row", "order"], kind="stable")
    return joined["row"].to_numpy(), joined["symbol"].astype(str).tolist()


# --- the samples -------------------------------------------------------------------------------------------------

@dataclass
class GeoSample:
    accession: str
    platform: str
    series: str  # first GEO series (GSE) the sample belongs to
    title: str


def read_sample(path: Path, accession: str) -> tuple[GeoSample, pd.Series]:
    """The sample's metadata and its values (probe id -> VALUE, NaN where GEO has null)."""
    record = read_soft(path)

    def first(key: str) -> str:
        return (record.attributes.get(key) or [""])[0]

    if record.table_text is None:
        raise InputError(path, f"sample {accession} has no data table in GEO (only raw files?)",
                         "remove it from the sample sheet or process its CEL file yourself")
    columns = record.table_text.split("\n", 1)[0].rstrip("\r").split("\t")
    for column in ("ID_REF", "VALUE"):
        if column not in columns:
            raise InputError(path, f"the data table of {accession} has no column '{column}' "
                                   f"(line {record.table_line})", "delete the cached file to download it again")
    table = _read_table_text(record.table_text, path, record.table_line, usecols=["ID_REF", "VALUE"],
                             na_values=MISSING_VALUES)
    values = table["VALUE"]
    if values.dtype.kind not in "iuf":  # something other than numbers and GEO's nulls: name the first one
        numbers = pd.to_numeric(values, errors="coerce")
        row = int(np.flatnonzero((numbers.isna() & values.notna()).to_numpy())[0])
        raise InputError(path, f"non-numeric VALUE {values.iloc[row]!r} of probe '{table['ID_REF'].iloc[row]}' "
                               f"(line {record.table_line + row + 1}) in sample {accession}",
                         "remove the sample from the sheet")
    values = values.astype(np.float64)
    values.index = table["ID_REF"]
    if values.index.has_duplicates:
        duplicate = values.index[values.index.duplicated()][0]
        raise InputError(path, f"probe '{duplicate}' appears twice in the data table of {accession}",
                         "remove the sample from the sheet")
    sample = GeoSample(accession, first("!Sample_platform_id"), first("!Sample_series_id"), first("!Sample_title"))
    return sample, values


def check_platforms(samples: list[GeoSample], platform: str, sheet: Path) -> None:
    """Every sample must be on the configured platform: the probe annotation is that platform's."""
    others = [f"{sample.accession} is on {sample.platform or 'an unknown platform'}" for sample in samples
              if sample.platform != platform]
    if others:
        raise InputError(sheet, f"{len(others)} sample(s) are not on platform {platform} "
                                f"(dataset.geo.platform): {', '.join(others)}",
                         "remove them from the sheet or set dataset.geo.platform (and its annotation) to theirs")


def read_samples(paths: dict[str, Path], mapping: pd.Series, platform: str, sheet: Path):
    """Read every sample onto the annotated probes; returns (matrix, samples' metadata).

    The matrix has one row per probe of ``mapping``, labelled by its gene symbol (repeated where several probes
    measure one gene; they are collapsed later by ``preprocess.collapse_duplicate_genes``), and one column per
    sample. Probes missing or null in any sample are dropped: the preparation needs a complete matrix. Samples are
    read one at a time into one float array, so memory stays at the size of the matrix.
    """
    probes = mapping.index.unique()
    values = np.empty((len(probes), len(paths)))
    samples = []
    rows_of, positions = None, None  # where each probe is in a sample's table; GEO tables of one platform agree
    for column, (accession, path) in enumerate(paths.items()):
        sample, sample_values = read_sample(path, accession)
        samples.append(sample)
        if rows_of is None or not sample_values.index.equals(rows_of):
            rows_of, positions = sample_values.index, sample_values.index.get_indexer(probes)
        # Position -1 (a probe the sample lacks) picks the NaN appended at the end.
        values[:, column] = np.append(sample_values.to_numpy(), np.nan)[positions]
    check_platforms(samples, platform, sheet)

    measured = ~np.isnan(values).any(axis=1)
    if not measured.all():
        log.warning("dropping %d of %d annotated probes that are missing or null in at least one sample",
                    int((~measured).sum()), len(probes))
    rows, symbols = map_probes(probes[measured], mapping)
    matrix = pd.DataFrame(values[measured][rows], columns=list(paths), index=pd.Index(symbols, name="gene"))
    log.info("%d probes with a gene symbol -> %d rows for %d distinct genes", len(np.unique(rows)), len(matrix),
             matrix.index.nunique())
    return matrix, samples


def harmonise_scales(matrix: pd.DataFrame) -> pd.Series:
    """Bring every sample to the raw intensity scale, in place; returns each sample's scale as submitted.

    GEO's VALUE columns are whatever submitters deposited: MAS5 signals (raw scale) or RMA/GCRMA (log2). When a
    compendium mixes both, the log2-looking samples (GEO2R's rule, per sample) are exponentiated, so that the one
    log2 step of the preparation treats all samples alike. A compendium entirely on one scale is left as it is.
    """
    scales = pd.Series({sample: "log2" if looks_log_transformed(matrix[sample].to_numpy()) else "raw"
                        for sample in matrix.columns})
    logged = scales.index[scales == "log2"]
    if 0 < len(logged) < len(scales):
        log.warning("%d of %d samples look log2-transformed and the others raw; exponentiating the log2 ones "
                    "(e.g. %s)", len(logged), len(scales), ", ".join(logged[:5]))
        matrix[logged] = np.exp2(matrix[logged])
    return scales
