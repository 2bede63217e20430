from cic.identifiers import write_overlap_table
from cic.runner import run_step

run_step(lambda: write_overlap_table(snakemake.input.expression, snakemake.params.sources,
                                     snakemake.params.min_gene_overlap, snakemake.output[0]), snakemake.log[0])
