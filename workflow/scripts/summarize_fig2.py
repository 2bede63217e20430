from cic.runner import run_step
from cic.stages.reconstruction import summarize

run_step(lambda: summarize(snakemake.input.cv, snakemake.input.per_sample, snakemake.input.wilcoxon,
                           snakemake.input.method_mse, snakemake.output[0]), snakemake.log[0])
