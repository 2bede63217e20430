"""Every bad input: one-line error naming the file, row/column and fix; non-zero exit; no output left behind."""

import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from cic.errors import InputError
from cic.stages.data import prepare_expression
from conftest import REPO

DATASET = {"source": "local", "samples_per_type": 8, "cell_types": None}
PREPROCESS = {"log2": "auto", "log2_offset": 1.0, "collapse_duplicate_genes": "max_mean",
              "quantile_normalize": True, "top_variance_genes": 50}
LOCAL = {"orientation": "genes_x_samples", "sample_column": "sample", "cell_type_column": "cell_type",
         "study_column": "study"}


def _prepare(tmp_path, expression, sheet, dataset=None, preprocess=None, local=None):
    outputs = tmp_path / "out" / "expression.h5ad", tmp_path / "out" / "sample_quality.tsv"
    try:
        prepare_expression(expression, sheet, local or LOCAL, dataset or DATASET, preprocess or PREPROCESS, 1,
                           *outputs)
    finally:
        leftovers = list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
        assert not leftovers, f"output left behind: {leftovers}"


def _expect(tmp_path, expression, sheet, pattern, **kwargs):
    with pytest.raises(InputError, match=pattern) as caught:
        _prepare(tmp_path, expression, sheet, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "fix:" in message
    return message


def test_good_input_works(tmp_path, user_files):
    prepare_expression(*user_files, LOCAL, DATASET, PREPROCESS, 1, tmp_path / "x.h5ad",
                                     tmp_path / "q.tsv")
    adata = ad.read_h5ad(tmp_path / "x.h5ad")
    assert adata.shape == (16 * 8, 150) and set(adata.obs.columns) >= {"cell_type", "study"}


def test_missing_file(tmp_path, user_files):
    _expect(tmp_path, tmp_path / "nope.tsv", user_files[1], r"nope.tsv: expression matrix not found")


def test_non_numeric_cell_names_row_and_column(tmp_path, user_files):
    expression, sheet = user_files
    frame = pd.read_csv(expression, sep="\t", index_col=0, dtype=str)
    frame.iloc[4, 2] = "abc"
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"expression.tsv: non-numeric value 'abc' at row 'GENE00005' "
                                         r"\(line 6\), column 'SIM00003'")


@pytest.mark.parametrize("bad_value, word", [("nan", "missing/NaN"), ("", "missing/NaN"), ("inf", "infinite")])
def test_nan_and_infinite_values(tmp_path, user_files, bad_value, word):
    expression, sheet = user_files
    frame = pd.read_csv(expression, sep="\t", index_col=0)
    frame.iloc[7, 3] = np.nan if bad_value in ("nan", "") else np.inf
    frame.to_csv(expression, sep="\t", na_rep=bad_value)
    _expect(tmp_path, expression, sheet, rf"{word} value at row 'GENE00008' \(line 9\), column 'SIM00004'")


def test_negative_values_when_log2_requested(tmp_path, user_files):
    expression, sheet = user_files
    frame = pd.read_csv(expression, sep="\t", index_col=0)
    frame.iloc[2, 5] = -3.5
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"negative value -3.5 at sample 'SIM00006', gene 'GENE00003'",
            preprocess=PREPROCESS | {"log2": True})


def test_duplicate_sample_ids_in_matrix_and_sheet(tmp_path, user_files):
    expression, sheet = user_files
    frame = pd.read_csv(expression, sep="\t", index_col=0)
    columns = list(frame.columns)
    columns[4] = columns[1]
    frame.columns = columns
    frame.to_csv(expression, sep="\t")
    _expect(tmp_path, expression, sheet, r"expression.tsv: column 'SIM00002' appears more than once")

    sheet_frame = pd.read_csv(sheet, sep="\t")
    sheet_frame.loc[9, "sample"] = sheet_frame.loc[3, "sample"]
    sheet_frame.to_csv(sheet, sep="\t", index=False)
    from cic.dataset import read_sample_sheet
    with pytest.raises(InputError, match=r"samples.tsv: duplicate sample id 'SIM00004' at line 11"):
        read_sample_sheet(sheet)


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


def test_other_formats_read_the_same(tmp_path, user_files, tiny_compendium):
    expression, sheet = user_files
    tsv_out = tmp_path / "tsv.h5ad"
    prepare_expression(expression, sheet, LOCAL, DATASET, PREPROCESS, 1, tsv_out, tmp_path / "q1.tsv")
    # samples x genes CSV
    csv = tmp_path / "expression.csv"
    tiny_compendium.intensities.T.rename_axis("sample").to_csv(csv)
    csv_out = tmp_path / "csv.h5ad"
    prepare_expression(csv, sheet, LOCAL | {"orientation": "samples_x_genes"}, DATASET, PREPROCESS, 1, csv_out,
                       tmp_path / "q2.tsv")
    # h5ad with the annotations in obs, no sample sheet
    h5ad_in = tmp_path / "input.h5ad"
    obs = tiny_compendium.samples[["cell_type", "study"]].copy()
    ad.AnnData(tiny_compendium.intensities.T.to_numpy(), obs=obs,
               var=pd.DataFrame(index=tiny_compendium.intensities.index)).write_h5ad(h5ad_in)
    h5ad_out = tmp_path / "h5.h5ad"
    prepare_expression(h5ad_in, None, LOCAL, DATASET, PREPROCESS, 1, h5ad_out, tmp_path / "q3.tsv")
    matrices = [ad.read_h5ad(p).X for p in (tsv_out, csv_out, h5ad_out)]
    np.testing.assert_allclose(matrices[0], matrices[1], rtol=1e-5)
    np.testing.assert_allclose(matrices[0], matrices[2], rtol=1e-5)


def _schema_errors(config):
    with pytest.raises(WorkflowError, match="Error validating config") as caught:
        validate(config, schema=str(REPO / "workflow/schemas/config.schema.yaml"))
    return str(caught.value)


def test_unknown_config_key_and_wrong_type_are_rejected():
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    validate(dict(config), schema=str(REPO / "workflow/schemas/config.schema.yaml"))
    unknown = yaml.safe_load((REPO / "config/test.yaml").read_text())
    unknown["preprocess"]["top_variance_gene"] = 10
    assert "top_variance_gene" in _schema_errors(unknown)
    wrong_type = yaml.safe_load((REPO / "config/test.yaml").read_text())
    wrong_type["splits"]["cv_folds"] = "ten"
    assert "ten" in _schema_errors(wrong_type)


def test_rule_script_exits_non_zero_with_one_line(tmp_path, user_files):
    """The runner used by every rule script: exit status 1 and the one-line message on stderr."""
    expression, sheet = user_files
    code = (
        "from cic.runner import run_step\n"
        "from cic.stages.data import prepare_expression\n"
        f"run_step(lambda: prepare_expression({str(tmp_path / 'missing.tsv')!r}, {str(sheet)!r}, {LOCAL!r}, "
        f"{DATASET!r}, {PREPROCESS!r}, 1, {str(tmp_path / 'o.h5ad')!r}, {str(tmp_path / 'q.tsv')!r}), "
        f"{str(tmp_path / 'step.log')!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(error_lines) == 1 and "missing.tsv: expression matrix not found; fix:" in error_lines[0]
    assert "missing.tsv" in (tmp_path / "step.log").read_text()
    assert not (tmp_path / "o.h5ad").exists()


def test_scripts_pair_files_with_their_wildcards_by_name():
    """A rule's files are matched to their (comparison, source) keys by path, whatever order expand() used."""
    from cic.runner import paths_by_key

    files = ["results/tables/enrichment_b_vs_t_kegg.tsv", "results/tables/enrichment_b_vs_t_go.tsv"]
    found = paths_by_key(files, "results/tables/enrichment_{}_{}.tsv", [("b_vs_t", "go"), ("b_vs_t", "kegg")])
    assert found == {("b_vs_t", "go"): files[1], ("b_vs_t", "kegg"): files[0]}
    with pytest.raises(ValueError, match="enrichment_b_vs_t_reactome"):
        paths_by_key(files, "results/tables/enrichment_{}_{}.tsv", [("b_vs_t", "reactome")])
