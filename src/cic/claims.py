"""The paper's quantitative claims, each checked against this run's stage summary tables.

Every claim names the summary table(s) and quantities it reads (``results/tables/<stage>_summary.tsv``, rows
``quantity``/``this_run`` written by ``cic.paper.summary_row``), what the paper reports, and a criterion for "holds"
that is fixed here, before any run, and is the same for every dataset (synthetic, local, geo, cellnet). A quantity
missing from a table that the run produced is an error naming the table and the quantity; a stage that is not part
of the run, or a step its configuration leaves out (its summary says "not run: set `<key>`"), gives the row
``holds = not run``, and a claim whose comparison this run's design does not contain (the
paper's architecture or code size not swept) ``holds = not tested`` (never a silent "no").

Command line (the README's claims and criteria tables are generated, not typed)::

    python -m cic.claims readme results/tables/claims.tsv README.md   # after a run: both tables
    python -m cic.claims readme results/tables/claims.tsv README.md --table claims-table-nakayama2007
    python -m cic.claims criteria README.md                           # the criteria table only
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from cic.defaults import is_not_run
from cic.errors import InputError
from cic.paper import PAPER, SUMMARY_TABLES, TEST_SAMPLES

SUMMARY_COLUMNS = ("quantity", "this_run")
CLAIMS_COLUMNS = ["claim", "paper", "this_run", "criterion", "holds", "dataset", "figure", "source"]
README_TABLE = "claims-table"  # the default run's table; the real example's is "claims-table-nakayama2007"
README_START = f"<!-- {README_TABLE}:start -->"
README_END = f"<!-- {README_TABLE}:end -->"
CRITERIA_START = "<!-- claims-criteria:start -->"
CRITERIA_END = "<!-- claims-criteria:end -->"

# Thresholds of the criteria, stated once. "Nearly all" readings allow a few exceptions where the paper reports
# 100 %; the rank-1 threshold reads the paper's 88.4 % / 87 % as "at least 80 %".
RANK1_MIN_FRACTION = 0.8
ALL_MIN_FRACTION = 0.95
SIGNIFICANCE = 0.05
PLATEAU_TOLERANCE = 0.05  # the last quarter's mean test MSE within 5 % of the final one
MAX_SE_RATIO = 0.03  # paper: maximum SE / MSE below 3 %
NOISE_MIN_ACCURACY = 0.95
CLASSIFIER_AE_MAX_ERROR = PAPER["misclassified_classifier_ae_rf"].value / TEST_SAMPLES  # 10 / 260 = 3.8 %
# This project's own claim (not the paper's), fixed before any run: most samples of a type the network never saw
# are unassigned, while few samples of the types it knows are.
NOVELTY_MIN_UNASSIGNED = 0.5
NOVELTY_MAX_FALSE_UNASSIGNED = 0.1
OWN_CLAIM = "not in the paper (this project's own claim)"


@dataclass(frozen=True)
class Ref:
    """One quantity of one stage's summary table; with ``prefix``, every quantity named ``<quantity><suffix>``,
    read as {suffix: value} (e.g. the final test MSE of each swept code size)."""

    stage: str
    quantity: str
    prefix: bool = False


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: what it says, the paper's value, the criterion, and how to test it on this run.

    ``inputs`` maps short names to the quantities read; ``holds`` and ``shown`` receive those names' values.
    ``holds`` returns None when this run's design does not contain what the claim compares (e.g. the paper's
    architecture was not in the sweep): the verdict is then "not tested", and ``shown`` says why.
    """

    key: str
    claim: str
    figure: str
    paper: str
    criterion: str
    inputs: Mapping[str, Ref]
    holds: Callable[..., bool | None]
    shown: Callable[..., str]


def _fraction(value: float) -> str:
    return f"{100 * value:.1f} %"


def _number(value: float) -> str:
    return f"{value:.3g}"


def _error(accuracy: float) -> float:
    return 1.0 - accuracy


def _accuracies(*feature_sets: str) -> dict[str, Ref]:
    """Test accuracies of the classification stage, named <features>_<classifier> (e.g. cic_rf)."""
    return {f"{features}_{classifier}": Ref("classification", f"accuracy_{features}_{classifier}")
            for features in feature_sets for classifier in ("rf", "svm")}


def _errors_shown(**accuracies: float) -> str:
    return ", ".join(f"{name} {_fraction(_error(value))}" for name, value in accuracies.items())


def _not_swept(rank) -> bool:
    return not isinstance(rank, float)


def _by_code_size(mse: Mapping[str, float]) -> dict[int, float]:
    return {int(size): float(value) for size, value in sorted(mse.items(), key=lambda item: int(item[0]))}


def _smaller_codes_worse(mse: Mapping[str, float], chosen: int) -> bool | None:
    """Whether every swept code size below ``chosen`` ends worse than ``chosen``; None when that is not swept."""
    sizes = _by_code_size(mse)
    smaller = [size for size in sizes if size < chosen]
    if chosen not in sizes or not smaller:
        return None
    return all(sizes[size] > sizes[chosen] for size in smaller)


def _names_b_cells(term: str) -> bool:
    """Whether a gene-set name is about B cells ("B cell receptor signaling pathway", "B_CELL_RECEPTOR_...")."""
    return re.search(r"(?<![a-z0-9])b[\s_-]?(cell|lymphocyte)", str(term), flags=re.IGNORECASE) is not None


CLAIMS: list[Claim] = [
    Claim(
        "cv_plateau", "10-fold CV: the test MSE falls during training and then plateaus", "Fig 2a",
        "0.3 at epoch 1 -> plateau at 0.11 from epoch 66",
        f"final mean test MSE < epoch-1 test MSE, and the mean over the last quarter of epochs is within "
        f"{PLATEAU_TOLERANCE:.0%} of the final value (with fewer than 8 epochs that quarter is the last epoch alone)",
        {"epoch1": Ref("fig2", "cv_test_mse_epoch1"), "final": Ref("fig2", "cv_test_mse_final"),
         "last_quarter": Ref("fig2", "cv_test_mse_last_quarter_mean")},
        lambda epoch1, final, last_quarter: final < epoch1
        and abs(last_quarter - final) <= PLATEAU_TOLERANCE * final,
        lambda epoch1, final, last_quarter: f"{_number(epoch1)} -> {_number(final)} "
        f"(last quarter {_number(last_quarter)})",
    ),
    Claim(
        "cv_standard_error", "CV: the standard error over folds is small beside the MSE (no overfitting to a fold)",
        "Fig 2a", "max SE 0.0035 (< 3 % of the MSE)",
        f"max standard error / final mean test MSE < {MAX_SE_RATIO:.0%}",
        {"se": Ref("fig2", "cv_max_standard_error"), "final": Ref("fig2", "cv_test_mse_final")},
        lambda se, final: se < MAX_SE_RATIO * final,
        lambda se, final: f"max SE {_number(se)} ({_fraction(se / final)} of {_number(final)})",
    ),
    Claim(
        "rank1_spearman", "A test sample's REP is closer to its GEP than any other test GEP (Spearman)", "Fig 2b",
        "230 of 260 (88.4 %) ranked first", f"rank-1 fraction >= {RANK1_MIN_FRACTION:.0%}",
        {"fraction": Ref("fig2", "rank1_fraction_spearman")},
        lambda fraction: fraction >= RANK1_MIN_FRACTION,
        lambda fraction: _fraction(fraction),
    ),
    Claim(
        "rank1_mse", "A test sample's REP is closer to its GEP than any other test GEP (MSE)", "Fig 2c",
        "226 of 260 (87 %) ranked first", f"rank-1 fraction >= {RANK1_MIN_FRACTION:.0%}",
        {"fraction": Ref("fig2", "rank1_fraction_mse")},
        lambda fraction: fraction >= RANK1_MIN_FRACTION,
        lambda fraction: _fraction(fraction),
    ),
    Claim(
        "reverse_rank", "Reverse rank: each REP's own GEP is its nearest test GEP", "text (Fig 2)",
        "100 % of test REPs",
        f"fraction >= {ALL_MIN_FRACTION:.0%} by Spearman and by MSE",
        {"spearman": Ref("fig2", "reverse_rank1_fraction_spearman"), "mse": Ref("fig2", "reverse_rank1_fraction_mse")},
        lambda spearman, mse: min(spearman, mse) >= ALL_MIN_FRACTION,
        lambda spearman, mse: f"Spearman {_fraction(spearman)}, MSE {_fraction(mse)}",
    ),
    Claim(
        "wilcoxon_spearman", "REP-GEP correlation is higher than the nearest GEP-GEP correlation", "Fig 2e",
        "one-sided Wilcoxon p < 1e-15", f"one-sided Wilcoxon signed-rank p < {SIGNIFICANCE}",
        {"p": Ref("fig2", "wilcoxon_p_spearman")},
        lambda p: p < SIGNIFICANCE,
        lambda p: f"p = {p:.3g}",
    ),
    Claim(
        "wilcoxon_mse", "REP-GEP MSE is lower than the nearest GEP-GEP MSE", "Fig 2f",
        "one-sided Wilcoxon p < 1e-15", f"one-sided Wilcoxon signed-rank p < {SIGNIFICANCE}",
        {"p": Ref("fig2", "wilcoxon_p_mse")},
        lambda p: p < SIGNIFICANCE,
        lambda p: f"p = {p:.3g}",
    ),
    Claim(
        "cic_best_reconstruction", "CICs reproduce test profiles better than PCA, NMF and kernel PCAs of equal size",
        "Fig 2g", "CIC lowest test MSE", "CIC has the lowest median per-sample test MSE of all methods",
        {"best": Ref("fig2", "best_reconstruction_method")},
        lambda best: str(best).upper() == "CIC",
        lambda best: f"best: {best}",
    ),
    Claim(
        "held_out_b_cells", "Held-out B-cell REPs are closer to their own GEP than to every training GEP",
        "Fig 3", "65 of 65 B-cell samples",
        f"fraction >= {ALL_MIN_FRACTION:.0%} by Spearman and by MSE",
        {"spearman": Ref("universality", "loto_closer_fraction_spearman"),
         "mse": Ref("universality", "loto_closer_fraction_mse")},
        lambda spearman, mse: min(spearman, mse) >= ALL_MIN_FRACTION,
        lambda spearman, mse: f"Spearman {_fraction(spearman)}, MSE {_fraction(mse)}",
    ),
    Claim(
        "b_vs_t_de_genes", "B-cell REPs vs T-cell GEPs: genes up in B-cell REPs (limma, log2FC > 1, BH <= 0.05)",
        "text (Fig 3)", "380 genes", "at least one gene up in B-cell REPs (log2FC > 1, BH <= 0.05)",
        {"genes": Ref("universality", "b_vs_t_de_genes")},
        lambda genes: genes >= 1,
        lambda genes: f"{int(genes)} genes",
    ),
    Claim(
        "b_vs_t_top_pathway", "The top pathway of those genes is B-cell receptor signalling", "text (Fig 3)",
        "B cell receptor signaling pathway, adjusted p 0.026",
        f"the top-ranked gene set names B cells and its adjusted p <= {SIGNIFICANCE}",
        {"term": Ref("universality", "b_vs_t_top_pathway"),
         "adjusted_p": Ref("universality", "b_vs_t_top_pathway_adjusted_p")},
        lambda term, adjusted_p: _names_b_cells(term) and adjusted_p <= SIGNIFICANCE,
        lambda term, adjusted_p: f"{term} (adjusted p {adjusted_p:.3g})",
    ),
    Claim(
        "cic_rf_beats_pca_rf", "Random Forest misclassifies fewer test samples on CICs than on PCA", "Supp Fig S7",
        "16 vs 25 of 260 (6.2 % vs 9.6 %)", "CIC + RF error fraction < PCA + RF error fraction",
        {"cic_rf": Ref("classification", "accuracy_cic_rf"), "pca_rf": Ref("classification", "accuracy_pca_rf")},
        lambda cic_rf, pca_rf: _error(cic_rf) < _error(pca_rf),
        lambda cic_rf, pca_rf: _errors_shown(CIC=cic_rf, PCA=pca_rf),
    ),
    Claim(
        "cic_svm_matches_pca_svm", "SVM makes as many errors on CICs as on PCA", "Supp Fig S7",
        "27 vs 27 of 260 (10.4 %)", "CIC + SVM error fraction <= PCA + SVM error fraction",
        {"cic_svm": Ref("classification", "accuracy_cic_svm"), "pca_svm": Ref("classification", "accuracy_pca_svm")},
        lambda cic_svm, pca_svm: _error(cic_svm) <= _error(pca_svm),
        lambda cic_svm, pca_svm: _errors_shown(CIC=cic_svm, PCA=pca_svm),
    ),
    Claim(
        "classifier_ae_beats_both", "The classifier autoencoder's CICs beat PCA and plain CICs, with RF and SVM",
        "Supp Fig S7", "10 vs PCA 25/27 and CIC 16/27 (RF/SVM)",
        "for RF and for SVM: classifier-AE error fraction < PCA's and < plain CIC's",
        _accuracies("pca", "cic", "classifier_ae"),
        lambda pca_rf, pca_svm, cic_rf, cic_svm, classifier_ae_rf, classifier_ae_svm:
        _error(classifier_ae_rf) < min(_error(pca_rf), _error(cic_rf))
        and _error(classifier_ae_svm) < min(_error(pca_svm), _error(cic_svm)),
        lambda pca_rf, pca_svm, cic_rf, cic_svm, classifier_ae_rf, classifier_ae_svm:
        "RF: " + _errors_shown(AE=classifier_ae_rf, PCA=pca_rf, CIC=cic_rf)
        + "; SVM: " + _errors_shown(AE=classifier_ae_svm, PCA=pca_svm, CIC=cic_svm),
    ),
    Claim(
        "classifier_ae_error", "The classifier autoencoder misclassifies few test samples", "Supp Fig S7",
        "10 of 260 (3.8 %) with RF and with SVM",
        f"error fraction <= {CLASSIFIER_AE_MAX_ERROR:.1%} (10/260) with RF and with SVM",
        _accuracies("classifier_ae"),
        lambda classifier_ae_rf, classifier_ae_svm:
        max(_error(classifier_ae_rf), _error(classifier_ae_svm)) <= CLASSIFIER_AE_MAX_ERROR + 1e-12,
        lambda classifier_ae_rf, classifier_ae_svm: _errors_shown(RF=classifier_ae_rf, SVM=classifier_ae_svm),
    ),
    Claim(
        "noise_accuracy", "Trained with input noise, the classifier autoencoder stays accurate", "text (noise)",
        "mean accuracy 99.4 % (98.6-100 %) over 5 folds",
        f"mean accuracy over the noise CV folds >= {NOISE_MIN_ACCURACY:.0%}",
        {"mean": Ref("classification", "noise_accuracy_mean"), "low": Ref("classification", "noise_accuracy_min")},
        lambda mean, low: mean >= NOISE_MIN_ACCURACY,
        lambda mean, low: f"mean {_fraction(mean)} (worst fold {_fraction(low)})",
    ),
    Claim(
        "best_architecture", "L300,G,L30 is the best of the swept architectures (1000 genes)", "Fig 8",
        "L300,G,L30 ranked first", "L300,G,L30 is ranked first by the sweep (not tested when it is not swept)",
        {"best": Ref("sweeps", "best_architecture"), "rank": Ref("sweeps", "rank_of_paper_best_architecture")},
        lambda best, rank: None if _not_swept(rank) else float(rank) == 1,
        lambda best, rank: f"best: {best}; L300,G,L30: " + ("not swept" if _not_swept(rank) else f"rank {int(rank)}"),
    ),
    Claim(
        "code_size_trade_off", "Codes of 10 and 20 end slightly worse than 30; 30 is the size chosen", "Fig 9",
        "small gap of sizes 10, 20 to the others",
        "every swept code size below 30 ends with a higher final test MSE than code size 30 (not tested unless 30 "
        "and a smaller size are swept)",
        {"mse": Ref("sweeps", "final_test_mse_code_size_", prefix=True)},
        lambda mse: _smaller_codes_worse(mse, PAPER["chosen_code_size"].value),
        lambda mse: ", ".join(f"{size}: {_number(value)}" for size, value in _by_code_size(mse).items()),
    ),
    Claim(
        "novelty_unassigned", "Beyond the paper: samples of a cell type the network never saw come out 'unassigned', "
        "samples of the types it knows do not", "novelty (this project)", OWN_CLAIM,
        f"mean over held-out types of the fraction unassigned >= {NOVELTY_MIN_UNASSIGNED:.0%}, and the reference's "
        f"test samples (known types) unassigned <= {NOVELTY_MAX_FALSE_UNASSIGNED:.0%}",
        {"held_out": Ref("novelty", "novelty_unassigned_fraction_mean"),
         "known": Ref("novelty", "reference_false_unassigned_fraction")},
        lambda held_out, known: held_out >= NOVELTY_MIN_UNASSIGNED and known <= NOVELTY_MAX_FALSE_UNASSIGNED,
        lambda held_out, known: f"held-out types {_fraction(held_out)} unassigned; known types' test samples "
        f"{_fraction(known)}",
    ),
]


def read_summary(path: str | Path) -> dict[str, object]:
    """A stage summary table as {quantity: value}; numbers become floats, anything else stays text."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "summary table not found", "run the stage that writes it (snakemake all)")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [column for column in SUMMARY_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)} (has: {', '.join(table.columns)})",
                         "write the table with cic.paper.summary_row")
    duplicated = table["quantity"][table["quantity"].duplicated()].tolist()
    if duplicated:
        raise InputError(path, f"quantity {duplicated[0]!r} appears more than once", "give every row its own name")
    return {quantity: _parse(value) for quantity, value in zip(table["quantity"], table["this_run"])}


def _parse(value: str) -> object:
    try:
        return float(value)
    except ValueError:
        return value


def evaluate_claims(summary_paths: Mapping[str, str | Path], dataset: str,
                    claims: list[Claim] = CLAIMS) -> pd.DataFrame:
    """One row per claim (columns CLAIMS_COLUMNS) from the stage summary tables this run produced.

    ``summary_paths`` maps stage names (keys of SUMMARY_TABLES) to their tables; a claim of a stage missing there
    gets ``holds = not run``, and so does a claim reading a quantity whose step the stage left out (its value is
    "not run: set `<key>`", :func:`cic.defaults.not_run`, which becomes ``this_run``). A quantity missing from a
    given table is an InputError naming table and quantity.
    """
    unknown = sorted(set(summary_paths) - set(SUMMARY_TABLES))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(SUMMARY_TABLES)}")
    summaries = {stage: read_summary(path) for stage, path in summary_paths.items()}
    rows = []
    for claim in claims:
        stages = sorted({ref.stage for ref in claim.inputs.values()})
        source = "; ".join(_source(ref) for ref in claim.inputs.values())
        row = {"claim": claim.claim, "paper": claim.paper, "criterion": claim.criterion, "dataset": dataset,
               "figure": claim.figure, "source": source}
        absent = [stage for stage in stages if stage not in summaries]
        if absent:
            rows.append({**row, "this_run": f"stage {', '.join(absent)} not part of this run", "holds": "not run"})
            continue
        values = {name: _value(summaries[ref.stage], ref, summary_paths[ref.stage], claim)
                  for name, ref in claim.inputs.items()}
        skipped = next((value for value in values.values() if is_not_run(value)), None)
        if skipped is not None:  # the stage ran but left this step out, and says which key runs it
            rows.append({**row, "this_run": skipped, "holds": "not run"})
            continue
        try:
            shown, holds = claim.shown(**values), claim.holds(**values)
        except (TypeError, ValueError) as error:
            tables = ", ".join(str(summary_paths[stage]) for stage in stages)
            raise InputError(tables, f"claim {claim.key!r} cannot judge the values {values} ({error})",
                             "check the types of those quantities in the summary table") from error
        rows.append({**row, "this_run": shown, "holds": "not tested" if holds is None else "yes" if holds else "no"})
    return pd.DataFrame(rows, columns=CLAIMS_COLUMNS)


def _source(ref: Ref) -> str:
    return f"{Path(SUMMARY_TABLES[ref.stage]).name}: {ref.quantity}{'*' if ref.prefix else ''}"


def _value(summary: Mapping[str, object], ref: Ref, path, claim: Claim) -> object:
    if ref.prefix:
        values = {quantity[len(ref.quantity):]: value for quantity, value in summary.items()
                  if quantity.startswith(ref.quantity)}
        if not values:
            raise InputError(path, f"no row with a quantity named {ref.quantity}..., which claim {claim.key!r} reads",
                             f"add them to the {ref.stage} stage's summary (cic.paper.summary_row)")
        for quantity, value in values.items():
            _check_value(value, ref.quantity + quantity, path, claim, ref)
        return values
    if ref.quantity not in summary:
        raise InputError(path, f"no row with quantity {ref.quantity!r}, which claim {claim.key!r} reads",
                         f"add it to the {ref.stage} stage's summary (cic.paper.summary_row) or rename the claim's "
                         "quantity in cic.claims.CLAIMS")
    return _check_value(summary[ref.quantity], ref.quantity, path, claim, ref)


def _check_value(value, quantity: str, path, claim: Claim, ref: Ref):
    if value == "" or (isinstance(value, float) and math.isnan(value)):
        raise InputError(path, f"quantity {quantity!r} is empty or NaN, which claim {claim.key!r} cannot judge",
                         f"check the {ref.stage} stage's outputs")
    return value


def markdown_table(claims: pd.DataFrame) -> str:
    """The claims table as GitHub markdown (columns claim, figure, paper, this run, criterion, holds)."""
    columns = [("claim", "Claim"), ("figure", "Figure"), ("paper", "Paper"), ("this_run", "This run"),
               ("criterion", "Holds when"), ("holds", "Holds")]
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for record in claims.to_dict("records"):
        cells = [str(record[column]).replace("|", "\\|") for column, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    datasets = ", ".join(sorted(claims["dataset"].astype(str).unique()))
    held = int((claims["holds"] == "yes").sum())
    judged = int(claims["holds"].isin(["yes", "no"]).sum())
    others = claims.loc[~claims["holds"].isin(["yes", "no"]), "holds"].value_counts()
    rest = "".join(f"; {count} {verdict}" for verdict, count in others.items())
    return f"Dataset: {datasets}. {held} of {judged} judged claims hold{rest}.\n\n" + "\n".join(lines)


def criteria_table(claims: list[Claim] = CLAIMS) -> str:
    """Every claim's criterion as GitHub markdown, generated from CLAIMS (the README's criteria table)."""
    lines = ["| Claim | Figure | Paper | Holds when | Reads |", "|---|---|---|---|---|"]
    for claim in claims:
        reads = ", ".join(f"`{_source(ref)}`" for ref in claim.inputs.values())
        cells = [claim.claim, claim.figure, claim.paper, claim.criterion, reads]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def replace_between(path: str | Path, start_marker: str, end_marker: str, content: str) -> None:
    """Replace the text between two marker lines of ``path`` with ``content`` (markers kept)."""
    path = Path(path)
    text = path.read_text()
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise InputError(path, f"markers {start_marker} ... {end_marker} not found (in that order)",
                         "put both on their own lines where the table belongs")
    path.write_text(text[:start + len(start_marker)] + "\n" + content + "\n" + text[end:])


def update_readme(claims_path: str | Path, readme_path: str | Path, table: str = README_TABLE) -> None:
    """Write the claims table of ``claims_path`` and the criteria table into ``readme_path``, between markers: the
    claims between ``<!-- <table>:start -->`` and ``<!-- <table>:end -->`` (one pair per run shown)."""
    claims = pd.read_csv(claims_path, sep="\t", dtype=str, keep_default_na=False)
    missing = [column for column in CLAIMS_COLUMNS if column not in claims.columns]
    if missing:
        raise InputError(claims_path, f"missing column(s) {', '.join(missing)}",
                         "pass results/tables/claims.tsv written by the workflow")
    replace_between(readme_path, f"<!-- {table}:start -->", f"<!-- {table}:end -->", markdown_table(claims))
    replace_between(readme_path, CRITERIA_START, CRITERIA_END, criteria_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cic.claims", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    readme = commands.add_parser("readme", help="write the claims table into the README between its markers")
    readme.add_argument("claims", help="results/tables/claims.tsv")
    readme.add_argument("readme", help="README.md")
    readme.add_argument("--table", default=README_TABLE,
                        help=f"name in the README's markers <!-- NAME:start --> (default {README_TABLE}; the real "
                             "example: claims-table-nakayama2007)")
    criteria = commands.add_parser("criteria", help="write only the criteria table (no run needed) into the README")
    criteria.add_argument("readme", help="README.md")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "readme":
            update_readme(arguments.claims, arguments.readme, arguments.table)
        else:
            replace_between(arguments.readme, CRITERIA_START, CRITERIA_END, criteria_table())
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
