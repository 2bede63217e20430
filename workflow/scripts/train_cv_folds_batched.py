from cic.runner import run_step
from cic.stages.autoencoder import cv_holdout, train_autoencoders

run_step(lambda: train_autoencoders(
    snakemake.input.expression, snakemake.input.splits, [cv_holdout(fold) for fold in snakemake.params.folds],
    snakemake.params.architecture, snakemake.params.training, snakemake.params.seeds,
    snakemake.output.models, snakemake.output.histories, snakemake.params.checkpoint, snakemake.threads,
), snakemake.log[0])
