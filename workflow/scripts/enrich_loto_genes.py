from cic.runner import run_step
from cic.stages.universality import enrich_up_genes

run_step(lambda: enrich_up_genes(
    snakemake.input.genes, snakemake.input.de_table, snakemake.params.source, snakemake.output[0],
), snakemake.log[0])
