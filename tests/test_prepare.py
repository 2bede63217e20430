import numpy as np
import pandas as pd
import pytest

from cic.dataset import RawDataset
from cic.errors import InputError
from cic.prepare import (PreparationSettings, collapse_duplicate_genes, geo2r_log2_decision, looks_log_transformed,
                         prepare, quantile_normalize, select_balanced_samples, top_variance_genes)


def test_quantile_normalisation_matches_hand_computed_example():
    # Samples A, B, C (rows) over genes a-d (columns); B has a tie (4 at genes a and c).
    matrix = np.array([[5, 2, 3, 4], [4, 1, 4, 2], [3, 4, 6, 8]], dtype=float)
    # Reference = mean of sorted rows: (2+1+3)/3, (3+2+4)/3, (4+4+6)/3, (5+4+8)/3.
    r1, r2, r3, r4 = 2.0, 3.0, 14 / 3, 17 / 3
    expected = np.array([
        [r4, r1, r2, r3],
        [(r3 + r4) / 2, r1, (r3 + r4) / 2, r2],  # tied values share the mean of their ranks' references
        [r1, r2, r3, r4],
    ])
    np.testing.assert_allclose(quantile_normalize(matrix), expected)


def test_quantile_normalisation_gives_every_sample_the_same_sorted_values():
    matrix = np.random.default_rng(1).lognormal(3, 1, (20, 500)) * np.arange(1, 21)[:, None]
    normalized = quantile_normalize(matrix)
    sorted_rows = np.sort(normalized, axis=1)
    np.testing.assert_allclose(sorted_rows, np.broadcast_to(sorted_rows[0], sorted_rows.shape))
    # Ranks within each sample are unchanged.
    np.testing.assert_array_equal(np.argsort(normalized, axis=1), np.argsort(matrix, axis=1))


def test_log_detection_follows_geo2r_rule():
    raw = np.random.default_rng(0).lognormal(7, 1.5, (10, 100))
    assert not looks_log_transformed(raw)
    assert looks_log_transformed(np.log2(raw))


def _with_quantiles(q0, q25, q75, q99, q100):
    """101 values whose numpy (= R type 7) quantiles 0, 0.25, 0.75, 0.99 and 1 are exactly the given ones: with
    101 sorted values, the p quantile is the value at index 100 p."""
    values = np.concatenate([np.linspace(q0, q25, 26), np.linspace(q25, q75, 51)[1:], np.linspace(q75, q99, 25)[1:],
                             [q100]])
    assert len(values) == 101
    return values.reshape(1, -1)


# GEO2R: LogC <- (q99 > 100) || (max - min > 50 && Q1 > 0) || (Q1 > 0 && Q1 < 1 && Q3 > 1 && Q3 < 2).
# One boundary per clause: just inside it is raw scale (log2 applied), just outside it is not.
@pytest.mark.parametrize("quantiles, raw_scale, reason", [
    ((-1, 0, 8, 100.01, 100.02), True, "q99 = 100.01 > 100"),      # clause 1 (Q1 = 0: clauses 2, 3 cannot hold)
    ((-1, 0, 8, 100.0, 100.0), False, "no clause"),                 # q99 == 100 is not > 100
    ((0, 0.01, 8, 12, 50.01), True, "max - min = 50.01 > 50"),      # clause 2
    ((0, 0.01, 8, 12, 50.0), False, "no clause"),                   # range == 50
    ((0, 0.0, 8, 12, 60), False, "no clause"),                      # Q1 == 0 fails clauses 2 and 3
    ((0.05, 0.99, 1.01, 9, 16), True, "0 < Q1 = 0.99 < 1 < Q3 = 1.01 < 2"),  # clause 3
    ((0.05, 1.0, 1.5, 9, 16), False, "no clause"),                  # Q1 == 1
    ((0.05, 0.5, 2.0, 9, 16), False, "no clause"),                  # Q3 == 2
])
def test_geo2r_rule_has_all_three_clauses(quantiles, raw_scale, reason):
    decision = geo2r_log2_decision(_with_quantiles(*quantiles))
    assert decision.raw_scale is raw_scale and reason in decision.reason
    assert decision.quantiles["q25"] == pytest.approx(quantiles[1])


def test_log2_decision_and_quantiles_go_to_the_provenance():
    samples = _samples({"a": 5, "b": 5})
    linear_ratios = np.random.default_rng(4).lognormal(0.1, 0.8, (10, 60))  # linear data scaled to about 1
    _, _, _, provenance = prepare(RawDataset(linear_ratios, [f"G{i}" for i in range(60)], samples),
                                  PreparationSettings(samples_per_type=None), "sheet.tsv")
    assert provenance["log2_applied"] and "0 < Q1" in provenance["log2_decision"]
    assert set(provenance["log2_input_quantiles"]) == {"min", "q25", "median", "q75", "q99", "max"}
    _, _, _, provenance = prepare(RawDataset(np.log2(linear_ratios * 300 + 1), [f"G{i}" for i in range(60)],
                                             samples), PreparationSettings(samples_per_type=None, log2=False), "s")
    assert not provenance["log2_applied"] and provenance["log2_decision"] == "preprocess.log2: false"


@pytest.mark.parametrize("rule, expected", [
    ("max_mean", [[1, 10, 5], [2, 20, 6]]),  # G1 keeps its second probe (higher mean)
    ("mean", [[0.5, 10, 5], [1.0, 20, 6]]),  # mean of G1's two probes
    ("first", [[0, 10, 5], [0, 20, 6]]),
])
def test_collapse_duplicate_genes(rule, expected):
    # samples x gene ids; G1 appears twice (probes 0 and 2), G2 and G3 once.
    matrix = np.array([[0, 10, 1, 5], [0, 20, 2, 6]], dtype=float)
    collapsed, genes = collapse_duplicate_genes(matrix, ["G1", "G2", "G1", "G3"], rule)
    assert sorted(genes) == ["G1", "G2", "G3"]
    order = [genes.index(g) for g in ("G1", "G2", "G3")]
    np.testing.assert_allclose(collapsed[:, order], np.array(expected, dtype=float))


def _samples(counts: dict[str, int], studies: int = 3) -> pd.DataFrame:
    rows = [(f"{t}_{i}", t, f"{t}_s{i % studies}") for t, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["sample", "cell_type", "study"]).set_index("sample")


def test_balanced_selection_is_seeded_balanced_and_spread_over_studies():
    samples = _samples({"a": 30, "b": 12, "c": 9})
    chosen = select_balanced_samples(samples, 9, seed=5)
    picked = samples.loc[chosen]
    assert picked["cell_type"].value_counts().eq(9).all()
    assert picked.groupby("cell_type")["study"].value_counts().eq(3).all()  # 3 per study of 3 studies
    assert list(chosen) == list(select_balanced_samples(samples, 9, seed=5))
    assert list(chosen) != list(select_balanced_samples(samples, 9, seed=6))


def test_prepare_runs_the_chain_in_order():
    rng = np.random.default_rng(2)
    samples = _samples({"a": 5, "b": 5})
    matrix = rng.lognormal(7, 1, (10, 40))
    genes = [f"G{i}" for i in range(39)] + ["G0"]  # one repeated id
    settings = PreparationSettings(samples_per_type=4, log2="auto", seed=1)
    prepared, kept, out_genes, provenance = prepare(RawDataset(matrix, genes, samples), settings, "sheet.tsv")
    assert prepared.shape == (8, 39) and len(out_genes) == 39 and len(kept) == 8
    assert provenance["log2_applied"] and provenance["quantile_normalized"]
    assert prepared.max() < 20  # log2 scale


def test_top_variance_genes_picks_the_most_variable():
    rng = np.random.default_rng(0)
    matrix = rng.normal(0, 1, (50, 6)) * np.array([1, 5, 0.1, 3, 0.2, 4])
    assert top_variance_genes(matrix, list("ABCDEF"), 3) == ["B", "D", "F"]
    with pytest.raises(InputError, match="data.h5ad: preprocess.top_variance_genes = 7 exceeds the 6 genes.*fix"):
        top_variance_genes(matrix, list("ABCDEF"), 7, "data.h5ad")


def test_selection_errors_name_the_type_and_the_fix():
    samples = _samples({"a": 10, "b": 3})
    with pytest.raises(InputError, match=r"sheet.tsv: cell type 'b' \(column 'cell_type'\) has 3 samples.*fix"):
        select_balanced_samples(samples, 5, seed=1, source="sheet.tsv")
    with pytest.raises(InputError, match="only 1 cell type"):
        select_balanced_samples(_samples({"a": 10}), 5, seed=1, source="sheet.tsv")


def test_sample_quality_holds_each_samples_quartiles_before_and_after_normalisation(tmp_path):
    """results/tables/sample_quality.tsv (the data overview figure reads it) against quartiles worked by hand: four
    samples of five genes on the log2 scale, stored raw (2^v - 1, log2_offset 1) in a gzipped .txt matrix."""
    from cic.stages.data import prepare_expression

    log2_values = {"S1": [0, 1, 2, 3, 4], "S2": [2, 3, 4, 5, 6], "S3": [0, 2, 4, 6, 8], "S4": [4, 3, 2, 1, 0]}
    raw = pd.DataFrame({sample: np.exp2(values) - 1 for sample, values in log2_values.items()},
                       index=pd.Index([f"G{i}" for i in range(1, 6)], name="gene"))
    raw.to_csv(expression := tmp_path / "expression.txt.gz", sep="\t")
    pd.DataFrame({"sample": list(log2_values), "cell_type": ["a", "a", "b", "b"],
                  "study": ["s1", "s2", "s1", "s2"]}).to_csv(sheet := tmp_path / "samples.tsv", sep="\t", index=False)
    local = {"orientation": "genes_x_samples", "sample_column": "sample", "cell_type_column": "cell_type",
             "study_column": "study"}
    preprocess = {"log2": True, "log2_offset": 1.0, "collapse_duplicate_genes": "max_mean", "quantile_normalize": True}
    prepare_expression(expression, sheet, local, {"source": "local", "samples_per_type": None}, preprocess, 1,
                       tmp_path / "expression.h5ad", quality_path := tmp_path / "sample_quality.tsv")
    quality = pd.read_csv(quality_path, sep="\t").set_index("sample").loc[list(log2_values)]
    # Before: numpy's (R type 7) quartiles of five values are the 2nd, 3rd and 4th sorted values.
    before = {"S1": [1, 2, 3], "S2": [3, 4, 5], "S3": [2, 4, 6], "S4": [1, 2, 3]}
    np.testing.assert_array_equal(quality[["before_q25", "before_median", "before_q75"]], list(before.values()))
    # After: every sample holds the mean of the sorted samples, (0+2+0+0)/4 ... (4+6+8+4)/4 = 0.5, 1.75, 3, 4.25, 5.5.
    np.testing.assert_array_equal(quality[["after_q25", "after_median", "after_q75"]], [[1.75, 3.0, 4.25]] * 4)
    assert list(quality["cell_type"]) == ["a", "a", "b", "b"] and list(quality["study"]) == ["s1", "s2", "s1", "s2"]
