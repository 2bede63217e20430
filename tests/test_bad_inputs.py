"""Every kind of bad input: a one-line error naming the file, row/column and fix; non-zero exit; no output left
behind. Every kind of awkward but valid input (missing gene ids, repeated genes, sparse AnnData, layers, raw arrays
with negatives and a floor) gives the result the README promises."""

import re
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from cic.config_checks import check_config
from cic.defaults import resolve_defaults
from cic.dataset import excel_mangled, read_sample_sheet
from cic.errors import InputError
from cic.stages.data import prepare_expression
from conftest import REPO, load_test_config

DATASET = {"source": "local", "samples_per_type": 8, "cell_types": None}
PREPROCESS = {"log2": "auto", "log2_offset": 1.0, "collapse_duplicate_genes": "max_mean",
              "quantile_normalize": True, "top_variance_genes": 50}
LOCAL = {"orientation": "genes_x_samples", "sample_column": "sample", "cell_type_column": "cell_type",
         "study_column": "study"}


def _prepare(tmp_path, expression, sheet, dataset=None, preprocess=None, local=None):
    outputs = tmp_path / "out" / "expression.h5ad", tmp_path / "out" / "sample_quality.tsv"
    prepare_expression(expression, sheet, LOCAL | (local or {}), dataset or DATASET, preprocess or PREPROCESS, 1,
                       *outputs)
    assert sorted(path.name for path in outputs[0].parent.iterdir()) == sorted(path.name for path in outputs)
    return ad.read_h5ad(outputs[0])


def _expect(tmp_path, expression, sheet, pattern, **kwargs):
    with pytest.raises(InputError, match=pattern) as caught:
        _prepare(tmp_path, expression, sheet, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "; fix: " in message
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert not leftovers, f"output left behind: {leftovers}"
    return message


def _matrix(expression) -> pd.DataFrame:
    return pd.read_csv(expression, sep="\t", index_col=0)


def _sheet(sheet) -> pd.DataFrame:
    return pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False)


def test_good_input_works(tmp_path, user_files):
    adata = _prepare(tmp_path, *user_files)
    assert adata.shape == (16 * 8, 150) and set(adata.obs.columns) >= {"cell_type", "study"}


def test_missing_file(tmp_path, user_files):
    _expect(tmp_path, tmp_path / "nope.tsv", user_files[1], r"nope.tsv: expression matrix not found")


def test_excel_workbook_is_refused_with_the_export_to_use(tmp_path, user_files):
    workbook = tmp_path / "expression.xlsx"
    workbook.write_bytes(b"PK\x03\x04")
    _expect(tmp_path, workbook, user_files[1], r"expression.xlsx: unknown file type; fix: .*Text \(Tab delimited\)")


def test_non_numeric_cell_names_row_and_column(tmp_path, user_files):
    expression, sheet = user_files
    frame = pd.read_csv(expression, sep="\t", index_col=0, dtype=str)
    frame.iloc[4, 2] = "abc"
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"expression.tsv: non-numeric value 'abc' at row 'GENE00005' "
                                         r"\(line 6\), column 'SIM00003'")


@pytest.mark.parametrize("bad_value, word", [("nan", "missing/NaN"), ("", "missing/NaN"), ("NA", "missing/NaN"),
                                             ("inf", "infinite")])
def test_nan_and_infinite_values(tmp_path, user_files, bad_value, word):
    expression, sheet = user_files
    frame = _matrix(expression)
    frame.iloc[7, 3] = np.nan if bad_value != "inf" else np.inf
    frame.to_csv(expression, sep="\t", na_rep=bad_value)
    _expect(tmp_path, expression, sheet, rf"{word} value at row 'GENE00008' \(line 9\), column 'SIM00004'")


# --- missing labels and sample ids ------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["NA", "NaN", "nan", "", "NULL", "None", "#N/A"])
@pytest.mark.parametrize("column", ["cell_type", "sample", "study"])
def test_missing_values_in_the_sheet_name_line_and_column(tmp_path, user_files, token, column):
    expression, sheet = user_files
    frame = _sheet(sheet)
    frame.loc[4, column] = token
    frame.to_csv(sheet, sep="\t", index=False)
    fix = {"cell_type": "fill in the cell type", "sample": "give every sample an id",
           "study": "fill in the study, or set the study column to null"}[column]
    _expect(tmp_path, expression, sheet, rf"samples.tsv: missing value '{token}' at line 6, column '{column}' "
                                         rf"\(1 in all\); fix: {fix}")


def test_no_cell_type_called_na_is_ever_made(tmp_path, user_files):
    """R's write.table(na = "NA") and pandas' to_csv both spell a missing label; neither becomes a type."""
    expression, sheet = user_files
    frame = _sheet(sheet)
    frame.loc[[3, 40], "cell_type"] = "NA"
    frame.to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"missing value 'NA' at line 5, column 'cell_type' \(2 in all\)",
            dataset=DATASET | {"samples_per_type": None})


def test_missing_sample_id_in_the_matrix_header(tmp_path, user_files):
    expression, sheet = user_files
    frame = _matrix(expression)
    frame.columns = ["NA" if i == 6 else column for i, column in enumerate(frame.columns)]
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"expression.tsv: missing sample id 'NA' at column 8 of the header; "
                                         r"fix: name every sample column")


def test_missing_sample_id_in_a_samples_x_genes_row(tmp_path, user_files):
    expression, sheet = user_files
    frame = _matrix(expression).T
    frame.index = ["" if i == 2 else sample for i, sample in enumerate(frame.index)]
    frame.rename_axis("sample").to_csv(tmp_path / "by_sample.tsv", sep="\t")
    _expect(tmp_path, tmp_path / "by_sample.tsv", sheet, r"by_sample.tsv: missing sample id '' at line 4, column 1",
            local={"orientation": "samples_x_genes"})


def _h5ad(tmp_path, compendium, obs=None, X="dense", var_names=None, layers=None):
    values = compendium.intensities.T.to_numpy().astype(np.float32)
    adata = ad.AnnData(scipy.sparse.csr_matrix(values) if X == "sparse" else None if X is None else values,
                       obs=compendium.samples[["cell_type", "study"]].copy() if obs is None else obs,
                       var=pd.DataFrame(index=var_names or list(compendium.intensities.index)),
                       layers={name: values for name in (layers or [])})
    path = tmp_path / "input.h5ad"
    adata.write_h5ad(path)
    return path


def test_h5ad_obs_with_categorical_nan_is_a_missing_value(tmp_path, tiny_compendium):
    obs = tiny_compendium.samples[["cell_type", "study"]].copy()
    obs["cell_type"] = obs["cell_type"].astype("category")
    obs.iloc[9, 0] = np.nan
    path = _h5ad(tmp_path, tiny_compendium, obs=obs)
    _expect(tmp_path, path, None, r"input.h5ad: missing value 'nan' at sample 'SIM00010' \(obs row 10\), obs column "
                                  r"'cell_type' \(1 in all\); fix: fill in the cell type in obs")


# --- gene ids ---------------------------------------------------------------------------------------------------

def test_rows_without_a_gene_id_are_dropped_and_counted(tmp_path, user_files):
    expression, sheet = user_files
    frame = _matrix(expression)
    frame.index = ["" if i == 3 else "NA" if i == 10 else "---" if i == 20 else gene
                   for i, gene in enumerate(frame.index)]
    frame.to_csv(expression, sep="\t")
    adata = _prepare(tmp_path, expression, sheet)
    assert adata.n_vars == 147 and adata.uns["provenance"]["dropped_without_gene_id"] == 3
    assert not {"", "NA", "---", "nan"} & set(adata.var_names)


def test_gene_columns_without_an_id_are_dropped_in_samples_x_genes(tmp_path, user_files):
    expression, sheet = user_files
    frame = _matrix(expression).T.rename_axis("sample")
    frame.columns = ["" if i == 5 else gene for i, gene in enumerate(frame.columns)]
    frame.to_csv(tmp_path / "by_sample.tsv", sep="\t")
    adata = _prepare(tmp_path, tmp_path / "by_sample.tsv", sheet, local={"orientation": "samples_x_genes"})
    assert adata.n_vars == 149 and adata.uns["provenance"]["dropped_without_gene_id"] == 1


@pytest.mark.parametrize("mangled, hint", [
    ("1-Sep", "SEPT1 / SEPTIN1"), ("01-Sep", "SEPT1 / SEPTIN1"), ("Sep-01", "SEPT1 / SEPTIN1"),
    ("2021-09-01", "SEPT1 / SEPTIN1"), ("1-Mar", "MARCH1 / MARC1"), ("2-Mar", "MARCH2 / MARC2"),
    ("1-Dec", "DEC1"), ("9/2/2021", "SEPT2 / SEPTIN2"), ("01-Sep-2021", "SEPT1 / SEPTIN1"),
    ("2.31E+13", "RIKEN clone id"),
])
def test_excel_mangled_gene_ids_are_named_with_their_line(tmp_path, user_files, mangled, hint):
    expression, sheet = user_files
    frame = _matrix(expression)
    frame.index = [mangled if i == 56 else gene for i, gene in enumerate(frame.index)]
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, rf"expression.tsv: 1 gene id\(s\) look like dates or numbers made by Excel: "
                                         rf"'{re.escape(mangled)}' at line 58 is .*{hint}.*; fix: re-export the gene "
                                         r"column as text")


@pytest.mark.parametrize("gene", ["SEPT1", "SEPTIN1", "MARCH1", "MARCHF1", "1007_s_at", "ENSG00000141510", "7157",
                                  "Mar-Dec", "C1orf1", "NM_000546"])
def test_real_identifiers_are_not_taken_for_excel_dates(gene):
    assert excel_mangled(gene) is None


def test_excel_dates_are_found_in_h5ad_var_names(tmp_path, tiny_compendium):
    genes = list(tiny_compendium.intensities.index)
    genes[4] = "2-Sep"
    path = _h5ad(tmp_path, tiny_compendium, var_names=genes)
    _expect(tmp_path, path, None, r"input.h5ad: 1 gene id\(s\) look like .*'2-Sep' at var row 5 \(var_names\)")


# --- AnnData ----------------------------------------------------------------------------------------------------

def test_h5ad_without_x_names_its_layers_and_the_fix(tmp_path, tiny_compendium):
    path = _h5ad(tmp_path, tiny_compendium, X=None, layers=["counts"])
    _expect(tmp_path, path, None, r"input.h5ad: has no X matrix \(layers: counts\); fix: set dataset.local.layer: "
                                  r"counts in your config, or copy the layer to X")
    _expect(tmp_path, path, None, r"input.h5ad: has no layer 'raw' \(layers: counts\)", local={"layer": "raw"})
    adata = _prepare(tmp_path, path, None, local={"layer": "counts"})  # the fix works
    assert adata.shape == (128, 150) and adata.uns["provenance"]["layer"] == "counts"


def test_sparse_h5ad_prepares_like_the_dense_one(tmp_path, tiny_compendium):
    dense = _prepare(tmp_path / "d", _h5ad(tmp_path, tiny_compendium), None)
    sparse = _prepare(tmp_path / "s", _h5ad(tmp_path, tiny_compendium, X="sparse"), None)
    np.testing.assert_array_equal(dense.X, sparse.X)


# --- repeated gene ids: every format and orientation collapses them -----------------------------------------------

def _with_repeated_genes(frame: pd.DataFrame) -> pd.DataFrame:
    """genes x samples with GENE00001 and GENE00002 measured by a second probe each (as probe sets -> symbols)."""
    extra = frame.iloc[:2] * 1.5
    return pd.concat([frame, extra]).rename_axis("gene")


def _write_repeated(tmp_path, frame: pd.DataFrame, shape: str):
    if shape == "genes_x_samples.tsv":
        frame.to_csv(path := tmp_path / "m.tsv", sep="\t")
    elif shape == "samples_x_genes.tsv":
        frame.T.rename_axis("sample").to_csv(path := tmp_path / "m.tsv", sep="\t")
    elif shape == "samples_x_genes.csv.gz":
        frame.T.rename_axis("sample").to_csv(path := tmp_path / "m.csv.gz")
    elif shape == "genes_x_samples.parquet":
        frame.reset_index().to_parquet(path := tmp_path / "m.parquet", index=False)
    else:  # h5ad
        ad.AnnData(frame.T.to_numpy(), obs=pd.DataFrame(index=list(frame.columns)),
                   var=pd.DataFrame(index=list(frame.index))).write_h5ad(path := tmp_path / "m.h5ad")
    return path, shape.split(".")[0]


@pytest.mark.parametrize("shape", ["genes_x_samples.tsv", "samples_x_genes.tsv", "samples_x_genes.csv.gz",
                                   "genes_x_samples.parquet", "samples_x_genes.h5ad"])
def test_repeated_gene_ids_collapse_in_every_format_and_orientation(tmp_path, user_files, shape):
    expression, sheet = user_files
    path, orientation = _write_repeated(tmp_path, _with_repeated_genes(_matrix(expression)), shape)
    adata = _prepare(tmp_path, path, sheet, local={"orientation": orientation})
    reference = _prepare(tmp_path / "ref", *user_files)
    assert adata.uns["provenance"]["n_input_gene_ids"] == 152 and adata.n_vars == 150
    assert adata.var_names.is_unique
    # max_mean keeps the second (1.5x) probe of each repeated gene; the other 148 genes are as in the reference
    same = [gene for gene in adata.var_names if gene not in ("GENE00001", "GENE00002")]
    assert not np.allclose(adata[:, ["GENE00001"]].X, reference[:, ["GENE00001"]].X)
    np.testing.assert_allclose(adata[:, same].X.sum(), reference[:, same].X.sum(), rtol=1e-3)


# --- sample ids ---------------------------------------------------------------------------------------------------

def test_sample_ids_are_stripped_and_a_duplicate_names_both_lines(tmp_path, user_files):
    expression, sheet = user_files
    frame = _sheet(sheet)
    frame.loc[0, "sample"] = f" {frame.loc[0, 'sample']}  "  # stripped: still matches the matrix
    frame.to_csv(sheet, sep="\t", index=False)
    assert _prepare(tmp_path / "stripped", expression, sheet).n_obs == 128
    frame.loc[36, "sample"] = "SIM00001 "  # a pasted duplicate with a trailing space
    frame.to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"samples.tsv: duplicate sample id 'SIM00001' at line 38, column 'sample' "
                                         r"\(also at line 2, column 'sample'\); fix: give every sample a unique id")
    with pytest.raises(InputError, match=r"duplicate sample id 'SIM00001' at line 38"):
        read_sample_sheet(sheet)


def test_duplicate_obs_names_in_h5ad_name_both_rows(tmp_path, tiny_compendium):
    obs = tiny_compendium.samples[["cell_type", "study"]].copy()
    obs.index = [f"{obs.index[0]} " if i == 6 else sample for i, sample in enumerate(obs.index)]
    _expect(tmp_path, _h5ad(tmp_path, tiny_compendium, obs=obs), None,
            r"input.h5ad: duplicate sample id 'SIM00001' at obs row 7 \(obs_names\) \(also at obs row 1 \(obs_names\)\)")


def test_duplicate_sample_columns_in_the_matrix(tmp_path, user_files):
    expression, sheet = user_files
    frame = _matrix(expression)
    columns = list(frame.columns)
    columns[4] = columns[1] + " "
    frame.columns = columns
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"expression.tsv: duplicate sample id 'SIM00002' at column 6 of the header "
                                         r"\(also at column 3 of the header\)")


def test_samples_missing_from_sheet_and_from_matrix(tmp_path, user_files):
    expression, sheet = user_files
    full = pd.read_csv(sheet, sep="\t")
    full.drop(index=5).to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"samples.tsv: 1 sample\(s\) of expression.tsv are not in the sample "
                                         r"sheet \(first: 'SIM00006'\)")
    extra = pd.concat([full, pd.DataFrame([{"sample": "GSM999", "cell_type": "b_cell", "study": "x"}])])
    extra.to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"1 sample\(s\) of the sheet are not in expression.tsv \(first: 'GSM999' "
                                         r"at line 130\)")


def test_cell_type_with_too_few_samples(tmp_path, user_files):
    _expect(tmp_path, *user_files, r"samples.tsv: cell type '\w+' \(column 'cell_type'\) has 8 samples, fewer than "
                                   r"samples_per_type = 9", dataset=DATASET | {"samples_per_type": 9})


def test_fewer_than_two_cell_types(tmp_path, user_files):
    expression, sheet = user_files
    frame = pd.read_csv(sheet, sep="\t")
    frame["cell_type"] = "b_cell"
    frame.to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"samples.tsv: only 1 cell type\(s\) in column 'cell_type'")


def test_missing_sheet_column(tmp_path, user_files):
    expression, sheet = user_files
    pd.read_csv(sheet, sep="\t").drop(columns="study").to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"samples.tsv: has no column 'study' \(columns: sample, cell_type\)")


def test_labels_are_kept_as_written_and_must_have_distinct_file_names(tmp_path, user_files):
    expression, sheet = user_files
    frame = _sheet(sheet)
    frame["cell_type"] = frame["cell_type"].replace({"b_cell": "B cell (CD19+)", "t_cell": "CD4+/CD45RA+ naive T",
                                                     "neuron": "  Müller glia "})
    frame.to_csv(sheet, sep="\t", index=False)
    types = set(_prepare(tmp_path / "labels", expression, sheet).obs["cell_type"])
    assert {"B cell (CD19+)", "CD4+/CD45RA+ naive T", "Müller glia"} <= types
    frame["cell_type"] = frame["cell_type"].replace({"esc": "B_cell", "colon": "b_cell"})
    frame.to_csv(sheet, sep="\t", index=False)
    _expect(tmp_path, expression, sheet, r"samples.tsv: cell types '(B_cell|b_cell)' and '(B_cell|b_cell)' map to "
                                         r"the same file name")


# --- values log2 cannot take ------------------------------------------------------------------------------------

def _with_negatives(expression):
    frame = _matrix(expression)
    frame.iloc[2, 5] = -3.5  # MAS5-style background-subtracted values
    frame.iloc[9, 1] = -0.2
    frame.to_csv(expression, sep="\t")


def test_negative_values_name_the_matrix_sample_and_gene(tmp_path, user_files):
    expression, sheet = user_files
    _with_negatives(expression)
    _expect(tmp_path, expression, sheet, r"expression.tsv: negative value -0.2 at sample 'SIM00002' \(column 3\), "
                                         r"gene 'GENE00010' \(line 11\) \(2 such values\) but log2 is applied; fix: "
                                         r"set preprocess.log2_floor", preprocess=PREPROCESS | {"log2": True})


def test_log2_floor_is_the_remedy_for_negatives(tmp_path, user_files):
    expression, sheet = user_files
    _with_negatives(expression)
    adata = _prepare(tmp_path, expression, sheet, preprocess=PREPROCESS | {"log2_floor": 1.0})
    provenance = adata.uns["provenance"]
    assert provenance["log2_applied"] and provenance["log2_floor"] == 1.0
    assert provenance["log2_floored_values"] == int((_matrix(expression).to_numpy() < 1.0).sum()) >= 2
    assert np.isfinite(adata.X).all()


def test_zeros_with_log2_offset_zero_are_an_error(tmp_path, user_files):
    expression, sheet = user_files
    frame = _matrix(expression)
    frame.iloc[3, 2] = 0
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"expression.tsv: zero \(log2 of 0 is -inf with log2_offset 0\) at sample "
                                         r"'SIM00003' \(column 4\), gene 'GENE00004'",
            preprocess=PREPROCESS | {"log2_offset": 0.0})
    assert _prepare(tmp_path, expression, sheet).uns["provenance"]["log2_applied"]  # offset 1: zeros are fine


# --- degenerate samples -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, what", [(0.0, "is zero for every gene"),
                                         (5.0, r"has the same value \(5\) for every gene")])
def test_a_constant_sample_is_refused(tmp_path, user_files, value, what):
    expression, sheet = user_files
    frame = _matrix(expression)
    frame["SIM00010"] = value
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, rf"expression.tsv: sample 'SIM00010' \(column 11\) {what}; fix: remove it "
                                         r"from the matrix and the sample sheet")
    # Its type left out with dataset.cell_types: the sample is not used, so it is no error.
    esc = pd.read_csv(sheet, sep="\t").set_index("sample").loc["SIM00010", "cell_type"]
    kept = [t for t in pd.read_csv(sheet, sep="\t")["cell_type"].unique() if t != esc]
    assert _prepare(tmp_path, expression, sheet, dataset=DATASET | {"cell_types": kept}).n_obs == 15 * 8


# --- text shapes: encodings, separators, decimal commas, compression, R and GEO layouts ---------------------------

def _series_matrix(frame: pd.DataFrame, path):
    import gzip

    body = frame.rename_axis("ID_REF").to_csv(sep="\t", quoting=2)  # GEO quotes the ids
    text = ('!Series_title\t"a series"\n!Series_geo_accession\t"GSE1"\n!Sample_title\t'
            + "\t".join(f'"{c}"' for c in frame.columns) + "\n!series_matrix_table_begin\n" + body
            + "!series_matrix_table_end\n")
    with gzip.open(path, "wt") as handle:
        handle.write(text)


def _gct(frame: pd.DataFrame, path):
    body = frame.rename_axis("Name").assign(Description="na").set_index("Description", append=True)
    path.write_text(f"#1.2\n{frame.shape[0]}\t{frame.shape[1]}\n" + body.to_csv(sep="\t"))


MATRIX_SHAPES = {
    "utf8_bom.tsv": lambda f, p: f.to_csv(p, sep="\t", encoding="utf-8-sig"),
    "utf16.txt": lambda f, p: f.to_csv(p, sep="\t", encoding="utf-16"),
    "crlf.tsv": lambda f, p: f.to_csv(p, sep="\t", lineterminator="\r\n"),
    "european.csv": lambda f, p: f.to_csv(p, sep=";", decimal=","),
    "european_tab.txt": lambda f, p: f.to_csv(p, sep="\t", decimal=","),
    "commas_named.txt": lambda f, p: f.to_csv(p),
    "gzipped.txt.gz": lambda f, p: f.to_csv(p, sep="\t"),
    "gzipped.tsv.gz": lambda f, p: f.to_csv(p, sep="\t"),
    "r_write_table.txt": lambda f, p: f.to_csv(p, sep=" ", index_label=False),  # header without the id column
    "commented.tsv": lambda f, p: p.write_text("# exported by a pipeline\n# version 2\n" + f.to_csv(sep="\t")),
    "series_matrix.txt.gz": _series_matrix,
    "genepattern.gct": _gct,
    "indexed.parquet": lambda f, p: f.to_parquet(p),  # the gene ids as pandas' stored index
}
SHEET_SHAPES = {
    "utf8_bom.tsv": lambda s, p: s.to_csv(p, sep="\t", index=False, encoding="utf-8-sig"),
    "utf16.txt": lambda s, p: s.to_csv(p, sep="\t", index=False, encoding="utf-16"),
    "crlf.tsv": lambda s, p: s.to_csv(p, sep="\t", index=False, lineterminator="\r\n"),
    "european.csv": lambda s, p: s.to_csv(p, sep=";", index=False),
    "r_write_table.tsv": lambda s, p: s.to_csv(p, sep="\t", index_label=False),  # R's row numbers, no header
}


@pytest.mark.parametrize("shape", sorted(MATRIX_SHAPES))
def test_every_common_matrix_shape_reads_like_the_plain_tsv(tmp_path, user_files, shape):
    expression, sheet = user_files
    frame = _matrix(expression).round(3)  # what a text export keeps
    frame.to_csv(expression, sep="\t")
    reference = _prepare(tmp_path / "ref", expression, sheet)
    MATRIX_SHAPES[shape](frame, path := tmp_path / shape)
    adata = _prepare(tmp_path, path, sheet)
    assert list(adata.var_names) == list(reference.var_names) and list(adata.obs_names) == list(reference.obs_names)
    np.testing.assert_allclose(adata.X, reference.X, rtol=1e-6)


@pytest.mark.parametrize("shape", sorted(SHEET_SHAPES))
def test_every_common_sheet_shape_reads_like_the_plain_tsv(tmp_path, user_files, shape):
    _, sheet = user_files
    frame = _sheet(sheet)
    frame["cell_type"] = frame["cell_type"].replace({"neuron": "Müller glia", "b_cell": "B cell; CD19+"})
    frame.to_csv(sheet, sep="\t", index=False)
    SHEET_SHAPES[shape](frame, path := tmp_path / shape)
    pd.testing.assert_frame_equal(read_sample_sheet(path), read_sample_sheet(sheet))
    assert "Müller glia" in set(read_sample_sheet(path)["cell_type"])


def test_latin1_text_is_refused_naming_the_encoding(tmp_path, user_files):
    expression, sheet = user_files
    frame = _sheet(sheet)
    frame.loc[0, "cell_type"] = "Müller glia"
    frame.to_csv(sheet, sep="\t", index=False, encoding="latin-1")
    _expect(tmp_path, expression, sheet, r"samples.tsv: is not UTF-8 text \(byte 0xfc at byte \d+; probably "
                                         r"Latin-1/Windows-1252\); fix: save it as UTF-8")


def test_ragged_text_is_refused_naming_the_separators_tried(tmp_path, user_files):
    expression, sheet = user_files
    lines = expression.read_text().splitlines()
    lines[3] += "\t1.0\t2.0"
    expression.write_text("\n".join(lines) + "\n")
    _expect(tmp_path, expression, sheet, r"expression.tsv: cannot tell the column separator \(tab: 129 header "
                                         r"fields, 131 on line 4.*; fix: save it as tab-separated text")


# --- refusals through a rule script: one line on the terminal, the traceback in the log, exit 1 ------------------

def _run_step_subprocess(tmp_path, call: str):
    code = ("from cic.runner import run_step\n"
            "from cic.stages.data import prepare_expression\n"
            f"run_step(lambda: {call}, {str(tmp_path / 'step.log')!r})\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_rule_script_exits_non_zero_with_one_line(tmp_path, user_files):
    """The runner used by every rule script: exit status 1, the one-line message on stderr, the traceback in the
    rule's log only, no output."""
    _, sheet = user_files
    result = _run_step_subprocess(tmp_path, (
        f"prepare_expression({str(tmp_path / 'missing.tsv')!r}, {str(sheet)!r}, {LOCAL!r}, {DATASET!r}, "
        f"{PREPROCESS!r}, 1, {str(tmp_path / 'o.h5ad')!r}, {str(tmp_path / 'q.tsv')!r})"))
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if "ERROR" in line]
    assert "missing.tsv: expression matrix not found; fix:" in result.stderr and "Traceback" not in result.stderr
    log = (tmp_path / "step.log").read_text()
    assert "missing.tsv: expression matrix not found" in log and "Traceback" in log and "_require_file" in log
    assert not (tmp_path / "o.h5ad").exists() and not (tmp_path / "q.tsv").exists()


def test_an_unexpected_error_is_also_one_line_with_the_traceback_in_the_log(tmp_path):
    result = _run_step_subprocess(tmp_path, "{}['no such key']")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "KeyError: 'no such key' (traceback in" in result.stderr
    assert "Traceback" in (tmp_path / "step.log").read_text()


def test_a_write_that_fails_midway_leaves_neither_output(tmp_path, user_files, monkeypatch):
    """The h5ad and sample_quality.tsv are published together: a failure writing the second leaves neither."""
    def fail_midway(self, path, *args, **kwargs):
        with open(path, "w") as handle:
            handle.write("sample\tcell_type\n")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_midway)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        prepare_expression(*user_files, LOCAL, DATASET, PREPROCESS, 1, out / "expression.h5ad",
                           out / "sample_quality.tsv")
    assert list(out.iterdir()) == []  # no output, no temporary file


# --- the configuration ------------------------------------------------------------------------------------------

def _schema_errors(config):
    with pytest.raises(WorkflowError, match="Error validating config") as caught:
        validate(config, schema=str(REPO / "workflow/schemas/config.schema.yaml"))
    return str(caught.value)


def _test_config():
    return load_test_config()


def test_unknown_config_key_and_wrong_type_are_rejected():
    config = _test_config()
    validate(dict(config), schema=str(REPO / "workflow/schemas/config.schema.yaml"))
    unknown = _test_config()
    unknown["preprocess"]["top_variance_gene"] = 10
    assert "top_variance_gene" in _schema_errors(unknown)
    wrong_type = _test_config()
    wrong_type["splits"]["cv_folds"] = "ten"
    assert "ten" in _schema_errors(wrong_type)


def test_the_schema_accepts_labels_as_the_data_spell_them():
    config = _test_config()
    labels = ["CD4+/CD45RA+ naive T", "Müller glia", "B cell (CD19+)"]
    config["dataset"]["cell_types"] = labels
    config["universality"] |= {"cell_types": labels[:2], "de_pairs": [{"case": labels[0], "control": labels[1]}]}
    config["reconstruction"]["example_cell_types"] = labels
    validate(config, schema=str(REPO / "workflow/schemas/config.schema.yaml"))
    check_config(config)
    config["universality"]["de_pairs"] = [{"case": "", "control": labels[1]}]
    assert "should be non-empty" in _schema_errors(config)


@pytest.mark.parametrize("change, message", [
    ({"dataset": {"samples_per_type": 2}}, r"config: dataset.samples_per_type = 2 is below what splits.cv_folds = 3 "
                                           r"needs \(3 samples of every cell type\); fix: raise "
                                           r"dataset.samples_per_type to at least 3 or lower splits.cv_folds"),
    ({"dataset": {"samples_per_type": 4}, "splits": {"cv_folds": 5}},
     r"config: dataset.samples_per_type = 4 is below what splits.cv_folds = 5 needs \(5 samples"),
    ({"preprocess": {"log2": False, "log2_floor": 1.0}}, r"config: preprocess.log2_floor = 1.0 is set but "
                                                         r"preprocess.log2 is false"),
    ({"preprocess": {"log2_floor": 0.0, "log2_offset": 0.0}}, r"log2_floor \+ preprocess.log2_offset is 0"),
    ({"universality": {"de_pairs": [{"case": "b_cell", "control": "b_cell"}]}}, r"compares 'b_cell' with itself"),
    ({"universality": {"de_pairs": [{"case": "neuron", "control": "b_cell"}]}},
     r"config: universality.de_pairs case 'neuron' is not in universality.cell_types"),
    ({"universality": {"de_pairs": [{"case": "b_cell", "control": "t_cell"},
                                    {"case": "b_cell ", "control": "t_cell"}]}},
     r"lists 'b_cell' vs 't_cell' and 'b_cell' vs 't_cell', which share the file name de_b_cell_vs_t_cell"),
    ({"dataset": {"cell_types": ["b_cell", "esc"]}}, r"universality.cell_types names 't_cell', which "
                                                    r"dataset.cell_types leaves out"),
    ({"preprocess": {"top_variance_genes": 301}}, r"top_variance_genes = 301 exceeds dataset.synthetic.n_genes = 300"),
    ({"sweeps": {"architectures": {"folds": 4}}}, r"sweeps.architectures.folds = 4 exceeds splits.cv_folds = 3"),
    ({"dataset": {"source": "local"}}, r"config: dataset.source is 'local' but dataset.local.expression is empty; "
                                       r"fix: set it to your expression matrix"),
    ({"dataset": {"source": "geo"}}, r"dataset.source is 'geo' but dataset.geo.sample_sheet is empty; fix: set it"),
    ({"universality": {"pathway_source": "KEGG"}},
     r"config: universality.pathway_source is 'KEGG', not one of enrichment.sources \(planted_programs\); "
     r"fix: name one of them or add it to enrichment.sources"),
    ({"perturbation": {"figures": {"fig5": {"source": "KEGG", "terms": "identity"}}}},
     r"perturbation.figures.fig5.source is 'KEGG', not one of enrichment.sources"),
    ({"resources": {"default": {"mem_mb": 1000, "runtime": 10}}},  # an old config's key, now the profile's
     r"resources.default is no longer read.*fix: delete resources.default and set default-resources in your profile"),
])
def test_impossible_combinations_are_refused_at_validation(change, message):
    config = _test_config()
    for section, values in change.items():
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(config[section].get(key), dict):
                config[section][key] |= value
            else:
                config[section][key] = value
    resolve_defaults(config)  # as common.smk does before its checks
    with pytest.raises(InputError, match=message) as caught:
        check_config(config)
    assert "\n" not in str(caught.value) and "; fix: " in str(caught.value)
