from cic.runner import run_step
from cic.stages.sweeps import summarize_sweeps

run_step(lambda: summarize_sweeps(snakemake.input.architecture_ranking, snakemake.input.code_size_ranking,
                                  snakemake.input.regularisation, snakemake.params.reference, snakemake.output[0]),
         snakemake.log[0])
