from cic.runner import run_step
from cic.stages.report import write_claims

run_step(lambda: write_claims(dict(snakemake.input.items()), snakemake.params.dataset, snakemake.output[0]),
         snakemake.log[0])
