from cic.runner import run_rule

run_rule(snakemake, "cic.stages.universality:summarize_universality", "cic.stages.universality:plot_fig3")
