from cic.runner import run_rule

run_rule(snakemake, "cic.stages.perturbation:enrich_gene_sets")
