from cic.runner import run_step
from cic.stages.perturbation import plot_component_programs

run_step(lambda: plot_component_programs(snakemake.input.jaccard, snakemake.input.matches, snakemake.input.programs,
                                         snakemake.output.png, snakemake.output.svg), snakemake.log[0])
