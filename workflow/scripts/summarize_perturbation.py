from cic.runner import run_step
from cic.stages.perturbation import summarize

run_step(lambda: summarize(dict(zip(snakemake.params.sources, snakemake.input.enrichment)), snakemake.input.gmt,
                           snakemake.input.components, snakemake.params.figures, snakemake.params.count_cutoffs,
                           snakemake.output.counts, snakemake.output.summary,
                           matches_path=snakemake.input.get("matches"),
                           programs_table_path=snakemake.input.get("programs"),
                           max_adjusted_p=snakemake.params.max_adjusted_p), snakemake.log[0])
