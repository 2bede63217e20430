from cic.runner import run_step
from cic.stages.sweeps import rank_architectures

run_step(lambda: rank_architectures(snakemake.input.histories, snakemake.params.architectures, snakemake.params.folds,
                                    snakemake.output.curves, snakemake.output.ranking), snakemake.log[0])
