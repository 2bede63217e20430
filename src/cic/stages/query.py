"""The rules of workflow/rules/query.smk that wrap :mod:`cic.reference` and :mod:`cic.query` (``cic reference`` and
``cic query`` run the same library functions): the reference bundle and the identification of a query file. Both
write a fixed set of files into one folder; the rule names each file, and these entries check that the names are
that set before they hand the folder on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def _folder(paths: tuple, names: tuple) -> Path:
    """The one folder of ``paths`` when they are ``names`` in it, in that order; ValueError otherwise (a rule that
    names other files than the library writes)."""
    folder = Path(paths[0]).parent
    if tuple(Path(path) for path in paths) != tuple(folder / name for name in names):
        raise ValueError(f"the rule's files {[str(path) for path in paths]} are not {list(names)} in one folder")
    return folder


def write_reference_bundle(model, expression, splits, preprocess: dict, training: dict, weights, meta,
                           codes) -> None:
    """Rule reference_bundle: :func:`cic.reference.write_reference` into the folder of ``weights``, ``meta`` and
    ``codes`` (the bundle's files)."""
    from cic.reference import CODES_FILE, REFERENCE_JSON, WEIGHTS_FILE, write_reference

    folder = _folder((weights, meta, codes), (WEIGHTS_FILE, REFERENCE_JSON, CODES_FILE))
    write_reference(model, expression, splits, preprocess, training, str(folder))


def identify_query(expression, reference, entry: Mapping, settings: Mapping, predictions, codes, reproduced,
                   map_png, map_svg, sample_sheet=None) -> None:
    """Rule query_samples: :func:`cic.query.run_query` of one named query (``entry``: its query.samples entry,
    ``settings``: the query section) with the bundle of ``reference`` (its files), into the folder of the outputs
    (cic.query.OUTPUT_FILES); ``sample_sheet`` only when the query has one."""
    from cic.query import OUTPUT_FILES, run_query

    out_dir = _folder((predictions, codes, reproduced, map_png, map_svg), OUTPUT_FILES)
    run_query(Path(reference[0]).parent, expression, out_dir, sample_sheet, entry.get("orientation", "genes_x_samples"),
              entry.get("sample_column", "sample"), entry.get("cell_type_column", "cell_type"), entry.get("layer"),
              settings["min_probability"], settings["max_missing_gene_fraction"])
