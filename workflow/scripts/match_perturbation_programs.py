from cic.runner import run_step
from cic.stages.perturbation import match_planted_programs

run_step(lambda: match_planted_programs(snakemake.input.gmt, snakemake.input.programs, snakemake.input.expression,
                                        snakemake.params.max_adjusted_p, snakemake.output.matches,
                                        snakemake.output.jaccard, snakemake.output.programs), snakemake.log[0])
