from cic.runner import run_step
from cic.stages.classification import train_noise_fold

run_step(lambda: train_noise_fold(
    snakemake.input.expression, snakemake.input.splits, int(snakemake.wildcards.fold), snakemake.params.architecture,
    snakemake.params.training, snakemake.params.settings, snakemake.params.seed, snakemake.output.model,
    snakemake.output.history, snakemake.output.accuracy, snakemake.threads,
), snakemake.log[0])
