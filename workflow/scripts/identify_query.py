from pathlib import Path

from cic.query import run_query
from cic.runner import run_step

entry, settings = snakemake.params.entry, snakemake.params.settings
run_step(lambda: run_query(
    Path(snakemake.input.reference[0]).parent, snakemake.input.expression, Path(snakemake.output.predictions).parent,
    entry.get("sample_sheet"), entry.get("orientation", "genes_x_samples"), entry.get("sample_column", "sample"),
    entry.get("cell_type_column", "cell_type"), entry.get("layer"), settings["min_probability"],
    settings["max_missing_gene_fraction"],
), snakemake.log[0])
