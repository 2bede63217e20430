"""Run a workflow step: log to the rule's log file and stderr, turn InputError into one line and exit code 1."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Callable

from cic.errors import InputError


def configure_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers,
                        force=True)


def run_step(step: Callable[[], object], log_path: str | Path | None = None) -> None:
    """Call ``step``; a bad input ends the process with its one-line message and exit status 1."""
    configure_logging(log_path)
    try:
        step()
    except InputError as error:
        logging.getLogger("cic").error("%s", error)
        sys.exit(1)


def paths_by_key(paths: Iterable, pattern: str, keys: Iterable[Sequence[str]]) -> dict[tuple, str]:
    """{key: ``pattern.format(*key)``} for each key tuple, each path checked to be among a rule's ``paths``, so a
    script pairs files with their wildcards by name rather than by the order in which ``expand`` listed them."""
    found = {tuple(key): pattern.format(*key) for key in keys}
    missing = set(found.values()) - set(map(str, paths))
    if missing:
        raise ValueError(f"not among the rule's files: {sorted(missing)}")
    return found
