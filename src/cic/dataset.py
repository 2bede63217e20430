"""Reading a user's expression matrix and sample sheet, with one-line errors that name file, row and column.

Accepted matrices (``samples x genes`` or ``genes x samples``, declared by ``orientation``):

* text: ``.tsv``/``.txt``/``.csv`` (optionally ``.gz``), UTF-8 (with or without a byte-order mark) or UTF-16 (Excel's
  "Unicode text"), LF or CRLF line ends, separated by tabs, commas, semicolons or single spaces (found from the
  first lines, the file extension's separator first), decimal points or, with semicolons/tabs, decimal commas
  (European Excel); the first column holds the row identifiers; a header one field shorter than the data (R's
  ``write.table``) is understood; leading ``#`` and ``!`` lines are skipped, and a GEO series matrix
  (``*_series_matrix.txt.gz``) is read from its ``!series_matrix_table_begin`` marker; ``.gct`` (GenePattern) drops
  its two header lines and its ``Description`` column;
* ``.parquet``: first column (or the stored index) = row identifiers;
* ``.h5ad`` (AnnData, obs = samples): ``X`` dense or sparse, or a layer (``dataset.local.layer``).

Gene identifiers may repeat (probe sets) and are collapsed later by :func:`cic.prepare.collapse_duplicate_genes`;
rows (or columns) without a gene identifier are dropped and counted; identifiers that Excel turned into dates
(``1-Sep``, ``2021-09-01``) are refused. Sample ids are stripped of surrounding white space and must be unique;
cell-type labels are kept as written (any Unicode, see :mod:`cic.labels`), but may not be missing.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cic.errors import InputError
from cic.labels import MISSING_VALUES, is_missing, normalize_label

log = logging.getLogger(__name__)

ORIENTATIONS = ("genes_x_samples", "samples_x_genes")
TEXT_KINDS = ("tsv", "csv", "gct")
# pandas' default missing-value strings (read_csv's documentation): a value cell spelled like this is NaN.
NUMERIC_MISSING = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                   "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
# A gene id spelled like this is no id (Affymetrix annotations write "---" for "no symbol").
MISSING_GENE_IDS = MISSING_VALUES | {"---"}
SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", " ": "space"}
SNIFF_LINES = 50
ENCODING_FIX = "save it as UTF-8 text (Excel: 'CSV UTF-8' or 'Unicode Text'; R: fileEncoding = 'UTF-8')"


@dataclass
class RawDataset:
    """Expression as read: ``matrix`` is samples x gene ids (float64, the file's scale; gene ids may repeat),
    ``samples`` is indexed by sample id with columns ``cell_type`` and ``study``, in the matrix's row order.

    ``source`` is the matrix file and ``sample_source`` the file the cell types came from (the sample sheet, or the
    ``.h5ad``); ``sample_locations``/``gene_locations`` say where each sample/gene is in the matrix file ("column
    11", "line 58"), for error messages; ``notes`` go to the provenance (dropped rows, encoding, separator).
    """

    matrix: np.ndarray
    genes: list[str]
    samples: pd.DataFrame
    source: str = ""
    sample_source: str = ""
    sample_locations: list[str] | None = None
    gene_locations: list[str] | None = None
    notes: dict = field(default_factory=dict)

    def where_sample(self, row: int) -> str:
        return f"sample '{self.samples.index[row]}'" + (
            f" ({self.sample_locations[row]})" if self.sample_locations else "")

    def where_gene(self, column: int) -> str:
        return f"gene '{self.genes[column]}'" + (f" ({self.gene_locations[column]})" if self.gene_locations else "")


# --------------------------------------------------------------------------------------------------------------
# File kinds, encodings and separators


def _format_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffixes, kind in (((".tsv", ".txt", ".tab"), "tsv"), ((".csv",), "csv"), ((".gct",), "gct"),
                           ((".parquet", ".pq"), "parquet"), ((".h5ad",), "h5ad")):
        if name.endswith(suffixes):
            if kind in ("parquet", "h5ad") and path.name.lower().endswith(".gz"):
                break
            return kind
    raise InputError(path, "unknown file type",
                     "use .tsv/.txt/.csv/.gct (optionally .gz), .parquet or .h5ad (Excel workbooks: save as "
                     "'Text (Tab delimited)' or 'CSV UTF-8')")


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(path, f"{what} not found",
                         "check the path (dataset.local or query.samples in your config; --expression or "
                         "--sample-sheet of cic query)")
    if not path.is_file() or not os.access(path, os.R_OK):
        raise InputError(path, f"{what} is not a readable file", "check the path and its permissions")


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _detect_encoding(path: Path, head: bytes) -> str:
    """UTF-8 (a byte-order mark is dropped) or UTF-16 (with a byte-order mark, or recognised by its zero bytes)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if b"\x00" in head[:4096]:
        sample = head[:4096]
        if sample[1::2].count(0) > len(sample) // 4:
            return "utf-16-le"
        if sample[0::2].count(0) > len(sample) // 4:
            return "utf-16-be"
        raise InputError(path, "is binary, not text", "give a text table, .parquet or .h5ad file")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise InputError(path, f"is not UTF-8 text (byte 0x{head[error.start]:02x} at byte {error.start + 1}; "
                               "probably Latin-1/Windows-1252)", ENCODING_FIX) from None
    return "utf-8-sig"


@dataclass(frozen=True)
class TextFormat:
    """How a text table is laid out: ``preamble`` lines before the header row, the header's fields and whether it
    lacks the identifier column's name (R's ``write.table``), ``width`` = fields per data line."""

    encoding: str
    separator: str
    decimal: str
    preamble: int
    header: tuple[str, ...]
    width: int

    @property
    def header_without_id(self) -> bool:
        return len(self.header) == self.width - 1

    def describe(self) -> str:
        return (f"{self.encoding.replace('-sig', '')}, {SEPARATOR_NAMES[self.separator]}-separated"
                + (", decimal comma" if self.decimal == "," else ""))


def _fields(lines: list[str], separator: str) -> list[list[str]]:
    return [row for row in csv.reader(lines, delimiter=separator) if row]


def _choose_separator(path: Path, kind: str, lines: list[str], preamble: int) -> tuple[str, list[list[str]]]:
    """The first separator (the extension's first, then tab, comma, semicolon, space) that splits the header into
    at least two fields and every sampled data line into as many (or one more: R's header without an id name)."""
    preferred = {"csv": ",", "tsv": "\t", "gct": "\t"}[kind]
    problems = []
    for separator in dict.fromkeys([preferred, "\t", ",", ";", " "]):
        rows = _fields(lines, separator)
        if not rows or len(rows[0]) < 2:
            problems.append(f"{SEPARATOR_NAMES[separator]}: one field in the header")
            continue
        widths = {len(row) for row in rows[1:]}
        if len(widths) <= 1 and widths <= {len(rows[0]), len(rows[0]) + 1}:
            return separator, rows
        first_bad = next(i for i, row in enumerate(rows[1:], 1) if len(row) != len(rows[1]) or
                         len(row) not in (len(rows[0]), len(rows[0]) + 1))
        problems.append(f"{SEPARATOR_NAMES[separator]}: {len(rows[0])} header fields, "
                        f"{len(rows[first_bad])} on line {preamble + first_bad + 1}")
    raise InputError(path, f"cannot tell the column separator ({'; '.join(problems[:3])})",
                     "save it as tab-separated text with one header row and as many fields on every line")


def _decimal_mark(rows: list[list[str]], separator: str) -> str:
    """"," when the value cells use decimal commas (European Excel: "1,5" with ";" or tab separators)."""
    if separator == ",":
        return "."
    cells = [cell.strip() for row in rows[1:] for cell in row[1:]]
    comma = any(re.fullmatch(r"[+-]?\d+,\d+(?:[eE][+-]?\d+)?", cell) for cell in cells)
    point = any(re.fullmatch(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?", cell) for cell in cells)
    return "," if comma and not point else "."


def sniff_text(path: Path, kind: str) -> TextFormat:
    """Encoding, separator, decimal mark, preamble and header of a text table, from its first lines."""
    with _open_binary(path) as handle:
        head = handle.read(1 << 16)
    encoding = _detect_encoding(path, head)
    preamble, lines = 0, []
    try:
        with _open_text(path, encoding) as handle:
            for line in handle:
                text = line.rstrip("\r\n")
                if not lines and (not text.strip() or text.startswith(("#", "!"))
                                  or (kind == "gct" and preamble < 2)):
                    preamble += 1
                    continue
                lines.append(text)
                if len(lines) > SNIFF_LINES:
                    break
    except UnicodeDecodeError as error:
        raise InputError(path, f"is not {encoding.replace('-sig', '').upper()} text beyond its first lines "
                               f"({error.reason})", ENCODING_FIX) from None
    if not lines:
        raise InputError(path, "is empty (no header row)", "save the table with a header row")
    if lines[-1].lower().startswith("!series_matrix_table_end"):
        lines.pop()
    separator, rows = _choose_separator(path, kind, lines, preamble)
    header = tuple(field.strip() for field in rows[0])
    width = max(len(row) for row in rows)
    return TextFormat(encoding, separator, _decimal_mark(rows, separator), preamble, header, width)


def _open_text(path: Path, encoding: str):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _read_text_matrix(path: Path, kind: str) -> tuple[pd.DataFrame, list[str], np.ndarray, TextFormat]:
    """(frame as in the file, values as read, row ids as written; column names as written, duplicates kept; the
    file line of each row; format). Value cells spelled as missing (NA, NaN, empty...) are NaN."""
    text = sniff_text(path, kind)
    try:
        frame = pd.read_csv(
            path, sep=text.separator, header=None, skiprows=text.preamble + 1, index_col=0, dtype={0: str},
            keep_default_na=False, na_values={i: NUMERIC_MISSING for i in range(1, text.width)},
            decimal=text.decimal, encoding=text.encoding, skip_blank_lines=False, low_memory=False,
            names=range(text.width))
    except UnicodeDecodeError as error:
        raise InputError(path, f"is not {text.encoding.replace('-sig', '').upper()} text ({error.reason})",
                         ENCODING_FIX) from None
    except Exception as error:  # pandas' message carries the line number
        raise InputError(path, f"cannot be parsed as a {text.describe()} table "
                               f"({str(error).strip().splitlines()[-1]})",
                         "save it as a rectangular table with one header row") from error
    lines = text.preamble + 2 + np.arange(len(frame))
    ids = frame.index.to_series().fillna("").astype(str).str.strip()
    keep = ~((ids == "") & frame.isna().all(axis=1)).to_numpy()  # blank lines
    if ids.iloc[-1:].str.lower().str.startswith("!series_matrix_table_end").any():
        keep[-1] = False
    frame, lines = frame[keep], lines[keep]
    frame.index = ids[keep].to_numpy()
    columns = list(text.header) if text.header_without_id else list(text.header[1:])
    if len(columns) != frame.shape[1]:
        raise InputError(path, f"has {len(columns) + 1} header fields but {frame.shape[1] + 1} fields per line",
                         "give every column a header")
    frame.columns = range(frame.shape[1])
    if kind == "gct" and columns and columns[0].lower() == "description":
        frame, columns = frame.drop(columns=0), columns[1:]
        frame.columns = range(frame.shape[1])
    log.info("%s: %s", path, text.describe())
    return frame, columns, lines, text


def _read_parquet_matrix(path: Path) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """(frame with row ids as index; column names; row numbers): the stored index, or else the first column, holds
    the row ids."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:
        raise InputError(path, f"cannot be read as parquet ({error})", "write it with pandas.DataFrame.to_parquet") \
            from error
    if isinstance(frame.index, pd.RangeIndex):
        frame = frame.set_index(frame.columns[0])
    columns = [str(name) for name in frame.columns]
    frame.index = frame.index.to_series().fillna("").astype(str).str.strip().to_numpy()
    frame.columns = range(frame.shape[1])
    return frame, columns, np.arange(len(frame)) + 1


# --------------------------------------------------------------------------------------------------------------
# Identifiers


def _check_sample_ids(ids: list[str], locations: list[str], path, fix_missing: str) -> None:
    """Sample ids must be present and unique (after stripping); the error names both places of a duplicate."""
    for sample_id, where in zip(ids, locations):
        if is_missing(sample_id):
            raise InputError(path, f"missing sample id {sample_id!r} at {where}", fix_missing)
    first_seen: dict[str, str] = {}
    for sample_id, where in zip(ids, locations):
        if sample_id in first_seen:
            raise InputError(path, f"duplicate sample id '{sample_id}' at {where} (also at {first_seen[sample_id]})",
                             "give every sample a unique id")
        first_seen[sample_id] = where


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = ("(?P<month_name>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# Excel turns these symbols into dates (Zeeberg et al. 2004, Ziemann et al. 2016); the likely original per month.
DATE_SYMBOLS = {"sep": ("SEPT{n}", "SEPTIN{n}"), "mar": ("MARCH{n}", "MARC{n}"), "dec": ("DEC{n}",),
                "oct": ("OCT{n}",), "apr": ("APR-{n}",), "nov": ("NOV",)}
EXCEL_DATES = [
    (re.compile(rf"(?P<day>\d{{1,2}})-{_MONTH}(?:-\d{{2,4}})?", re.I), "day-month"),   # 1-Sep, 01-Sep-2021
    (re.compile(rf"{_MONTH}-(?P<day>\d{{1,2}})", re.I), "month-day"),                  # Sep-01
    (re.compile(r"\d{4}-(?P<month>\d{2})-(?P<day>\d{2})(?:[ T]00:00(?::00)?)?"), "ISO date"),  # 2021-09-01
    (re.compile(r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/\d{2,4}"), "m/d/y date"),         # 9/1/2021
    (re.compile(r"\d+(?:\.\d+)?E[+-]\d+", re.I), "number"),                             # 2310009E13 -> 2.31E+13
]


def excel_mangled(gene_id: str) -> str | None:
    """A hint when ``gene_id`` looks like a symbol that Excel turned into a date or number, else None."""
    for pattern, kind in EXCEL_DATES:
        match = pattern.fullmatch(gene_id.strip())
        if not match:
            continue
        if kind == "number":
            return "an Excel number (a RIKEN clone id such as 2310009E13?)"
        groups = match.groupdict()
        if groups.get("month_name"):
            month = groups["month_name"].lower()[:3]
        else:
            number = int(groups["month"])
            if not 1 <= number <= 12:
                return None
            month = MONTHS[number - 1]
        candidates = DATE_SYMBOLS.get(month)
        day = int(groups["day"])
        guess = " / ".join(c.format(n=day) for c in candidates) if candidates else f"a symbol with {day}"
        return f"an Excel date ({guess}?)"
    return None


def _check_gene_ids(genes: list[str], locations: list[str], path) -> None:
    mangled = [(gene, where, hint) for gene, where in zip(genes, locations) if (hint := excel_mangled(gene))]
    if mangled:
        gene, where, hint = mangled[0]
        others = "; also " + ", ".join(f"'{g}' at {w}" for g, w, _ in mangled[1:4]) + (
            ", ..." if len(mangled) > 4 else "") if len(mangled) > 1 else ""
        raise InputError(path, f"{len(mangled)} gene id(s) look like dates or numbers made by Excel: '{gene}' at "
                               f"{where} is {hint}{others}",
                         "re-export the gene column as text (Excel: format it as Text before pasting, or import "
                         "the file with that column as Text), or rename those rows to their symbols")


def _drop_missing_genes(frame: pd.DataFrame, genes: list[str], locations: list[str], axis: int, path,
                        notes: dict) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Drop the rows (axis 0) or columns (axis 1) without a gene id, logging how many and where."""
    missing = np.array([str(gene).strip().lower() in MISSING_GENE_IDS for gene in genes], dtype=bool)
    if missing.any():
        where = [locations[i] for i in np.flatnonzero(missing)]
        log.warning("%s: dropped %d %s without a gene id (%s%s)", path, int(missing.sum()),
                    "rows" if axis == 0 else "columns", ", ".join(where[:5]), ", ..." if len(where) > 5 else "")
        notes["dropped_without_gene_id"] = int(missing.sum())
        frame = frame.loc[~missing] if axis == 0 else frame.loc[:, ~missing]
    keep = np.flatnonzero(~missing)
    return frame, [genes[i].strip() for i in keep], [locations[i] for i in keep]


# --------------------------------------------------------------------------------------------------------------
# Values


def _numeric_matrix(frame: pd.DataFrame, path, row_ids: list[str], row_where: list[str], column_ids: list[str],
                    row_kind: str) -> np.ndarray:
    """Convert to float64, naming the first cell that is non-numeric, missing or infinite (row and column)."""
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if values.dtype.kind in "biuf":
            continue
        converted = pd.to_numeric(values, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                path, f"non-numeric value {values.iloc[row]!r} at row '{row_ids[row]}' ({row_where[row]}), "
                      f"column '{column_ids[position]}'",
                "every expression cell must be a number (remove annotation columns; with decimal commas use "
                "semicolons or tabs as separators)")
        frame[frame.columns[position]] = converted
    matrix = frame.to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(matrix)
    if not_finite.any():
        row, col = (int(i[0]) for i in np.nonzero(not_finite))
        what = "missing/NaN" if np.isnan(matrix[row, col]) else "infinite"
        raise InputError(path, f"{what} value at row '{row_ids[row]}' ({row_where[row]}), column "
                               f"'{column_ids[col]}'",
                         f"remove or impute that {row_kind}'s missing values before running the workflow")
    return matrix


# --------------------------------------------------------------------------------------------------------------
# Sample sheet


def _read_sheet(path: Path, sample_column: str, cell_type_column: str,
                study_column: str | None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The sheet (index: stripped sample ids; columns cell_type, study) and the file line of each sample."""
    _require_file(path, "sample sheet")
    kind = _format_kind(path)
    if kind not in TEXT_KINDS:
        raise InputError(path, "a sample sheet must be a text table", "save it as tab-separated text")
    text = sniff_text(path, kind)
    try:
        sheet = pd.read_csv(path, sep=text.separator, skiprows=text.preamble, dtype=str, keep_default_na=False,
                            encoding=text.encoding, skip_blank_lines=False)
    except Exception as error:
        raise InputError(path, f"cannot be parsed as a {text.describe()} table ({error})",
                         "save it as tab-separated text") from error
    sheet.columns = [str(column).strip() for column in sheet.columns]
    lines = text.preamble + 2 + np.arange(len(sheet))
    blank = (sheet.apply(lambda column: column.str.strip()) == "").all(axis=1).to_numpy()
    sheet, lines = sheet[~blank], lines[~blank]
    wanted = {"sample": sample_column, "cell type": cell_type_column}
    if study_column:
        wanted["study"] = study_column
    for column in wanted.values():
        if column not in sheet.columns:
            raise InputError(path, f"has no column '{column}' (columns: {', '.join(sheet.columns)})",
                             "rename the column or set dataset.local.*_column in your config")
    fixes = {"sample": "give every sample an id, or delete the row",
             "cell type": "fill in the cell type, or remove the sample from the sheet and the matrix",
             "study": "fill in the study, or set the study column to null (all samples then share one study)"}
    for what, column in wanted.items():
        values = sheet[column].str.strip()
        missing = values.map(is_missing).to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise InputError(path, f"missing value {sheet[column].iloc[row]!r} at line {lines[row]}, column "
                                   f"'{column}' ({int(missing.sum())} in all)", fixes[what])
        control = values.str.contains(r"[\x00-\x1f\x7f]", regex=True).to_numpy()
        if control.any():
            row = int(np.flatnonzero(control)[0])
            raise InputError(path, f"{what} {values.iloc[row]!r} at line {lines[row]}, column '{column}' contains "
                                   "a tab, line break or other control character",
                             "remove it (a quoted cell that spans lines?)")
    ids = sheet[sample_column].str.strip().tolist()
    _check_sample_ids(ids, [f"line {line}, column '{sample_column}'" for line in lines], path,
                      "give every sample an id, or delete the row")
    samples = pd.DataFrame({
        "cell_type": [normalize_label(label) for label in sheet[cell_type_column]],
        "study": sheet[study_column].str.strip().to_numpy() if study_column else "unknown",
    }, index=pd.Index(ids, name="sample"))
    return samples, dict(zip(ids, (int(line) for line in lines)))


def read_sample_sheet(path: str | os.PathLike, sample_column: str = "sample", cell_type_column: str = "cell_type",
                      study_column: str | None = "study") -> pd.DataFrame:
    """Read a sample sheet into a frame indexed by sample (ids stripped) with columns ``cell_type`` (the label as
    written, Unicode NFC, stripped) and ``study``.

    Raises :class:`InputError` naming the line and column of a missing value (empty, NA, NaN, NULL...), a duplicate
    sample id (both lines) or a label with a control character, and for a missing column or unreadable file.
    """
    return _read_sheet(Path(path), sample_column, cell_type_column, study_column)[0]


def _match_samples(matrix_samples: list[str], sheet: pd.DataFrame, lines: dict[str, int], matrix_path: Path,
                   sheet_path: Path) -> pd.DataFrame:
    in_sheet = set(sheet.index)
    missing_from_sheet = [s for s in matrix_samples if s not in in_sheet]
    if missing_from_sheet:
        raise InputError(sheet_path,
                         f"{len(missing_from_sheet)} sample(s) of {matrix_path.name} are not in the sample sheet "
                         f"(first: '{missing_from_sheet[0]}')",
                         "add them to the sheet or remove them from the matrix")
    in_matrix = set(matrix_samples)
    missing_from_matrix = [s for s in sheet.index if s not in in_matrix]
    if missing_from_matrix:
        raise InputError(sheet_path,
                         f"{len(missing_from_matrix)} sample(s) of the sheet are not in {matrix_path.name} "
                         f"(first: '{missing_from_matrix[0]}' at line {lines[missing_from_matrix[0]]})",
                         "remove them from the sheet or add their profiles to the matrix")
    return sheet.loc[matrix_samples]


# --------------------------------------------------------------------------------------------------------------
# Matrices


def read_expression(expression_path: str | os.PathLike, orientation: str = "genes_x_samples",
                    sample_sheet_path: str | os.PathLike | None = None, sample_column: str = "sample",
                    cell_type_column: str = "cell_type", study_column: str | None = "study",
                    layer: str | None = None, labels: bool = True) -> RawDataset:
    """Read and validate an expression matrix and its sample annotations (formats: the module docstring).

    ``labels=False`` (a query of :mod:`cic.query`) makes the sample sheet optional: without one, every sample's
    ``cell_type`` is empty (unknown) and its study ``unknown``.

    Returns a :class:`RawDataset` (samples x gene ids, the file's scale). Raises :class:`InputError` (one line:
    file, row/column, fix) for unreadable files, unknown encodings or separators, missing or duplicate sample ids,
    gene ids mangled by Excel, non-numeric/missing/infinite values, and samples missing from the matrix or sheet.
    ``layer`` (``.h5ad`` only) reads ``adata.layers[layer]`` instead of ``X``.
    """
    path = Path(expression_path)
    _require_file(path, "expression matrix")
    if orientation not in ORIENTATIONS:
        raise InputError(path, f"unknown orientation '{orientation}'",
                         f"set dataset.local.orientation to one of {', '.join(ORIENTATIONS)}")
    kind = _format_kind(path)
    if kind == "h5ad":
        return _read_h5ad(path, sample_sheet_path, sample_column, cell_type_column, study_column, layer, labels)
    notes: dict = {}
    if kind == "parquet":
        frame, columns, row_lines = _read_parquet_matrix(path)
        row_where = [f"row {line}" for line in row_lines]
    else:
        frame, columns, row_lines, text = _read_text_matrix(path, kind)
        row_where = [f"line {line}" for line in row_lines]
        notes["text_format"] = text.describe()
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(path, "has no data rows or no data columns", "check the separator and the header row")
    column_where = [f"column {i + 2}" for i in range(len(columns))]
    row_ids = list(frame.index)
    if orientation == "genes_x_samples":
        frame, genes, gene_where = _drop_missing_genes(frame, row_ids, row_where, 0, path, notes)
        sample_ids, sample_where = [c.strip() for c in columns], column_where
        _check_sample_ids(sample_ids, [f"{w} of the header" for w in column_where], path,
                          "name every sample column in the header row")
        row_ids, row_where, column_ids = genes, gene_where, sample_ids
    else:
        _check_sample_ids(row_ids, [f"{w}, column 1" for w in row_where], path,
                          "give every sample row an id in the first column")
        sample_ids, sample_where = row_ids, row_where
        frame, genes, gene_where = _drop_missing_genes(frame, columns, column_where, 1, path, notes)
        column_ids = genes
    if not genes:
        raise InputError(path, "has no gene with an id", "check the orientation (dataset.local.orientation)")
    _check_gene_ids(genes, gene_where, path)
    matrix = _numeric_matrix(frame, path, row_ids, row_where, column_ids,
                             "gene" if orientation == "genes_x_samples" else "sample")
    if orientation == "genes_x_samples":
        matrix = matrix.T
    if sample_sheet_path is None and not labels:
        return RawDataset(np.ascontiguousarray(matrix), genes, _unlabelled(sample_ids), str(path), str(path),
                          sample_where, gene_where, notes)
    if sample_sheet_path is None:
        raise InputError(path, "no sample sheet given", "set dataset.local.sample_sheet in your config")
    sheet_path = Path(sample_sheet_path)
    sheet, lines = _read_sheet(sheet_path, sample_column, cell_type_column, study_column)
    samples = _match_samples(sample_ids, sheet, lines, path, sheet_path)
    return RawDataset(np.ascontiguousarray(matrix), genes, samples, str(path), str(sheet_path), sample_where,
                      gene_where, notes)


def _unlabelled(sample_ids: list[str]) -> pd.DataFrame:
    """The samples of a matrix read without labels: cell type empty (unknown), study ``unknown``."""
    return pd.DataFrame({"cell_type": "", "study": "unknown"}, index=pd.Index(sample_ids, name="sample"))


def _read_h5ad(path: Path, sample_sheet_path, sample_column, cell_type_column, study_column,
               layer: str | None, labels: bool = True) -> RawDataset:
    import anndata as ad
    import scipy.sparse

    try:
        adata = ad.read_h5ad(path)
    except Exception as error:
        raise InputError(path, f"cannot be read as AnnData ({error})", "write it with anndata.write_h5ad") from error
    layers = list(adata.layers.keys())
    if layer:
        if layer not in adata.layers:
            raise InputError(path, f"has no layer '{layer}' (layers: {', '.join(layers) or 'none'})",
                             "set dataset.local.layer to one of them, or to null to read X")
        values = adata.layers[layer]
    elif adata.X is None:
        raise InputError(path, f"has no X matrix (layers: {', '.join(layers) or 'none'})",
                         f"set dataset.local.layer: {layers[0]} in your config, or copy the layer to X "
                         f"(adata.X = adata.layers['{layers[0]}']) and save again" if layers else
                         "write the expression matrix to X")
    else:
        values = adata.X
    matrix = values.toarray() if scipy.sparse.issparse(values) else np.asarray(values)
    matrix = np.asarray(matrix, dtype=np.float64)
    sample_ids = [str(name).strip() for name in adata.obs_names]
    sample_where = [f"obs row {i + 1}" for i in range(len(sample_ids))]
    _check_sample_ids(sample_ids, [f"{w} (obs_names)" for w in sample_where], path,
                      "give every sample an id in obs_names")
    notes: dict = {"layer": layer} if layer else {}
    genes = [str(name) for name in adata.var_names]
    frame = pd.DataFrame(matrix, index=sample_ids)
    frame, genes, gene_where = _drop_missing_genes(frame, genes, [f"var row {i + 1}" for i in range(len(genes))], 1,
                                                   path, notes)
    if not genes:
        raise InputError(path, "has no gene with an id (var_names)", "set var_names to gene ids")
    _check_gene_ids(genes, [f"{w} (var_names)" for w in gene_where], path)
    matrix = _numeric_matrix(frame, path, sample_ids, sample_where, genes, "sample")
    if sample_sheet_path:
        sheet_path = Path(sample_sheet_path)
        sheet, lines = _read_sheet(sheet_path, sample_column, cell_type_column, study_column)
        samples = _match_samples(sample_ids, sheet, lines, path, sheet_path)
    elif not labels and cell_type_column not in adata.obs.columns:
        sheet_path, samples = path, _unlabelled(sample_ids)
    else:
        sheet_path = path
        columns = {"cell_type": cell_type_column} | ({"study": study_column} if study_column else {})
        samples = pd.DataFrame(index=pd.Index(sample_ids, name="sample"))
        for name, column in columns.items():
            if column not in adata.obs.columns:
                raise InputError(path, f"obs has no column '{column}' (columns: {', '.join(adata.obs.columns)})",
                                 "add it, give a sample sheet, or set dataset.local.*_column")
            raw = adata.obs[column]
            missing = np.array([is_missing(value) for value in raw.astype(object)], dtype=bool)
            if missing.any():
                row = int(np.flatnonzero(missing)[0])
                raise InputError(path, f"missing value {str(raw.iloc[row])!r} at sample '{sample_ids[row]}' "
                                       f"(obs row {row + 1}), obs column '{column}' ({int(missing.sum())} in all)",
                                 f"fill in the {name.replace('_', ' ')} in obs (or give a sample sheet), or drop "
                                 "those samples")
            samples[name] = [normalize_label(value) for value in raw.astype(object)]
        if not study_column:
            samples["study"] = "unknown"
    return RawDataset(np.ascontiguousarray(matrix), genes, samples, str(path), str(sheet_path), sample_where,
                      gene_where, notes)
