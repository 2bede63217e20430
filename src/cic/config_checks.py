"""Checks of a whole configuration that a JSON schema cannot express: values that are valid one by one but cannot
work together. ``workflow/rules/common.smk`` runs :func:`check_config` right after the schema validation, so such a
config is refused with one line before any job starts."""

from __future__ import annotations

import math
from collections.abc import Mapping

from cic.defaults import AUTO
from cic.errors import InputError
from cic.labels import comparison_name, normalize_label

WHERE = "config"


def check_config(config: Mapping) -> None:
    """Raise :class:`InputError` ("config: <problem>; fix: <fix>") for the first impossible combination."""
    _check_class_sizes(config)
    _check_log2(config["preprocess"])
    _check_cell_type_names(config)
    _check_gene_counts(config)
    _check_sweep_folds(config)
    _check_resources(config)
    _check_data_source(config["dataset"])
    _check_enrichment_source_names(config)


def _check_class_sizes(config: Mapping) -> None:
    samples_per_type, splits = config["dataset"].get("samples_per_type"), config["splits"]
    if samples_per_type is None:
        return
    needs = samples_needed_per_type(splits["test_fraction"], splits["cv_folds"], splits["noise_cv_folds"])
    name, needed = max(needs.items(), key=lambda item: item[1])
    if samples_per_type < needed:
        raise InputError(WHERE, f"dataset.samples_per_type = {samples_per_type} is below what {name} needs "
                                f"({needed} samples of every cell type)",
                         f"raise dataset.samples_per_type to at least {needed} or lower {name.split(' = ')[0]}")


def _check_log2(preprocess: Mapping) -> None:
    floor = preprocess.get("log2_floor")
    if floor is None:
        return
    if preprocess["log2"] is False:
        raise InputError(WHERE, f"preprocess.log2_floor = {floor} is set but preprocess.log2 is false (the floor "
                                "is applied before log2 only)",
                         "set preprocess.log2_floor to null, or preprocess.log2 to auto or true")
    if floor + preprocess["log2_offset"] <= 0:
        raise InputError(WHERE, "preprocess.log2_floor + preprocess.log2_offset is 0: log2 of a floored value would "
                                "be -inf", "raise one of them (log2_offset 1 is usual)")


def _check_cell_type_names(config: Mapping) -> None:
    """The types named in universality (and dataset.cell_types) must fit together; comparisons need distinct
    file names."""
    universality = config.get("universality") or {}
    kept = config["dataset"].get("cell_types")
    kept = {normalize_label(t) for t in kept} if kept else None
    held_out = universality.get("cell_types")
    held_out = [normalize_label(t) for t in held_out] if held_out else None
    de_pairs = [] if universality.get("de_pairs") in (None, AUTO) else universality["de_pairs"]  # auto: cic.defaults
    if kept is not None:
        for key, names in (("universality.cell_types", held_out or []),
                           ("universality.de_pairs", [normalize_label(pair[side])
                                                      for pair in de_pairs
                                                      for side in ("case", "control")])):
            outside = [name for name in names if name not in kept]
            if outside:
                raise InputError(WHERE, f"{key} names {outside[0]!r}, which dataset.cell_types leaves out",
                                 "add it to dataset.cell_types or name a kept type")
    pair_names: dict[str, str] = {}
    for pair in de_pairs:
        case, control = normalize_label(pair["case"]), normalize_label(pair["control"])
        if case == control:
            raise InputError(WHERE, f"universality.de_pairs compares {case!r} with itself",
                             "compare two different cell types")
        if held_out is not None and case not in held_out:
            raise InputError(WHERE, f"universality.de_pairs case {case!r} is not in universality.cell_types (its "
                                    "REPs come from the network that held it out)",
                             "add it to universality.cell_types (or set that to null: every type)")
        name = comparison_name(case, control)
        described = f"{case!r} vs {control!r}"
        if name.lower() in pair_names:
            raise InputError(WHERE, f"universality.de_pairs lists {pair_names[name.lower()]} and {described}, which "
                                    f"share the file name de_{name}",
                             "list each comparison once")
        pair_names[name.lower()] = described


def _check_gene_counts(config: Mapping) -> None:
    dataset, n_top = config["dataset"], config["preprocess"]["top_variance_genes"]
    if dataset["source"] == "synthetic" and n_top > dataset["synthetic"]["n_genes"]:
        raise InputError(WHERE, f"preprocess.top_variance_genes = {n_top} exceeds dataset.synthetic.n_genes = "
                                f"{dataset['synthetic']['n_genes']}",
                         "lower preprocess.top_variance_genes or raise dataset.synthetic.n_genes")


def _check_sweep_folds(config: Mapping) -> None:
    cv_folds = config["splits"]["cv_folds"]
    for name, sweep in (config.get("sweeps") or {}).items():
        folds = sweep.get("folds") if isinstance(sweep, Mapping) else None
        if folds is not None and folds > cv_folds:
            raise InputError(WHERE, f"sweeps.{name}.folds = {folds} exceeds splits.cv_folds = {cv_folds}",
                             f"set sweeps.{name}.folds between 1 and {cv_folds} (or null for all)")


def _check_resources(config: Mapping) -> None:
    # Light rules state no resources (issue 19): the executor's default-resources apply, set where Snakemake sets them.
    if "default" in (config.get("resources") or {}):
        raise InputError(WHERE, "resources.default is no longer read: rules other than training take the executor's "
                                "default-resources",
                         "delete resources.default and set default-resources in your profile "
                         "(workflow/profiles/slurm/config.yaml) or pass --default-resources mem_mb=... runtime=...")


def _check_data_source(dataset: Mapping) -> None:
    """The setting that names the data of dataset.source must be filled in."""
    source = dataset["source"]
    required = {"geo": ("geo", "sample_sheet", "a TSV of GSM accessions and cell types "
                                               "(see config/geo_samples.example.tsv)"),
                "cellnet": ("cellnet", "url", "CellNet's training object (.rda/.rds) or a TSV export"),
                "local": ("local", "expression", "your expression matrix (TSV/CSV/parquet/h5ad)")}
    if source in required:
        section, key, what = required[source]
        if not (dataset.get(section) or {}).get(key):
            raise InputError(WHERE, f"dataset.source is {source!r} but dataset.{section}.{key} is empty",
                             f"set it to {what}")


def _check_enrichment_source_names(config: Mapping) -> None:
    """universality.pathway_source and each perturbation figure's source name one of enrichment.sources."""
    if config["enrichment"]["sources"] == AUTO:  # not resolved yet (cic.defaults): nothing named to check against
        return
    sources = [source["name"] for source in config["enrichment"]["sources"]]
    named = {"universality.pathway_source": config["universality"].get("pathway_source")}
    figures = config.get("perturbation", {}).get("figures")
    if isinstance(figures, Mapping):  # `auto` is resolved by cic.defaults before this check
        named |= {f"perturbation.figures.{figure}.source": entry["source"] for figure, entry in figures.items()}
    for key, name in named.items():
        if name is not None and name not in sources:
            raise InputError(WHERE, f"{key} is {name!r}, not one of enrichment.sources ({', '.join(sources)})",
                             "name one of them or add it to enrichment.sources")


def samples_needed_per_type(test_fraction: float, cv_folds: int, noise_cv_folds: int) -> dict[str, int]:
    """The fewest samples a cell type needs, per requirement of the shared splits (checked before splitting).

    Stratified k-fold puts a type in every fold only with at least k samples (scikit-learn would only warn, and the
    type would be tested in some folds only); the stratified train/test split needs 2 (:func:`split_guarantee`
    says how many make a test and a training sample certain).
    """
    return {f"splits.cv_folds = {cv_folds}": cv_folds, f"splits.noise_cv_folds = {noise_cv_folds}": noise_cv_folds,
            f"{split_name(test_fraction)}": 2}


def split_guarantee(test_fraction: float) -> int:
    """Samples that make a type certain to get a test and a training sample in the stratified split: each type gets
    at least floor(n * test_fraction) test samples (and as many training samples for 1 - test_fraction); with fewer,
    it depends on the other types."""
    return max(math.ceil(1 / test_fraction - 1e-9), math.ceil(1 / (1 - test_fraction) - 1e-9), 2)


def split_name(test_fraction: float) -> str:
    """The split's name in messages, e.g. "the stratified 75/25 split" for test_fraction 0.25."""
    return f"the stratified {round(100 * (1 - test_fraction))}/{round(100 * test_fraction)} split"
