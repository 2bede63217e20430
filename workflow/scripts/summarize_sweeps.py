from cic.runner import run_rule

run_rule(snakemake, "cic.stages.sweeps:summarize_sweeps", "cic.stages.sweeps:plot_sweeps")
