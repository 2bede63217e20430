"""Over-representation analysis of gene lists (the paper's Enrichr and ToppCluster steps), through gseapy.

The paper sent the 380 B-cell genes to Enrichr and the 30 CIC-component gene sets to ToppCluster (both online),
adjusting p-values with Bonferroni or Benjamini-Hochberg. Here a gene set source is a config entry, either

* ``{"name": "GO_BP", "gmt": "path/to/file.gmt"}`` -- a local GMT file, tested offline (hypergeometric test), or
* ``{"name": "KEGG", "enrichr_library": "KEGG_2021_Human"}`` -- an Enrichr library, tested online by Enrichr.

Offline tests use gseapy's local enrichment (``gseapy.enrich``): one-sided hypergeometric p = P(X >= k) with X the
overlap of a random draw of the query's size from the background. Before testing, the query and every gene set are
restricted to the background, and sets left with no background gene are dropped: the remaining sets are the
*terms tested*, and their count is the Bonferroni multiplier. Benjamini-Hochberg runs over the same terms (terms
with no overlapping gene count with p = 1), which is more conservative than gseapy's own adjusted p-value: gseapy
only reports, and only adjusts over, terms with at least one overlapping gene.

The odds ratio and combined score of an offline test are Enrichr's (Enrichr's help, "background" section, and its
server code): odds ratio = a*d / max(b*c, 1) for the 2x2 table of background genes (a: query genes in the term,
b: other term genes, c: other query genes, d: the rest), combined score = -ln(p) * odds ratio. gseapy's local
``enrich`` adds 0.5 to every cell (a Haldane-Anscombe correction; 30.51 where Enrichr gives 31.0), so offline
tables would not mean the same as online ones; Enrichr sources keep the values Enrichr reports.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

import gseapy
import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from cic.errors import InputError
from cic.io import read_gmt

ENRICHR_HOST = "maayanlab.cloud"
RESULT_COLUMNS = ["term", "overlap", "n_overlap", "term_size", "query_size", "terms_tested", "p_value",
                  "bonferroni", "adjusted_p_bh", "odds_ratio", "combined_score", "genes"]


class EnrichmentOffline(RuntimeError):
    """An Enrichr library was requested but Enrichr cannot be reached (no internet)."""


def load_gene_set_source(entry: Mapping) -> dict[str, list[str]]:
    """Read the gene sets of a local GMT source entry (``{"name": ..., "gmt": path}``) as {term: genes}."""
    name = entry.get("name", "?")
    if "gmt" not in entry:
        raise InputError("enrichment.sources", f"source {name!r} has no 'gmt' file to read",
                         "give {name: ..., gmt: path/to/sets.gmt}, or test an 'enrichr_library' with enrich_source")
    path = Path(entry["gmt"])
    if not path.is_file():
        raise InputError(path, f"GMT file of gene set source {name!r} not found",
                         "fix the path in enrichment.sources or download the GMT file there")
    gene_sets = read_gmt(path)
    if not gene_sets:
        raise InputError(path, "no gene set found (expected lines 'name<TAB>description<TAB>gene...')",
                         "write the file in GMT format")
    return gene_sets


def restrict_to_background(gene_sets: Mapping[str, Iterable[str]], background: Iterable[str]) -> dict[str, list[str]]:
    """Keep only background genes in every set (unique, in order) and drop sets left empty."""
    universe = set(background)
    restricted = {}
    for term, genes in gene_sets.items():
        kept = [gene for gene in dict.fromkeys(genes) if gene in universe]
        if kept:
            restricted[term] = kept
    return restricted


def enrich(genes: Iterable[str], gene_sets: Mapping[str, Iterable[str]], background: Iterable[str]) -> pd.DataFrame:
    """Offline over-representation test of ``genes`` against ``gene_sets`` within ``background``.

    Returns one row per term with at least one query gene, sorted by p: ``term``, ``overlap`` ("k/K": query genes
    in the term / term size), ``n_overlap``, ``term_size`` (within the background), ``query_size`` (query genes in
    the background), ``terms_tested`` (sets with >= 1 background gene, the Bonferroni multiplier), ``p_value``
    (hypergeometric upper tail), ``bonferroni`` (min(1, p * terms_tested)), ``adjusted_p_bh``, ``odds_ratio`` and
    ``combined_score`` (as Enrichr defines them: see the module docstring) and ``genes`` (the overlapping genes,
    ';'-joined).
    """
    universe = list(dict.fromkeys(background))
    if not universe:
        raise ValueError("the background gene list is empty")
    in_universe = set(universe)
    query = [gene for gene in dict.fromkeys(genes) if gene in in_universe]
    tested = restrict_to_background(gene_sets, in_universe)
    query_set = set(query)
    expected_overlap = {term: len(query_set & set(members)) for term, members in tested.items()}
    if not query or not any(expected_overlap.values()):
        return _empty_result()  # nothing to test; gseapy would only log an error

    run = gseapy.enrich(gene_list=query, gene_sets=tested, background=universe, outdir=None, no_plot=True,
                        verbose=False)
    raw = run.res2d
    run.close()  # gseapy attaches a log handler per run; release it
    table = _standard_table(raw, terms_tested=len(tested), query_size=len(query), background_size=len(universe))

    # gseapy upper-cases the query when it looks mixed-case and the sets look upper-case; that would silently
    # lose hits (e.g. 'C1orf112'), so insist its overlaps are the ones we count ourselves.
    reported = dict(zip(table["term"], table["n_overlap"].astype(int)))
    if reported != {term: count for term, count in expected_overlap.items() if count > 0}:
        raise RuntimeError("gseapy's overlaps differ from the query/gene-set intersections (gene name case "
                           "conversion?); use gene identifiers with consistent case")
    return table


def enrich_enrichr(genes: Iterable[str], library: str, background: Iterable[str] | None = None,
                   organism: str = "human") -> pd.DataFrame:
    """Online over-representation test against an Enrichr library (needs internet).

    Same columns as :func:`enrich`. Enrichr reports only terms with at least one query gene and does not give
    the library size, so ``terms_tested`` (the Bonferroni and BH multiplier) is the number of terms returned,
    which is how Enrichr adjusts its own p-values; ``term_size`` is NaN when Enrichr does not report it (with a
    custom background). Raises :class:`EnrichmentOffline` when Enrichr cannot be reached.
    """
    if not enrichr_reachable():
        raise EnrichmentOffline(
            f"Enrichr library {library!r} needs internet access ({ENRICHR_HOST} is unreachable); to run offline, "
            f"download the library as a GMT file and list it as a local source, e.g. "
            f"enrichment.sources: [{{name: {library}, gmt: path/to/{library}.gmt}}]")
    query = list(dict.fromkeys(genes))
    run = gseapy.enrichr(gene_list=query, gene_sets=library, organism=organism,
                         background=None if background is None else list(background), outdir=None, no_plot=True)
    raw = run.res2d
    run.close()
    returned = 0 if raw is None else len(raw)
    return _standard_table(raw, terms_tested=returned, query_size=len(query))


def enrichr_reachable(timeout: float = 3.0) -> bool:
    """Whether Enrichr's HTTPS port answers within ``timeout`` seconds."""
    try:
        with socket.create_connection((ENRICHR_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def enrich_source(genes: Iterable[str], entry: Mapping, background: Iterable[str]) -> pd.DataFrame:
    """Test ``genes`` against one configured source (local GMT or Enrichr library); adds a ``source`` column."""
    if "enrichr_library" in entry:
        table = enrich_enrichr(genes, entry["enrichr_library"], background, organism=entry.get("organism", "human"))
    else:
        table = enrich(genes, load_gene_set_source(entry), background)
    return table.assign(source=str(entry.get("name", entry.get("enrichr_library", entry.get("gmt")))))


def enrich_many(gene_sets_to_test: Mapping[str, Iterable[str]], source_sets: Mapping[str, Iterable[str]],
                background: Iterable[str]) -> pd.DataFrame:
    """Test several query gene lists (e.g. the 30 CIC-component sets) against the same gene sets.

    Returns one long table: a ``query`` column, then :func:`enrich`'s columns. As in ToppCluster, every query is
    its own family: Bonferroni and BH are computed within a query, over that query's ``terms_tested``, and
    ``query_size`` is that query's genes in the background. A query with no overlapping term contributes no row;
    :func:`count_significant` reports such queries as zero.
    """
    background = list(background)
    return _long_table({query: enrich(genes, source_sets, background) for query, genes in gene_sets_to_test.items()})


def _long_table(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-query result tables stacked, with a ``query`` column first (queries without rows contribute none)."""
    tables = [table.assign(query=str(query)) for query, table in results.items() if not table.empty]
    long_table = pd.concat(tables, ignore_index=True) if tables else _empty_result().assign(query=pd.Series(dtype=str))
    return long_table[["query", *RESULT_COLUMNS]]


def enrich_source_many(gene_sets_to_test: Mapping[str, Iterable[str]], entry: Mapping,
                       background: Iterable[str]) -> pd.DataFrame:
    """:func:`enrich_many` against one configured source (local GMT read once, or an Enrichr library queried once
    per list); adds a ``source`` column (the entry's name). Same families and adjustments as :func:`enrich_many`."""
    background = list(background)
    name = str(entry.get("name", entry.get("enrichr_library", entry.get("gmt"))))
    if "enrichr_library" in entry:
        long_table = _long_table({
            query: enrich_enrichr(genes, entry["enrichr_library"], background, organism=entry.get("organism", "human"))
            for query, genes in gene_sets_to_test.items()})
    else:
        long_table = enrich_many(gene_sets_to_test, load_gene_set_source(entry), background)
    return long_table.assign(source=name)


def count_significant(long_table: pd.DataFrame, column: str = "bonferroni", cutoff: float = 0.05,
                      queries: Iterable[str] | None = None) -> pd.Series:
    """Number of terms with ``column`` <= ``cutoff`` per query (``queries`` lists those to report even at zero)."""
    passed = long_table[long_table[column] <= cutoff]
    counts = passed.groupby("query").size()
    order = list(queries) if queries is not None else sorted(long_table["query"].unique())
    return counts.reindex(order, fill_value=0).astype(int).rename(f"n_terms_{column}_le_{cutoff:g}")


def rank_of_terms(result: pd.DataFrame, terms: Iterable[str]) -> pd.Series:
    """Rank (1 = smallest p; ties share the best rank) of each of ``terms`` in a result table; NaN if absent."""
    ranks = result["p_value"].rank(method="min").set_axis(result["term"].to_numpy())
    terms = list(terms)
    return pd.Series([ranks.get(term, np.nan) for term in terms], index=pd.Index(terms, name="term"),
                     name="rank", dtype=float)


def _standard_table(raw: pd.DataFrame | None, terms_tested: int, query_size: int,
                    background_size: int | None = None) -> pd.DataFrame:
    """gseapy's result frame (local or Enrichr) in this module's column names, with our adjusted p-values; with
    ``background_size`` (a local test) also with Enrichr's odds ratio and combined score in place of gseapy's."""
    if raw is None or raw.empty:
        return _empty_result()
    # gseapy joins the hits in set order, which changes between runs; sort them for reproducible tables.
    hits = raw["Genes"].fillna("").astype(str).map(lambda joined: ";".join(sorted(filter(None, joined.split(";")))))
    if "Overlap" in raw:
        counts = raw["Overlap"].str.split("/", expand=True).astype(int)
        n_overlap, term_size = counts[0], counts[1].astype(float)
    else:  # Enrichr with a custom background reports no overlap column
        n_overlap, term_size = hits.str.split(";").str.len(), pd.Series(np.nan, index=raw.index)
    p_value = raw["P-value"].to_numpy(dtype=float)
    if background_size is None:  # Enrichr's own values
        odds_ratio, combined_score = raw.get("Odds Ratio", np.nan), raw.get("Combined Score", np.nan)
    else:
        odds_ratio = _enrichr_odds_ratio(n_overlap.to_numpy(), term_size.to_numpy(), query_size, background_size)
        combined_score = -np.log(p_value) * odds_ratio
    table = pd.DataFrame({
        "term": raw["Term"].astype(str),
        "overlap": [f"{k}/{'?' if np.isnan(size) else int(size)}" for k, size in zip(n_overlap, term_size)],
        "n_overlap": n_overlap.astype(int),
        "term_size": term_size,
        "query_size": query_size,
        "terms_tested": terms_tested,
        "p_value": p_value,
        "bonferroni": np.minimum(1.0, p_value * terms_tested),
        "adjusted_p_bh": _benjamini_hochberg(p_value, terms_tested),
        "odds_ratio": odds_ratio,
        "combined_score": combined_score,
        "genes": hits,
    })
    return table.sort_values(["p_value", "term"], kind="stable").reset_index(drop=True)


def _enrichr_odds_ratio(n_overlap: np.ndarray, term_size: np.ndarray, query_size: int,
                        background_size: int) -> np.ndarray:
    """Enrichr's odds ratio a*d / max(b*c, 1) of the query/term 2x2 table over the background genes."""
    a = n_overlap.astype(float)
    b, c = term_size - a, query_size - a
    d = background_size - term_size - query_size + a
    return a * d / np.maximum(b * c, 1.0)


def _benjamini_hochberg(p_value: np.ndarray, terms_tested: int) -> np.ndarray:
    """BH over ``terms_tested`` terms of which only these p-values are reported (the others have p = 1)."""
    untested = max(0, terms_tested - len(p_value))
    padded = np.concatenate([p_value, np.ones(untested)])
    return multipletests(padded, method="fdr_bh")[1][:len(p_value)]


def _empty_result() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=float if column not in ("term", "overlap", "genes") else str)
                         for column in RESULT_COLUMNS})
