from cic.reference import write_reference
from cic.runner import run_step

run_step(lambda: write_reference(
    snakemake.input.model, snakemake.input.expression, snakemake.input.splits, snakemake.params.preprocess,
    snakemake.params.training, snakemake.output.meta.rsplit("/", 1)[0],
), snakemake.log[0])
