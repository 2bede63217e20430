from cic.runner import run_step
from cic.stages.universality import train_loto_model

run_step(lambda: train_loto_model(
    snakemake.input.expression, snakemake.input.splits, snakemake.wildcards.cell_type,
    snakemake.params.architecture, snakemake.params.training, snakemake.params.seed,
    snakemake.output.model, snakemake.output.history, snakemake.threads,
), snakemake.log[0])
