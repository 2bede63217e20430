from pathlib import Path

from cic.runner import run_step
from cic.stages.novelty import measure_novelty
from cic.stages.universality import loto_model_paths, read_lines

cell_types = read_lines(snakemake.input.cell_types)
run_step(lambda: measure_novelty(
    loto_model_paths(snakemake.input.models, cell_types), cell_types, snakemake.input.expression,
    snakemake.input.splits, Path(snakemake.input.reference[0]).parent, snakemake.params.min_probability,
    snakemake.params.validation_fraction, snakemake.params.seed, snakemake.output.table, snakemake.output.summary,
    snakemake.output.png, snakemake.output.svg,
), snakemake.log[0])
