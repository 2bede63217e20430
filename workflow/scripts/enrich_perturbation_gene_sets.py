from cic.runner import run_step
from cic.stages.perturbation import enrich_gene_sets

run_step(lambda: enrich_gene_sets(snakemake.input.gmt, snakemake.input.expression, snakemake.params.source,
                                  snakemake.output[0]), snakemake.log[0])
