from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

DATASET = config["dataset"]
SYNTHETIC_DIR = "results/data/synthetic"


def expression_inputs(wildcards):
    """The raw matrix (and sample sheet) that prepare_expression reads: simulated or the user's own."""
    if DATASET["source"] == "synthetic":
        return {
            "expression": f"{SYNTHETIC_DIR}/expression.parquet",
            "sample_sheet": f"{SYNTHETIC_DIR}/samples.tsv",
        }
    local = DATASET["local"]
    if not local.get("expression"):
        raise ValueError(
            "config: dataset.source is 'local' but dataset.local.expression is empty; "
            "fix: set it to your expression matrix (TSV/CSV/parquet/h5ad)"
        )
    inputs = {"expression": local["expression"]}
    if local.get("sample_sheet"):
        inputs["sample_sheet"] = local["sample_sheet"]
    return inputs


def data_outputs():
    return [
        "results/data/expression.h5ad",
        "results/data/expression_top_variance.h5ad",
        "results/data/splits.tsv",
        "results/figures/data_overview.png",
    ]


def all_outputs():
    return data_outputs()
