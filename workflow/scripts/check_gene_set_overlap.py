from cic.runner import run_rule

run_rule(snakemake, "cic.identifiers:write_overlap_table")
