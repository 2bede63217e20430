from cic.runner import run_step
from cic.stages.data import simulate

run_step(lambda: simulate(
    snakemake.params.synthetic, snakemake.params.samples_per_type, snakemake.params.seed,
    **dict(snakemake.output.items()),
), snakemake.log[0])
