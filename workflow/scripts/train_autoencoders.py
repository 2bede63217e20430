from cic.runner import run_rule

run_rule(snakemake, "cic.stages.autoencoder:train_autoencoders")
