"""What one run's rules read and pass, derived from its config: the raw input files and their layout, the enrichment
sources, the Fig 3 comparisons, the Fig 2d examples and the training jobs' resources.

Imported by ``workflow/rules/common.smk`` while Snakemake builds the job graph, so it stays light like
:mod:`cic.sweep_plan`: plain Python on the config, no pandas, anndata or torch. Every function takes the config
after :func:`cic.defaults.resolve_defaults` and :func:`cic.config_checks.check_config` (``auto`` settings resolved,
impossible combinations refused), so none of them raises on a config that reached the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping

from cic.config_checks import check_config
from cic.defaults import AUTO, SYNTHETIC_DIR, order_like, resolve_defaults
from cic.labels import comparison_name, normalize_label

# How prepare_expression reads the raw files the workflow writes itself (simulated, GEO, CellNet): genes x samples,
# and the sample sheet's columns. A local dataset declares its own (dataset.local, config/README.md).
WORKFLOW_LAYOUT = {
    "orientation": "genes_x_samples",
    "sample_column": "sample",
    "cell_type_column": "cell_type",
    "study_column": "study",
}


def resolve_config(config: MutableMapping, defaults: Mapping) -> list[str]:
    """Make the config (after Snakemake's schema validation) the one every rule sees, in place: keys in the
    defaults' order (:func:`cic.defaults.order_like`; Snakemake puts an overlay's keys first), ``auto`` settings
    resolved (:func:`cic.defaults.resolve_defaults`), then values valid one by one but impossible together refused
    (:func:`cic.config_checks.check_config`). Returns one note per step the run leaves out, naming its key.

    Raises InputError ("config: <problem>; fix: <fix>") for the first impossible combination."""
    order_like(config, defaults)
    notes = resolve_defaults(config)
    check_config(config)
    return notes


def raw_expression_files(config: Mapping) -> dict[str, str]:
    """The files prepare_expression reads, ``{"expression": path, "sample_sheet": path, "annotation": path}``:
    the simulated or downloaded matrix under results/data/ (genes x samples, raw scale) with its sample sheet, or
    the user's own dataset.local files; a local sample sheet and probe-set annotation only when the config names
    them (the annotation maps probe sets to gene symbols: :mod:`cic.identifiers`)."""
    dataset = config["dataset"]
    if dataset["source"] != "local":
        folder = SYNTHETIC_DIR if dataset["source"] == "synthetic" else f"results/data/{dataset['source']}"
        return {"expression": f"{folder}/expression.parquet", "sample_sheet": f"{folder}/samples.tsv"}
    local = dataset["local"]
    files = {"expression": local["expression"]}
    if local.get("sample_sheet"):
        files["sample_sheet"] = local["sample_sheet"]
    if (local.get("annotation") or {}).get("file"):
        files["annotation"] = local["annotation"]["file"]
    return files


def expression_reader(config: Mapping) -> Mapping:
    """How prepare_expression reads :func:`raw_expression_files`: the user's declared layout (dataset.local) for
    local files, :data:`WORKFLOW_LAYOUT` for every other source."""
    return config["dataset"]["local"] if config["dataset"]["source"] == "local" else WORKFLOW_LAYOUT


def enrichment_sources(config: Mapping) -> dict[str, dict]:
    """The enrichment sources (enrichment.sources) by name, in config order: Fig 3's genes and Figs 5-7's gene
    sets are tested in each. An entry has ``gmt`` (a local GMT file of gene symbols or probe sets) or ``enrichr``
    (an online library)."""
    return {source["name"]: source for source in config["enrichment"]["sources"]}


def gene_set_files(config: Mapping) -> dict[str, str]:
    """The local GMT files of the enrichment sources, ``{source name: path}`` (Enrichr libraries are online)."""
    return {name: entry["gmt"] for name, entry in enrichment_sources(config).items() if "gmt" in entry}


def truth_sources(config: Mapping) -> list[str]:
    """The sources that are the simulator's planted programs (synthetic data only, else none): the Fig 3 summary
    reports the ranks of the true programs in them."""
    if config["dataset"]["source"] != "synthetic":
        return []
    return [name for name, path in gene_set_files(config).items() if path == f"{SYNTHETIC_DIR}/programs.gmt"]


def pathway_source(config: Mapping) -> str | None:
    """The source whose top term is Fig 3's "top pathway": universality.pathway_source, else the first source;
    None without sources."""
    return config["universality"]["pathway_source"] or next(iter(enrichment_sources(config)), None)


def comparison_pairs(config: Mapping) -> dict[str, dict[str, str]]:
    """Fig 3's limma comparisons (universality.de_pairs; the paper's is B-cell REPs vs T-cell GEPs), as
    ``{"<case>_vs_<control>": {"case": label, "control": label}}``. Keys are file names
    (:func:`cic.labels.comparison_name`: ``b_cell_vs_t_cell``); the labels stay as the data spell them."""
    pairs = {}
    for pair in config["universality"]["de_pairs"]:
        case, control = normalize_label(pair["case"]), normalize_label(pair["control"])
        pairs[comparison_name(case, control)] = {"case": case, "control": control}
    return pairs


def example_cell_types(config: Mapping) -> str | list[str]:
    """The Fig 2d example types as the data spell them, or ``auto`` (chosen from the test samples when they are
    known: :func:`cic.defaults.example_cell_types`)."""
    requested = config["reconstruction"]["example_cell_types"]
    return AUTO if requested == AUTO else [normalize_label(cell_type) for cell_type in requested]


def training_resources(config: Mapping, kind: str) -> dict:
    """Snakemake resources of a training job of ``kind`` (resources.training or resources.sweep_training):
    mem_mb (MB), runtime (minutes), gpu when > 0, and the kind's ``extra`` verbatim (slurm_partition, gres, ...).
    Every other rule states none and takes the executor's default-resources (workflow/profiles/slurm)."""
    spec = config["resources"][kind]
    gpu = {"gpu": spec["gpu"]} if spec.get("gpu", 0) > 0 else {}
    return {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"], **gpu, **(spec.get("extra") or {})}


def training_threads(config: Mapping, kind: str) -> int:
    """Threads of a training job of ``kind`` (resources.<kind>.cpus, default 1): capped at --cores on a
    workstation, --cpus-per-task on Slurm."""
    return config["resources"][kind].get("cpus", 1)


def query_files(config: Mapping, query: str) -> dict[str, str]:
    """The files of query.samples entry ``query``: its expression matrix and, when it names one, its sample sheet."""
    entry = config["query"]["samples"][query]
    return {key: entry[key] for key in ("expression", "sample_sheet") if entry.get(key)}


def one_of(names: Iterable[str]) -> str:
    """A regex matching exactly one of ``names``, for a wildcard constraint (pair and source names contain
    underscores, so ``{pair}_{source}`` is ambiguous without it); matches nothing when ``names`` is empty."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def selected_architecture(config: Mapping, ranking_path: str | None) -> str:
    """The selected network's layer spec: model.architecture, or the Fig 8 sweep's winner (the first row of
    ``ranking_path``, results/tables/fig8_architecture_ranking.tsv) when it is ``auto``.

    Raises FileNotFoundError while the ranking is not written yet: Snakemake builds the DAG before the sweep runs,
    and an error naming an input file makes it mark the parameter <TBD> and evaluate it again once the file exists.
    """
    if config["model"]["architecture"] != AUTO:
        return config["model"]["architecture"]
    import errno
    import os

    from cic.layers import best_architecture

    if not os.path.exists(ranking_path):
        raise FileNotFoundError(errno.ENOENT, "Fig 8 ranking not written yet", ranking_path)
    return best_architecture(ranking_path)
