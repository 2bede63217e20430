from cic.runner import run_step
from cic.stages.sweeps import rank_code_sizes

run_step(lambda: rank_code_sizes(snakemake.input.histories, snakemake.params.code_sizes,
                                 snakemake.params.architectures, snakemake.params.folds,
                                 snakemake.output.curves, snakemake.output.ranking), snakemake.log[0])
