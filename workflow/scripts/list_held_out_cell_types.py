from cic.runner import run_rule

run_rule(snakemake, "cic.stages.universality:list_held_out_cell_types")
