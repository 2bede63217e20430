from cic.runner import run_step
from cic.stages.sweeps import compare_regularisation

run_step(lambda: compare_regularisation(
    snakemake.input.histories, snakemake.params.variants, snakemake.params.folds, snakemake.params.architectures,
    snakemake.params.training_overrides, snakemake.params.reference, snakemake.output.curves, snakemake.output.table,
), snakemake.log[0])
