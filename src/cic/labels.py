"""Cell-type labels are data: any Unicode string names a type; this module maps it to a safe file name.

Labels come from sample sheets, AnnData ``obs`` and CellNet/GEO tables as their authors wrote them ("CD4+/CD45RA+
naive T", "Müller glia", "B cell (CD19+)"). The workflow keeps them verbatim in every table, figure and in the
report, and the config names a type exactly as the data spells it. Only paths and Snakemake wildcards use
:func:`safe_name`, a file name derived from the label alone (so it is stable across runs and datasets):

* a label that is already a plain file name (ASCII letters, digits, ``_``, ``-`` and ``.``, starting with a letter
  or digit, at most 64 characters) is its own file name: ``b_cell`` stays ``b_cell``;
* any other label becomes an ASCII slug (accents dropped, every run of other characters replaced by ``_``, at most
  48 characters) followed by ``_`` and the first 8 hex digits of the SHA-256 of the label's UTF-8 bytes (Unicode
  NFC): ``CD4+/CD45RA+ naive T`` -> ``CD4_CD45RA_naive_T_<hash>``. The hash keeps labels that differ only in the
  characters the slug drops (``CD4+`` and ``CD4-``) apart.

:func:`safe_names` maps the labels of one data set and refuses two labels whose file names coincide, also when
they differ only in letter case (they would collide on macOS and Windows file systems).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable

from cic.errors import InputError

PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Safe names as a Snakemake wildcard constraint (what safe_name returns, and nothing with a "/").
SAFE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
SLUG_LENGTH = 48
HASH_LENGTH = 8

# Cells that stand for "no value" in exports from R (NA), pandas/numpy (nan, NaN, <NA>, None), SQL (NULL) and Excel
# (#N/A), compared after stripping and ignoring letter case. A label or sample id spelled like this is missing.
MISSING_VALUES = frozenset({"", "na", "n/a", "nan", "-nan", "<na>", "null", "none", "#n/a", "#na"})


def normalize_label(label) -> str:
    """The label as compared everywhere: stripped of surrounding white space, Unicode NFC (so a composed and a
    decomposed "ü" are the same label)."""
    return unicodedata.normalize("NFC", str(label)).strip()


def is_missing(value) -> bool:
    """True for None, float NaN, pandas' NA/NaT and strings such as "", "NA", "NaN", "NULL" (:data:`MISSING_VALUES`)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value).strip().lower() in MISSING_VALUES


def safe_name(label: str) -> str:
    """A file name for ``label`` that is safe in paths and Snakemake wildcards (see the module docstring)."""
    label = normalize_label(label)
    if PLAIN_NAME.fullmatch(label):
        return label
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_")[:SLUG_LENGTH].rstrip("_") or "type"
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    return f"{slug}_{digest}"


def comparison_name(case: str, control: str) -> str:
    """The file name of a limma comparison of ``case`` REPs vs ``control`` GEPs: ``<case>_vs_<control>`` in safe
    names, e.g. ``b_cell_vs_t_cell`` (results/tables/de_b_cell_vs_t_cell.tsv)."""
    return f"{safe_name(case)}_vs_{safe_name(control)}"


def safe_names(labels: Iterable[str], source="cell types") -> dict[str, str]:
    """{label: :func:`safe_name`} for distinct ``labels``; two labels with one file name are an :class:`InputError`
    against ``source`` naming both."""
    names: dict[str, str] = {}
    owners: dict[str, str] = {}
    for label in dict.fromkeys(normalize_label(label) for label in labels):
        name = safe_name(label)
        other = owners.setdefault(name.lower(), label)
        if other != label:
            raise InputError(source, f"cell types {other!r} and {label!r} map to the same file name {name!r} "
                                     "(file names ignore letter case and characters other than letters, digits, "
                                     "'_', '-' and '.')",
                             "rename one of the two types so that they differ in more than that")
        names[label] = name
    return names


def label_of(name: str, labels: Iterable[str], source="cell types") -> str:
    """The label among ``labels`` whose :func:`safe_name` is ``name`` (the inverse, for a wildcard's value)."""
    for label, safe in safe_names(labels, source).items():
        if safe == name:
            return label
    raise InputError(source, f"no cell type has the file name {name!r}",
                     "ask for one of the types listed there (results/models/loto/<file name>/)")
