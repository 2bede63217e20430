from cic.runner import run_step
from cic.stages.universality import plot_loto

run_step(lambda: plot_loto(snakemake.input[0], snakemake.output.png, snakemake.output.svg), snakemake.log[0])
