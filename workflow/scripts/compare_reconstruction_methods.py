from cic.runner import run_step
from cic.stages.reconstruction import compare_methods

run_step(lambda: compare_methods(
    snakemake.input.expression, snakemake.input.splits, snakemake.input.reproduced, snakemake.params.n_components,
    snakemake.params.methods, snakemake.params.options, snakemake.params.seed, snakemake.output[0],
), snakemake.log[0])
