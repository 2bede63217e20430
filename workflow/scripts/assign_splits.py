from cic.runner import run_step
from cic.stages.data import make_splits

splits = snakemake.params.splits
run_step(lambda: make_splits(snakemake.input[0], splits["test_fraction"], splits["cv_folds"],
                             splits["noise_cv_folds"], snakemake.params.seed, snakemake.output[0]),
         snakemake.log[0])
