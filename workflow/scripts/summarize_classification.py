from cic.runner import run_step
from cic.stages.classification import summarize

run_step(lambda: summarize(
    snakemake.input.metrics, snakemake.input.classifier_history, snakemake.input.noise_accuracies,
    snakemake.input.splits, snakemake.output.noise_folds, snakemake.output.noise_by_sigma, snakemake.output.summary,
), snakemake.log[0])
