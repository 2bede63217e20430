from cic.runner import run_rule

run_rule(snakemake, "cic.stages.reconstruction:summarize", "cic.stages.reconstruction:plot_figures")
