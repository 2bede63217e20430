from cic.runner import run_step
from cic.stages.autoencoder import cv_holdout, train_autoencoders

run_step(lambda: train_autoencoders(
    snakemake.input.expression, snakemake.input.splits, [cv_holdout(snakemake.wildcards.fold)],
    snakemake.params.architecture, snakemake.params.training, [snakemake.params.seed],
    [snakemake.output.model], [snakemake.output.history], threads=snakemake.threads,
), snakemake.log[0])
