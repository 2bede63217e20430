from cic.runner import run_step
from cic.stages.reconstruction import summarize_cv

run_step(lambda: summarize_cv(snakemake.input.histories, snakemake.params.folds, snakemake.output.table,
                              snakemake.output.png, snakemake.output.svg), snakemake.log[0])
