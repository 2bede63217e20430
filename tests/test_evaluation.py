"""Tests for cic.evaluation on small inputs whose answers can be checked by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cic import evaluation as ev

# Four GEPs over 6 genes. Samples 0 and 1 are near-replicates, 2 is a little further, 3 is far from all of them.
GEP = np.array([
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    [1.1, 2.0, 3.2, 3.9, 5.1, 6.0],
    [2.0, 1.0, 3.5, 4.5, 4.0, 6.5],
    [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
])


def naive_mse(a, b):
    return np.array([[np.mean((x - y) ** 2) for y in b] for x in a])


# ---------------------------------------------------------------------------------------------------- similarities

def test_spearman_matrix_matches_scipy_including_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(3, 12)).astype(float)  # few distinct values: many ties
    b = rng.integers(0, 4, size=(5, 12)).astype(float)
    expected = np.array([[stats.spearmanr(x, y).statistic for y in b] for x in a])
    np.testing.assert_allclose(ev.spearman_matrix(a, b), expected, atol=1e-12)


def test_spearman_of_reversed_profile_is_minus_one():
    assert ev.spearman_matrix(GEP[[0]], GEP[[3]])[0, 0] == pytest.approx(-1.0)


def test_mse_matrix_matches_naive_loop():
    rng = np.random.default_rng(1)
    a = rng.normal(8.0, 2.0, size=(4, 30))  # log2-like magnitudes, where the expansion could lose precision
    b = rng.normal(8.0, 2.0, size=(3, 30))
    np.testing.assert_allclose(ev.mse_matrix(a, b), naive_mse(a, b), rtol=1e-10)
    assert np.allclose(np.diag(ev.mse_matrix(a, a)), 0.0, atol=1e-12)


def test_paired_similarity_is_the_diagonal_of_the_matrix():
    rep = GEP + np.array([0.1, -0.2, 0.0, 0.3])[:, None] * np.arange(6)
    for metric in ev.METRICS:
        np.testing.assert_allclose(ev.paired_similarity(GEP, rep, metric),
                                   np.diag(ev.similarity_matrix(GEP, rep, metric)), atol=1e-12)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="metric"):
        ev.paired_similarity(GEP, GEP, "pearson")
    with pytest.raises(ValueError, match="genes"):
        ev.mse_matrix(GEP, GEP[:, :5])
    with pytest.raises(ValueError, match="samples"):
        ev.paired_similarity(GEP, GEP[:3], "mse")
    with pytest.raises(ValueError, match="constant"):
        ev.spearman_matrix(np.ones((1, 6)), GEP)
    with pytest.raises(ValueError, match="NaN"):
        ev.mse_matrix(np.full((2, 3), np.nan), GEP[:, :3])


# ---------------------------------------------------------------------------------------------------- ranks

@pytest.mark.parametrize("metric", ev.METRICS)
def test_exact_reproductions_rank_first_both_ways(metric):
    assert ev.rank_of_own_reproduction(GEP, GEP.copy(), metric).tolist() == [1, 1, 1, 1]
    assert ev.rank_of_own_profile(GEP, GEP.copy(), metric).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("metric", ev.METRICS)
def test_reproduction_equal_to_a_far_sample_ranks_low(metric):
    rep = GEP.copy()
    rep[0] = GEP[3]  # sample 0 is "reproduced" as the far sample 3
    # GEP 0: GEPs 1 and 2 are strictly closer than REP 0 (= GEP 3); GEP 3 ties with REP 0 and does not count.
    assert ev.rank_of_own_reproduction(GEP, rep, metric).tolist() == [3, 1, 1, 1]
    # Reverse: REP 0 equals GEP 3, so GEP 3 is closer to it than GEP 0 is; GEP 0 is not ranked first.
    # For REP 3 (= GEP 3) its own GEP is identical, so still rank 1.
    reverse = ev.rank_of_own_profile(GEP, rep, metric)
    assert reverse[0] > 1
    assert reverse[1:].tolist() == [1, 1, 1]


def test_rank_counts_pools_ranks_above_the_cap():
    table = ev.rank_counts(np.array([1, 1, 1, 2, 3, 5, 9]), max_rank=3)
    assert table["rank"].tolist() == ["1", "2", "3", ">=4"]
    assert table["count"].tolist() == [3, 1, 1, 2]
    np.testing.assert_allclose(table["fraction"], [3 / 7, 1 / 7, 1 / 7, 2 / 7])
    with pytest.raises(ValueError, match="integers >= 1"):
        ev.rank_counts(np.array([0, 1]))
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        ev.rank_counts(np.array([], dtype=int))


# ---------------------------------------------------------------------------------------------------- neighbours, test

# 0 and 1 are each other's nearest and 3 is nearest to 2. Sample 2: by MSE, 1 is slightly nearer (3.72/6 vs
# 3.75/6); by Spearman, 0 and 1 have the same gene order, so they tie and the lower index (0) wins.
@pytest.mark.parametrize("metric, expected", [("spearman", [1, 0, 0, 2]), ("mse", [1, 0, 1, 2])])
def test_nearest_neighbours_on_the_toy_profiles(metric, expected):
    similarity, neighbour = ev.nearest_neighbour_similarity(GEP, metric)
    assert neighbour.tolist() == expected
    np.testing.assert_allclose(similarity, ev.paired_similarity(GEP, GEP[neighbour], metric), atol=1e-12)


def test_wilcoxon_direction():
    rng = np.random.default_rng(2)
    y = rng.normal(size=40)
    x = y + 1.0 + rng.normal(scale=0.1, size=40)  # x clearly above y
    _, p_greater = ev.wilcoxon_greater(x, y)
    _, p_swapped = ev.wilcoxon_greater(y, x)
    assert p_greater < 1e-6
    assert p_swapped > 0.99
    # MSE: lower REP-GEP error is the "closer" direction.
    assert ev.wilcoxon_rep_closer(rep_gep=y, gep_gep=x, metric="mse")[1] < 1e-6
    assert ev.wilcoxon_rep_closer(rep_gep=x, gep_gep=y, metric="spearman")[1] < 1e-6
    with pytest.raises(ValueError, match="paired"):
        ev.wilcoxon_greater(x, y[:5])


# ---------------------------------------------------------------------------------------------------- examples

def test_select_examples_prefers_same_type_and_study():
    samples = pd.DataFrame({
        "cell_type": ["colon", "colon", "colon", "neuron", "esc"],
        "study": ["s1", "s2", "s1", "s3", "s4"],
    }, index=["a", "b", "c", "d", "e"])
    gep = np.vstack([GEP[0], GEP[1], GEP[2], GEP[3], GEP[0]])
    examples = ev.select_examples(samples, gep, gep + 0.01, cell_types=("colon", "neuron", "esc"))
    # Only colon has >= 2 samples. Rows 0 and 1 are the closest colon pair, but 0 and 2 share a study.
    assert examples["cell_type"].tolist() == ["colon"]
    row = examples.iloc[0]
    assert (row.sample1, row.sample2, row.sample1_id, row.sample2_id, row.same_study) == (0, 2, "a", "c", True)
    assert row.rep_gep_mse == pytest.approx(1e-4)
    assert row.gep_gep_mse == pytest.approx(np.mean((GEP[0] - GEP[2]) ** 2))


def test_select_examples_falls_back_to_same_type():
    samples = pd.DataFrame({"cell_type": ["esc"] * 3, "study": ["x", "y", "z"]})
    examples = ev.select_examples(samples, GEP[:3], GEP[:3], cell_types=("esc",), metric="mse")
    assert (examples.iloc[0].sample1, examples.iloc[0].sample2, examples.iloc[0].same_study) == (0, 1, False)


# ---------------------------------------------------------------------------------------------------- baselines

def low_rank_data(n_samples, rank=3, n_genes=20, seed=0):
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(rank, n_genes))
    scores = rng.normal(size=(n_samples, rank))
    return 8.0 + scores @ loadings  # all positive at this offset and scale (checked below)


def test_pca_with_rank_components_reconstructs_test_data_exactly():
    full = low_rank_data(36, seed=3)  # rank 3 around a constant mean: 3 components capture everything
    train, test = full[:30], full[30:]
    rebuilt = ev.reconstruct_with_baselines(train, test, n_components=3, methods=("pca",))["pca"]
    assert ev.per_sample_mse(test, {"pca": rebuilt})["pca"].max() < 1e-20


def test_every_baseline_returns_test_shaped_reconstructions():
    full = low_rank_data(36, seed=4)
    assert full.min() > 0
    train, test = full[:30], full[30:]
    rebuilt = ev.reconstruct_with_baselines(train, test, n_components=3, seed=1)
    assert list(rebuilt) == list(ev.BASELINE_METHODS)
    errors = ev.per_sample_mse(test, rebuilt)
    for method in ev.BASELINE_METHODS:
        assert rebuilt[method].shape == test.shape
        assert errors[method].shape == (6,) and np.isfinite(errors[method]).all()


def test_baselines_are_fitted_on_training_samples_only():
    full = low_rank_data(40, seed=6) + np.random.default_rng(6).normal(scale=0.3, size=(40, 20))
    train, test = full[:30], full[30:]
    options = ev.BaselineOptions(nmf_max_iter=1000, nmf_tol=1e-8)
    with_all = ev.reconstruct_with_baselines(train, test, n_components=3, options=options)
    with_two = ev.reconstruct_with_baselines(train, test[:2], n_components=3, options=options)
    # If test samples took part in fitting, reconstructing fewer of them would change the first two.
    for method in ev.BASELINE_METHODS:
        np.testing.assert_allclose(with_two[method], with_all[method][:2], rtol=1e-5, err_msg=method)


def test_nmf_handles_negative_values_by_shifting():
    full = low_rank_data(36, seed=7) - 8.0  # centred: about half the values are negative
    rebuilt = ev.reconstruct_with_baselines(full[:30], full[30:], n_components=3, methods=("nmf",))["nmf"]
    assert rebuilt.min() < 0  # shifted back to the data's own scale
    assert ev.per_sample_mse(full[30:], {"nmf": rebuilt})["nmf"].mean() < full[30:].var()


def test_baseline_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown"):
        ev.reconstruct_with_baselines(GEP, GEP, n_components=2, methods=("ica",))
    with pytest.raises(ValueError, match="n_components"):
        ev.reconstruct_with_baselines(GEP, GEP, n_components=10)


# ---------------------------------------------------------------------------------------------------- curves

def test_curve_summary_mean_and_standard_error():
    history = pd.DataFrame({"fold": [0, 1, 0, 1], "epoch": [1, 1, 2, 2], "test_mse": [0.3, 0.5, 0.1, 0.1]})
    summary = ev.curve_summary(history, ["epoch"])
    np.testing.assert_allclose(summary["mean"], [0.4, 0.1])
    np.testing.assert_allclose(summary["se"], [0.1, 0.0])  # sd 0.1414 / sqrt(2)
    assert summary["n"].tolist() == [2, 2]
    with pytest.raises(ValueError, match="missing"):
        ev.curve_summary(history, ["noise"])


def test_examples_of_data_without_studies_say_nothing_about_studies():
    samples = pd.DataFrame({"cell_type": ["a", "a", "b", "b"], "study": ["s"] * 4}, index=list("wxyz"))
    gep = np.random.default_rng(0).normal(size=(4, 30))
    examples = ev.select_examples(samples, gep, gep, cell_types=("a", "b"))
    assert examples["same_study"].isna().all()
