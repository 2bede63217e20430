from cic.runner import run_step
from cic.stages.universality import plot_enrichment

run_step(lambda: plot_enrichment(
    snakemake.input[0], snakemake.params.n_terms, snakemake.params.case, snakemake.params.control,
    snakemake.wildcards.source, snakemake.output.png, snakemake.output.svg,
), snakemake.log[0])
