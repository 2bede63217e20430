"""CellNet's published training data: an R object (``.rda``/``.RData``, or ``.rds``) or a TSV export.

CellNet's microarray processors (e.g. ``cnProc_Hg1332_062414.R``, an R list saved with ``save()``) hold the
training expression matrix ``expTrain`` (genes x samples, gene symbols as row names) and the sample table
``stTrain`` (one row per sample; ``sample_id``, and the cell type in ``description1``). The objects are read in pure
Python with the ``rdata`` package; only the two named objects are converted, so the rest of a large processor
(classifiers, networks) is parsed but never turned into Python objects.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cic.errors import InputError
from cic.labels import is_missing, normalize_label

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".tsv", ".tsv.gz", ".txt", ".txt.gz", ".csv", ".csv.gz")
SEARCH_DEPTH = 2  # objects are looked up at the top level and inside top-level lists (cnProc$expTrain)


def is_table_export(url: str) -> bool:
    """A TSV/CSV export (expression matrix + separate sample table) rather than an R object, by file name."""
    return url.split("?")[0].lower().endswith(TABLE_SUFFIXES)


def _named_elements(r_object) -> dict:
    """The named elements of an R pairlist (an .rda's top level) or a named list; {} for anything else."""
    from rdata.conversion import convert
    from rdata.parser import RObjectType

    if r_object.info.type == RObjectType.LIST:
        elements = {}
        while r_object.info.type == RObjectType.LIST:
            elements[str(convert(r_object.tag))] = r_object.value[0]
            r_object = r_object.value[1]
        return elements
    if r_object.info.type == RObjectType.VEC and r_object.attributes is not None:
        attributes = convert(r_object.attributes)
        if "data.frame" in np.atleast_1d(attributes.get("class", [])):
            return {}  # a table's columns are not objects to look into
        names = attributes.get("names")
        if names is not None:
            return dict(zip(map(str, names), r_object.value))
    return {}


def _find_objects(top, wanted: list[str], path: Path) -> dict:
    """Breadth-first search for the ``wanted`` names; an error lists what the file does contain."""
    found, seen, level = {}, [], {"": top}
    for _ in range(SEARCH_DEPTH):
        next_level = {}
        for parent, r_object in level.items():
            for name, element in _named_elements(r_object).items():
                label = f"{parent}${name}" if parent else name
                seen.append(label)
                if name in wanted and name not in found:
                    found[name] = element
                next_level[label] = element
        level = next_level
    missing = [name for name in wanted if name not in found]
    if missing:
        raise InputError(path, f"the R object has no object named '{missing[0]}' "
                               f"(it contains: {', '.join(seen[:20]) or 'no named objects'})",
                         "set dataset.cellnet.expression_object / sample_table_object to the right names")
    return found


def _as_gene_matrix(value, path: Path, name: str) -> pd.DataFrame:
    """An R numeric matrix with dimnames (-> xarray) or a data.frame -> genes x samples frame of floats."""
    import xarray

    if isinstance(value, xarray.DataArray) and value.ndim == 2 and all(d in value.coords for d in value.dims):
        rows, columns = (value.coords[d].to_numpy() for d in value.dims)
        frame = pd.DataFrame(np.asarray(value.to_numpy(), dtype=np.float64), index=rows, columns=columns)
    elif isinstance(value, pd.DataFrame) and not isinstance(value.index, pd.RangeIndex):
        not_numeric = [c for c in value.columns if value[c].dtype.kind not in "biuf"]
        if not_numeric:
            raise InputError(path, f"column '{not_numeric[0]}' of '{name}' is not numeric",
                             "point dataset.cellnet.expression_object at the expression matrix")
        frame = value.astype(np.float64)
    else:
        raise InputError(path, f"'{name}' is not a matrix with gene (row) and sample (column) names "
                               f"(it is a {type(value).__name__})",
                         "point dataset.cellnet.expression_object at the genes x samples expression matrix")
    frame.index = frame.index.map(str)
    frame.columns = frame.columns.map(str)
    return frame


def read_r_object(path: Path, expression_object: str, sample_table_object: str):
    """Returns (genes x samples frame, sample table frame) from an .rda/.RData/.rds file."""
    import rdata
    from rdata.conversion import convert

    try:
        with warnings.catch_warnings():  # rdata warns about file names and guessed formats; errors say it all
            warnings.simplefilter("ignore")
            parsed = rdata.parser.parse_file(path)
    except Exception as error:  # rdata raises many types on foreign or damaged files
        raise InputError(path, f"cannot be read as an R object ({type(error).__name__}: {error})",
                         "check that dataset.cellnet.url points at an .rda/.RData/.rds file (delete the cached "
                         "file to download it again)") from error
    objects = _find_objects(parsed.object, [expression_object, sample_table_object], path)
    expression = _as_gene_matrix(convert(objects[expression_object]), path, expression_object)
    table = convert(objects[sample_table_object])
    if not isinstance(table, pd.DataFrame):
        raise InputError(path, f"'{sample_table_object}' is not a data.frame (it is a {type(table).__name__})",
                         "point dataset.cellnet.sample_table_object at the sample table")
    return expression, table


def samples_from_table(table: pd.DataFrame, sample_column: str | None, cell_type_column: str,
                       study_column: str | None, sample_ids: list[str], path: Path, table_name: str) -> pd.DataFrame:
    """The sample table -> frame indexed by sample id with ``cell_type`` and ``study``, checked against the
    matrix's sample ids (every sample of the table must have a profile)."""
    for column in [c for c in (sample_column, cell_type_column, study_column) if c]:
        if column not in table.columns:
            raise InputError(path, f"sample table '{table_name}' has no column '{column}' "
                                   f"(columns: {', '.join(map(str, table.columns[:15]))})",
                             "set dataset.cellnet.sample_column / cell_type_column / study_column")
    ids = table[sample_column] if sample_column else pd.Series(table.index, index=table.index)
    ids = ids.astype(str).str.strip()
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise InputError(path, f"sample id '{duplicated.iloc[0]}' appears twice in '{table_name}' "
                               f"(column '{sample_column or 'row names'}')", "make the sample ids unique")
    in_matrix = set(sample_ids)
    missing = [s for s in ids if s not in in_matrix]
    if missing:
        raise InputError(path, f"{len(missing)} sample(s) of '{table_name}' have no column in the expression "
                               f"matrix (first: '{missing[0]}')",
                         "check dataset.cellnet.sample_column: it must hold the matrix's column names")
    for column in [c for c in (cell_type_column, study_column) if c]:
        empty = table[column].map(is_missing).to_numpy(dtype=bool)  # NA, NaN, "", "NULL", ... (cic.labels)
        if empty.any():
            raise InputError(path, f"sample '{ids.iloc[int(np.flatnonzero(empty)[0])]}' of '{table_name}' has a "
                                   f"missing value in column '{column}' ({int(empty.sum())} in all)",
                             f"fill in every sample's {'cell type' if column == cell_type_column else 'study'}, or "
                             "leave those samples out")
    return pd.DataFrame({
        "cell_type": [normalize_label(label) for label in table[cell_type_column]],
        "study": table[study_column].astype(str).str.strip().to_numpy() if study_column else "unknown",
    }, index=pd.Index(ids.to_numpy(), name="sample"))
