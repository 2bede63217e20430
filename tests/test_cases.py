"""The ten real-world inputs of issue 16 (tests/data/cases/*/EXPECTED.md), each through the data stage as the rules
run it (prepare_expression, then make_splits) with the default config plus the case's dataset section.

Each case stands for a kind of input; tests/test_bad_inputs.py covers the other members of each kind."""

import anndata as ad
import pandas as pd
import pytest
import yaml

from cic.errors import InputError
from cic.labels import safe_name
from cic.stages.data import make_splits, prepare_expression
from conftest import REPO

CASES = REPO / "tests/data/cases"
DEFAULTS = yaml.safe_load((REPO / "config/config.yaml").read_text())


def _run(tmp_path, case: str, orientation="genes_x_samples", **local_changes):
    """The case's data stage: results/data/expression.h5ad, results/tables/sample_quality.tsv and splits.tsv."""
    folder = CASES / case
    expression = next(path for path in folder.iterdir() if path.name.startswith("expression"))
    sheet = folder / "samples.tsv" if (folder / "samples.tsv").exists() else None
    local = DEFAULTS["dataset"]["local"] | {"orientation": orientation} | local_changes
    dataset = DEFAULTS["dataset"] | {"source": "local", "samples_per_type": None, "local": local}
    out = tmp_path / "results"
    prepare_expression(expression, sheet, local, dataset, DEFAULTS["preprocess"], DEFAULTS["seed"],
                       out / "data/expression.h5ad", out / "tables/sample_quality.tsv")
    splits = DEFAULTS["splits"]
    make_splits(out / "data/expression.h5ad", splits["test_fraction"], splits["cv_folds"], splits["noise_cv_folds"],
                DEFAULTS["seed"], out / "data/splits.tsv")
    return ad.read_h5ad(out / "data/expression.h5ad"), pd.read_csv(out / "data/splits.tsv", sep="\t")


def _refused(tmp_path, case: str, pattern: str, written=(), **kwargs) -> str:
    with pytest.raises(InputError, match=pattern) as caught:
        _run(tmp_path, case, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "; fix: " in message
    left = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert left == sorted(written), f"outputs left behind: {left}"
    return message


def test_01_excel_date_genes_are_named_not_merged(tmp_path):
    """SEPT1 -> 1-Sep, SEPT2 -> 2-Sep, and MARCH1 and MARC1 both -> 1-Mar: refused, not collapsed into one gene."""
    _refused(tmp_path, "01-excel-date-genes",
             r"01-excel-date-genes/expression.tsv: 4 gene id\(s\) look like dates or numbers made by Excel: '1-Sep' "
             r"at line 58 is an Excel date \(SEPT1 / SEPTIN1\?\); also '2-Sep' at line 59, '1-Mar' at line 60, "
             r"'1-Mar' at line 61; fix: re-export the gene column as text")


def test_02_h5ad_with_repeated_var_names_collapses_them(tmp_path):
    adata, _ = _run(tmp_path, "02-h5ad-dup-varnames", study_column=None)
    assert adata.shape == (36, 58) and adata.var_names.is_unique
    assert adata.uns["provenance"]["n_input_gene_ids"] == 60


def test_04_h5ad_without_x_names_the_layer_and_the_fix(tmp_path):
    _refused(tmp_path, "04-h5ad-x-none",
             r"04-h5ad-x-none/expression.h5ad: has no X matrix \(layers: counts\); fix: set dataset.local.layer: "
             r"counts in your config, or copy the layer to X \(adata.X = adata.layers\['counts'\]\) and save again",
             study_column=None)


def test_07_na_cell_types_are_missing_values_not_a_type(tmp_path):
    _refused(tmp_path, "07-sheet-NA-celltype",
             r"07-sheet-NA-celltype/samples.tsv: missing value 'NA' at line 6, column 'cell_type' \(2 in all\); fix: "
             r"fill in the cell type, or remove the sample from the sheet and the matrix")


def test_09_linear_data_scaled_to_one_are_log_transformed(tmp_path):
    adata, _ = _run(tmp_path, "09-linear-small-values")
    provenance = adata.uns["provenance"]
    assert provenance["log2_applied"] is True or provenance["log2_applied"] == 1
    assert "0 < Q1 = 0.338" in provenance["log2_decision"] and "< Q3 = 1.79" in provenance["log2_decision"]
    assert provenance["log2_input_quantiles"]["q99"] == pytest.approx(9.54, abs=0.01)


def test_11_samples_x_genes_with_repeated_gene_columns_equals_the_genes_x_samples_layout(tmp_path):
    adata, _ = _run(tmp_path / "a", "11-samples-x-genes-dup-genes", orientation="samples_x_genes")
    assert adata.shape == (36, 58)
    transposed = CASES / "11-samples-x-genes-dup-genes/expression.tsv"
    genes_x_samples = pd.read_csv(transposed, sep="\t", index_col=0).T
    genes_x_samples.index.name = "gene"
    # pandas renamed the repeated columns GENE001.1, ...: restore the ids as written
    genes_x_samples.index = [gene.split(".")[0] for gene in genes_x_samples.index]
    (tmp_path / "b").mkdir()
    genes_x_samples.rename_axis("gene").to_csv(tmp_path / "b/expression.tsv", sep="\t")
    local = DEFAULTS["dataset"]["local"]
    prepare_expression(tmp_path / "b/expression.tsv", CASES / "11-samples-x-genes-dup-genes/samples.tsv", local,
                       DEFAULTS["dataset"] | {"source": "local", "samples_per_type": None}, DEFAULTS["preprocess"],
                       DEFAULTS["seed"], tmp_path / "b/x.h5ad", tmp_path / "b/q.tsv")
    other = ad.read_h5ad(tmp_path / "b/x.h5ad")
    assert list(other.var_names) == list(adata.var_names)
    pd.testing.assert_frame_equal(adata.to_df(), other.to_df())


def test_12_labels_with_slash_plus_space_and_umlaut_are_kept_as_data(tmp_path):
    adata, splits = _run(tmp_path, "12-celltype-slash-plus")
    labels = {"CD4+/CD45RA+ naive T", "b_cell", "t_cell", "Müller glia"}
    assert set(adata.obs["cell_type"]) == labels and set(splits["cell_type"]) == labels
    names = {safe_name(label) for label in labels}
    assert names == {"CD4_CD45RA_naive_T_1fd1d3ca", "b_cell", "t_cell", "Muller_glia_7159a9ae"}
    # the whole workflow on these labels, in both layouts: tests/test_workflow_labels.py


def test_13_a_singleton_type_stops_before_training_naming_it_and_the_fixes(tmp_path):
    _refused(tmp_path, "13-singleton-celltype",
             r"13-singleton-celltype/samples.tsv: cell type 'hepatocyte' has 1 sample, but every type needs at least "
             r"10 \(splits.cv_folds = 10 needs 10, splits.noise_cv_folds = 5 needs 5, the stratified 75/25 split needs "
             r"2\); fix: add samples of that type, leave it out \(list the types to keep in dataset.cell_types\), or "
             r"lower splits.cv_folds / splits.noise_cv_folds",
             written=["results/data/expression.h5ad", "results/tables/sample_quality.tsv"])  # but no splits.tsv


def test_16_an_id_repeated_with_a_trailing_space_is_a_duplicate(tmp_path):
    _refused(tmp_path, "16-sheet-id-whitespace-duplicate",
             r"16-sheet-id-whitespace-duplicate/samples.tsv: duplicate sample id 'S01' at line 38, column 'sample' "
             r"\(also at line 2, column 'sample'\); fix: give every sample a unique id")


def test_17_an_all_zero_sample_is_named(tmp_path):
    _refused(tmp_path, "17-all-zero-sample",
             r"17-all-zero-sample/expression.tsv: sample 'S10' \(column 11\) is zero for every gene; fix: remove it "
             r"from the matrix and the sample sheet")
