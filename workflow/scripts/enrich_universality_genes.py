from cic.runner import run_rule

run_rule(snakemake, "cic.stages.universality:enrich_up_genes", "cic.stages.universality:plot_enrichment")
