import sys

import yaml
from snakemake.utils import validate

from snakemake.logging import logger

from cic.config_checks import check_config
from cic.defaults import AUTO, SYNTHETIC_DIR, order_like, resolve_defaults
from cic.errors import InputError
from cic.labels import SAFE_NAME_PATTERN, comparison_name, normalize_label, safe_name

validate(config, schema="../schemas/config.schema.yaml")
with open("config/config.yaml") as defaults:  # an overlay's keys come first: back to the defaults' order
    order_like(config, yaml.safe_load(defaults))
# `auto` settings become the simulator's choices on synthetic data and the data's own elsewhere (cic.defaults);
# every rule below sees the concrete values. Steps left out are named here and "not run" in claims.tsv.
for skipped in resolve_defaults(config):
    logger.info(f"note: {skipped}")
try:  # values that are valid one by one but impossible together: one line, no traceback, before any job
    check_config(config)
except InputError as error:
    print(error, file=sys.stderr)
    sys.exit(1)

DATASET = config["dataset"]
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
    import errno
    import os

    from cic.layers import best_architecture

    if not os.path.exists(input.architecture_ranking):
        # Not written yet (the DAG is built before the sweep runs): a FileNotFoundError naming an input file makes
        # Snakemake mark the parameter <TBD> and evaluate it again once the ranking exists.
        raise FileNotFoundError(errno.ENOENT, "Fig 8 ranking not written yet", input.architecture_ranking)
    return best_architecture(input.architecture_ranking)


def selected_code_size(wildcards, input):
    """Width of the selected network's code (the CIC size). Usage: `params: n_components=selected_code_size`."""
    from cic.layers import code_size

    return code_size(selected_architecture(wildcards, input))


def figures(*names, category):
    """Output keywords of figures: <name>_png (in the report, captioned by workflow/report/<name>.rst) and <name>_svg
    under results/figures/. Usage: `output: **figures("fig8", "fig9", category="Figs 8-9: sweeps")`."""
    files = {}
    for name in names:
        files[f"{name}_png"] = report(f"results/figures/{name}.png", caption=f"../report/{name}.rst", category=category)
        files[f"{name}_svg"] = f"results/figures/{name}.svg"
    return files


# training.batched_folds: one job per experiment (or sweep run) trains all its folds stacked (cic.train.fit with k
# networks); false: one job per fold. The same rule either way; these give its files, folds and checkpoint.
BATCHED = config["training"]["batched_folds"]


wildcard_constraints:
    fold=r"\d+",


def fold_files(pattern, folds):
    """A training job's outputs of ``pattern``: every fold's (stacked) or the {fold} wildcard's, always a list."""
    return expand(pattern, fold=folds, allow_missing=True) if BATCHED else [pattern]


def fold_job(pattern):
    """The log or benchmark of a training job: ``fold{fold}`` becomes ``folds_batched`` for a stacked job."""
    return pattern.replace("fold{fold}", "folds_batched") if BATCHED else pattern


def job_folds(wildcards, folds):
    """The folds that one training job trains."""
    return list(folds) if BATCHED else [int(wildcards.fold)]


def fold_checkpoint(pattern):
    """params: a stacked job's checkpoint (``pattern`` with the job's wildcards); one fold's sits beside its model."""
    return (lambda wildcards: pattern.format(**wildcards)) if BATCHED else None


def rule_resources(kind):
    """Resources of training jobs from config["resources"][kind] (training, sweep_training): mem_mb (MB),
    runtime (minutes), gpu when > 0, and the kind's `extra` verbatim (slurm_partition, gres). The other rules
    state none and take the executor's default-resources (workflow/profiles/slurm).
    Usage: `resources: **rule_resources("training")` and `threads: rule_threads("training")`."""
    spec = config["resources"][kind]
    gpu = {"gpu": spec["gpu"]} if spec.get("gpu", 0) > 0 else {}
    return {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"], **gpu, **(spec.get("extra") or {})}


def rule_threads(kind):
    """Threads of training jobs (resources.<kind>.cpus, default 1); capped at --cores locally, Slurm --cpus-per-task."""
    return config["resources"][kind].get("cpus", 1)


def expression_inputs(wildcards):
    """The raw matrix (and sample sheet) that prepare_expression reads: simulated, downloaded (download.smk) or the
    user's own; cic.config_checks has refused an empty dataset.geo/cellnet/local setting before this runs."""
    source = DATASET["source"]
    if source != "local":
        folder = SYNTHETIC_DIR if source == "synthetic" else f"results/data/{source}"
        return {"expression": f"{folder}/expression.parquet", "sample_sheet": f"{folder}/samples.tsv"}
    local = DATASET["local"]
    inputs = {"expression": local["expression"]}
    if local.get("sample_sheet"):
        inputs["sample_sheet"] = local["sample_sheet"]
    if (local.get("annotation") or {}).get("file"):  # probe sets -> gene symbols (cic.identifiers)
        inputs["annotation"] = local["annotation"]["file"]
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


def sweep_model(path):
    """A sweep run's model file: kept with sweeps.keep_models, else temporary (the histories are what count;
    at paper scale the 100+ models of a sweep would fill tens of GB)."""
    return path if config["sweeps"]["keep_models"] else temp(path)


def sweep_run_files(sweep, run, folds):
    """Outputs of a sweep run's training job (run: its folder, with wildcards): one fold's files, or every fold's
    when they are stacked (training.batched_folds)."""
    folder = f"{SWEEP_RUNS}/{sweep}/{run}/fold{{fold}}"
    return {
        "model_paths": [sweep_model(path) for path in fold_files(f"{folder}/model.pt", folds)],
        "history_paths": fold_files(f"{folder}/history.tsv", folds),
    }


def sweep_run_params(sweep, run, folds):
    """params of a sweep run's training job: its holdouts (CV folds), seeds and checkpoint."""
    return {
        "holdouts": lambda wildcards: [("cv_fold", fold) for fold in job_folds(wildcards, folds)],
        "seeds": lambda wildcards: [
            sweep_plan.sweep_seed(config["seed"], sweep, fold) for fold in job_folds(wildcards, folds)
        ],
        "checkpoint_path": fold_checkpoint(f"{SWEEP_RUNS}/{sweep}/{run}/folds_batched.checkpoint.pt"),
    }


def sweep_code_size_architecture(code_size, wildcards, input):
    """The Fig 9 network with a code of code_size units (sweeps.code_sizes.architecture: selected or a spec)."""
    from cic.sweep_plan import SELECTED, code_size_architecture

    family = config["sweeps"]["code_sizes"]["architecture"]
    selected = selected_architecture(wildcards, input) if family == SELECTED else None
    return code_size_architecture(family, selected, int(code_size))


def sweep_variant_architecture(name, wildcards, input):
    """The network of the regularisation variant called name, derived from the selected network."""
    from cic.sweep_plan import regularisation_variants, variant_architecture

    variants = regularisation_variants(config["sweeps"]["regularisation"]["variants"])
    return variant_architecture(selected_architecture(wildcards, input), variants[name])


def universality_pairs():
    """Fig 3 limma comparisons {"<case>_vs_<control>": {case, control}} (universality.de_pairs; the first is the
    paper's B-cell REPs vs T-cell GEPs). Keys are file names (cic.labels.comparison_name: b_cell_vs_t_cell); the
    values keep the labels as the data spell them."""
    pairs = {}
    for pair in config["universality"]["de_pairs"]:
        case, control = normalize_label(pair["case"]), normalize_label(pair["control"])
        pairs[comparison_name(case, control)] = {"case": case, "control": control}
    return pairs


# The enrichment sources {name: entry} (enrichment.sources) that Fig 3's genes and Figs 5-7's gene sets are tested in.
SOURCES = {source["name"]: source for source in config["enrichment"]["sources"]}


def universality_pathway_source():
    """The source whose top term is the summary's "top pathway" (universality.pathway_source, checked by
    cic.config_checks; default: the first; None without sources)."""
    return config["universality"]["pathway_source"] or next(iter(SOURCES), None)


def universality_truth_sources():
    """Sources that are the simulator's planted programs (synthetic data only): their programs' ranks are reported."""
    if DATASET["source"] != "synthetic":
        return []
    truth = f"{SYNTHETIC_DIR}/programs.gmt"
    return [name for name, entry in SOURCES.items() if entry.get("gmt") == truth]


def gene_set_files():
    """The local GMT files of enrichment.sources, {source name: path} (Enrichr libraries are online)."""
    return {name: entry["gmt"] for name, entry in SOURCES.items() if "gmt" in entry}


def example_cell_types():
    """The Fig 2d example types as the data spell them, or `auto` (chosen from the test samples at run time:
    cic.defaults.example_cell_types)."""
    requested = config["reconstruction"]["example_cell_types"]
    return AUTO if requested == AUTO else [normalize_label(cell_type) for cell_type in requested]


def one_of(names):
    """Regex matching exactly one of ``names`` (a wildcard constraint: pair and source names contain underscores)."""
    import re

    return "|".join(re.escape(name) for name in names)


def source_gmt_input(wildcards):
    """The GMT file of enrichment source wildcards.source (none for an Enrichr library, which is online)."""
    entry = SOURCES[wildcards.source]
    return {"source_gmt": entry["gmt"]} if "gmt" in entry else {}


def universality_held_out_types():
    """The held-out cell types, as listed by the checkpoint of workflow/rules/universality.smk (from splits.tsv)."""
    with open(checkpoints.list_held_out_cell_types.get().output[0]) as handle:
        return [line.strip() for line in handle if line.strip()]


def universality_model_inputs(wildcards):
    """The model of every held-out type (one training job each, the wildcard is the type's file name,
    cic.labels.safe_name), for the evaluation of Fig 3; with training.batched_folds the one directory that the
    stacked job writes them to."""
    if BATCHED:
        return ["results/models/loto"]
    return expand(
        "results/models/loto/{cell_type}/model.pt",
        cell_type=[safe_name(cell_type) for cell_type in universality_held_out_types()],
    )


def stage_outputs():
    """Every target of the data and experiment stages (what the report, the claims and `figures` come from): the
    outputs of each stage's last rules, per comparison, enrichment source and query where a rule has wildcards."""
    final = [rules.prepare_expression, rules.select_top_variance_genes, rules.assign_splits, rules.plot_data_overview]
    final += [rules.summarize_cv, rules.encode_profiles, rules.plot_fig2, rules.summarize_fig2]
    final += [rules.rank_architectures, rules.rank_code_sizes, rules.compare_regularisation, rules.plot_sweeps]
    final += [rules.summarize_sweeps, rules.evaluate_universality, rules.plot_fig3, rules.summarize_universality]
    final += [rules.train_classifier_autoencoder, rules.plot_classification, rules.summarize_classification]
    final += [rules.perturbation_gene_sets, rules.summarize_perturbation, rules.reference_bundle, rules.novelty]
    if config["perturbation"]["figures"]:  # none without an enrichment source (cic.defaults)
        final.append(rules.plot_perturbation_networks)
    if DATASET["source"] == "synthetic":  # the planted programs are known
        final += [rules.match_perturbation_programs, rules.plot_component_programs]
    targets = [str(path) for step in final for path in step.output]
    pairs, sources = list(universality_pairs()), list(SOURCES)
    targets += expand(rules.differential_expression_universality.output, pair=pairs)
    for step in (rules.enrich_universality_genes, rules.plot_universality_enrichment):
        targets += expand(step.output, pair=pairs, source=sources)
    targets += expand(rules.enrich_perturbation_gene_sets.output, source=sources)
    return targets + expand(rules.query_samples.output, query=list(config["query"]["samples"]))


def claims_inputs():
    """The stage summary tables that claims.tsv reads (cic.paper.SUMMARY_TABLES), as {stage: path}: those of the
    stages this run produces; claims of a stage outside the run say "not run"."""
    from cic.paper import SUMMARY_TABLES

    produced = set(stage_outputs())
    return {stage: path for stage, path in SUMMARY_TABLES.items() if path in produced}


def figure_outputs():
    """Every figure file (PNG and SVG under results/figures/) of the run: the input of the `figures` target."""
    return [path for path in stage_outputs() if path.startswith("results/figures/")]


def dataset_label():
    """The dataset in words (synthetic/local/geo/cellnet and its details), for claims.tsv and the report."""
    from cic.stages.report import dataset_label as label

    return label(config)


def all_outputs():
    """Every target of the default target: the stages' and the report's."""
    return stage_outputs() + [*rules.claims.output, *rules.run_config.output]


# Identify new samples (workflow/rules/query.smk, issue 18).
REFERENCE = expand("results/reference/{name}", name=["weights.pt", "reference.json", "reference_codes.tsv"])


def query_inputs(wildcards):
    """The query's files (the sample sheet only when it has one) and the bundle."""
    entry = config["query"]["samples"][wildcards.query]
    files = {"expression": entry["expression"], "reference": REFERENCE}
    if entry.get("sample_sheet"):
        files["sample_sheet"] = entry["sample_sheet"]
    return files
