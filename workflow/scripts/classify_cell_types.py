from cic.runner import run_step
from cic.stages.classification import classify_cell_types

run_step(lambda: classify_cell_types(
    snakemake.input.expression, snakemake.input.splits, snakemake.input.codes, snakemake.input.classifier_codes,
    snakemake.input.classifier_model, snakemake.params.n_components, snakemake.params.settings,
    snakemake.params.seed, snakemake.output.predictions, snakemake.output.metrics, snakemake.threads,
), snakemake.log[0])
