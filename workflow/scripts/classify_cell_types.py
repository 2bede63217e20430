from cic.runner import run_rule

run_rule(snakemake, "cic.stages.classification:classify_cell_types")
