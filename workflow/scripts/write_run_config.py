from cic.runner import run_step
from cic.stages.report import write_run_config

run_step(lambda: write_run_config(snakemake.params.config, snakemake.params.dataset, snakemake.output[0]),
         snakemake.log[0])
