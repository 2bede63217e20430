"""Gene identifiers (cic.identifiers): which kind a list of ids is, Ensembl versions, probe sets mapped to symbols
from a hand-made annotation table (as the GEO source maps them), and a gene set source that cannot meet the data
stopping with one line."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cic.dataset import read_expression
from cic.errors import InputError
from cic.identifiers import (ENSEMBL, ENSEMBL_VERSIONED, ENTREZ, OTHER, PROBE_SET, SYMBOL, check_overlap,
                             identifier_kind, map_to_symbols, overlap_row, read_symbol_mapping,
                             strip_ensembl_versions)
from cic.prepare import PreparationSettings, prepare
from cic.stages.data import prepare_expression
from conftest import REPO

GPL570 = REPO / "tests/data/geo/GPL570.annot"  # GEO's .annot layout, 18 probe sets


@pytest.mark.parametrize("ids, kind", [
    (["TP53", "HLA-A", "C1orf112", "MT-ND1", "RP11-34P13.7", "Trp53", "IGH@"], SYMBOL),
    (["ENSG00000141510", "ENSG00000012048", "ENSMUSG00000059552"], ENSEMBL),
    (["ENSG00000141510.16", "ENSG00000012048.23", "ENSG00000002586.20_PAR_Y"], ENSEMBL_VERSIONED),
    (["7157", "672", "1"], ENTREZ),
    (["1007_s_at", "121_at", "1552256_a_at", "AFFX-BioB-5_at", "AFFX-HUMGAPDH/M33197_3_at", "200000_x_at"],
     PROBE_SET),
    (["ILMN_1343291", "A_23_P100001", "cg00000029"], OTHER),
    (["TP53", "7157", "1007_s_at", "ENSG00000141510"], OTHER),  # no kind has a majority
])
def test_identifier_kinds(ids, kind):
    assert identifier_kind(ids)[0] == kind


def test_the_kind_of_a_list_is_its_majority_and_comes_with_an_example_of_it():
    kind, example = identifier_kind(["AFFX-BioB-5_at", "1007_s_at", "121_at", "TP53"])
    assert (kind, example) == (PROBE_SET, "AFFX-BioB-5_at")
    assert identifier_kind([]) == (OTHER, "")


def test_ensembl_versions_are_stripped_and_the_versions_of_one_gene_collapse():
    genes = ["ENSG00000141510.16", "ENSG00000141510.17", "ENSG00000002586.20_PAR_Y", "ENSG00000002586.20", "TP53"]
    stripped, changed = strip_ensembl_versions(genes)
    assert stripped == ["ENSG00000141510", "ENSG00000141510", "ENSG00000002586", "ENSG00000002586", "TP53"]
    assert changed == 4
    # Through the preparation: two versions of one gene are one gene (max_mean keeps the brighter row).
    raw_matrix = np.array([[100.0, 900.0, 50.0, 60.0, 70.0], [200.0, 800.0, 55.0, 65.0, 75.0],
                           [300.0, 700.0, 52.0, 62.0, 72.0], [400.0, 600.0, 51.0, 61.0, 71.0]])
    samples = pd.DataFrame({"cell_type": ["a", "a", "b", "b"], "study": "s"},
                           index=pd.Index(["S1", "S2", "S3", "S4"], name="sample"))
    from cic.dataset import RawDataset

    settings = PreparationSettings(samples_per_type=None, log2=True, quantile_normalize=False)
    matrix, _, kept, provenance = prepare(RawDataset(raw_matrix, genes, samples, "x.tsv"), settings)
    assert kept == ["ENSG00000141510", "ENSG00000002586", "TP53"]
    np.testing.assert_allclose(matrix[:, 0], np.log2(raw_matrix[:, 1] + 1))  # the .17 row, higher mean
    assert provenance["gene_id_kind"] == ENSEMBL and provenance["ensembl_versions_stripped"] == 4


# --------------------------------------------------------------------------------------------------------------
# Probe sets -> gene symbols


def _annotation_tsv(path):
    """A hand-made two-column annotation (Affymetrix CSV conventions: '---' for no symbol, ' /// ' for several)."""
    rows = [("p1_at", "GENEA"), ("p2_at", "GENEA"), ("p3_s_at", "GENEB /// GENEC"), ("p4_at", "---"),
            ("p5_at", ""), ("p6_x_at", "GENED"), ("p7_at", "GENEB")]
    pd.DataFrame(rows, columns=["probe_set", "symbol"]).to_csv(path, sep="\t", index=False)
    return path


def _probe_matrix(tmp_path):
    """genes x samples TSV of probe sets p1..p8 (p8 not in the annotation) and its sample sheet."""
    probes = [f"p{i}_at" for i in (1, 2)] + ["p3_s_at", "p4_at", "p5_at", "p6_x_at", "p7_at", "p8_at"]
    values = np.array([[10, 20, 30, 40], [100, 200, 300, 400], [5, 6, 7, 8], [1, 2, 3, 4], [9, 9, 9, 8],
                       [50, 60, 70, 80], [500, 600, 700, 800], [3, 3, 3, 4]], dtype=float)
    matrix = pd.DataFrame(values, index=pd.Index(probes, name="probe_set"), columns=["S1", "S2", "S3", "S4"])
    matrix.to_csv(tmp_path / "expression.tsv", sep="\t")
    pd.DataFrame({"sample": ["S1", "S2", "S3", "S4"], "cell_type": ["x", "x", "y", "y"]}).to_csv(
        tmp_path / "samples.tsv", sep="\t", index=False)
    return matrix


def test_probe_sets_are_mapped_in_the_data_order_without_unannotated_probes(tmp_path):
    _probe_matrix(tmp_path)
    raw = read_expression(tmp_path / "expression.tsv", sample_sheet_path=tmp_path / "samples.tsv", study_column=None)
    mapping = read_symbol_mapping(_annotation_tsv(tmp_path / "annotation.tsv"), "probe_set", "symbol", "drop")
    mapped = map_to_symbols(raw, mapping, "annotation.tsv")
    # p3 has two symbols (dropped), p4 '---' and p5 '' none, p8 is not annotated.
    assert mapped.genes == ["GENEA", "GENEA", "GENED", "GENEB"]
    np.testing.assert_array_equal(mapped.matrix[:, 1], [100, 200, 300, 400])
    assert mapped.gene_locations == ["line 2", "line 3", "line 7", "line 8"]
    assert mapped.notes | {} == raw.notes | {"probe_annotation": "annotation.tsv", "input_gene_id_kind": PROBE_SET,
                                             "probe_ids_mapped": 4, "probe_ids_without_symbol": 4}
    split = map_to_symbols(raw, read_symbol_mapping(tmp_path / "annotation.tsv", "probe_set", "symbol", "split"),
                           "annotation.tsv")
    assert split.genes == ["GENEA", "GENEA", "GENEB", "GENEC", "GENED", "GENEB"]
    np.testing.assert_array_equal(split.matrix[:, 2], split.matrix[:, 3])  # p3 counts once for each gene


def test_the_preparation_collapses_mapped_probes_and_records_both_kinds(tmp_path):
    """The stage with dataset.local.annotation: probes -> symbols -> log2 -> max_mean collapse, in the h5ad."""
    matrix = _probe_matrix(tmp_path)
    _annotation_tsv(tmp_path / "annotation.tsv")
    local = {"orientation": "genes_x_samples", "study_column": None,
             "annotation": {"file": "annotation.tsv", "id_column": "probe_set", "symbol_column": "symbol",
                            "multi_symbol_probes": "drop"}}
    preprocess = {"log2": True, "log2_offset": 1.0, "collapse_duplicate_genes": "max_mean",
                  "quantile_normalize": False}
    prepare_expression(tmp_path / "expression.tsv", tmp_path / "samples.tsv", local,
                       {"source": "local", "samples_per_type": None}, preprocess, 1, tmp_path / "out.h5ad",
                       tmp_path / "quality.tsv", annotation=tmp_path / "annotation.tsv")
    adata = ad.read_h5ad(tmp_path / "out.h5ad")
    assert list(adata.var_names) == ["GENEA", "GENED", "GENEB"]
    # GENEA: p1 (mean 25) and p2 (mean 250) -> p2 kept; GENEB: p7 alone (p3 had two symbols, dropped).
    np.testing.assert_allclose(adata.X[:, 0], np.log2(matrix.loc["p2_at"].to_numpy() + 1), rtol=1e-6)
    np.testing.assert_allclose(adata.X[:, 2], np.log2(matrix.loc["p7_at"].to_numpy() + 1), rtol=1e-6)
    provenance = adata.uns["provenance"]
    assert provenance["input_gene_id_kind"] == PROBE_SET and provenance["gene_id_kind"] == SYMBOL
    assert provenance["probe_ids_without_symbol"] == 4 and str(provenance["probe_annotation"]).endswith(
        "annotation.tsv")


def test_a_geo_platform_annotation_maps_like_the_geo_source():
    """GEO's .annot (SOFT): ID and 'Gene symbol' columns by default; AFFX controls without a symbol drop out."""
    mapping = read_symbol_mapping(GPL570, None, "Gene symbol", "drop")
    assert "AFFX-BioB-5_at" not in mapping.index and "1007_s_at" not in mapping.index  # no / two symbols
    assert mapping["212581_x_at"] == "GAPDH" and mapping["AFFX-HUMGAPDH/M33197_3_at"] == "GAPDH"
    assert list(mapping.index[:3]) == ["1053_at", "117_at", "121_at"]


def test_annotation_problems_are_one_line_naming_the_key(tmp_path):
    annotation = _annotation_tsv(tmp_path / "annotation.tsv")
    with pytest.raises(InputError, match=r"annotation.tsv: the platform annotation has no column 'Gene symbol' "
                                         r"\(columns: probe_set, symbol\); fix: set "
                                         r"dataset.local.annotation.symbol_column to the column with the gene "
                                         r"symbols"):
        read_symbol_mapping(annotation, None, "Gene symbol", "drop")
    with pytest.raises(InputError, match=r"missing.tsv: annotation table not found; fix: check "
                                         r"dataset.local.annotation.file"):
        read_symbol_mapping(tmp_path / "missing.tsv", None, "symbol", "drop")
    _probe_matrix(tmp_path)
    raw = read_expression(tmp_path / "expression.tsv", sample_sheet_path=tmp_path / "samples.tsv", study_column=None)
    other_platform = pd.Series(["TP53"], index=pd.Index(["1007_s_at"]))
    with pytest.raises(InputError, match=r"GPL96.annot.gz: none of the data's 8 ids \(Affymetrix probe sets "
                                         r"\(e.g. 'p1_at'\)\) has a gene symbol in the annotation"):
        map_to_symbols(raw, other_platform, "GPL96.annot.gz")


# --------------------------------------------------------------------------------------------------------------
# Gene set sources against the data's identifiers


def _gmt(path, sets):
    path.write_text("".join(f"{name}\tdescription\t" + "\t".join(genes) + "\n" for name, genes in sets.items()))
    return path


def test_symbol_gene_sets_against_probe_sets_stop_with_one_line_naming_both_kinds(tmp_path):
    gmt = _gmt(tmp_path / "GO_BP.gmt", {"apoptosis": ["TP53", "BAX", "BCL2"], "cycle": ["CDK1", "CCNB1", "TP53"]})
    data = ["1007_s_at", "1053_at", "117_at", "121_at", "AFFX-BioB-5_at"]
    row = overlap_row(data, {"name": "GO_BP", "gmt": str(gmt)})
    assert (row["data_kind"], row["source_kind"], row["shared_genes"]) == (PROBE_SET, SYMBOL, 0)
    with pytest.raises(InputError, match=r"GO_BP.gmt: gene set source 'GO_BP' shares 0 genes") as caught:
        check_overlap(row, 0.33)
    message = str(caught.value)
    assert message == (
        f"{gmt}: gene set source 'GO_BP' shares 0 genes with the data (0.0% of the smaller list: 5 source genes, "
        "5 data genes; enrichment.min_gene_overlap = 0.33): the data's ids are Affymetrix probe sets (e.g. "
        "'1007_s_at'), the source's are gene symbols (e.g. 'BAX'); fix: map the data's ids to gene symbols: set "
        "dataset.local.annotation.file to your platform's probe annotation (GEO's GPLnnn.annot.gz, e.g. GPL96 for "
        "HG-U133A) (README, 'Gene identifiers'), or list a gene set source with the data's ids in enrichment.sources")
    assert "\n" not in message


def test_the_overlap_is_a_fraction_of_the_smaller_list(tmp_path):
    """A small library of the data's genes, or a few data genes against a large library, is no mismatch."""
    data = [f"GENE{i}" for i in range(1000)]
    small = _gmt(tmp_path / "markers.gmt", {"markers": ["GENE1", "GENE2", "GENE3", "OTHER1"]})
    row = overlap_row(data, {"name": "markers", "gmt": str(small)})
    assert row["fraction"] == pytest.approx(0.75)
    check_overlap(row, 0.33)  # passes
    mouse = _gmt(tmp_path / "mouse.gmt", {"set": ["Gene1", "Gene2", "Gene3", "GENE4"]})
    row = overlap_row(data, {"name": "mouse", "gmt": str(mouse)})
    with pytest.raises(InputError, match=r"shares 1 genes with the data \(25.0% of the smaller list.*fix: check "
                                         r"that the source is for the data's organism and identifier type"):
        check_overlap(row, 0.33)
    check_overlap(row, 0.25)  # the threshold is the config's


def test_an_enrichr_library_needs_gene_symbols_in_the_data():
    entry = {"name": "KEGG", "enrichr_library": "KEGG_2016"}
    check_overlap(overlap_row(["TP53", "BAX", "MYC"], entry), 0.33)
    with pytest.raises(InputError, match=r"Enrichr library 'KEGG_2016': gene set source 'KEGG' cannot be tested offline for overlap and needs gene "
                                         r"symbols: the data's ids are "
                                         r"Ensembl gene ids \(e.g. 'ENSG00000141510'\), the source's are gene "
                                         r"symbols; fix: map the data's ids to gene symbols"):
        check_overlap(overlap_row(["ENSG00000141510", "ENSG00000012048"], entry), 0.33)
