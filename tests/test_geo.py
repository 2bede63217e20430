"""dataset.source: geo against a local HTTP server: SOFT parsing, probe -> gene mapping, caching, bad inputs, and
a snakemake run up to results/data/expression.h5ad."""

import gzip

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from cic import geo
from cic.errors import InputError
from cic.stages.data import prepare_expression
from cic.stages.download import import_geo
from conftest import REPO, load_test_config, run_snakemake
from local_http import http_server  # noqa: F401 (a fixture)

ANNOTATION = REPO / "tests/data/geo/GPL570.annot"
PROBES = list(pd.read_csv(ANNOTATION, sep="\t", skiprows=11, skipfooter=1, engine="python")["ID"])
SYMBOL_ROWS = ["RFC2", "HSPA6", "PAX8", "GUCA1A", "THRA", "PTPN21", "CCL5", "CYP2E1", "EPHB3", "ESRRA", "MAPK1",
               "MAPK1", "GAPDH", "GAPDH", "GAPDH"]  # single-symbol probes in annotation order
SELECTION = {"samples_per_type": 3, "cell_types": None}


def soft_sample(accession, values, platform="GPL570", series="GSE20001"):
    """A sample's SOFT text as GEO's acc.cgi?...&form=text&view=full serves it."""
    header = [f"^SAMPLE = {accession}", f"!Sample_title = test sample {accession}",
              f"!Sample_geo_accession = {accession}", "!Sample_status = Public on Jan 01 2010",
              "!Sample_type = RNA", "!Sample_channel_count = 1", "!Sample_organism_ch1 = Homo sapiens",
              "!Sample_data_processing = MAS5.0 signal intensity", f"!Sample_platform_id = {platform}",
              f"!Sample_series_id = {series}", f"!Sample_data_row_count = {len(values)}", "#ID_REF = ",
              "#VALUE = MAS5.0 signal intensity", "#ABS_CALL = present/absent call", "!sample_table_begin",
              "ID_REF\tVALUE\tABS_CALL"]
    rows = [f"{probe}\t{value}\tP" for probe, value in values.items()]
    return "\n".join(header + rows + ["!sample_table_end", ""])


def intensities(seed, log2=False):
    values = np.random.default_rng(seed).lognormal(7, 1.2, len(PROBES))
    return {probe: round(float(np.log2(v) if log2 else v), 3) for probe, v in zip(PROBES, values)}


class GeoFixture:
    """A sheet of GSM accessions served by the local server, plus the config that points at it."""

    def __init__(self, server, tmp_path):
        self.server, self.tmp_path = server, tmp_path
        self.rows = []
        self.geo = {"sample_sheet": str(tmp_path / "geo_samples.tsv"), "platform": "GPL570",
                    "base_url": server.url("/geo/query/acc.cgi"),
                    "platform_annotation_url": server.add("/annot/GPL570.annot.gz",
                                                          gzip.compress(ANNOTATION.read_bytes())),
                    "symbol_column": "Gene symbol", "multi_symbol_probes": "drop"}
        self.download = {"cache_dir": str(tmp_path / "cache"), "workers": 3, "retries": 2,
                         "backoff_seconds": 0.01, "timeout_seconds": 5}

    def add(self, accession, cell_type, study=None, serve=True, text=None, **soft):
        self.rows.append({"sample": accession, "cell_type": cell_type, "study": study})
        if serve:
            number = int(accession[3:])
            self.server.add(f"/geo/query/acc.cgi?acc={accession}",
                            text if text is not None else soft_sample(accession, intensities(number), **soft))

    def write_sheet(self, with_study=False):
        frame = pd.DataFrame(self.rows)
        frame = frame if with_study else frame.drop(columns="study")
        frame.to_csv(self.geo["sample_sheet"], sep="\t", index=False)
        return self.geo["sample_sheet"]

    def run(self, selection=SELECTION):
        out = self.tmp_path / "out"
        import_geo(self.write_sheet(), self.geo, self.download, selection, 1, out / "expression.parquet",
                   out / "samples.tsv")
        return out


@pytest.fixture
def geo_fixture(http_server, tmp_path):
    return GeoFixture(http_server, tmp_path)


def _two_types(fixture, **soft):
    for index in range(3):
        fixture.add(f"GSM10{index}", "liver", series="GSE20001", **soft)
        fixture.add(f"GSM20{index}", "neuron", series=f"GSE2000{2 + index % 2}", **soft)


def test_platform_annotation_maps_probes_to_single_symbols(tmp_path):
    gz = tmp_path / "GPL570.annot.gz"
    gz.write_bytes(gzip.compress(ANNOTATION.read_bytes()))
    annotation = geo.read_platform_annotation(gz, "Gene symbol")
    assert list(annotation.index) == PROBES and annotation["AFFX-BioB-5_at"] == ""
    dropped = geo.probe_symbols(annotation, "drop")
    assert list(dropped) == SYMBOL_ROWS
    split = geo.probe_symbols(annotation, "split")
    assert list(split.index[:2]) == ["1007_s_at", "1007_s_at"] and list(split[:2]) == ["DDR1", "MIR4640"]
    assert set(split) == set(SYMBOL_ROWS) | {"DDR1", "MIR4640", "UBA7", "MIR5193"}
    with pytest.raises(InputError, match=r"GPL570.annot.gz: the platform annotation has no column 'Symbol'"):
        geo.read_platform_annotation(gz, "Symbol")


def test_import_geo_writes_what_prepare_expression_reads_and_caches_downloads(geo_fixture, tmp_path):
    _two_types(geo_fixture)
    out = geo_fixture.run()
    matrix = pd.read_parquet(out / "expression.parquet").set_index("gene")
    assert list(matrix.index) == SYMBOL_ROWS  # symbol-less and multi-symbol probes dropped; repeats kept
    assert list(matrix.columns) == ["GSM100", "GSM200", "GSM101", "GSM201", "GSM102", "GSM202"]  # sheet order
    assert matrix.loc["RFC2", "GSM101"] == intensities(101)["1053_at"]
    sheet = pd.read_csv(out / "samples.tsv", sep="\t")
    assert list(sheet.columns[:3]) == ["sample", "cell_type", "study"]
    assert list(sheet["study"]) == ["GSE20001", "GSE20002", "GSE20001", "GSE20003", "GSE20001", "GSE20002"]
    assert set(sheet["platform"]) == {"GPL570"} and set(sheet["value_scale"]) == {"raw"}

    # The existing preparation consumes it: MAPK1 and GAPDH probes collapse into one gene each.
    prepare_expression(out / "expression.parquet", out / "samples.tsv", {}, {"source": "geo", **SELECTION},
                       {"log2": "auto", "log2_offset": 1.0, "collapse_duplicate_genes": "max_mean",
                        "quantile_normalize": True}, 1, out / "expression.h5ad", out / "quality.tsv")
    adata = ad.read_h5ad(out / "expression.h5ad")
    assert adata.shape == (6, 12) and adata.uns["provenance"]["log2_applied"]

    # A re-run downloads nothing: annotation and samples come from resources/cache.
    requests = geo_fixture.server.count()
    geo_fixture.run()
    assert geo_fixture.server.count() == requests
    assert sorted(p.name for p in (tmp_path / "cache/geo/samples").iterdir())[:2] == ["GSM100.soft", "GSM101.soft"]


def test_only_the_selected_samples_are_downloaded_and_the_sheet_study_wins(geo_fixture):
    for index in range(5):
        geo_fixture.add(f"GSM30{index}", "liver", study=f"lab{index % 2}")
        geo_fixture.add(f"GSM40{index}", "heart", study="lab9")
    geo_fixture.write_sheet(with_study=True)
    out = geo_fixture.tmp_path / "out"
    import_geo(geo_fixture.geo["sample_sheet"], geo_fixture.geo, geo_fixture.download, SELECTION, 1,
               out / "expression.parquet", out / "samples.tsv")
    sheet = pd.read_csv(out / "samples.tsv", sep="\t")
    assert len(sheet) == 6 and geo_fixture.server.count("acc=GSM") == 6
    assert set(sheet.loc[sheet["cell_type"] == "liver", "study"]) == {"lab0", "lab1"}  # round robin over studies


def test_probes_null_in_a_sample_are_dropped_and_mixed_scales_harmonised(geo_fixture):
    _two_types(geo_fixture)
    log_values = intensities(100, log2=True)
    log_values["1316_at"] = "null"  # THRA missing in one sample
    geo_fixture.server.add("/geo/query/acc.cgi?acc=GSM100", soft_sample("GSM100", log_values))
    out = geo_fixture.run()
    matrix = pd.read_parquet(out / "expression.parquet").set_index("gene")
    assert "THRA" not in matrix.index and len(matrix) == len(SYMBOL_ROWS) - 1
    sheet = pd.read_csv(out / "samples.tsv", sep="\t", index_col="sample")
    assert sheet.loc["GSM100", "value_scale"] == "log2" and (sheet["value_scale"] == "raw").sum() == 5
    np.testing.assert_allclose(matrix.loc["RFC2", "GSM100"], 2 ** log_values["1053_at"])  # back on raw scale


def _expect_error(fixture, pattern, selection=SELECTION):
    with pytest.raises(InputError, match=pattern) as caught:
        fixture.run(selection)
    message = str(caught.value)
    assert "\n" not in message and "; fix: " in message
    assert not (fixture.tmp_path / "out").exists() or not any((fixture.tmp_path / "out").iterdir())
    return message


def test_unknown_accessions_are_all_named_in_one_line(geo_fixture):
    _two_types(geo_fixture)
    geo_fixture.add("GSM999", "liver", serve=False)
    geo_fixture.add("GSM998", "neuron", serve=False)
    geo_fixture.add("GSM997", "neuron", text="<html><body>Could not find the accession</body></html>")
    message = _expect_error(geo_fixture, r"geo_samples.tsv: 3 of 9 sample\(s\) could not be downloaded: "
                                         r"GSM999 \(HTTP 404 Not Found\), GSM998 \(HTTP 404 Not Found\), GSM997 "
                                         r"\(the reply is not GEO's SOFT record of GSM997",
                            selection={"samples_per_type": None, "cell_types": None})
    assert "fix: check those accessions" in message
    cached = sorted(p.name for p in (geo_fixture.tmp_path / "cache/geo/samples").iterdir())
    assert cached == [f"GSM{n}.soft" for n in (100, 101, 102, 200, 201, 202)]  # no error page, no partial file


def test_a_sample_of_another_platform_is_named_with_its_platform(geo_fixture):
    _two_types(geo_fixture)
    geo_fixture.server.add("/geo/query/acc.cgi?acc=GSM201", soft_sample("GSM201", intensities(201), "GPL96"))
    _expect_error(geo_fixture, r"geo_samples.tsv: 1 sample\(s\) are not on platform GPL570 "
                               r"\(dataset.geo.platform\): GSM201 is on GPL96; fix:")


def test_too_few_samples_of_a_type_names_the_sheet_before_any_download(geo_fixture):
    _two_types(geo_fixture)
    _expect_error(geo_fixture, r"geo_samples.tsv: cell type 'liver' \(column 'cell_type'\) has 3 samples, fewer "
                               r"than samples_per_type = 4",
                  selection={"samples_per_type": 4, "cell_types": None})
    assert geo_fixture.server.count() == 0


def test_a_sheet_row_that_is_not_a_gsm_accession(geo_fixture):
    _two_types(geo_fixture)
    geo_fixture.rows[4]["sample"] = "GSE12345"
    _expect_error(geo_fixture, r"geo_samples.tsv: 'GSE12345' at line 6, column 'sample' is not a GEO sample "
                               r"accession")


def test_a_sample_without_a_data_table(geo_fixture):
    _two_types(geo_fixture)
    text = soft_sample("GSM102", intensities(102)).split("!sample_table_begin")[0]
    geo_fixture.server.add("/geo/query/acc.cgi?acc=GSM102", text)
    _expect_error(geo_fixture, r"GSM102.soft: sample GSM102 has no data table in GEO")


@pytest.mark.workflow
def test_geo_source_through_snakemake(workflow_copy, http_server, tmp_path):
    fixture = GeoFixture(http_server, tmp_path)
    _two_types(fixture)
    fixture.rows[0]["sample"] = "GSM777"  # not on the server: a 404
    config = load_test_config()
    config["dataset"].update(source="geo", samples_per_type=3, geo=fixture.geo,
                             download=fixture.download | {"cache_dir": "resources/cache"})
    config["dataset"]["geo"]["sample_sheet"] = fixture.write_sheet()
    config_path = workflow_copy / "config" / "geo.yaml"
    config_path.write_text(yaml.safe_dump(config))
    target = "results/data/expression.h5ad"

    # An unknown accession: the job fails with one line naming it, and leaves no output.
    result = run_snakemake(workflow_copy, target, configfile=config_path, check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "could not be downloaded" in line]
    assert errors and "geo_samples.tsv: 1 of 6 sample(s) could not be downloaded: GSM777 (HTTP 404 Not Found); " \
                      "fix: " in errors[0]
    assert not (workflow_copy / "results/data/geo/expression.parquet").exists()
    assert len(list((workflow_copy / "resources/cache/geo/samples").iterdir())) == 5  # the good ones are kept

    # Fixed sheet: only the missing sample is downloaded, and the data reach the prepared container.
    fixture.rows[0]["sample"] = "GSM100"
    fixture.write_sheet()
    requests = http_server.count()
    run_snakemake(workflow_copy, target, configfile=config_path)
    assert http_server.count() == requests + 1
    adata = ad.read_h5ad(workflow_copy / target)
    assert adata.shape == (6, 12) and adata.uns["provenance"]["source"] == "geo"
    assert sorted(adata.obs["cell_type"].unique()) == ["liver", "neuron"]
    assert (workflow_copy / "results/logs/data/import_geo.log").exists()
    assert (workflow_copy / "results/benchmarks/data/import_geo.tsv").exists()


def test_the_example_sheet_reads():
    samples = geo.read_geo_sample_sheet(REPO / "config/geo_samples.example.tsv")
    assert len(samples) == 12 and set(samples["cell_type"]) == {"liver", "heart", "neuron"}
