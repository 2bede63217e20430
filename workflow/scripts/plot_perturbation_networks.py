from cic.runner import run_step
from cic.stages.perturbation import plot_networks

run_step(lambda: plot_networks(dict(zip(snakemake.params.sources, snakemake.input.enrichment)), snakemake.input.gmt,
                               snakemake.params.figures, dict(snakemake.output.items())), snakemake.log[0])
