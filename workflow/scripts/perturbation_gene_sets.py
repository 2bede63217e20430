from cic.runner import run_step
from cic.stages.perturbation import gene_sets

run_step(lambda: gene_sets(snakemake.input.model, snakemake.input.expression, snakemake.params.n_sigma,
                           snakemake.params.top_genes, snakemake.output.gmt, snakemake.output.changes,
                           snakemake.output.components, snakemake.threads), snakemake.log[0])
