"""The ``cic`` command (installed by ``pip install -e .``): ``cic query`` identifies new samples with a reference
bundle (:mod:`cic.query`); ``cic reference`` writes a bundle from a trained classifier autoencoder (the workflow
does this in ``results/reference/``).

A bad input ends with one line on stderr (file, row/column, fix) and exit status 1, no traceback; ``--log FILE``
keeps the full log (with tracebacks) in a file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from cic.dataset import ORIENTATIONS
from cic.errors import InputError
from cic.query import DEFAULT_MAX_MISSING_GENE_FRACTION, DEFAULT_MIN_PROBABILITY, PREDICTION_COLUMNS


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cic", description="Cell identity codes: apply a trained reference to "
                                     "new expression profiles.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    query = commands.add_parser(
        "query", help="identify new samples with a reference bundle",
        description="Predict the cell type of each profile of --expression with the reference bundle of --model, "
                    "after the reference's own preprocessing (log2, gene alignment, quantile normalisation to "
                    "the reference's target). Writes to --out: predictions.tsv (columns: "
                    + ", ".join(PREDICTION_COLUMNS) + "), codes.tsv (CICs), reproduced.h5ad (REPs) and "
                    "query_map.png/.svg.")
    query.add_argument("--model", required=True, help="reference bundle folder (the workflow's results/reference)")
    query.add_argument("--expression", required=True, help="expression matrix: .tsv/.csv/.txt/.gct (optionally "
                       ".gz), GEO series matrix, .parquet or .h5ad; raw or log2 scale")
    query.add_argument("--sample-sheet", default=None, help="optional sample sheet; its cell types are reported "
                       "beside the predictions (known_cell_type)")
    query.add_argument("--orientation", default="genes_x_samples", choices=ORIENTATIONS)
    query.add_argument("--sample-column", default="sample")
    query.add_argument("--cell-type-column", default="cell_type")
    query.add_argument("--layer", default=None, help=".h5ad only: a layer to read instead of X")
    query.add_argument("--min-probability", type=_fraction, default=DEFAULT_MIN_PROBABILITY,
                       help="below this classifier probability a sample is unassigned (default %(default)s)")
    query.add_argument("--max-missing-gene-fraction", type=_fraction, default=DEFAULT_MAX_MISSING_GENE_FRACTION,
                       help="refuse a query missing more of the reference's genes (default %(default)s)")
    query.add_argument("--out", required=True, help="output folder")
    query.add_argument("--log", default=None, help="also write the full log (with tracebacks) to this file")
    reference = commands.add_parser("reference", help="write a reference bundle from a classifier autoencoder",
                                    description="What the workflow's reference_bundle rule runs.")
    reference.add_argument("--classifier-model", required=True, help="classifier autoencoder model.pt")
    reference.add_argument("--expression", required=True, help="the prepared expression.h5ad it was trained on")
    reference.add_argument("--splits", required=True, help="the splits.tsv of that run")
    reference.add_argument("--config", required=True, help="the run's configuration (results/tables/run_config.yaml "
                           "or config.yaml): its preprocess and training sections are recorded")
    reference.add_argument("--out", required=True, help="bundle folder")
    reference.add_argument("--log", default=None)
    return parser


def _query(args) -> None:
    from cic.query import run_query

    run_query(args.model, args.expression, args.out, args.sample_sheet, args.orientation, args.sample_column,
              args.cell_type_column, args.layer, args.min_probability, args.max_missing_gene_fraction)


def _reference(args) -> None:
    import yaml

    from cic.reference import write_reference

    with open(args.config, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config = config.get("config", config)  # run_config.yaml nests the configuration
    training = dict(config["training"]) | dict(config.get("classification", {}).get("training") or {})
    write_reference(args.classifier_model, args.expression, args.splits, config["preprocess"], training, args.out)


def _traceback_to(log_path) -> None:
    """The current exception's traceback, appended to the --log file only (the terminal gets one line)."""
    if log_path:
        logging.shutdown()  # flush the log file's handler first
        with open(log_path, "a", encoding="utf-8") as handle:
            traceback.print_exc(file=handle)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from cic.runner import configure_logging

    configure_logging(args.log)
    for handler in logging.getLogger().handlers:  # the terminal: short lines; the --log file keeps its format
        if not isinstance(handler, logging.FileHandler):
            handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    step = {"query": _query, "reference": _reference}[args.command]
    try:
        step(args)
    except InputError as error:
        _traceback_to(args.log)
        print(f"cic {args.command}: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug or an environment problem: one line here, the traceback in --log
        _traceback_to(args.log)
        message = " ".join(str(error).split()) or "(no message)"
        where = f" (traceback in {args.log})" if args.log else " (run with --log FILE for the traceback)"
        print(f"cic {args.command}: error: {type(error).__name__}: {message}{where}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
