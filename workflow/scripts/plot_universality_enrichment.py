from cic.runner import run_rule

run_rule(snakemake, "cic.stages.universality:plot_enrichment")
