"""Defaults that adapt to the data: settings that name the simulator's cell types or gene programs apply to the
synthetic source only, so that a config holding only a ``dataset`` block runs the whole workflow on any labelled data.

Four settings default to ``auto`` (config/README.md, "Defaults that adapt", says why):

* ``enrichment.sources``: the simulator's planted programs on synthetic data; none on other data (the enrichment
  steps and Figs 5-7 are skipped);
* ``universality.de_pairs``: the paper's B-cell REPs vs T-cell GEPs (``b_cell`` vs ``t_cell``) on synthetic data
  that keeps both types; none on other data (limma and the B-cell claims are skipped);
* ``perturbation.figures``: with the planted programs, one kind of program per figure (identity, lineage,
  treatment); otherwise every figure draws the first source at the paper's cutoffs; no figure without a source;
* ``reconstruction.example_cell_types``: resolved when the test samples are known (:func:`example_cell_types`).

:func:`resolve_defaults` runs in ``workflow/rules/common.smk`` right after the schema validation; every rule, the
run's ``run_config.yaml`` and the report then see the concrete values. A step left out says so in
``results/tables/claims.tsv``: "not run: set `<key>`" (:func:`not_run`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

from cic.labels import normalize_label

AUTO = "auto"
SYNTHETIC_DIR = "results/data/synthetic"
PLANTED_PROGRAMS = {"name": "planted_programs", "gmt": f"{SYNTHETIC_DIR}/programs.gmt"}
# The paper's comparison (Fig 3 text) and Fig 2d examples, as the simulator (and CellNet) name the types.
PAPER_DE_PAIR = {"case": "b_cell", "control": "t_cell"}
PAPER_EXAMPLE_CELL_TYPES = ("colon", "neuron", "esc")
# Figs 5-7: the paper's Bonferroni cutoffs, and the planted-program kind that stands in for each figure's terms.
PAPER_FIGURE_CUTOFFS = {"fig5": 0.01, "fig6": 0.01, "fig7": 0.05}
PLANTED_FIGURE_TERMS = {"fig5": "identity", "fig6": "lineage", "fig7": "treatment"}
EXAMPLES = len(PAPER_EXAMPLE_CELL_TYPES)
MIN_EXAMPLE_SAMPLES = 2  # a Fig 2d example is a pair of test samples of one type


def not_run(key: str, what: str = "") -> str:
    """The "this run" value of a quantity whose step was skipped: ``not run: set `<key>```, the key that runs it."""
    return f"not run: set `{key}`" + (f" ({what})" if what else "")


def is_not_run(value) -> bool:
    return isinstance(value, str) and value.startswith("not run")


def order_like(config: MutableMapping, reference: Mapping) -> None:
    """Put ``config``'s keys in ``reference``'s order (in place, at every level; a key the reference lacks stays
    right after the key it followed).

    Snakemake puts the keys of a ``--configfile`` overlay first; in config/config.yaml's order instead, the run's
    run_config.yaml and every rule's params are the same whether an overlay repeats a default or leaves it out."""
    for key, value in config.items():
        if isinstance(value, MutableMapping) and isinstance(reference.get(key), Mapping):
            order_like(value, reference[key])
    extra: dict = {}  # key it followed (None: first) -> the keys the reference lacks
    previous = None
    for key in config:
        if key in reference:
            previous = key
        else:
            extra.setdefault(previous, []).append(key)
    ordered = list(extra.get(None, []))
    for key in (key for key in reference if key in config):
        ordered += [key, *extra.get(key, [])]
    items = [(key, config[key]) for key in ordered]
    config.clear()
    config.update(items)


def resolve_defaults(config: MutableMapping) -> list[str]:
    """Replace the ``auto`` values of ``config`` (after schema validation) by concrete ones, in place; returns one
    line per step that the resolved config leaves out, naming the key that would run it."""
    synthetic = config["dataset"]["source"] == "synthetic"
    enrichment, universality, perturbation = config["enrichment"], config["universality"], config["perturbation"]
    if enrichment["sources"] == AUTO:
        enrichment["sources"] = [dict(PLANTED_PROGRAMS)] if synthetic else []
    if universality["de_pairs"] == AUTO:
        universality["de_pairs"] = [dict(PAPER_DE_PAIR)] if synthetic and _paper_pair_kept(config) else []
    if perturbation["figures"] == AUTO:
        perturbation["figures"] = _figures(enrichment["sources"])
    skipped = []
    if not universality["de_pairs"]:
        skipped.append("universality.de_pairs is empty: limma on held-out REPs, its enrichment and the paper's "
                       "B-cell claims are not run (set universality.de_pairs to a case and a control type)")
    if not enrichment["sources"]:
        skipped.append("enrichment.sources is empty: enrichment (Fig 3 genes, Figs 5-7) is not run (set "
                       "enrichment.sources to a GMT file of the data's gene ids)")
    return skipped


def _paper_pair_kept(config: Mapping) -> bool:
    """Whether the simulator's b_cell and t_cell survive dataset.cell_types, and b_cell is held out."""
    kept, held_out = config["dataset"].get("cell_types"), config["universality"].get("cell_types")
    kept = {normalize_label(t) for t in kept} if kept else None
    return ((kept is None or {PAPER_DE_PAIR["case"], PAPER_DE_PAIR["control"]} <= kept)
            and (not held_out or PAPER_DE_PAIR["case"] in {normalize_label(t) for t in held_out}))


def _figures(sources: Sequence[Mapping]) -> dict[str, dict]:
    """Figs 5-7 for these sources: the planted programs split by kind, else the first source at the paper's cutoffs."""
    if any(source.get("gmt") == PLANTED_PROGRAMS["gmt"] for source in sources):
        name = next(source["name"] for source in sources if source.get("gmt") == PLANTED_PROGRAMS["gmt"])
        return {figure: {"source": name, "terms": PLANTED_FIGURE_TERMS[figure], "bonferroni_cutoff": cutoff}
                for figure, cutoff in PAPER_FIGURE_CUTOFFS.items()}
    if not sources:
        return {}
    return {figure: {"source": sources[0]["name"], "terms": "all", "bonferroni_cutoff": cutoff}
            for figure, cutoff in PAPER_FIGURE_CUTOFFS.items()}


def example_cell_types(requested, test_types: Sequence[str]) -> list[str]:
    """The Fig 2d example types: ``requested`` (labels, normalised) or, for ``auto``, the paper's three (colon,
    neuron, esc) when each has at least two test samples, else the three types with the most test samples (ties:
    label order), so that the choice is the same on every run of the same data."""
    if requested != AUTO:
        return [normalize_label(cell_type) for cell_type in requested]
    import pandas as pd  # here: the workflow imports this module to build its job graph

    counts = pd.Series(list(test_types), dtype=str).value_counts()
    counts = counts[counts >= MIN_EXAMPLE_SAMPLES]
    if all(cell_type in counts.index for cell_type in PAPER_EXAMPLE_CELL_TYPES):
        return list(PAPER_EXAMPLE_CELL_TYPES)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [cell_type for cell_type, _ in ordered[:EXAMPLES]]
