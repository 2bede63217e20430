"""Cell-type labels are data: any Unicode label gets a safe, unique, stable file name (cic.labels)."""

import re
import unicodedata

import pytest

from cic.errors import InputError
from cic.labels import SAFE_NAME_PATTERN, comparison_name, is_missing, label_of, safe_name, safe_names

REAL_LABELS = ["CD4+/CD45RA+ naive T", "Müller glia", "B cell (CD19+)", "synovial sarcoma",
               "malignant peripheral nerve sheath tumor", "well-differentiated liposarcoma", "中文", "../etc", "CD4+",
               "CD4-", "T cell, CD8+", "a" * 200]


def test_plain_labels_keep_their_name_so_existing_outputs_keep_theirs():
    for label in ("b_cell", "t_cell", "esc", "CD4-", "liver.fetal", "Type-2"):
        assert safe_name(label) == label
    assert comparison_name("b_cell", "t_cell") == "b_cell_vs_t_cell"  # results/tables/de_b_cell_vs_t_cell.tsv


def test_other_labels_get_a_readable_slug_and_a_stable_hash():
    # Hard-coded: a label's file name must not change between versions (results/models/loto/<name>/ on disk).
    assert safe_name("CD4+/CD45RA+ naive T") == "CD4_CD45RA_naive_T_1fd1d3ca"
    assert safe_name("Müller glia") == "Muller_glia_7159a9ae"
    assert safe_name("  Müller glia ") == safe_name("Müller glia")  # surrounding white space is not data
    decomposed = unicodedata.normalize("NFD", "Müller glia")
    assert decomposed != "Müller glia" and safe_name(decomposed) == safe_name("Müller glia")


@pytest.mark.parametrize("label", REAL_LABELS)
def test_every_file_name_is_one_safe_path_component(label):
    name = safe_name(label)
    assert re.fullmatch(SAFE_NAME_PATTERN, name) and len(name) <= 64
    assert "/" not in name and not name.startswith(".")


def test_labels_that_differ_only_in_dropped_characters_stay_apart():
    names = safe_names(REAL_LABELS)
    assert len(set(names.values())) == len(REAL_LABELS)
    assert safe_name("CD4+") != safe_name("CD4") and safe_name("CD4+") != safe_name("CD4 ")  # hash of the label


def test_two_labels_with_one_file_name_are_an_error_naming_both():
    with pytest.raises(InputError, match=r"samples.tsv: cell types 'b_cell' and 'B_cell' map to the same file "
                                         r"name 'B_cell'.*fix: rename one"):
        safe_names(["b_cell", "t_cell", "B_cell"], "samples.tsv")


def test_a_wildcard_value_leads_back_to_its_label():
    labels = ["CD4+/CD45RA+ naive T", "Müller glia", "b_cell"]
    assert label_of("Muller_glia_7159a9ae", labels) == "Müller glia"
    assert label_of("b_cell", labels) == "b_cell"
    with pytest.raises(InputError, match=r"types.txt: no cell type has the file name 'neuron'"):
        label_of("neuron", labels, "types.txt")


@pytest.mark.parametrize("value", [None, float("nan"), "", " ", "NA", "na", "NaN", "nan", "NULL", "null", "None",
                                   "<NA>", "#N/A", "N/A"])
def test_missing_value_spellings(value):
    assert is_missing(value)


@pytest.mark.parametrize("value", ["b_cell", "NK", "Nan cell", "0", "none of the above"])
def test_real_values_are_not_missing(value):
    assert not is_missing(value)
