from cic.runner import paths_by_key, run_step
from cic.stages.universality import summarize

pairs, sources, truth = snakemake.params.pairs, snakemake.params.sources, snakemake.params.truth_sources

run_step(lambda: summarize(
    snakemake.input.loto,
    {pair: path for (pair,), path in paths_by_key(snakemake.input.de_tables, "results/tables/de_{}.tsv",
                                                  [(pair,) for pair in pairs]).items()},
    paths_by_key(snakemake.input.enrichment, "results/tables/enrichment_{}_{}.tsv",
                 [(pair, source) for pair in pairs for source in sources]),
    snakemake.params.pathway_source,
    snakemake.output.summary,
    comparisons=pairs,
    activity_path=snakemake.input.get("activity"),
    program_paths=paths_by_key(snakemake.output.get("true_programs", []),
                               "results/tables/enrichment_{}_{}_true_programs.tsv",
                               [(pair, source) for pair in pairs for source in truth]),
), snakemake.log[0])
