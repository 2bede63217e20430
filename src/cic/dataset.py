"""Reading a user's expression matrix and sample sheet, with one-line errors that name file, row and column.

Accepted matrices: TSV, CSV, parquet (first column = row identifiers) or AnnData ``.h5ad`` (obs = samples).
Orientation is declared (``genes_x_samples`` or ``samples_x_genes``); gene identifiers may repeat (probe sets)
and are collapsed later by :func:`cic.prepare.collapse_duplicate_genes`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cic.errors import InputError

ORIENTATIONS = ("genes_x_samples", "samples_x_genes")


@dataclass
class RawDataset:
    """Expression as read: ``matrix`` is samples x genes (gene labels may repeat), ``samples`` indexed by sample."""

    matrix: np.ndarray
    genes: list[str]
    samples: pd.DataFrame  # columns: cell_type, study


def _format_kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in ((".tsv", "tsv"), (".txt", "tsv"), (".tsv.gz", "tsv"), (".txt.gz", "tsv"),
                         (".csv", "csv"), (".csv.gz", "csv"), (".parquet", "parquet"), (".pq", "parquet"),
                         (".h5ad", "h5ad")):
        if name.endswith(suffix):
            return kind
    raise InputError(path, "unknown file type",
                     "use .tsv/.txt, .csv, .parquet or .h5ad (optionally .gz for text files)")


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(path, f"{what} not found", f"check the path under dataset.local in your config")
    if not path.is_file() or not os.access(path, os.R_OK):
        raise InputError(path, f"{what} is not a readable file", "check the path and its permissions")


def _header_names(path: Path, separator: str) -> list[str]:
    """The header row exactly as written (pandas would silently rename duplicates)."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        return next(csv.reader(handle, delimiter=separator), [])


def _first_duplicate(labels) -> str | None:
    seen = set()
    for label in labels:
        if label in seen:
            return str(label)
        seen.add(label)
    return None


def _read_table(path: Path) -> pd.DataFrame:
    """Read a TSV/CSV/parquet table with row identifiers in the first column; cells left as read."""
    kind = _format_kind(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            frame = pd.read_parquet(path)
            if isinstance(frame.index, pd.RangeIndex):
                frame = frame.set_index(frame.columns[0])
            header = [n for n in names if not n.startswith("__index_level_")]
        else:
            separator = "\t" if kind == "tsv" else ","
            header = _header_names(path, separator)
            frame = pd.read_csv(path, sep=separator, index_col=0, low_memory=False)
    except InputError:
        raise
    except Exception as error:  # pandas/pyarrow parse errors carry the line number in their text
        raise InputError(path, f"cannot be parsed as a {kind.upper()} table ({error})",
                         "save it as a rectangular table with a header row") from error
    duplicate = _first_duplicate(header[1:])
    if duplicate is not None:
        raise InputError(path, f"column '{duplicate}' appears more than once in the header",
                         "make every column name unique")
    frame.columns = [str(c) for c in frame.columns]
    frame.index = frame.index.map(str)
    return frame


def _numeric_matrix(frame: pd.DataFrame, path: Path, row_kind: str) -> np.ndarray:
    """Convert to float64, naming the first cell that is non-numeric, missing or infinite."""
    header_lines = 1
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind in "biuf":
            continue
        converted = pd.to_numeric(values, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                path,
                f"non-numeric value {values.iloc[position]!r} at row '{frame.index[position]}' "
                f"(line {position + header_lines + 1}), column '{column}'",
                "every expression cell must be a number",
            )
        frame[column] = converted
    matrix = frame.to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(matrix)
    if not_finite.any():
        row, col = (int(i[0]) for i in np.nonzero(not_finite))
        what = "missing/NaN" if np.isnan(matrix[row, col]) else "infinite"
        raise InputError(
            path,
            f"{what} value at row '{frame.index[row]}' (line {row + header_lines + 1}), column '{frame.columns[col]}'",
            f"remove or impute that {row_kind}'s missing values before running the workflow",
        )
    return matrix


def read_sample_sheet(path: str | os.PathLike, sample_column: str = "sample", cell_type_column: str = "cell_type",
                      study_column: str | None = "study") -> pd.DataFrame:
    """Read a sample sheet into a frame indexed by sample with columns ``cell_type`` and ``study``."""
    path = Path(path)
    _require_file(path, "sample sheet")
    kind = _format_kind(path)
    separator = "," if kind == "csv" else "\t"
    try:
        sheet = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    except Exception as error:
        raise InputError(path, f"cannot be parsed as a table ({error})", "save it as tab-separated text") from error
    wanted = [sample_column, cell_type_column] + ([study_column] if study_column else [])
    for column in wanted:
        if column not in sheet.columns:
            raise InputError(path, f"has no column '{column}' (columns: {', '.join(sheet.columns)})",
                             "rename the column or set dataset.local.*_column in your config")
    for column in wanted:
        empty = sheet[column].str.strip() == ""
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise InputError(path, f"empty value at row {row + 2} (line {row + 2}), column '{column}'",
                             "fill in every sample's id, cell type and study")
    duplicate = _first_duplicate(sheet[sample_column])
    if duplicate is not None:
        row = int(np.flatnonzero((sheet[sample_column] == duplicate).to_numpy())[1])
        raise InputError(path, f"duplicate sample id '{duplicate}' at line {row + 2}, column '{sample_column}'",
                         "give every sample a unique id")
    samples = pd.DataFrame({
        "cell_type": sheet[cell_type_column].str.strip().to_numpy(),
        "study": sheet[study_column].str.strip().to_numpy() if study_column else "unknown",
    }, index=pd.Index(sheet[sample_column].str.strip(), name="sample"))
    return samples


def _match_samples(matrix_samples: list[str], sheet: pd.DataFrame, matrix_path: Path, sheet_path: Path):
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
        row = int(np.flatnonzero(sheet.index == missing_from_matrix[0])[0])
        raise InputError(sheet_path,
                         f"{len(missing_from_matrix)} sample(s) of the sheet are not in {matrix_path.name} "
                         f"(first: '{missing_from_matrix[0]}' at line {row + 2})",
                         "remove them from the sheet or add their profiles to the matrix")
    return sheet.loc[matrix_samples]


def read_expression(expression_path: str | os.PathLike, orientation: str = "genes_x_samples",
                    sample_sheet_path: str | os.PathLike | None = None, sample_column: str = "sample",
                    cell_type_column: str = "cell_type", study_column: str | None = "study") -> RawDataset:
    """Read and validate an expression matrix and its sample annotations."""
    path = Path(expression_path)
    _require_file(path, "expression matrix")
    if orientation not in ORIENTATIONS:
        raise InputError(path, f"unknown orientation '{orientation}'",
                         f"set dataset.local.orientation to one of {', '.join(ORIENTATIONS)}")
    if _format_kind(path) == "h5ad":
        return _read_h5ad(path, sample_sheet_path, sample_column, cell_type_column, study_column)

    frame = _read_table(path)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(path, "has no data rows or no data columns", "check the separator and the header row")
    if orientation == "genes_x_samples":
        matrix = _numeric_matrix(frame, path, row_kind="gene").T
        genes, sample_ids = list(frame.index), list(frame.columns)
    else:
        duplicate = _first_duplicate(frame.index)
        if duplicate is not None:
            raise InputError(path, f"sample id '{duplicate}' appears in more than one row (first column)",
                             "make every sample id unique")
        matrix = _numeric_matrix(frame, path, row_kind="sample")
        genes, sample_ids = list(frame.columns), list(frame.index)
    if sample_sheet_path is None:
        raise InputError(path, "no sample sheet given", "set dataset.local.sample_sheet in your config")
    sheet_path = Path(sample_sheet_path)
    sheet = read_sample_sheet(sheet_path, sample_column, cell_type_column, study_column)
    samples = _match_samples(sample_ids, sheet, path, sheet_path)
    return RawDataset(np.ascontiguousarray(matrix), genes, samples)


def _read_h5ad(path: Path, sample_sheet_path, sample_column, cell_type_column, study_column) -> RawDataset:
    import anndata as ad

    try:
        adata = ad.read_h5ad(path)
    except Exception as error:
        raise InputError(path, f"cannot be read as AnnData ({error})", "write it with anndata.write_h5ad") from error
    duplicate = _first_duplicate(adata.obs_names)
    if duplicate is not None:
        raise InputError(path, f"sample id '{duplicate}' appears more than once in obs_names",
                         "make every sample id unique")
    matrix = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    frame = pd.DataFrame(matrix, index=list(adata.obs_names), columns=list(adata.var_names))
    matrix = _numeric_matrix(frame, path, row_kind="sample")
    sample_ids = list(adata.obs_names)
    if sample_sheet_path is not None:
        sheet_path = Path(sample_sheet_path)
        sheet = read_sample_sheet(sheet_path, sample_column, cell_type_column, study_column)
        samples = _match_samples(sample_ids, sheet, path, sheet_path)
    else:
        for column in [cell_type_column] + ([study_column] if study_column else []):
            if column not in adata.obs.columns:
                raise InputError(path, f"obs has no column '{column}' (columns: {', '.join(adata.obs.columns)})",
                                 "add it, give a sample sheet, or set dataset.local.*_column")
        samples = pd.DataFrame({
            "cell_type": adata.obs[cell_type_column].astype(str).to_numpy(),
            "study": adata.obs[study_column].astype(str).to_numpy() if study_column else "unknown",
        }, index=pd.Index(sample_ids, name="sample"))
    return RawDataset(np.ascontiguousarray(matrix), list(map(str, adata.var_names)), samples)
