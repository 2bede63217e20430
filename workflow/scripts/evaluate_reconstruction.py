from cic.runner import run_rule

run_rule(snakemake, "cic.stages.reconstruction:evaluate_reconstruction")
