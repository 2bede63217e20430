import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as smf
from inmoose.limma import contrasts_fit, eBayes, lmFit, makeContrasts, topTable
from statsmodels.stats.multitest import multipletests

from cic.differential import limma_two_groups, select_up_genes

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


def test_agrees_with_inmoose_toptable():
    expression, groups = _dataset()
    table = limma_two_groups(expression, groups)
    is_case = (groups == "case").to_numpy()
    design = patsy.DesignMatrix(np.column_stack([~is_case, is_case]).astype(float),
                                design_info=patsy.DesignInfo(["control", "case"]))
    fit = lmFit(pd.DataFrame(expression.to_numpy().T, index=expression.columns), design)
    fit = eBayes(contrasts_fit(fit, makeContrasts("case - control", levels=design)))
    # inmoose's topTable rejects sort_by="none" (R limma accepts it), so sort by p and realign by gene.
    top = topTable(fit, coef="case - control", number=np.inf, sort_by="P").loc[table.index]
    assert table["t"].to_numpy() == pytest.approx(top["stat"].to_numpy(), rel=1e-10)
    assert table["adjusted_p"].to_numpy() == pytest.approx(top["adj_pvalue"].to_numpy(), rel=1e-10)
    assert table["B"].to_numpy() == pytest.approx(top["B"].to_numpy(), rel=1e-10)


def test_benjamini_hochberg_matches_statsmodels():
    expression, groups = _dataset()
    table = limma_two_groups(expression, groups)
    expected = multipletests(table["p_value"], method="fdr_bh")[1]
    assert table["adjusted_p"].to_numpy() == pytest.approx(expected, rel=1e-12)


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
    assert set(select_up_genes(table).index) == {f"GENE{i:03d}" for i in range(N_PLANTED)}


def test_groups_follow_sample_ids_and_are_checked():
    expression, groups = _dataset()
    shuffled = groups.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(limma_two_groups(expression, shuffled), limma_two_groups(expression, groups))
    with pytest.raises(ValueError, match="both groups"):
        limma_two_groups(expression, pd.Series("case", index=expression.index))
    with pytest.raises(ValueError, match="case"):
        limma_two_groups(expression, pd.Series("b_cell", index=expression.index))
