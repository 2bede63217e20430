from cic.runner import run_step
from cic.stages.reconstruction import evaluate_reconstruction

run_step(lambda: evaluate_reconstruction(
    snakemake.input.expression, snakemake.input.splits, snakemake.input.reproduced, snakemake.params.max_rank,
    snakemake.params.example_cell_types, snakemake.output.per_sample, snakemake.output.rank_counts,
    snakemake.output.examples, snakemake.output.wilcoxon,
), snakemake.log[0])
