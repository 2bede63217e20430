"""Accuracy of cell identity codes: compare original profiles (GEPs) with reproduced profiles (REPs).

Everything here works on plain arrays of shape samples x genes (log2 scale), so it does not depend on how the
REPs were made. Row ``i`` of ``rep`` is always the reproduction of row ``i`` of ``gep``.

Two metrics are used throughout (paper, "Accuracy of Cell Identity Codes"):

* ``"spearman"``: Spearman correlation between two profiles; higher is closer.
* ``"mse"``: mean squared error over genes; lower is closer.

Functions return numpy arrays or pandas frames and write no files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
# scipy.stats and sklearn load where used: the Fig 2 table and figure jobs need neither at start-up.

METRICS = ("spearman", "mse")
BASELINE_METHODS = ("pca", "nmf", "kpca_poly", "kpca_cosine", "kpca_rbf")

# Two similarities this close are a tie. The same pair can be computed along two code paths (a matrix product
# and a row-wise sum) that differ in the last bits; without a tolerance that noise could decide a rank.
TIE_RTOL = 1e-9
TIE_ATOL = 1e-12


# --------------------------------------------------------------------------------------------------------------
# Input checks


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")


def _as_profiles(values, name: str) -> np.ndarray:
    """``values`` as a finite float64 samples x genes matrix with at least one sample and two genes."""
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 2:
        raise ValueError(f"{name} must be a samples x genes matrix with >= 1 sample and >= 2 genes, "
                         f"got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return matrix


def _as_profile_pair(a, b, name_a: str, name_b: str, same_samples: bool) -> tuple[np.ndarray, np.ndarray]:
    """Check two profile matrices over the same genes (and, if ``same_samples``, the same samples)."""
    a, b = _as_profiles(a, name_a), _as_profiles(b, name_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_a} has {a.shape[1]} genes but {name_b} has {b.shape[1]}")
    if same_samples and a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} has {a.shape[0]} samples but {name_b} has {b.shape[0]}; row i of each "
                         "must be the same sample")
    return a, b


def _as_vector(values, name: str) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float64)
    if vector.ndim != 1 or vector.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {vector.shape}")
    if not np.isfinite(vector).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return vector


# --------------------------------------------------------------------------------------------------------------
# Similarities


def _unit_rank_rows(matrix: np.ndarray) -> np.ndarray:
    """Rank each row (ties get their average rank), centre it and scale it to unit length.

    The dot product of two such rows is their Pearson correlation of ranks, i.e. the Spearman correlation.
    """
    from scipy import stats

    ranks = stats.rankdata(matrix, axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", ranks, ranks))
    constant = np.flatnonzero(norms == 0)
    if constant.size:
        raise ValueError(f"row(s) {constant[:5].tolist()} are constant; their Spearman correlation is undefined")
    return ranks / norms[:, None]


def spearman_matrix(a, b) -> np.ndarray:
    """Spearman correlation of every row of ``a`` with every row of ``b`` (shape ``len(a) x len(b)``).

    Rows are rank-transformed (ties averaged, as in ``scipy.stats.spearmanr``) and then Pearson-correlated.
    """
    a, b = _as_profile_pair(a, b, "a", "b", same_samples=False)
    correlation = _unit_rank_rows(a) @ _unit_rank_rows(b).T
    return np.clip(correlation, -1.0, 1.0)  # rounding can step just outside [-1, 1]


def mse_matrix(a, b) -> np.ndarray:
    """Mean squared error between every row of ``a`` and every row of ``b`` (shape ``len(a) x len(b)``).

    Uses ``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y`` (one matrix product), so no samples x samples x genes array is
    built. Both inputs are first shifted by the same per-gene offset (the gene means of ``a``): that leaves every
    difference unchanged but makes the values small, which limits the cancellation error of the expansion.
    """
    a, b = _as_profile_pair(a, b, "a", "b", same_samples=False)
    offset = a.mean(axis=0)
    a, b = a - offset, b - offset
    squared_norm_a = np.einsum("ij,ij->i", a, a)
    squared_norm_b = np.einsum("ij,ij->i", b, b)
    squared_distance = squared_norm_a[:, None] + squared_norm_b[None, :] - 2.0 * (a @ b.T)
    return np.maximum(squared_distance, 0.0) / a.shape[1]  # rounding can give tiny negatives


def similarity_matrix(a, b, metric: str) -> np.ndarray:
    """``spearman_matrix`` or ``mse_matrix``, chosen by ``metric``."""
    _check_metric(metric)
    return spearman_matrix(a, b) if metric == "spearman" else mse_matrix(a, b)


def paired_similarity(gep, rep, metric: str) -> np.ndarray:
    """Per-sample similarity of row ``i`` of ``gep`` with row ``i`` of ``rep`` (Spearman or MSE)."""
    _check_metric(metric)
    gep, rep = _as_profile_pair(gep, rep, "gep", "rep", same_samples=True)
    if metric == "spearman":
        return np.clip(np.einsum("ij,ij->i", _unit_rank_rows(gep), _unit_rank_rows(rep)), -1.0, 1.0)
    return np.mean((gep - rep) ** 2, axis=1)


def _strictly_closer(candidate: np.ndarray, reference: np.ndarray, metric: str) -> np.ndarray:
    """True where ``candidate`` is closer than ``reference`` by more than a rounding-level tie. NaN is never."""
    closer = candidate > reference if metric == "spearman" else candidate < reference
    return closer & ~np.isclose(candidate, reference, rtol=TIE_RTOL, atol=TIE_ATOL)


# --------------------------------------------------------------------------------------------------------------
# Ranks (Fig 2b, 2c and the reverse experiment)


def _rank_of_partner(query: np.ndarray, partner: np.ndarray, gep: np.ndarray, metric: str) -> np.ndarray:
    """For each ``i``: 1 + number of GEPs ``j != i`` strictly closer to ``query[i]`` than ``partner[i]`` is."""
    partner_similarity = paired_similarity(query, partner, metric)
    other_similarity = similarity_matrix(query, gep, metric)
    np.fill_diagonal(other_similarity, np.nan)  # sample i itself is not one of the "other" GEPs
    closer = _strictly_closer(other_similarity, partner_similarity[:, None], metric)
    return 1 + closer.sum(axis=1)


def rank_of_own_reproduction(gep, rep, metric: str) -> np.ndarray:
    """Fig 2b/2c: rank of REP ``i`` among {all other test GEPs} plus {REP ``i``} by closeness to GEP ``i``.

    Rank = 1 + the number of other GEPs that are strictly closer to GEP ``i`` than REP ``i`` is, so rank 1 means
    the REP is at least as close as every other test sample. Ties (within ``TIE_RTOL``/``TIE_ATOL``) count in the
    REP's favour: an other GEP exactly as close as the REP does not push the REP down.
    """
    gep, rep = _as_profile_pair(gep, rep, "gep", "rep", same_samples=True)
    return _rank_of_partner(gep, rep, gep, metric)


def rank_of_own_profile(gep, rep, metric: str) -> np.ndarray:
    """The reverse experiment: rank of GEP ``i`` among all test GEPs by closeness to REP ``i``.

    Same rule as :func:`rank_of_own_reproduction`: 1 + the number of other GEPs strictly closer to REP ``i`` than
    GEP ``i`` is; ties count in GEP ``i``'s favour. The paper reports rank 1 for 100% of test samples.
    """
    gep, rep = _as_profile_pair(gep, rep, "gep", "rep", same_samples=True)
    return _rank_of_partner(rep, gep, gep, metric)


def rank_among_references(query, partner, references, metric: str) -> np.ndarray:
    """For each ``i``: 1 + the number of ``references`` strictly closer to ``query[i]`` than ``partner[i]`` is.

    The references are other samples (e.g. the training GEPs of a leave-one-type-out model), so none is excluded.
    Rank 1 means ``partner[i]`` is at least as close to ``query[i]`` as every reference; ties (within
    ``TIE_RTOL``/``TIE_ATOL``) count in the partner's favour, as in :func:`rank_of_own_reproduction`.
    """
    query, partner = _as_profile_pair(query, partner, "query", "partner", same_samples=True)
    query, references = _as_profile_pair(query, references, "query", "references", same_samples=False)
    partner_similarity = paired_similarity(query, partner, metric)
    closer = _strictly_closer(similarity_matrix(query, references, metric), partner_similarity[:, None], metric)
    return 1 + closer.sum(axis=1)


def rank_counts(ranks, max_rank: int = 5) -> pd.DataFrame:
    """Count of samples per rank: ranks 1..``max_rank`` each on a row, larger ranks pooled as ``">=max_rank+1"``.

    Columns: ``rank`` (label, str), ``count`` and ``fraction`` (of all samples). Every row is present even when
    its count is 0, so tables and bar charts from different runs line up.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(f"ranks must be a non-empty 1-D array, got shape {ranks.shape}")
    if not np.issubdtype(ranks.dtype, np.integer) or ranks.min() < 1:
        raise ValueError("ranks must be integers >= 1")
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    labels = [str(rank) for rank in range(1, max_rank + 1)] + [f">={max_rank + 1}"]
    counts = [int(np.sum(ranks == rank)) for rank in range(1, max_rank + 1)] + [int(np.sum(ranks > max_rank))]
    return pd.DataFrame({"rank": labels, "count": counts, "fraction": np.asarray(counts) / ranks.size})


# --------------------------------------------------------------------------------------------------------------
# Nearest neighbours and the paired test (Fig 2e, 2f)


def nearest_neighbour_similarity(gep, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """For each GEP, the similarity to its closest *other* GEP and that neighbour's row index.

    Closest = highest Spearman or lowest MSE; among equally close neighbours the lowest index wins.
    Returns ``(similarity, neighbour_index)``, both of length ``n_samples``.
    """
    gep = _as_profiles(gep, "gep")
    if gep.shape[0] < 2:
        raise ValueError("nearest neighbours need at least 2 samples")
    similarity = similarity_matrix(gep, gep, metric)
    if metric == "spearman":
        np.fill_diagonal(similarity, -np.inf)
        neighbour = similarity.argmax(axis=1)
    else:
        np.fill_diagonal(similarity, np.inf)
        neighbour = similarity.argmin(axis=1)
    return similarity[np.arange(len(gep)), neighbour], neighbour


def wilcoxon_greater(x, y) -> tuple[float, float]:
    """One-sided paired Wilcoxon signed-rank test that ``x`` tends to be greater than ``y``.

    Returns ``(statistic, p_value)`` from ``scipy.stats.wilcoxon(x, y, alternative="greater")`` (zero
    differences dropped, scipy's default). With hundreds of pairs scipy uses the normal approximation, whose
    p-value can underflow to exactly 0.0; it is returned as is and means p < 2.2e-308 (the smallest float).
    """
    x, y = _as_vector(x, "x"), _as_vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must be paired (same length), got {x.size} and {y.size}")
    from scipy import stats

    result = stats.wilcoxon(x, y, alternative="greater")
    return float(result.statistic), float(result.pvalue)


def wilcoxon_rep_closer(rep_gep, gep_gep, metric: str) -> tuple[float, float]:
    """Fig 2e/2f test: are REP-GEP pairs closer than nearest GEP-GEP pairs (one-sided, paired per sample)?

    Spearman: alternative REP-GEP > GEP-GEP. MSE: alternative REP-GEP < GEP-GEP, tested as GEP-GEP > REP-GEP.
    Returns ``(statistic, p_value)`` of :func:`wilcoxon_greater`.
    """
    _check_metric(metric)
    if metric == "spearman":
        return wilcoxon_greater(rep_gep, gep_gep)
    return wilcoxon_greater(gep_gep, rep_gep)


# --------------------------------------------------------------------------------------------------------------
# Example pairs (Fig 2d)


def select_examples(samples: pd.DataFrame, gep, rep, cell_types=("colon", "neuron", "esc"),
                    metric: str = "spearman") -> pd.DataFrame:
    """Pick one GEP pair per requested cell type for Fig 2d, plus the metrics the figure writes in its panels.

    ``samples`` describes the rows of ``gep``/``rep`` in order (columns ``cell_type`` and ``study``). For each
    type with >= 2 test samples, the chosen pair is the closest pair of GEPs (by ``metric``) of that type from
    the same study; if no study has two samples of the type, the closest pair of that type. Sample 1 is the pair's
    lower row index. The choice uses GEPs only, never the REPs, so it does not favour well-reproduced samples.
    Ties go to the lowest row indices, so the choice is deterministic. Types with < 2 test samples are skipped.

    Returns one row per chosen type: ``cell_type``, ``sample1``/``sample2`` (row positions), ``sample1_id``/
    ``sample2_id`` (index labels of ``samples``), ``same_study`` (``None`` when every sample has one study: data
    without a study column say nothing about studies), and ``gep_gep_spearman``, ``gep_gep_mse``
    (sample 1 vs sample 2) and ``rep_gep_spearman``, ``rep_gep_mse`` (sample 1 GEP vs its REP).
    """
    gep, rep = _as_profile_pair(gep, rep, "gep", "rep", same_samples=True)
    if len(samples) != len(gep):
        raise ValueError(f"samples has {len(samples)} rows but gep has {len(gep)}")
    types = samples["cell_type"].astype(str).to_numpy()
    studies = samples["study"].astype(str).to_numpy()
    similarity = similarity_matrix(gep, gep, metric)
    # Orient so that larger is closer for both metrics; then the best pair is the first maximum.
    closeness = similarity if metric == "spearman" else -similarity

    rows = []
    for cell_type in cell_types:
        members = np.flatnonzero(types == cell_type)
        if members.size < 2:
            continue
        # Upper triangle only: each pair once, with the lower index first.
        pair_allowed = np.triu(np.ones((members.size, members.size), dtype=bool), k=1)
        same_study = studies[members][:, None] == studies[members][None, :]
        if (pair_allowed & same_study).any():
            pair_allowed &= same_study
        block = np.where(pair_allowed, closeness[np.ix_(members, members)], -np.inf)
        first, second = np.unravel_index(np.argmax(block), block.shape)
        sample1, sample2 = int(members[first]), int(members[second])
        rows.append({
            "cell_type": cell_type,
            "sample1": sample1,
            "sample2": sample2,
            "sample1_id": samples.index[sample1],
            "sample2_id": samples.index[sample2],
            "same_study": bool(studies[sample1] == studies[sample2]) if len(set(studies)) > 1 else None,
            **_pair_metrics("gep_gep", gep[[sample1]], gep[[sample2]]),
            **_pair_metrics("rep_gep", gep[[sample1]], rep[[sample1]]),
        })
    columns = ["cell_type", "sample1", "sample2", "sample1_id", "sample2_id", "same_study", "gep_gep_spearman",
               "gep_gep_mse", "rep_gep_spearman", "rep_gep_mse"]
    return pd.DataFrame(rows, columns=columns)


def _pair_metrics(prefix: str, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {f"{prefix}_{metric}": float(paired_similarity(a, b, metric)[0]) for metric in METRICS}


# --------------------------------------------------------------------------------------------------------------
# Baseline dimensionality reductions (Fig 2g)


@dataclass(frozen=True)
class BaselineOptions:
    """Settings of the Fig 2g baselines.

    nmf_max_iter, nmf_tol: NMF coordinate-descent iterations and stopping tolerance. 500 iterations (sklearn: 200)
        may still stop before full convergence (a ConvergenceWarning); on the synthetic compendium the error is
        then within ~2% of the converged one at a quarter of the time.
    kernel_gamma: kernel coefficient for the polynomial and RBF kernels; None = 1 / n_genes (sklearn default).
        The cosine kernel has no parameter.
    poly_degree, poly_coef0: polynomial kernel ``(gamma x.y + coef0) ** degree`` (sklearn defaults).
    inverse_alpha: ridge penalty of the pre-image map that KernelPCA learns for ``inverse_transform``. sklearn's
        1.0 is large next to RBF and cosine kernel values (<= 1) and visibly shrinks the reconstructions, so the
        default is 1e-3.
    kernel_centre_genes: subtract the training gene means before kernel PCA and add them back after. The learned
        pre-image map has no intercept, so without centring it cannot produce the common expression level well;
        with the cosine kernel it then returns profiles near 0 (MSE ~ the squared mean log2 expression).
        Set False (with inverse_alpha=1.0) for plain scikit-learn.
    """

    nmf_max_iter: int = 500
    nmf_tol: float = 1e-4
    kernel_gamma: float | None = None
    poly_degree: int = 3
    poly_coef0: float = 1.0
    inverse_alpha: float = 1e-3
    kernel_centre_genes: bool = True


def _reconstruct_pca(train_x, test_x, n_components, seed, options):
    from sklearn.decomposition import PCA

    model = PCA(n_components=n_components, random_state=seed).fit(train_x)
    return model.inverse_transform(model.transform(test_x))


def _reconstruct_nmf(train_x, test_x, n_components, seed, options):
    # NMF needs non-negative input. log2(x + 1) data are >= 0 and are used as they are; data with negatives are
    # shifted up by the training minimum (and shifted back after). Test values below that minimum are clipped
    # to it, since NMF cannot represent them; this only affects data outside the training range.
    shift = min(0.0, float(train_x.min()))
    from sklearn.decomposition import NMF

    model = NMF(n_components=n_components, init="nndsvda", max_iter=options.nmf_max_iter, tol=options.nmf_tol,
                random_state=seed)
    model.fit(train_x - shift)
    test_codes = model.transform(np.maximum(test_x - shift, 0.0))
    return model.inverse_transform(test_codes) + shift


def _kernel_pca_reconstructor(kernel: str):
    def reconstruct(train_x, test_x, n_components, seed, options):
        centre = train_x.mean(axis=0) if options.kernel_centre_genes else 0.0
        from sklearn.decomposition import KernelPCA

        model = KernelPCA(n_components=n_components, kernel=kernel, gamma=options.kernel_gamma,
                          degree=options.poly_degree, coef0=options.poly_coef0, alpha=options.inverse_alpha,
                          fit_inverse_transform=True, random_state=seed)
        model.fit(train_x - centre)
        return model.inverse_transform(model.transform(test_x - centre)) + centre
    return reconstruct


_RECONSTRUCTORS = {
    "pca": _reconstruct_pca,
    "nmf": _reconstruct_nmf,
    "kpca_poly": _kernel_pca_reconstructor("poly"),
    "kpca_cosine": _kernel_pca_reconstructor("cosine"),
    "kpca_rbf": _kernel_pca_reconstructor("rbf"),
}


def reconstruct_with_baselines(train_x, test_x, n_components: int = 30, seed: int = 0,
                               methods=BASELINE_METHODS, options: BaselineOptions | None = None
                               ) -> dict[str, np.ndarray]:
    """Compress ``test_x`` to ``n_components`` numbers with each baseline and reproduce it (Fig 2g).

    Every model is fitted on ``train_x`` only, then encodes and decodes ``test_x`` (transform, then
    inverse_transform). Methods: ``pca``; ``nmf`` (see the non-negativity note in the code); ``kpca_poly``,
    ``kpca_cosine``, ``kpca_rbf`` (KernelPCA with ``fit_inverse_transform=True``). Settings: :class:`BaselineOptions`.
    Returns {method: test reconstruction, same shape as ``test_x``}.
    """
    train_x, test_x = _as_profile_pair(train_x, test_x, "train_x", "test_x", same_samples=False)
    unknown = [method for method in methods if method not in _RECONSTRUCTORS]
    if unknown:
        raise ValueError(f"unknown baseline method(s) {unknown}; use some of {BASELINE_METHODS}")
    if not 1 <= n_components <= min(train_x.shape):
        raise ValueError(f"n_components must be between 1 and min(train samples, genes) = {min(train_x.shape)}, "
                         f"got {n_components}")
    options = options or BaselineOptions()
    return {method: _RECONSTRUCTORS[method](train_x, test_x, n_components, seed, options) for method in methods}


def per_sample_mse(test_x, reconstructions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{method: MSE of each test sample vs its reconstruction}, e.g. for the Fig 2g boxplots."""
    return {method: paired_similarity(test_x, rebuilt, "mse") for method, rebuilt in reconstructions.items()}


# --------------------------------------------------------------------------------------------------------------
# Training curves (Fig 2a and later curve figures)


def curve_summary(frame: pd.DataFrame, group_columns, value_column: str = "test_mse") -> pd.DataFrame:
    """Mean, standard error (sample sd / sqrt(n)) and count of ``value_column`` per group.

    E.g. ``curve_summary(history, ["epoch"])`` averages the cross-validation folds at each epoch. A group with a
    single value has standard error NaN. Returns columns ``*group_columns, mean, se, n``.
    """
    group_columns = [group_columns] if isinstance(group_columns, str) else list(group_columns)
    missing = [column for column in [*group_columns, value_column] if column not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; have {list(frame.columns)}")
    if frame.empty:
        raise ValueError("no rows to summarise")
    grouped = frame.groupby(group_columns, sort=False)[value_column]
    summary = grouped.agg(mean="mean", se="sem", n="count").reset_index()
    return summary
