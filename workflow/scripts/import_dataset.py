from cic.runner import run_rule

run_rule(snakemake, "cic.stages.download:import_dataset")
