from cic.runner import run_step
from cic.stages.sweeps import plot_sweeps

run_step(lambda: plot_sweeps(
    snakemake.input.fig8_curves, snakemake.input.fig8_ranking, snakemake.input.fig9_curves,
    snakemake.input.regularisation_curves, snakemake.input.regularisation_table, snakemake.params.reference,
    dict(snakemake.output.items()),
), snakemake.log[0])
