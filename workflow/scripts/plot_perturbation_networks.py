from cic.runner import run_rule

run_rule(snakemake, "cic.stages.perturbation:plot_perturbation_networks")
