
import numpy as np
import pandas as pd
import pytest
from scipy.stats import hypergeom

from cic import enrichment
from cic.enrichment import (EnrichmentOffline, count_significant, enrich, enrich_enrichr, enrich_many,
                            enrich_source, load_gene_set_source, rank_of_terms)
from cic.errors import InputError
from cic.io import write_gmt

BACKGROUND = [f"GENE{i:04d}" for i in range(1, 1001)]


pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture
def gene_sets():
    """20 random sets of 30 genes, one planted set (genes 1-40), one set outside the background."""
    rng = np.random.default_rng(7)
    sets = {f"RANDOM_{i:02d}": sorted(rng.choice(BACKGROUND[40:], 30, replace=False)) for i in range(20)}
    sets["PLANTED_PROGRAM"] = BACKGROUND[:40]
    sets["NOT_MEASURED"] = ["OTHER1", "OTHER2"]
    return sets


@pytest.fixture
def query():
    rng = np.random.default_rng(8)
    return BACKGROUND[:20] + sorted(rng.choice(BACKGROUND[40:], 30, replace=False))


def test_planted_set_ranks_first_with_hypergeometric_p(tmp_path, gene_sets, query):
    write_gmt(gene_sets, tmp_path / "sets.gmt")
    sets = load_gene_set_source({"name": "test", "gmt": str(tmp_path / "sets.gmt")})
    result = enrich(query, sets, BACKGROUND)

    top = result.iloc[0]
    assert top["term"] == "PLANTED_PROGRAM"
    assert (top["n_overlap"], top["term_size"], top["overlap"]) == (20, 40, "20/40")
    # P(X >= 20) for X ~ hypergeometric(population 1000, 40 successes, 50 draws)
    assert top["p_value"] == pytest.approx(hypergeom.sf(20 - 1, 1000, 40, 50), rel=1e-10)
    assert top["genes"] == ";".join(BACKGROUND[:20])
    for row in result.itertuples():  # every term, not just the planted one
        assert row.p_value == pytest.approx(hypergeom.sf(row.n_overlap - 1, 1000, row.term_size, 50), rel=1e-10)
    assert result["p_value"].is_monotonic_increasing
    assert rank_of_terms(result, ["PLANTED_PROGRAM", "NOT_MEASURED"]).tolist()[0] == 1
    assert np.isnan(rank_of_terms(result, ["NOT_MEASURED"]).iloc[0])


def test_hand_worked_p_adjustments_odds_ratios_and_combined_scores():
    """Every number worked by hand on a 10-gene background and a 2-gene query (G1, G2).

    Hypergeometric p = P(X >= k), X the query genes in a term of K genes; C(10, 2) = 45 equally likely queries:
      BOTH   {G1,G2}     k=2 K=2  P(X=2) = 1/45
      TRIPLE {G1,G2,G3}  k=2 K=3  P(X=2) = C(3,2)/45 = 3/45
      ONLY_1 {G1}        k=1 K=1  P(X>=1) = 1 - C(9,2)/45 = 9/45
      ONLY_2 {G2}        k=1 K=1  9/45
      HALF   {G1,G4}     k=1 K=2  1 - C(8,2)/45 = 17/45
      NONE   {G5,G6}     tested (background genes), no overlap: p = 1, not reported
      ABSENT {X1}        no background gene: not tested
    """
    background = [f"G{i}" for i in range(1, 11)]
    sets = {"BOTH": ["G1", "G2"], "TRIPLE": ["G1", "G2", "G3"], "ONLY_1": ["G1"], "ONLY_2": ["G2"],
            "HALF": ["G1", "G4"], "NONE": ["G5", "G6"], "ABSENT": ["X1"]}
    table = enrich(["G1", "G2"], sets, background).set_index("term")
    p = {"BOTH": 1 / 45, "TRIPLE": 3 / 45, "ONLY_1": 9 / 45, "ONLY_2": 9 / 45, "HALF": 17 / 45}
    assert set(table.index) == set(p) and (table["terms_tested"] == 6).all()
    for term, value in p.items():
        assert table.loc[term, "p_value"] == pytest.approx(value, rel=1e-12)

    # Bonferroni: min(1, 6 p).
    bonferroni = {"BOTH": 6 / 45, "TRIPLE": 18 / 45, "ONLY_1": 1.0, "ONLY_2": 1.0, "HALF": 1.0}
    # BH over the 6 terms tested, p ascending with rank i: p * 6 / i, then the running minimum from the largest p:
    #   i=1 BOTH 1/45*6 = 6/45;  i=2 TRIPLE 3/45*3 = 9/45;  i=3,4 ONLY_1/ONLY_2 9/45*6/3 = 18/45 and 9/45*6/4 = 13.5/45
    #   i=5 HALF 17/45*6/5 = 20.4/45;  i=6 NONE 1*6/6 = 1.  Step-up: both ONLY terms get min(18, 13.5)/45 = 13.5/45.
    bh = {"BOTH": 6 / 45, "TRIPLE": 9 / 45, "ONLY_1": 13.5 / 45, "ONLY_2": 13.5 / 45, "HALF": 20.4 / 45}
    # Enrichr's odds ratio a*d / max(b*c, 1): a = k, b = K - k, c = 2 - k, d = 10 - K - 2 + k.
    #   BOTH 2*8/max(0,1) = 16;  TRIPLE 2*7/max(1*0,1) = 14;  ONLY_x 1*8/max(0*1,1) = 8;  HALF 1*7/(1*1) = 7
    odds_ratio = {"BOTH": 16.0, "TRIPLE": 14.0, "ONLY_1": 8.0, "ONLY_2": 8.0, "HALF": 7.0}
    for term in p:
        assert table.loc[term, "bonferroni"] == pytest.approx(bonferroni[term], rel=1e-12)
        assert table.loc[term, "adjusted_p_bh"] == pytest.approx(bh[term], rel=1e-12)
        assert table.loc[term, "odds_ratio"] == pytest.approx(odds_ratio[term], rel=1e-12)
        # Enrichr's combined score: -ln(p) * odds ratio, e.g. BOTH: 16 ln 45 = 60.91
        assert table.loc[term, "combined_score"] == pytest.approx(-np.log(p[term]) * odds_ratio[term], rel=1e-12)
    assert table.loc["BOTH", "combined_score"] == pytest.approx(60.9065, abs=1e-4)


def test_odds_ratio_is_enrichrs_without_pseudocount(gene_sets, query):
    # PLANTED_PROGRAM: a = 20 query genes in the term, b = 40 - 20, c = 50 - 20, d = 1000 - 40 - 50 + 20 = 930.
    # Enrichr: 20 * 930 / (20 * 30) = 31.0 (gseapy's local test adds 0.5 to each cell: 30.51).
    top = enrich(query, gene_sets, BACKGROUND).iloc[0]
    assert top["term"] == "PLANTED_PROGRAM"
    assert top["odds_ratio"] == pytest.approx(31.0, rel=1e-12)
    assert top["combined_score"] == pytest.approx(-np.log(top["p_value"]) * 31.0, rel=1e-12)


def test_bonferroni_and_bh_use_all_terms_tested(gene_sets, query):
    result = enrich(query, gene_sets, BACKGROUND)
    n_terms = 21  # NOT_MEASURED has no background gene, so it is not tested
    assert (result["terms_tested"] == n_terms).all()
    assert result["bonferroni"].to_numpy() == pytest.approx(np.minimum(1.0, result["p_value"] * n_terms))
    # Terms without overlap are tested too (p = 1): the first term's BH is min over ranks i of p_(i) * 21 / i.
    ranks = np.arange(1, len(result) + 1)
    assert result["adjusted_p_bh"].iloc[0] == pytest.approx(np.min(result["p_value"] * n_terms / ranks), rel=1e-12)
    assert result["adjusted_p_bh"].iloc[-1] == pytest.approx(
        min(1.0, result["p_value"].iloc[-1] * n_terms / len(result)), rel=1e-12)


def test_background_restriction(gene_sets, query):
    full = enrich(query, gene_sets, BACKGROUND).set_index("term")
    # A background of the first 500 genes: sets and query shrink, the universe is 500.
    smaller = BACKGROUND[:500]
    restricted = enrich(query, gene_sets, smaller).set_index("term")
    query_in = [gene for gene in query if gene in set(smaller)]
    assert (restricted["query_size"] == len(query_in)).all()
    for term, row in restricted.iterrows():
        term_size = len(set(gene_sets[term]) & set(smaller))
        overlap = len(set(query_in) & set(gene_sets[term]))
        assert (row["term_size"], row["n_overlap"]) == (term_size, overlap)
        assert row["p_value"] == pytest.approx(hypergeom.sf(overlap - 1, 500, term_size, len(query_in)))
    assert restricted.loc["PLANTED_PROGRAM", "p_value"] != full.loc["PLANTED_PROGRAM", "p_value"]
    # No query gene in the background: nothing to test, an empty table with the usual columns.
    empty = enrich(["UNKNOWN"], gene_sets, BACKGROUND)
    assert empty.empty and list(empty.columns) == list(full.reset_index().columns)


def test_gseapy_case_conversion_is_caught():
    # gseapy upper-cases a mostly mixed-case query when the sets look upper-case, losing 'C1orf1'-style hits.
    background = [f"GENE{i}" for i in range(200)] + [f"C1orf{i}" for i in range(10)]
    sets = {"A": [f"GENE{i}" for i in range(30)] + ["C1orf1", "C1orf2"], "B": [f"GENE{i}" for i in range(50, 80)]}
    with pytest.raises(RuntimeError, match="case"):
        enrich([f"C1orf{i}" for i in range(10)] + ["GENE1", "GENE2"], sets, background)


def test_enrich_many_adjusts_per_query(gene_sets, query):
    queries = {"CIC01": query, "CIC02": BACKGROUND[500:520], "CIC03": ["UNKNOWN"]}
    long_table = enrich_many(queries, gene_sets, BACKGROUND)
    assert list(long_table.columns[:2]) == ["query", "term"]
    assert set(long_table["query"]) == {"CIC01", "CIC02"}
    alone = enrich(query, gene_sets, BACKGROUND)
    first = long_table[long_table["query"] == "CIC01"].drop(columns="query").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, alone, check_dtype=False)
    counts = count_significant(long_table, "bonferroni", 0.05, queries=queries)
    assert counts.to_dict() == {"CIC01": 1, "CIC02": 0, "CIC03": 0}


def test_enrichr_offline_fails_with_a_clear_message(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("gseapy.enrichr must not be called when offline")

    monkeypatch.setattr(enrichment.gseapy, "enrichr", must_not_run)
    assert not enrichment.enrichr_reachable()
    with pytest.raises(EnrichmentOffline, match="needs internet access") as failure:
        enrich_enrichr(["CD19", "CD79A"], "KEGG_2021_Human")
    message = str(failure.value)
    assert isinstance(failure.value, RuntimeError)
    assert "\n" not in message and "internet" in message and "gmt:" in message and "enrichment.sources" in message
    with pytest.raises(EnrichmentOffline, match="needs internet access"):
        enrich_source(["CD19"], {"name": "KEGG", "enrichr_library": "KEGG_2021_Human"}, BACKGROUND)


def test_enrich_source_and_bad_entries(tmp_path, gene_sets, query):
    write_gmt(gene_sets, tmp_path / "sets.gmt")
    table = enrich_source(query, {"name": "GO_BP", "gmt": str(tmp_path / "sets.gmt")}, BACKGROUND)
    assert (table["source"] == "GO_BP").all() and table.iloc[0]["term"] == "PLANTED_PROGRAM"
    with pytest.raises(InputError, match="not found"):
        load_gene_set_source({"name": "GO_BP", "gmt": str(tmp_path / "missing.gmt")})
    with pytest.raises(InputError, match="no 'gmt'"):
        load_gene_set_source({"name": "KEGG", "enrichr_library": "KEGG_2021_Human"})
