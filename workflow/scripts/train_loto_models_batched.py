from cic.runner import run_step
from cic.stages.universality import train_loto_models

run_step(lambda: train_loto_models(
    snakemake.input.expression, snakemake.input.splits, snakemake.input.cell_types, snakemake.params.architecture,
    snakemake.params.training, snakemake.params.seed, snakemake.output[0], snakemake.params.checkpoint,
    snakemake.threads,
), snakemake.log[0])
