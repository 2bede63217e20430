from cic.runner import run_step
from cic.stages.universality import summarize

pairs, sources, truth = snakemake.params.pairs, snakemake.params.sources, snakemake.params.truth_sources


def by_key(paths, pattern, keys):
    """{key: the path that ``pattern`` gives for it}, checked against the rule's files (not expand's order)."""
    found = {key: pattern.format(*key) for key in keys}
    missing = set(found.values()) - set(map(str, paths))
    if missing:
        raise ValueError(f"not among the rule's files: {sorted(missing)}")
    return found


run_step(lambda: summarize(
    snakemake.input.loto,
    {pair: path for (pair,), path in by_key(snakemake.input.de_tables, "results/tables/de_{}.tsv",
                                            [(pair,) for pair in pairs]).items()},
    by_key(snakemake.input.enrichment, "results/tables/enrichment_{}_{}.tsv",
           [(pair, source) for pair in pairs for source in sources]),
    snakemake.params.pathway_source,
    snakemake.output.summary,
    comparisons=pairs,
    activity_path=snakemake.input.get("activity"),
    program_paths=by_key(snakemake.output.get("true_programs", []), "results/tables/enrichment_{}_{}_true_programs.tsv",
                         [(pair, source) for pair in pairs for source in truth]),
), snakemake.log[0])
