from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

DATASET = config["dataset"]
SYNTHETIC_DIR = "results/data/synthetic"
CV_FOLDS = list(range(config["splits"]["cv_folds"]))
# Ranking of the Fig 8 sweep (columns rank, architecture, ...; best first): model.architecture "auto" trains its winner.
ARCHITECTURE_RANKING = "results/tables/fig8_architecture_ranking.tsv"


def architecture_input():
    """Extra input of the rules that train or size the selected network, the sweep ranking when the
    architecture is `auto`. Usage: `input: expression=..., **architecture_input()`."""
    if config["model"]["architecture"] == "auto":
        return {"architecture_ranking": ARCHITECTURE_RANKING}
    return {}


def selected_architecture(wildcards, input):
    """The selected network's layer spec: model.architecture, or the sweep's winner when it is `auto`.

    Usage: `params: architecture=selected_architecture` (Snakemake passes the rule's input)."""
    if config["model"]["architecture"] != "auto":
        return config["model"]["architecture"]
    from cic.model import best_architecture

    return best_architecture(input.architecture_ranking)


def selected_code_size(wildcards, input):
    """Width of the selected network's code (the CIC size). Usage: `params: n_components=selected_code_size`."""
    from cic.model import code_size

    return code_size(selected_architecture(wildcards, input))


def rule_resources(kind="default", **overrides):
    """Resources for jobs of this kind, from config["resources"][kind].

    Usage (in the rules): `resources: **rule_resources("training")` (or "default").

    Gives mem_mb (MB) and runtime (minutes), gpu when the kind asks for GPUs (> 0), and the kind's `extra` entries
    verbatim (e.g. slurm_partition, gres); keyword overrides win. The executor maps them: Slurm gets --mem, --time,
    --gpus, --gres, --partition; a local run only uses them to schedule against --resources. Threads come from
    rule_threads(kind).
    """
    spec = _resource_kind(kind)
    resources = {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"]}
    if spec.get("gpu", 0) > 0:
        resources["gpu"] = spec["gpu"]
    resources.update(spec.get("extra") or {})
    resources.update(overrides)
    return resources


def rule_threads(kind="default"):
    """Threads for jobs of this kind (config resources.<kind>.cpus, default 1).

    Usage (in the rules): `threads: rule_threads("training")`.

    Snakemake caps them at --cores locally; on Slurm they become --cpus-per-task.
    """
    return _resource_kind(kind).get("cpus", 1)


def _resource_kind(kind):
    kinds = config["resources"]
    if kind not in kinds:
        raise ValueError(
            f"config: resources has no entry {kind!r} (has: {', '.join(sorted(kinds))}); "
            f"fix: add resources.{kind} with mem_mb and runtime to the config"
        )
    return kinds[kind]


def expression_inputs(wildcards):
    """The raw matrix (and sample sheet) that prepare_expression reads: simulated or the user's own."""
    if DATASET["source"] == "synthetic":
        return {
            "expression": f"{SYNTHETIC_DIR}/expression.parquet",
            "sample_sheet": f"{SYNTHETIC_DIR}/samples.tsv",
        }
    if DATASET["source"] in ("geo", "cellnet"):  # downloaded and imported by workflow/rules/download.smk
        if DATASET["source"] == "geo":
            geo_sample_sheet()
        elif not DATASET["cellnet"]["url"]:
            raise ValueError(
                "config: dataset.source is 'cellnet' but dataset.cellnet.url is empty; "
                "fix: set it to CellNet's training object (.rda/.rds) or a TSV export"
            )
        folder = f"results/data/{DATASET['source']}"
        return {"expression": f"{folder}/expression.parquet", "sample_sheet": f"{folder}/samples.tsv"}
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


def expression_reader():
    """How prepare_expression reads its input: the user's declared layout for local files, the layout the
    workflow itself writes (genes x samples; sample, cell_type, study columns) for every other source."""
    if DATASET["source"] == "local":
        return DATASET["local"]
    return {
        "orientation": "genes_x_samples",
        "sample_column": "sample",
        "cell_type_column": "cell_type",
        "study_column": "study",
    }


def geo_sample_sheet(wildcards=None):
    """The GEO sample sheet that rule import_geo reads (dataset.geo.sample_sheet)."""
    if not DATASET["geo"]["sample_sheet"]:
        raise ValueError(
            "config: dataset.source is 'geo' but dataset.geo.sample_sheet is empty; "
            "fix: set it to a TSV of GSM accessions and cell types (see config/geo_samples.example.tsv)"
        )
    return DATASET["geo"]["sample_sheet"]


def data_outputs():
    return [
        "results/data/expression.h5ad",
        "results/data/expression_top_variance.h5ad",
        "results/data/splits.tsv",
        "results/figures/data_overview.png",
    ]


def fig2_outputs():
    figures = [f"results/figures/fig2{panel}.{ext}" for panel in "abcdefg" for ext in ("png", "svg")]
    return figures + ["results/tables/fig2_summary.tsv", "results/tables/cic_codes.tsv"]


def sweep_outputs():
    """Targets of workflow/rules/sweeps.smk (Figs 8, 9, regularisation)."""
    return []


def universality_outputs():
    """Targets of workflow/rules/universality.smk (Fig 3, limma, enrichment)."""
    return []


def classification_outputs():
    """Targets of workflow/rules/classification.smk (Supp Fig S7, Fig 4, noise robustness)."""
    return []


def perturbation_outputs():
    """Targets of workflow/rules/perturbation.smk (Figs 5-7)."""
    return []


def all_outputs():
    """Every target of rule all; each stage's *_outputs() lives in its own workflow/rules/<stage>.smk."""
    return (
        data_outputs()
        + fig2_outputs()
        + sweep_outputs()
        + universality_outputs()
        + classification_outputs()
        + perturbation_outputs()
    )
