"""Which genes each CIC component drives (paper Figs 5-7), and whether they match the planted programs.

The paper's recipe: take the mean code over all samples (the baseline CIC) and its per-component standard deviation
sigma_i; decode the baseline and, for each component i, the baseline with component i raised by 2 sigma_i; the 100
genes whose reproduced expression changes most (absolute change) form component i's gene set. Those sets then go to
enrichment analysis (:mod:`cic.enrichment`); on synthetic data they can also be compared with the planted programs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

Decoder = Callable[[np.ndarray], np.ndarray]


def component_names(n_components: int) -> list[str]:
    """``CIC01``, ``CIC02``, ... (zero-padded so that names sort in component order)."""
    width = max(2, len(str(n_components)))
    return [f"CIC{index:0{width}d}" for index in range(1, n_components + 1)]


def perturbation_gene_sets(decode: Decoder, codes: np.ndarray, genes: Iterable[str], n_sigma: float = 2.0,
                           top_n: int = 100) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Gene set of every CIC component: the ``top_n`` genes whose decoded expression moves most.

    ``decode`` maps an (m x k) array of codes to (m x genes) expression (any callable: a linear map in tests,
    :func:`numpy_decoder` around the trained torch decoder in the workflow); ``codes`` is samples x k, the CICs of
    all available samples. sigma is the sample standard deviation (ddof=1, as R's ``sd`` and Torch7's ``std``).

    Returns ``(sets, changes)``: ``sets`` maps ``CIC01``... to its genes, largest absolute change first;
    ``changes`` is long (component, gene, change, rank) for those genes, ``change`` being decoded(baseline +
    n_sigma * sigma_i * e_i) - decoded(baseline). A component that does not vary over the samples (sigma = 0, a
    dead neuron) changes nothing, so it gets no gene set (with a warning) rather than an arbitrary one.
    """
    codes = np.asarray(codes, dtype=float)
    genes = [str(gene) for gene in genes]
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise ValueError(f"codes must be samples x components with at least 2 samples, got shape {codes.shape}")
    if not 1 <= top_n <= len(genes):
        raise ValueError(f"top_n must be between 1 and the number of genes ({len(genes)}), got {top_n}")

    baseline = codes.mean(axis=0)
    sigma = codes.std(axis=0, ddof=1)
    # Row 0 is the baseline; row i + 1 raises component i only, so one decoder call covers all components.
    inputs = np.vstack([baseline, baseline + np.diag(n_sigma * sigma)])
    decoded = np.asarray(decode(inputs), dtype=float)
    if decoded.shape != (len(inputs), len(genes)):
        raise ValueError(f"decode returned shape {decoded.shape}, expected {(len(inputs), len(genes))}")
    change = decoded[1:] - decoded[0]

    sets: dict[str, list[str]] = {}
    rows = []
    for name, component_change in zip(component_names(codes.shape[1]), change):
        if not np.any(component_change):
            warnings.warn(f"{name} changes no gene (its codes do not vary); it gets no gene set", stacklevel=2)
            continue
        top = np.argsort(-np.abs(component_change), kind="stable")[:top_n]
        sets[name] = [genes[index] for index in top]
        rows.append(pd.DataFrame({"component": name, "gene": sets[name], "change": component_change[top],
                                  "rank": np.arange(1, len(top) + 1)}))
    changes = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["component", "gene", "change",
                                                                                      "rank"])
    return sets, changes


def numpy_decoder(decoder) -> Decoder:
    """Wrap a torch decoder module as a numpy (m x k) -> (m x genes) function (eval mode, no gradients)."""
    import torch  # only needed for the trained model; tests use plain numpy decoders

    parameter = next(decoder.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    device = parameter.device if parameter is not None else torch.device("cpu")

    def decode(codes: np.ndarray) -> np.ndarray:
        decoder.eval()
        with torch.no_grad():
            output = decoder(torch.as_tensor(np.asarray(codes), dtype=dtype, device=device))
        return output.cpu().numpy().astype(float)

    return decode


@dataclass
class ProgramMatches:
    """How the component gene sets match the planted programs (synthetic data only).

    ``pairs``: every component x program pair (overlap, sizes, Jaccard, hypergeometric p, BH-adjusted p);
    ``jaccard``: components x programs Jaccard matrix (for the heatmap); ``per_component``: each component's best
    program by Jaccard and by p; ``per_program``: each program's best component and whether it is recovered;
    ``n_recovered``: programs matched by at least one component at ``adjusted_p <= max_adjusted_p``.
    """

    pairs: pd.DataFrame
    jaccard: pd.DataFrame
    per_component: pd.DataFrame
    per_program: pd.DataFrame
    n_recovered: int
    max_adjusted_p: float


def match_programs(component_sets: Mapping[str, Iterable[str]], programs: Mapping[str, Iterable[str]],
                   background: Iterable[str], max_adjusted_p: float = 0.05) -> ProgramMatches:
    """Match every component gene set with the planted programs, by Jaccard index and hypergeometric test.

    Sets are first restricted to ``background`` (the genes the model reproduces). The p-values are those of
    :func:`cic.enrichment.enrich_many` with the programs as gene sets, so Benjamini-Hochberg runs within each
    component over the programs (a pair without overlap has p = 1). A program is *recovered* when at least one
    component matches it at ``adjusted_p <= max_adjusted_p``.
    """
    from cic.enrichment import enrich_many, restrict_to_background  # gseapy: imported only where it is needed

    background = list(dict.fromkeys(background))
    components = restrict_to_background(component_sets, background)
    planted = restrict_to_background(programs, background)
    if not components or not planted:
        raise ValueError("no component gene set or no program has a gene in the background")

    pairs = pd.DataFrame([
        {"component": component, "program": program, "overlap": len(set(genes) & set(members)),
         "component_size": len(genes), "program_size": len(members)}
        for component, genes in components.items() for program, members in planted.items()
    ])
    pairs["jaccard"] = pairs["overlap"] / (pairs["component_size"] + pairs["program_size"] - pairs["overlap"])
    tests = enrich_many(components, planted, background).rename(columns={"query": "component", "term": "program",
                                                                          "adjusted_p_bh": "adjusted_p"})
    pairs = pairs.merge(tests[["component", "program", "p_value", "adjusted_p"]], on=["component", "program"],
                        how="left").fillna({"p_value": 1.0, "adjusted_p": 1.0})
    pairs["significant"] = pairs["adjusted_p"] <= max_adjusted_p

    jaccard = pairs.pivot(index="component", columns="program", values="jaccard").loc[list(components),
                                                                                       list(planted)]
    by_jaccard = pairs.loc[pairs.groupby("component", sort=False)["jaccard"].idxmax()]
    by_p = pairs.sort_values(["p_value", "jaccard"], ascending=[True, False], kind="stable") \
        .drop_duplicates("component")
    per_component = (
        by_jaccard[["component", "program", "jaccard"]].rename(columns={"program": "best_by_jaccard"})
        .merge(by_p[["component", "program", "p_value", "adjusted_p", "significant"]]
               .rename(columns={"program": "best_by_p"}), on="component")
    )
    best_component = pairs.sort_values(["adjusted_p", "p_value", "jaccard"], ascending=[True, True, False],
                                       kind="stable").drop_duplicates("program").set_index("program")
    per_program = pd.DataFrame({
        "program": list(planted),
        "best_component": best_component.loc[list(planted), "component"].to_numpy(),
        "jaccard": best_component.loc[list(planted), "jaccard"].to_numpy(),
        "adjusted_p": best_component.loc[list(planted), "adjusted_p"].to_numpy(),
        "n_components_matching": pairs.groupby("program")["significant"].sum().loc[list(planted)].to_numpy(),
    })
    per_program["recovered"] = per_program["n_components_matching"] > 0
    return ProgramMatches(pairs=pairs, jaccard=jaccard, per_component=per_component, per_program=per_program,
                          n_recovered=int(per_program["recovered"].sum()), max_adjusted_p=max_adjusted_p)


# Kinds of planted program (synthetic data), the three groups that stand in for the paper's three annotation
# types in Figs 5-7 when the only gene set library is the simulator's ground truth.
PROGRAM_KINDS = ("identity", "lineage", "treatment")


def program_kind(program: str) -> str:
    """Kind of a planted program of :mod:`cic.simulate`: ``identity`` (active in one cell type), ``lineage``
    (shared by several types: immune, contractile, epithelial, proliferation, housekeeping...) or ``treatment``
    (switched on by a study's perturbation, whatever the type). KeyError for a name the simulator does not plant."""
    from cic.simulate import PERTURBATION_PROGRAMS, TYPE_PROGRAMS

    if program in PERTURBATION_PROGRAMS:
        return "treatment"
    if program not in TYPE_PROGRAMS:
        raise KeyError(program)
    active_types = [cell_type for cell_type, activity in TYPE_PROGRAMS[program].items() if activity > 0]
    return "identity" if len(active_types) == 1 else "lineage"


def genes_in_several_sets(sets: Mapping[str, Iterable[str]]) -> pd.Series:
    """Number of component gene sets each gene belongs to, for genes in two or more (the paper: 'a few cases')."""
    counts = pd.Series([gene for genes in sets.values() for gene in dict.fromkeys(genes)]).value_counts()
    return counts[counts > 1].rename("n_sets")
