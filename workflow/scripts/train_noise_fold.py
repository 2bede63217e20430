from cic.runner import run_rule

run_rule(snakemake, "cic.stages.classification:train_noise_fold")
