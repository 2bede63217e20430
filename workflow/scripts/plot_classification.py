from cic.runner import run_step
from cic.stages.classification import plot_figures

run_step(lambda: plot_figures(
    snakemake.input.predictions, snakemake.input.metrics, snakemake.input.architecture,
    snakemake.input.noise_folds, snakemake.input.noise_by_sigma, dict(snakemake.output.items()),
), snakemake.log[0])
