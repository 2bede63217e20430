from cic.runner import run_rule

run_rule(snakemake, "cic.stages.perturbation:match_planted_programs", "cic.stages.perturbation:plot_component_programs")
