"""Figs 5-7: what each CIC component means (perturbation gene sets, their enrichment, component-term networks).

Steps, one per rule (workflow/rules/perturbation.smk): the gene set of every component from the chosen model's
decoder (:func:`gene_sets`); their enrichment in each configured gene set source (:func:`enrich_gene_sets`); counts
per source and cutoff (:func:`count_enrichment`); on synthetic data, the match with the planted programs
(:func:`match_planted_programs`); the figures, drawn from those stored tables only (:func:`plot_network`,
:func:`plot_component_programs`); and the summary beside the paper's numbers (:func:`summarize`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd

from cic import io
from cic.defaults import not_run
from cic.errors import InputError
from cic.paper import summary_row
from cic.perturbation import component_names, genes_in_several_sets, program_kind

# torch, gseapy and matplotlib are imported inside the steps that use them: each rule is its own process, and
# importing all three costs each job seconds of CPU.

log = logging.getLogger(__name__)

# The paper's annotation type of each figure, and the PAPER key of its BH 0.05 total.
FIGURE_ANNOTATION = {"fig5": "cellular compartments", "fig6": "biological processes", "fig7": "pathways"}
FIGURE_PAPER_KEY = {"fig5": "enriched_compartments_bh", "fig6": "enriched_processes_bh",
                    "fig7": "enriched_pathways_bh"}
ADJUSTED_COLUMN = {"bonferroni": "bonferroni", "bh": "adjusted_p_bh"}
ALL_TERMS = "all"
COUNT_COLUMNS = ["scope", "source", "terms", "adjustment", "cutoff", "n_terms", "n_pairs", "n_components_with_term",
                 "n_components"]


def gene_sets(model_path, expression_path, n_sigma: float, top_n: int, gmt_path, changes_path, components_path,
              threads: int = 1) -> None:
    """Encode every sample with the model, perturb each component of the mean code by ``n_sigma`` sigma, decode,
    and write each component's ``top_n`` most-changed genes (GMT), their changes, and each component's baseline."""
    import torch

    from cic.perturbation import perturbation_gene_sets
    from cic.train import decode, encode, load_model

    torch.set_num_threads(max(1, int(threads)))
    model, meta = load_model(model_path)
    adata = io.read_h5ad(expression_path)
    genes = [str(gene) for gene in adata.var_names]
    if meta.get("genes") is not None and list(meta["genes"]) != genes:
        raise InputError(model_path, f"the model was trained on other genes than {expression_path}",
                         "re-train it on this matrix (snakemake --forcerun on its training rule)")
    matrix = np.asarray(adata.X, dtype=np.float32)
    codes = encode(model, matrix)
    log.info("encoded %d samples into %d components with %s", *codes.shape, model_path)
    sets, changes = perturbation_gene_sets(partial(decode, model), codes, genes, n_sigma=n_sigma, top_n=top_n)
    io.write_gmt(sets, gmt_path, {name: f"top {top_n} genes of +{n_sigma:g} sigma" for name in sets})
    io.write_table(changes, changes_path)
    names = component_names(codes.shape[1])
    summary = pd.DataFrame({"component": names, "baseline": codes.mean(axis=0), "sigma": codes.std(axis=0, ddof=1),
                            "has_gene_set": [name in sets for name in names]})
    largest = changes.assign(abs_change=changes["change"].abs()).groupby("component")["abs_change"].max()
    summary["largest_abs_change"] = summary["component"].map(largest)
    io.write_table(summary, components_path)
    shared = genes_in_several_sets(sets)
    log.info("%d gene sets of %d genes; %d genes are in two or more sets", len(sets), top_n, len(shared))


def enrich_gene_sets(gmt_path, expression_path, source: Mapping, output) -> None:
    """Enrichment of every component gene set in one source; background = every gene of the matrix."""
    from cic.enrichment import enrich_source_many

    sets = io.read_gmt(gmt_path)
    background = [str(gene) for gene in io.read_h5ad(expression_path).var_names]
    table = enrich_source_many(sets, source, background).rename(columns={"query": "component"})
    io.write_table(table[["component", "source", *[c for c in table.columns if c not in ("component", "source")]]],
                   output)
    log.info("%s: %d component-term pairs with overlap over %d gene sets", source["name"], len(table), len(sets))


def read_enrichment(path) -> pd.DataFrame:
    """A stored perturbation_enrichment_<source>.tsv (columns component, source, term, p_value, ...)."""
    return pd.read_csv(path, sep="\t", dtype={"component": str, "source": str, "term": str})


def select_terms(table: pd.DataFrame, terms: str, path="") -> pd.DataFrame:
    """Rows of ``table`` whose term is of kind ``terms`` (a planted-program kind), or every row for ``all``."""
    if terms == ALL_TERMS or table.empty:
        return table
    try:
        kinds = table["term"].map(program_kind)
    except KeyError as error:
        raise InputError(path, f"term {error.args[0]!r} is not a planted program, so 'terms: {terms}' cannot "
                         "select by program kind", "use 'terms: all' for gene set libraries other than the "
                         "simulator's planted_programs") from None
    return table[kinds == terms]


def _passing(table: pd.DataFrame, adjustment: str, cutoff: float) -> pd.DataFrame:
    return table[table[ADJUSTED_COLUMN[adjustment]] <= cutoff]


def count_enrichment(enrichment_paths: Mapping[str, str], gmt_path, figures: Mapping[str, Mapping],
                     count_cutoffs: Sequence[Mapping], output) -> pd.DataFrame:
    """perturbation_counts.tsv: per source (all terms) and per figure (its terms), and per adjustment and cutoff,
    the distinct terms passing, the component-term pairs passing, and the components with at least one term."""
    n_components = len(io.read_gmt(gmt_path))
    tables = {name: read_enrichment(path) for name, path in enrichment_paths.items()}
    scopes = [(source, source, ALL_TERMS) for source in tables]
    scopes += [(figure, entry["source"], entry["terms"]) for figure, entry in figures.items()]
    rows = []
    for scope, source, terms in scopes:
        selected = select_terms(tables[source], terms, enrichment_paths[source])
        for cut in count_cutoffs:
            passed = _passing(selected, cut["adjustment"], cut["cutoff"])
            rows.append([scope, source, terms, cut["adjustment"], cut["cutoff"], passed["term"].nunique(),
                         len(passed), passed["component"].nunique(), n_components])
    counts = pd.DataFrame(rows, columns=COUNT_COLUMNS)  # no source (cic.defaults): the header only
    io.write_table(counts, output)
    log.info("enriched terms:\n%s", counts.to_string(index=False))
    return counts


def match_planted_programs(gmt_path, programs_path, expression_path, max_adjusted_p: float, matches_path,
                           jaccard_path, programs_table_path) -> None:
    """Synthetic data: every component's best planted program (Jaccard, hypergeometric p) and the recovered ones."""
    from cic.perturbation import match_programs

    background = [str(gene) for gene in io.read_h5ad(expression_path).var_names]
    matches = match_programs(io.read_gmt(gmt_path), io.read_gmt(programs_path), background, max_adjusted_p)
    per_component = matches.per_component.assign(kind_best_by_p=lambda t: t["best_by_p"].map(_kind_or_other))
    io.write_table(per_component, matches_path)
    io.write_table(matches.jaccard.rename_axis("component").reset_index(), jaccard_path)
    per_program = matches.per_program.assign(kind=lambda t: t["program"].map(_kind_or_other))
    io.write_table(per_program, programs_table_path)
    log.info("%d of %d planted programs recovered by at least one component (BH <= %g)", matches.n_recovered,
             len(per_program), max_adjusted_p)


def _kind_or_other(program: str) -> str:
    try:
        return program_kind(program)
    except KeyError:
        return "other"


def plot_networks(enrichment_paths: Mapping[str, str], gmt_path, figures: Mapping[str, Mapping],
                  outputs: Mapping[str, str]) -> None:
    """Figs 5-7 from the stored enrichment tables; ``outputs`` has ``<figure>_png``, ``_svg``, ``_gexf`` and
    ``_graphml`` paths for every figure of ``figures``."""
    components = list(io.read_gmt(gmt_path))
    for figure, entry in figures.items():
        plot_network(enrichment_paths[entry["source"]], components, figure, entry,
                     *(outputs[f"{figure}_{kind}"] for kind in ("png", "svg", "gexf", "graphml")))


def plot_network(enrichment_path, components: Sequence[str], figure: str, entry: Mapping, png, svg, gexf,
                 graphml) -> None:
    """One of Figs 5-7: components linked to the terms passing the figure's Bonferroni cutoff (only the figure's
    kind of term), drawn, and written for Gephi (GEXF) and Cytoscape (GraphML)."""
    from cic.figures import network

    table = select_terms(read_enrichment(enrichment_path), entry["terms"], enrichment_path)
    graph = network.component_term_graph(table.rename(columns={"component": "query"}), "bonferroni",
                                         entry["bonferroni_cutoff"], components=list(components))
    what = FIGURE_ANNOTATION[figure] if entry["terms"] == ALL_TERMS else f"planted {entry['terms']} programs"
    title = (f"{figure.replace('fig', 'Fig ')}: {what} enriched by CIC components\n({entry['source']}, "
             f"Bonferroni <= {entry['bonferroni_cutoff']:g})")
    network.draw_component_network(graph, png, svg, title=title)
    network.write_graph_files(graph, gexf, graphml)
    log.info("%s: %d components, %d terms, %d links", figure, len(components),
             graph.number_of_nodes() - len(components), graph.number_of_edges())


def plot_component_programs(jaccard_path, matches_path, programs_table_path, component_programs_png,
                            component_programs_svg) -> None:
    """Heatmap components x planted programs (Jaccard), programs grouped by kind, significant matches marked."""
    from cic.figures import network

    jaccard = pd.read_csv(jaccard_path, sep="\t").set_index("component")
    programs = pd.read_csv(programs_table_path, sep="\t")
    order = programs.assign(rank=programs["kind"].map({k: i for i, k in enumerate(["identity", "lineage",
                                                                                    "treatment", "other"])}))
    order = order.sort_values(["rank", "program"], kind="stable")["program"].tolist()
    matches = pd.read_csv(matches_path, sep="\t").set_index("component")
    significant = pd.DataFrame(False, index=jaccard.index, columns=order)
    for component, row in matches.iterrows():
        if bool(row["significant"]) and component in significant.index:
            significant.loc[component, row["best_by_p"]] = True
    network.plot_component_program_heatmap(jaccard[order], component_programs_png, component_programs_svg,
                                           marks=significant,
                                           column_groups=programs.set_index("program").loc[order, "kind"])


def summarize_perturbation(enrichment: Sequence, gmt, components, sources: Sequence[str],
                           figures: Mapping[str, Mapping], count_cutoffs: Sequence[Mapping], max_adjusted_p: float,
                           counts, summary, matches=None, programs=None, **network_files) -> None:
    """The rule's entry (workflow/rules/perturbation.smk, summarize_perturbation): :func:`summarize` with the
    enrichment tables paired with ``sources`` in order (``matches`` and ``programs`` only on synthetic data), then
    the networks of ``figures`` (:func:`plot_networks`; ``network_files``: the rule's ``<figure>_<kind>`` paths)."""
    enrichment_paths = dict(zip(sources, enrichment))
    summarize(enrichment_paths, gmt, components, figures, count_cutoffs, counts, summary,
              matches_path=matches, programs_table_path=programs, max_adjusted_p=max_adjusted_p)
    if figures:
        plot_networks(enrichment_paths, gmt, figures, network_files)


def summarize(enrichment_paths: Mapping[str, str], gmt_path, components_path, figures: Mapping[str, Mapping],
              count_cutoffs: Sequence[Mapping], counts_path, output, matches_path=None, programs_table_path=None,
              max_adjusted_p: float | None = None) -> None:
    """perturbation_counts.tsv (:func:`count_enrichment`) and perturbation_summary.tsv: every Figs 5-7 number of
    this run beside the paper's; the planted-program rows only when ``matches_path`` is given (synthetic data)."""
    counts = count_enrichment(enrichment_paths, gmt_path, figures, count_cutoffs, counts_path)
    sets = io.read_gmt(gmt_path)
    components = pd.read_csv(components_path, sep="\t")
    set_size = {len(genes) for genes in sets.values()}
    rows = [
        summary_row("components", len(components), note="paper: 30 (the CIC size)"),
        summary_row("components_with_gene_set", len(sets), note="a component whose code never varies has none"),
        summary_row("genes_per_set", ",".join(map(str, sorted(set_size))), note="paper: 100"),
        summary_row("genes_in_two_or_more_sets", len(genes_in_several_sets(sets)),
                    note="paper: 'a few cases'"),
    ]
    if not enrichment_paths:  # the gene sets are made; what they enrich needs a gene set source (cic.defaults)
        rows.append(summary_row("enrichment", not_run("enrichment.sources", "a GMT file of the data's gene ids"),
                                note="Figs 5-7 need a gene set source"))
    for figure, entry in figures.items():
        scope = counts[counts["scope"] == figure]
        what = FIGURE_ANNOTATION[figure] if entry["terms"] == ALL_TERMS else f"{entry['terms']} programs"
        kind_note = "" if entry["terms"] == ALL_TERMS else (
            f"synthetic data: planted {entry['terms']} programs stand in for the paper's {FIGURE_ANNOTATION[figure]}"
            ", so the paper's count is not comparable")
        for cut in scope.itertuples(index=False):
            label = f"{figure}_{cut.adjustment}_{cut.cutoff:g}"
            is_paper_total = cut.adjustment == "bh" and np.isclose(cut.cutoff, 0.05)
            rows.append(summary_row(f"{label}_terms", int(cut.n_terms),
                                    FIGURE_PAPER_KEY[figure] if is_paper_total else None,
                                    "; ".join(filter(None, [f"distinct {what} in {entry['source']}",
                                                            kind_note]))))
            rows.append(summary_row(f"{label}_component_term_links", int(cut.n_pairs)))
            rows.append(summary_row(f"{label}_components_with_term", int(cut.n_components_with_term),
                                    note=f"of {int(cut.n_components)} gene sets"))
    if matches_path is not None:
        matches = pd.read_csv(matches_path, sep="\t")
        programs = pd.read_csv(programs_table_path, sep="\t")
        rows += [
            summary_row("components_matching_a_program", int(matches["significant"].sum()),
                        note=f"best program by hypergeometric p, BH <= {max_adjusted_p:g}; synthetic data only"),
            summary_row("planted_programs_recovered", int(programs["recovered"].sum()),
                        note=f"of {len(programs)} planted programs, by at least one component at BH <= "
                             f"{max_adjusted_p:g}"),
            summary_row("median_best_jaccard", float(matches["jaccard"].median()),
                        note="per component, its best Jaccard index with a planted program"),
        ]
        for kind, group in programs.groupby("kind"):
            rows.append(summary_row(f"{kind}_programs_recovered", int(group["recovered"].sum()),
                                    note=f"of {len(group)} {kind} programs"))
    io.write_table(pd.DataFrame(rows), output)
