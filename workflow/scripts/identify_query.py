from cic.runner import run_rule

run_rule(snakemake, "cic.stages.query:identify_query")
