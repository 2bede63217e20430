from cic.runner import run_step
from cic.stages.classification import train_classifier_autoencoder

run_step(lambda: train_classifier_autoencoder(
    snakemake.input.expression, snakemake.input.splits, snakemake.params.architecture, snakemake.params.training,
    snakemake.params.settings, snakemake.params.seed, snakemake.output.model, snakemake.output.history,
    snakemake.output.codes, snakemake.output.architecture, snakemake.threads,
), snakemake.log[0])
