from cic.runner import run_rule

run_rule(snakemake, "cic.stages.classification:summarize", "cic.stages.classification:plot_figures")
