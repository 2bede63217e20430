"""Two-group differential expression with limma (the paper's B-cell REP vs T-cell GEP comparison).

The paper ran R/Bioconductor limma (``lmFit`` + ``eBayes``) between the reproduced profiles (REPs) of held-out
B cells and the original profiles (GEPs) of T cells, and kept genes with log2 fold change > 1 and Benjamini-Hochberg
adjusted p <= 0.05 (380 genes). Here the same model runs through inmoose's port of limma: a cell-means design
(one column per group), the contrast ``case - control`` (``makeContrasts`` + ``contrasts_fit``) and ``eBayes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import scipy.stats
from inmoose.limma import contrasts_fit, eBayes, lmFit, makeContrasts, squeezeVar, tmixture_vector
from statsmodels.stats.multitest import multipletests

CASE, CONTROL = "case", "control"
CONTRAST = f"{CASE} - {CONTROL}"
RESULT_COLUMNS = ["log2_fold_change", "average_expression", "t", "df", "p_value", "adjusted_p", "B"]


def limma_two_groups(expression: pd.DataFrame, groups: pd.Series, moderated: bool = True) -> pd.DataFrame:
    """Test every gene for a difference between the ``case`` and ``control`` samples.

    ``expression`` is samples x genes on the log2 scale; ``groups`` labels each sample ``"case"``/``"control"``
    (or is boolean, True meaning case) and is aligned to ``expression`` by index when it is a Series with the same
    sample ids. Returns one row per gene (index ``gene``) with ``log2_fold_change`` (mean case - mean control),
    ``average_expression`` (mean over all samples, limma's AveExpr), ``t``, ``df`` (degrees of freedom of the
    t statistic), ``p_value`` (two-sided), ``adjusted_p`` (Benjamini-Hochberg over all genes) and ``B`` (limma's
    log-odds of differential expression; NaN for ``moderated=False``, where limma gives none).

    ``moderated=True`` is limma's empirical Bayes moderated t (variances shrunk towards a common prior, df = residual
    df + prior df). ``moderated=False`` gives the ordinary least-squares t of the same linear model
    (coefficient / (sigma * unscaled standard deviation), residual df), the statistic limma starts from.
    """
    is_case = _case_indicator(expression, groups)
    design = patsy.DesignMatrix(np.column_stack([~is_case, is_case]).astype(float),
                                design_info=patsy.DesignInfo([CONTROL, CASE]))
    # limma wants genes x samples; the sample axis is positional, so drop the sample ids.
    genes_by_samples = pd.DataFrame(expression.to_numpy(dtype=float).T, index=expression.columns.astype(str))
    fit = lmFit(genes_by_samples, design)
    fit = contrasts_fit(fit, makeContrasts(CONTRAST, levels=design))

    coefficient = fit.coefficients[CONTRAST].to_numpy()
    stdev_unscaled = fit.stdev_unscaled[CONTRAST].to_numpy()
    if not moderated:
        t = coefficient / (np.asarray(fit.sigma, dtype=float) * stdev_unscaled)
        df = np.asarray(fit.df_residual, dtype=float)
        return _result_table(fit, t, df, _two_sided_p(t, df), log_odds=None)

    prior = squeezeVar(np.asarray(fit.sigma, dtype=float) ** 2, fit.df_residual)
    if np.all(np.isinf(prior["df_prior"])):
        # All genes share one variance (no evidence of heterogeneity), so limma's prior has infinite df. inmoose's
        # eBayes crashes on that case (it negates a Python bool when computing B), so apply limma's limiting
        # formulas directly: every gene gets the prior variance and the pooled residual df.
        t = coefficient / (stdev_unscaled * np.sqrt(prior["var_prior"]))
        df = np.full(len(t), float(np.sum(fit.df_residual)))
        log_odds = _log_odds_infinite_prior_df(t, stdev_unscaled, df, prior["var_prior"])
        return _result_table(fit, t, df, _two_sided_p(t, df), log_odds=log_odds)

    fit = eBayes(fit)
    df = np.broadcast_to(np.asarray(fit.df_total, dtype=float), coefficient.shape)
    return _result_table(fit, fit.t[CONTRAST].to_numpy(), df, fit.p_value[CONTRAST].to_numpy(),
                         log_odds=fit.lods[CONTRAST].to_numpy())


def select_up_genes(table: pd.DataFrame, min_log2_fold_change: float = 1.0,
                    max_adjusted_p: float = 0.05) -> pd.DataFrame:
    """Genes up in the case group by the paper's filter (log2 FC > 1 and BH-adjusted p <= 0.05), best first."""
    passed = (table["log2_fold_change"] > min_log2_fold_change) & (table["adjusted_p"] <= max_adjusted_p)
    return table[passed].sort_values(["adjusted_p", "log2_fold_change"], ascending=[True, False], kind="stable")


def _case_indicator(expression: pd.DataFrame, groups: pd.Series) -> np.ndarray:
    """Boolean case mask in the row order of ``expression``; checks both groups exist and leave residual df."""
    keyed_by_sample = isinstance(groups, pd.Series) and groups.index.isin(expression.index).all()
    if keyed_by_sample and len(groups) == len(expression):
        groups = groups.reindex(expression.index)  # labels keyed by sample id: follow the expression row order
    labels = pd.Series(np.asarray(groups))
    if len(labels) != len(expression):
        raise ValueError(f"groups has {len(labels)} labels but expression has {len(expression)} samples")
    if labels.dtype == bool:
        is_case = labels.to_numpy()
    else:
        unknown = sorted(set(labels.astype(str)) - {CASE, CONTROL})
        if unknown:
            raise ValueError(f"groups must be '{CASE}'/'{CONTROL}' or boolean; found {unknown}")
        is_case = (labels.astype(str) == CASE).to_numpy()
    n_case, n_control = int(is_case.sum()), int((~is_case).sum())
    if n_case == 0 or n_control == 0 or n_case + n_control < 3:
        raise ValueError(f"need samples in both groups and at least 3 in all; got {n_case} case, "
                         f"{n_control} control")
    return is_case


def _log_odds_infinite_prior_df(t: np.ndarray, stdev_unscaled: np.ndarray, df: np.ndarray,
                                s2_prior: float) -> np.ndarray:
    """limma's B when the prior df is infinite (``.ebayes`` in limma's ebayes.R, its ``Infdf`` branch), with
    limma's defaults ``proportion = 0.01`` and ``stdev.coef.lim = c(0.1, 4)``: the variance of the true log fold
    changes of DE genes (``var.prior``) from the t mixture, then the log-odds with the t kernel's normal limit."""
    proportion = 0.01
    var_prior = tmixture_vector(t, stdev_unscaled, df, proportion, np.array([0.1, 4.0]) ** 2 / s2_prior)
    r = (stdev_unscaled ** 2 + var_prior) / stdev_unscaled ** 2
    return np.log(proportion / (1 - proportion)) - np.log(r) / 2 + t ** 2 * (1 - 1 / r) / 2


def _two_sided_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    return 2.0 * scipy.stats.t.sf(np.abs(t), df)


def _benjamini_hochberg(p_value: np.ndarray) -> np.ndarray:
    """BH over the genes with a p-value (a constant gene has none), NaN elsewhere."""
    adjusted = np.full(len(p_value), np.nan)
    tested = np.isfinite(p_value)
    if tested.any():
        adjusted[tested] = multipletests(p_value[tested], method="fdr_bh")[1]
    return adjusted


def _result_table(fit, t, df, p_value, log_odds) -> pd.DataFrame:
    table = pd.DataFrame({
        "log2_fold_change": fit.coefficients[CONTRAST].to_numpy(),
        "average_expression": np.asarray(fit.Amean, dtype=float),
        "t": t,
        "df": df,
        "p_value": p_value,
        "adjusted_p": _benjamini_hochberg(p_value),
        "B": np.nan if log_odds is None else log_odds,
    }, index=pd.Index(fit.coefficients.index, name="gene"))
    return table[RESULT_COLUMNS]
