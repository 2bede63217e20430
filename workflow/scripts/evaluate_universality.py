from cic.runner import run_rule

run_rule(snakemake, "cic.stages.universality:evaluate_universality")
