from cic.runner import run_step
from cic.stages.reconstruction import plot_figures

run_step(lambda: plot_figures(
    snakemake.input.expression, snakemake.input.splits, snakemake.input.reproduced, snakemake.input.per_sample,
    snakemake.input.rank_counts, snakemake.input.examples, snakemake.input.method_mse, dict(snakemake.output.items()),
), snakemake.log[0])
