from cic.runner import run_step
from cic.stages.universality import list_held_out_cell_types

run_step(lambda: list_held_out_cell_types(
    snakemake.input.splits, snakemake.params.cell_types, snakemake.params.de_pairs, snakemake.output[0],
), snakemake.log[0])
