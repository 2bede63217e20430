from cic.runner import run_step
from cic.stages.data import plot_overview

run_step(lambda: plot_overview(snakemake.input.expression, snakemake.input.sample_quality, snakemake.input.splits,
                               snakemake.output.png, snakemake.output.svg), snakemake.log[0])
