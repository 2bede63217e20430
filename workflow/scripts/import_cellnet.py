from cic.runner import run_step
from cic.stages.download import import_cellnet

run_step(lambda: import_cellnet(
    snakemake.params.cellnet, snakemake.params.download, snakemake.params.dataset, snakemake.params.seed,
    snakemake.output.expression, snakemake.output.sample_sheet,
), snakemake.log[0])
