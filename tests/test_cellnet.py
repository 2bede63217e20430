"""dataset.source: cellnet against a local HTTP server: R objects written here with ``rdata`` (an .rda holding a
cnProc-like list, an .rds), a TSV export, checksums and bad inputs."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import rdata
import xarray
import yaml
from rdata.conversion.to_r import DEFAULT_CLASS_MAP, build_r_object
from rdata.parser import RObjectType
from snakemake.utils import validate

from cic.errors import InputError
from cic.stages.download import import_cellnet
from conftest import REPO
from local_http import http_server  # noqa: F401 (a fixture)

TYPES = ["esc", "liver", "neuron"]
GENES = [f"GENE{i:03d}" for i in range(40)]
SELECTION = {"samples_per_type": 4, "cell_types": ["esc", "neuron"]}


def _r_matrix(data: xarray.DataArray, converter):
    """A numeric R matrix with dimnames (rdata writes no matrices itself): what CellNet's expTrain is."""
    rows, columns = (np.array(data.coords[d].to_numpy(), dtype="U") for d in data.dims)
    attributes = converter.convert_to_r_attributes({"dim": np.array(data.shape, dtype=np.int32),
                                                    "dimnames": [rows, columns]})
    return build_r_object(RObjectType.REAL, value=np.ravel(np.asarray(data, dtype=float), order="F"),
                          attributes=attributes)


R_CLASSES = dict(DEFAULT_CLASS_MAP) | {xarray.DataArray: _r_matrix}


def training_data(per_type=5):
    samples = [f"GSM{5000 + i}" for i in range(per_type * len(TYPES))]
    values = np.random.default_rng(0).lognormal(7, 1, (len(GENES), len(samples)))
    expression = xarray.DataArray(values, dims=["gene", "sample"], coords={"gene": GENES, "sample": samples})
    table = pd.DataFrame({"sample_id": samples, "sample_name": [f"s{i}" for i in range(len(samples))],
                          "description1": pd.Categorical(np.repeat(TYPES, per_type)),
                          "exp_id": [f"GSE{700 + i % 3}" for i in range(len(samples))]}, index=samples)
    return expression, table


def cellnet_settings(url, **changes):
    return {"url": url, "sha256": None, "sample_table_url": "", "sample_table_sha256": None,
            "expression_object": "expTrain", "sample_table_object": "stTrain", "sample_column": "sample_id",
            "cell_type_column": "description1", "study_column": None} | changes


def run_import(tmp_path, cellnet, selection=SELECTION):
    download = {"cache_dir": str(tmp_path / "cache"), "workers": 2, "retries": 1, "backoff_seconds": 0.01,
                "timeout_seconds": 5}
    out = tmp_path / "out"
    import_cellnet(cellnet, download, selection, 1, out / "expression.parquet", out / "samples.tsv")
    return (pd.read_parquet(out / "expression.parquet").set_index("gene"),
            pd.read_csv(out / "samples.tsv", sep="\t", index_col="sample"))


def _expect_error(tmp_path, cellnet, pattern, selection=SELECTION):
    with pytest.raises(InputError, match=pattern) as caught:
        run_import(tmp_path, cellnet, selection)
    assert "\n" not in str(caught.value) and "; fix: " in str(caught.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cnproc_rda_selects_types_and_samples(http_server, tmp_path):
    expression, table = training_data()
    rda = tmp_path / "cnProc_test.R"  # CellNet's processors are .rda files named .R
    rdata.write_rda(rda, {"cnProc": {"expTrain": expression, "stTrain": table, "dLevelTrain": "description1"}},
                    constructor_dict=R_CLASSES)
    url = http_server.add("/cn/cnProc_test.R", rda.read_bytes())
    matrix, samples = run_import(tmp_path, cellnet_settings(url, study_column="exp_id"))
    assert samples["cell_type"].value_counts().to_dict() == {"esc": 4, "neuron": 4}
    assert list(matrix.columns) == list(samples.index) and list(matrix.index) == GENES
    first = samples.index[0]
    np.testing.assert_allclose(matrix[first], expression.sel(sample=first).to_numpy())
    assert set(samples["study"]) <= {"GSE700", "GSE701", "GSE702"}
    # Cached: a second import downloads nothing.
    run_import(tmp_path, cellnet_settings(url))
    assert http_server.count() == 1


def test_rds_with_row_names_as_sample_ids_and_a_checksum(http_server, tmp_path):
    expression, table = training_data()
    rds = tmp_path / "train.rds"
    rdata.write_rds(rds, {"expTrain": expression, "stTrain": table.drop(columns="sample_id")},
                    constructor_dict=R_CLASSES)
    url = http_server.add("/cn/train.rds", rds.read_bytes())
    checksum = hashlib.sha256(rds.read_bytes()).hexdigest()
    matrix, samples = run_import(tmp_path, cellnet_settings(url, sha256=checksum, sample_column=None),
                                 {"samples_per_type": None, "cell_types": None})
    assert matrix.shape == (40, 15) and set(samples["study"]) == {"unknown"}


def test_tsv_export(http_server, tmp_path):
    expression, table = training_data()
    frame = expression.to_pandas()
    url = http_server.add("/cn/expTrain.tsv", frame.to_csv(sep="\t"))
    table_url = http_server.add("/cn/stTrain.tsv", table.to_csv(sep="\t", index=False))
    matrix, samples = run_import(tmp_path, cellnet_settings(url, sample_table_url=table_url, study_column="exp_id"))
    assert samples["cell_type"].value_counts().to_dict() == {"esc": 4, "neuron": 4}
    np.testing.assert_allclose(matrix.to_numpy(), frame[samples.index].to_numpy())


def test_checksum_mismatch_is_an_error_and_the_file_is_deleted(http_server, tmp_path):
    url = http_server.add("/cn/cnProc.rda", b"RDX3\nsomething")
    _expect_error(tmp_path, cellnet_settings(url, sha256="ab" * 32),
                  rf"{url}: download failed: sha256 mismatch \(expected {'ab' * 32}, got [0-9a-f]{{64}}\); the "
                  r"downloaded file was deleted")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_unreadable_r_object(http_server, tmp_path):
    url = http_server.add("/cn/broken.rda", b"this is not an R object\n" * 10)
    _expect_error(tmp_path, cellnet_settings(url), r"cache/cellnet/broken.rda: cannot be read as an R object")


def test_missing_object_and_column_are_named(http_server, tmp_path):
    expression, table = training_data()
    rda = tmp_path / "other.rda"
    rdata.write_rda(rda, {"cnProc": {"expTrain": expression, "stTrain": table}}, constructor_dict=R_CLASSES)
    url = http_server.add("/cn/other.rda", rda.read_bytes())
    _expect_error(tmp_path, cellnet_settings(url, expression_object="expAll"),
                  r"other.rda: the R object has no object named 'expAll' \(it contains: cnProc, cnProc\$expTrain, "
                  r"cnProc\$stTrain\)")
    _expect_error(tmp_path, cellnet_settings(url, cell_type_column="description2"),
                  r"other.rda: sample table 'stTrain' has no column 'description2' \(columns: sample_id, ")


def test_too_few_samples_of_a_type_names_the_file(http_server, tmp_path):
    expression, table = training_data(per_type=3)
    rda = tmp_path / "small.rda"
    rdata.write_rda(rda, {"expTrain": expression, "stTrain": table}, constructor_dict=R_CLASSES)
    url = http_server.add("/cn/small.rda", rda.read_bytes())
    _expect_error(tmp_path, cellnet_settings(url),
                  r"cache/cellnet/small.rda: cell type 'esc' \(column 'cell_type'\) has 3 samples, fewer than "
                  r"samples_per_type = 4")


def test_empty_url_and_unknown_url(http_server, tmp_path):
    _expect_error(tmp_path, cellnet_settings(""), r"^config: dataset.cellnet.url is empty")
    _expect_error(tmp_path, cellnet_settings(http_server.url("/cn/nothing.rda")),
                  r"/cn/nothing.rda: download failed: HTTP 404 Not Found; fix: check dataset.cellnet.url")


def _merged(base: dict, override: dict) -> dict:
    """What snakemake does with --configfile: nested keys override the defaults one by one."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) \
            else value
    return merged


def test_paper_config_is_valid_on_top_of_the_defaults():
    paper = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    config = _merged(yaml.safe_load((REPO / "config/config.yaml").read_text()), paper)
    validate(config, schema=str(REPO / "workflow/schemas/config.schema.yaml"))
    assert config["dataset"]["source"] == "cellnet" and config["dataset"]["samples_per_type"] == 65
    assert config["splits"]["cv_folds"] == 10 and config["training"]["device"] == "auto"
