from cic.labels import label_of
from cic.runner import run_step
from cic.stages.universality import loto_seed, read_lines, train_loto_model


def train():
    # The wildcard is the type's file name (cic.labels.safe_name); the label as the data spell it is in the list.
    cell_type = label_of(snakemake.wildcards.cell_type, read_lines(snakemake.input.cell_types),
                         snakemake.input.cell_types)
    train_loto_model(
        snakemake.input.expression, snakemake.input.splits, cell_type, snakemake.params.architecture,
        snakemake.params.training, loto_seed(snakemake.params.seed, cell_type), snakemake.output.model,
        snakemake.output.history, snakemake.threads,
    )


run_step(train, snakemake.log[0])
