import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cic.differential import _benjamini_hochberg, limma_two_groups, select_up_genes

LIMMA_R = Path(__file__).parent / "data" / "limma_r"
R_COLUMNS = {"log2_fold_change": "logFC", "average_expression": "AveExpr", "t": "t", "df": "df.total",
             "p_value": "P.Value", "adjusted_p": "adj.P.Val", "B": "B"}

N_CASE, N_CONTROL, N_GENES, N_PLANTED = 6, 7, 150, 15


def _dataset(seed: int = 0, heterogeneous: bool = True):
    """Samples x genes log2 data (sd 0.5 for the planted genes); genes 0..14 are 2 log2 units up in the case group."""
    rng = np.random.default_rng(seed)
    # Gene-specific standard deviations from a scaled inverse chi-square: limma's own prior model.
    noise = rng.normal(size=(N_CASE + N_CONTROL, N_GENES))
    if heterogeneous:
        # Gene-specific standard deviations from a scaled inverse chi-square: limma's own prior model.
        sd = np.sqrt(4 * 0.3 / rng.chisquare(4, N_GENES))
        sd[:N_PLANTED] = 0.5
    else:
        # Every gene gets exactly the same residual variance within groups.
        for rows in (slice(0, N_CASE), slice(N_CASE, None)):
            noise[rows] -= noise[rows].mean(axis=0)
        noise /= np.sqrt((noise ** 2).sum(axis=0))
        sd = np.full(N_GENES, 2.0)
    values = rng.normal(8.0, 1.0, N_GENES) + noise * sd
    values[:N_CASE, :N_PLANTED] += 2.0
    samples = [f"s{i:02d}" for i in range(N_CASE + N_CONTROL)]
    expression = pd.DataFrame(values, index=samples, columns=[f"GENE{i:03d}" for i in range(N_GENES)])
    groups = pd.Series(["case"] * N_CASE + ["control"] * N_CONTROL, index=samples)
    return expression, groups


def test_unmoderated_t_and_p_match_ols():
    expression, groups = _dataset()
    table = limma_two_groups(expression, groups, moderated=False)
    is_case = (groups == "case").astype(float)
    for gene in expression.columns[::10]:
        frame = pd.DataFrame({"y": expression[gene], "case": is_case})
        ols = smf.ols("y ~ case", data=frame).fit()
        assert table.loc[gene, "log2_fold_change"] == pytest.approx(ols.params["case"], abs=1e-8)
        assert table.loc[gene, "t"] == pytest.approx(ols.tvalues["case"], abs=1e-8)
        assert table.loc[gene, "p_value"] == pytest.approx(ols.pvalues["case"], abs=1e-8)
        assert table.loc[gene, "df"] == ols.df_resid
    assert table["average_expression"].to_numpy() == pytest.approx(expression.mean().to_numpy())


def test_moderation_shrinks_variances():
    expression, groups = _dataset()
    ordinary = limma_two_groups(expression, groups, moderated=False)
    moderated = limma_two_groups(expression, groups)
    assert np.all(moderated["df"] > ordinary["df"])  # prior df added to the residual df
    assert not np.allclose(moderated["t"], ordinary["t"])
    assert moderated["B"].notna().all()
    # Same effect, different standard errors: the implied per-gene variances are pulled towards a common value.
    ordinary_se = ordinary["log2_fold_change"] / ordinary["t"]
    moderated_se = moderated["log2_fold_change"] / moderated["t"]
    assert np.log(moderated_se).std() < np.log(ordinary_se).std()


def _limma_r_fixture(branch: str):
    """The stored R limma input and output of one branch (tests/data/limma_r/README.md)."""
    expression = pd.read_csv(LIMMA_R / ("expression.tsv" if branch == "default" else "expression_equal_variance.tsv"),
                             sep="\t", index_col="probe_set")
    groups = pd.read_csv(LIMMA_R / "groups.tsv", sep="\t", index_col="sample")["group"]
    return expression.T, groups, pd.read_csv(LIMMA_R / f"{branch}.tsv", sep="\t", index_col="probe_set")


@pytest.mark.parametrize("branch", ["default", "equal_variance"])
def test_matches_r_limma(branch):
    """R's limma 3.54.1 (lmFit, contrasts.fit, eBayes, topTable) on 300 real probe sets: every column to 1e-10.
    ``equal_variance`` is limma's infinite-prior-df branch (tests/data/limma_r/hyperparameters.tsv)."""
    expression, groups, r_limma = _limma_r_fixture(branch)
    table = limma_two_groups(expression, groups)
    assert list(table.index) == list(r_limma.index)
    for ours, theirs in R_COLUMNS.items():
        np.testing.assert_allclose(table[ours].to_numpy(), r_limma[theirs].to_numpy(), rtol=1e-10, atol=0,
                                   err_msg=f"{ours} vs R's {theirs}")
    hyperparameters = pd.read_csv(LIMMA_R / "hyperparameters.tsv", sep="\t", index_col="branch")
    assert np.isinf(hyperparameters.loc[branch, "df.prior"]) == (branch == "equal_variance")
    # The paper's filter picks the same probe sets on R's numbers as on ours (and some: the fixture has DE genes).
    r_up = r_limma.index[(r_limma["logFC"] > 1) & (r_limma["adj.P.Val"] <= 0.05)]
    assert len(r_up) > 0 and set(select_up_genes(table).index) == set(r_up)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed (the stored fixture is used)")
def test_r_limma_script_reproduces_the_fixture(tmp_path):
    """Re-run tests/data/limma_r/limma_reference.R where R and limma are installed; it must give the stored files."""
    has_limma = subprocess.run(["Rscript", "-e", "quit(status = !requireNamespace('limma', quietly = TRUE))"],
                               capture_output=True)
    if has_limma.returncode != 0:
        pytest.skip("R's limma is not installed")
    subprocess.run(["Rscript", str(LIMMA_R / "limma_reference.R"), str(LIMMA_R), str(tmp_path)], check=True,
                   capture_output=True)
    for name in ("default.tsv", "equal_variance.tsv", "hyperparameters.tsv"):
        fresh = pd.read_csv(tmp_path / name, sep="\t", index_col=0)
        stored = pd.read_csv(LIMMA_R / name, sep="\t", index_col=0)
        pd.testing.assert_frame_equal(fresh, stored, check_exact=False, rtol=1e-10, atol=0)


def test_benjamini_hochberg_by_hand():
    # 4 p-values with a p-value (the NaN of a constant gene is not counted), ascending with rank i: p * 4 / i,
    #   i=1 0.001*4 = 0.004;  i=2 0.03*4/2 = 0.06;  i=3 0.04*4/3 = 0.05333;  i=4 0.2*4/4 = 0.2
    # then the running minimum from the largest p down: 0.2, 0.05333, min(0.06, 0.05333) = 0.05333, 0.004.
    adjusted = _benjamini_hochberg(np.array([0.04, np.nan, 0.001, 0.2, 0.03]))
    np.testing.assert_allclose(adjusted, [0.16 / 3, np.nan, 0.004, 0.2, 0.16 / 3], rtol=1e-12)
    # Capped at 1: 0.9 * 2 / 1 = 1.8 -> min(1.8, 0.95 * 2 / 2) = 0.95.
    np.testing.assert_allclose(_benjamini_hochberg(np.array([0.95, 0.9])), [0.95, 0.95], rtol=1e-12)


def test_select_up_genes_recovers_planted_genes():
    expression, groups = _dataset()
    planted = {f"GENE{i:03d}" for i in range(N_PLANTED)}
    up = select_up_genes(limma_two_groups(expression, groups))
    assert set(up.index) == planted
    assert up["adjusted_p"].is_monotonic_increasing
    # The filter is one-sided: the planted genes are down, not up, when case and control swap.
    swapped = groups.map({"case": "control", "control": "case"})
    assert not planted & set(select_up_genes(limma_two_groups(expression, swapped)).index)


def test_equal_variances_and_boolean_groups():
    # With identical gene variances limma's prior df is infinite (inmoose's eBayes cannot handle that case).
    expression, groups = _dataset(heterogeneous=False)
    table = limma_two_groups(expression, (groups == "case").to_numpy())
    assert np.all(table["df"] == len(expression.columns) * (len(expression) - 2))
    assert table["B"].notna().all()  # limma's B in this branch (its values: test_matches_r_limma)
    assert set(select_up_genes(table).index) == {f"GENE{i:03d}" for i in range(N_PLANTED)}


def test_groups_follow_sample_ids_and_are_checked():
    expression, groups = _dataset()
    shuffled = groups.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(limma_two_groups(expression, shuffled), limma_two_groups(expression, groups))
    with pytest.raises(ValueError, match="both groups"):
        limma_two_groups(expression, pd.Series("case", index=expression.index))
    with pytest.raises(ValueError, match="case"):
        limma_two_groups(expression, pd.Series("b_cell", index=expression.index))
