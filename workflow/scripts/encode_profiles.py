from cic.runner import run_step
from cic.stages.autoencoder import encode_profiles

run_step(lambda: encode_profiles(snakemake.input.model, snakemake.input.expression, snakemake.input.splits,
                                 snakemake.output.codes, snakemake.output.reproduced), snakemake.log[0])
