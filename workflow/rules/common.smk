import sys
from functools import partial
from pathlib import Path

import yaml
from snakemake.utils import validate

from snakemake.logging import logger

from cic import run_plan, sweep_plan
from cic.defaults import SYNTHETIC_DIR
from cic.errors import InputError
from cic.labels import SAFE_NAME_PATTERN, safe_name
from cic.layers import code_size
from cic.paper import SUMMARY_TABLES
from cic.stages.report import dataset_label

validate(config, schema="../schemas/config.schema.yaml")
# `auto` settings become the simulator's choices on synthetic data and the data's own elsewhere; every rule sees the
# concrete values. Steps left out are noted here and "not run" in claims.tsv; an impossible config is one line.
try:
    with open("config/config.yaml") as defaults:
        for note in run_plan.resolve_config(config, yaml.safe_load(defaults)):
            logger.info(f"note: {note}")
except InputError as error:
    print(error, file=sys.stderr)
    sys.exit(1)

DATASET = config["dataset"]
CV_FOLDS = list(range(config["splits"]["cv_folds"]))
# Derived once from the config (cic.run_plan): the enrichment sources by name (Fig 3's genes and Figs 5-7's gene sets
# are tested in each), Fig 3's limma comparisons by file name (b_cell_vs_t_cell), the sources that are planted programs.
SOURCES = run_plan.enrichment_sources(config)
PAIRS = run_plan.comparison_pairs(config)
TRUTH_SOURCES = run_plan.truth_sources(config)


def architecture_input():
    """`input: **architecture_input()` of the rules that train or size the selected network: the Fig 8 ranking
    (best first) when model.architecture is `auto`, which trains its winner."""
    auto = config["model"]["architecture"] == "auto"
    return {"architecture_ranking": "results/tables/fig8_architecture_ranking.tsv"} if auto else {}


def training_input(expression="results/data/expression.h5ad"):
    """`input: **training_input()`: the prepared GEPs (samples x genes, log2), the splits, and architecture_input."""
    return {"expression": expression, "splits_path": "results/data/splits.tsv", **architecture_input()}


def selected_architecture(wildcards, input):
    """`params: architecture=selected_architecture`: the selected layer spec (cic.run_plan.selected_architecture)."""
    return run_plan.selected_architecture(config, input.get("architecture_ranking"))


def selected_code_size(wildcards, input):
    """`params: n_components=selected_code_size`: the selected network's code width (the CIC size)."""
    return code_size(selected_architecture(wildcards, input))


def in_report(path, category, caption=None, **labels):
    """``path`` in the report (snakemake --report), captioned by workflow/report/<caption or its file stem>.rst."""
    return report(path, caption=f"../report/{caption or Path(path).stem}.rst", category=category, **labels)


def figures(*names, category, networks=False):
    """`output: **figures("fig8", "fig9", category=...)`: <name>_png (in the report) and <name>_svg, results/figures/;
    with networks, also <name>_gexf and <name>_graphml under results/networks/ (Figs 5-7)."""
    files = {f"{name}_png": in_report(f"results/figures/{name}.png", category) for name in names}
    files |= {f"{name}_svg": f"results/figures/{name}.svg" for name in names}
    kinds = ("gexf", "graphml") if networks else ()
    return files | {f"{name}_{kind}": f"results/networks/{name}.{kind}" for name in names for kind in kinds}


# training.batched_folds: one job per experiment (or sweep run) trains all its folds stacked (cic.train.fit with k
# networks); false: one job per fold. The same rule either way; these give its files, folds and checkpoint.
BATCHED = config["training"]["batched_folds"]


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


rule_resources = partial(run_plan.training_resources, config)  # resources: **rule_resources("training")
rule_threads = partial(run_plan.training_threads, config)  # threads: rule_threads("training")


# Figs 8-9 and the regularisation check (workflow/rules/sweeps.smk).
SWEEPS = config["sweeps"]
SWEEP = sweep_plan.plan_sweeps(config)  # {"architectures" | "code_sizes" | "regularisation": its runs, folds, genes}
SWEEP_TRAINING = sweep_plan.sweep_training(config["training"], SWEEPS["training"])
# The Fig 9 family and the regularisation variants derive from the selected network (model.architecture, or the
# Fig 8 winner when it is auto); a fixed Fig 9 family ({code_size} in a spec) does not wait for Fig 8.
SWEEP_CODE_SIZE_INPUT = architecture_input() if SWEEPS["code_sizes"]["architecture"] == sweep_plan.SELECTED else {}


wildcard_constraints:  # pair and source names contain underscores: {pair}_{source} needs their exact names
    fold=r"\d+",
    cell_type=SAFE_NAME_PATTERN,
    pair=run_plan.one_of(PAIRS),
    source=run_plan.one_of(SOURCES),
    query=run_plan.one_of(config["query"]["samples"]),
    architecture=run_plan.one_of(SWEEP["architectures"].runs),
    code_size=r"\d+",
    variant=run_plan.one_of(SWEEP["regularisation"].runs),


def sweep_run_files(sweep, run):
    """Outputs of a sweep run's training job (run: its folder, with wildcards): one fold's files, or every fold's
    when stacked; models are temporary unless sweeps.keep_models (at paper scale they would fill tens of GB)."""
    folder = f"{sweep_plan.RUNS_DIR}/{sweep}/{run}/fold{{fold}}"
    models = fold_files(f"{folder}/model.pt", SWEEP[sweep].folds)
    return {
        "model_paths": models if SWEEPS["keep_models"] else [temp(path) for path in models],
        "history_paths": fold_files(f"{folder}/history.tsv", SWEEP[sweep].folds),
    }


def sweep_run_params(sweep, run):
    """params of a sweep run's training job: its holdouts (CV folds), seeds and checkpoint."""
    folds = lambda wildcards: job_folds(wildcards, SWEEP[sweep].folds)
    return {
        "holdouts": lambda wildcards: [("cv_fold", fold) for fold in folds(wildcards)],
        "seeds": lambda wildcards: [sweep_plan.sweep_seed(config["seed"], sweep, fold) for fold in folds(wildcards)],
        "checkpoint_path": fold_checkpoint(f"{sweep_plan.RUNS_DIR}/{sweep}/{run}/folds_batched.checkpoint.pt"),
    }


def code_size_network(code_size, wildcards, input):
    """The Fig 9 network with a code of code_size units (sweeps.code_sizes.architecture: selected or a spec)."""
    family = SWEEPS["code_sizes"]["architecture"]
    selected = selected_architecture(wildcards, input) if family == sweep_plan.SELECTED else None
    return sweep_plan.code_size_architecture(family, selected, int(code_size))


def variant_network(name, wildcards, input):
    """The network of the regularisation variant called name, derived from the selected network."""
    return sweep_plan.variant_architecture(selected_architecture(wildcards, input), SWEEP["regularisation"].runs[name])


def source_gmt_input(wildcards):
    """`input: unpack(source_gmt_input)`: the GMT file of source {source} (none for an online Enrichr library)."""
    return {"source_gmt": SOURCES[wildcards.source]["gmt"]} if "gmt" in SOURCES[wildcards.source] else {}


def universality_model_inputs(wildcards):
    """Fig 3's model of every held-out type (by its file name, cic.labels.safe_name; the types are listed by the
    checkpoint list_held_out_cell_types), or the stacked job's folder."""
    if BATCHED:
        return ["results/models/loto"]
    with open(checkpoints.list_held_out_cell_types.get().output[0]) as handle:
        return [f"results/models/loto/{safe_name(line.strip())}/model.pt" for line in handle if line.strip()]


def stage_outputs():
    """Every target of the data and experiment stages (what the report, the claims and `figures` come from): the
    outputs of each stage's last rules, per comparison, enrichment source and query where a rule has wildcards."""
    final = [rules.prepare_expression, rules.select_top_variance_genes, rules.assign_splits, rules.plot_data_overview]
    final += [rules.summarize_cv, rules.encode_profiles, rules.summarize_fig2]
    final += [rules.rank_architectures, rules.rank_code_sizes, rules.compare_regularisation, rules.summarize_sweeps]
    final += [rules.evaluate_universality, rules.summarize_universality]
    final += [rules.train_classifier_autoencoder, rules.summarize_classification]
    final += [rules.perturbation_gene_sets, rules.summarize_perturbation, rules.reference_bundle, rules.novelty]
    if DATASET["source"] == "synthetic":  # the planted programs are known
        final.append(rules.match_perturbation_programs)
    targets = [str(path) for step in final for path in step.output]
    targets += expand(rules.differential_expression_universality.output, pair=PAIRS)
    targets += expand(rules.enrich_universality_genes.output, pair=PAIRS, source=SOURCES)
    targets += expand(rules.enrich_perturbation_gene_sets.output, source=SOURCES)
    return targets + expand(rules.query_samples.output, query=list(config["query"]["samples"]))


def claims_inputs():
    """The stage summary tables that claims.tsv reads (cic.paper.SUMMARY_TABLES), as {stage: path}: those of the
    stages this run produces; claims of a stage outside the run say "not run"."""
    produced = set(stage_outputs())
    return {stage: path for stage, path in SUMMARY_TABLES.items() if path in produced}


def figure_outputs():
    """Every figure file (PNG and SVG under results/figures/) of the run: the input of the `figures` target."""
    return [path for path in stage_outputs() if path.startswith("results/figures/")]


# Identify new samples (workflow/rules/query.smk, issue 18).
REFERENCE = expand("results/reference/{name}", name=["weights.pt", "reference.json", "reference_codes.tsv"])
