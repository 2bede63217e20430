from cic.runner import run_step
from cic.stages.universality import evaluate_loto, loto_model_paths, read_lines

cell_types = read_lines(snakemake.input.cell_types)
run_step(lambda: evaluate_loto(
    loto_model_paths(snakemake.input.models, cell_types), cell_types, snakemake.input.expression,
    snakemake.input.splits, snakemake.output.per_sample, snakemake.output.table, snakemake.output.reproduced,
), snakemake.log[0])
