from cic.runner import run_step
from cic.stages.universality import evaluate_loto, read_lines

run_step(lambda: evaluate_loto(
    list(snakemake.input.models), read_lines(snakemake.input.cell_types), snakemake.input.expression,
    snakemake.input.splits, snakemake.output.per_sample, snakemake.output.table, snakemake.output.reproduced,
), snakemake.log[0])
