"""Run a workflow step: log to the rule's log file and stderr; a failure is one line on stderr (the terminal), its
traceback goes to the log file only, and the process exits with status 1."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Callable

from cic.errors import InputError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _WithoutTraceback(logging.Formatter):
    """The terminal's formatter: the record's message only; the traceback stays in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(record)


def configure_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> None:
    terminal = logging.StreamHandler(sys.stderr)
    # With a log file, tracebacks go there only; without one, the terminal is the only place to show them.
    terminal.setFormatter(_WithoutTraceback(FORMAT) if log_path else logging.Formatter(FORMAT))
    handlers: list[logging.Handler] = [terminal]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log_file = logging.FileHandler(log_path, mode="w")
        log_file.setFormatter(logging.Formatter(FORMAT))
        handlers.append(log_file)
    logging.basicConfig(level=level, handlers=handlers, force=True)


def run_step(step: Callable[[], object], log_path: str | Path | None = None) -> None:
    """Call ``step``; a failure ends the process with exit status 1 and one line on stderr.

    A bad input (:class:`InputError`) prints its message (file, row/column, fix); any other exception prints its
    type and message and where the traceback is. Either way the traceback is written to ``log_path`` only.
    """
    configure_logging(log_path)
    logger = logging.getLogger("cic")
    try:
        step()
    except InputError as error:
        logger.error("%s", error, exc_info=True)
        sys.exit(1)
    except Exception as error:  # a bug or an environment problem: the terminal gets one line, the log the rest
        message = " ".join(str(error).split()) or "(no message)"
        where = f" (traceback in {log_path})" if log_path else ""
        logger.error("%s: %s%s", type(error).__name__, message, where, exc_info=True)
        sys.exit(1)


def paths_by_key(paths: Iterable, pattern: str, keys: Iterable[Sequence[str]]) -> dict[tuple, str]:
    """{key: ``pattern.format(*key)``} for each key tuple, each path checked to be among a rule's ``paths``, so a
    script pairs files with their wildcards by name rather than by the order in which ``expand`` listed them."""
    found = {tuple(key): pattern.format(*key) for key in keys}
    missing = set(found.values()) - set(map(str, paths))
    if missing:
        raise ValueError(f"not among the rule's files: {sorted(missing)}")
    return found


# Inputs that may only order the jobs (unless the function takes them): their content reaches the function through
# params (the selected architecture, the GMT files of the enrichment sources) or was checked by the rule that wrote
# them (the gene set overlap).
ORDER_ONLY_INPUTS = frozenset({"architecture_ranking", "overlap", "source_gmt"})


def rule_arguments(smk, parameters) -> dict:
    """A rule's named inputs, outputs and params (and ``threads`` when the function takes it) as keyword arguments.

    Names are the function's parameter names, so a swapped pair of paths is a TypeError, never a silent swap. A
    named output given as a list stays a list (a stacked training job writes one file per fold). A function with a
    ``figures`` parameter gets the outputs it has no parameter for in it, by name (``fig2b_png``: path)."""
    arguments = {}
    for section in (smk.input, smk.output, smk.params):
        for name, value in section.items():
            if section is smk.input and name in ORDER_ONLY_INPUTS and name not in parameters:
                continue
            if name in arguments:
                raise TypeError(f"rule {smk.rule}: {name!r} is both an input/output and a param")
            arguments[name] = list(value) if isinstance(value, list) and section is not smk.params else value
    if "threads" in parameters:
        arguments["threads"] = smk.threads
    if "figures" in parameters and "figures" not in arguments:  # a figure step: {name: path} of its figure files
        arguments["figures"] = {name: arguments.pop(name) for name, _ in smk.output.items() if name not in parameters}
    return arguments


def run_rule(smk, *targets: str) -> None:
    """The bridge from a rule to the package: ``target`` ("module:function") gets the rule's named inputs, outputs
    and params as keyword arguments (:func:`rule_arguments`); failures as in :func:`run_step`.

    Several targets run in order, each with the arguments it names: a rule that writes a stage's summary table and
    draws its figures from the same tables. Every argument must be named by one of them (else a TypeError, as for
    one target), so a misnamed input still fails rather than being dropped.

    Usage, the whole of a rule's script: ``from cic.runner import run_rule; run_rule(snakemake, "cic.stages.x:f")``.
    The modules are imported here, so a job loads only the stages it runs."""
    import importlib
    import inspect

    def step():
        functions = [getattr(importlib.import_module(module), name)
                     for module, name in (target.split(":") for target in targets)]
        if len(functions) == 1:
            return functions[0](**rule_arguments(smk, inspect.signature(functions[0]).parameters))
        signatures = [inspect.signature(function).parameters for function in functions]
        arguments = rule_arguments(smk, {name: None for parameters in signatures for name in parameters})
        unnamed = sorted(set(arguments) - {name for parameters in signatures for name in parameters})
        if unnamed:
            raise TypeError(f"rule {smk.rule}: no function of {targets} takes {unnamed}")
        for function, parameters in zip(functions, signatures):
            function(**{name: value for name, value in arguments.items() if name in parameters})

    run_step(step, smk.log[0] if smk.log else None)
