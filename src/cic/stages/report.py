"""The reproduction report's tables: the paper's claims beside this run (claims.tsv) and the run's configuration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import yaml


log = logging.getLogger(__name__)


def dataset_label(config: Mapping) -> str:
    """What the numbers come from, in words: the dataset column of claims.tsv and the report's front page."""
    dataset = config["dataset"]
    source = dataset["source"]
    if source == "synthetic":
        synthetic = dataset["synthetic"]
        return (f"synthetic (simulation: {synthetic['n_genes']} genes, {dataset['samples_per_type']} samples per "
                f"cell type, seed {config['seed']})")
    if source == "local":
        return f"local ({Path(dataset['local']['expression']).name})"
    if source == "geo":
        return f"geo (GEO samples of {Path(dataset['geo']['sample_sheet']).name}, {dataset['geo']['platform']})"
    return "cellnet (CellNet training data)"


def write_claims(dataset: str, output: str, **summary_paths: str) -> None:
    """results/tables/claims.tsv: every quantitative claim of the paper, judged on this run's summary tables
    (``summary_paths``: {stage: path} of the stages this run produced, cic.paper.SUMMARY_TABLES)."""
    from cic import io  # here, not above: the workflow imports dataset_label to build its job graph
    from cic.claims import evaluate_claims

    claims = evaluate_claims(dict(summary_paths), dataset)
    io.write_table(claims, output)
    counts = claims["holds"].value_counts().to_dict()
    log.info("%d claims: %s", len(claims), ", ".join(f"{count} {holds}" for holds, count in sorted(counts.items())))


def write_run_config(config: Mapping, dataset: str, output: str) -> None:
    """results/tables/run_config.yaml: the configuration this run used (shown in the report), with the dataset."""
    from cic import io

    text = (f"# Configuration of this run. Dataset: {dataset}\n"
            + yaml.safe_dump(_plain(config), sort_keys=False, default_flow_style=False))
    io.write_text(text, output)


def _plain(value):
    """Snakemake's config as plain dicts and lists (it may hold its own mapping/sequence types)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
