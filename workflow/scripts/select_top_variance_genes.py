from cic.runner import run_step
from cic.stages.data import select_top_variance

run_step(lambda: select_top_variance(snakemake.input[0], snakemake.params.n_genes, snakemake.output[0]),
         snakemake.log[0])
