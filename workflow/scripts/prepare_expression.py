from cic.runner import run_step
from cic.stages.data import prepare_expression

run_step(lambda: prepare_expression(
    snakemake.input.expression, snakemake.input.get("sample_sheet"), snakemake.params.reader,
    snakemake.params.dataset, snakemake.params.preprocess, snakemake.params.seed,
    snakemake.output.expression, snakemake.output.sample_quality, snakemake.input.get("annotation"),
), snakemake.log[0])
