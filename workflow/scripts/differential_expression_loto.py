from cic.runner import run_step
from cic.stages.universality import differential_expression

run_step(lambda: differential_expression(
    snakemake.input.expression, snakemake.input.reproduced, snakemake.params.case, snakemake.params.control,
    snakemake.params.min_log2_fold_change, snakemake.params.max_adjusted_p, snakemake.output.table,
    snakemake.output.genes,
), snakemake.log[0])
