from cic.runner import run_step
from cic.stages.download import import_geo

run_step(lambda: import_geo(
    snakemake.input.sample_sheet, snakemake.params.geo, snakemake.params.download, snakemake.params.dataset,
    snakemake.params.seed, snakemake.output.expression, snakemake.output.sample_sheet,
), snakemake.log[0])
