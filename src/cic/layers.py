"""Layer specs (the paper's Fig 8 notation) without torch: parsing, the code size, and the Fig 8 sweep's winner.

The workflow builds its job graph from these (a dry run and every light rule import no torch, pandas or anndata);
:mod:`cic.model` builds the networks from the same :class:`Layer` list. The tokens are listed in :mod:`cic.model`.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass

ALLOWED_TOKENS = "L<n> (Linear to n units), G, S, Sig, R, T, SP, SS, W, B, D<p> (Dropout, 0 <= p < 1)"
# Parameter-free activation tokens (cic.model.ACTIVATIONS maps each to its torch module).
ACTIVATION_TOKENS = ("G", "S", "Sig", "R", "T", "SP", "SS", "W")


@dataclass(frozen=True)
class Layer:
    """One token of a layer spec: ``units`` for Linear layers, ``probability`` for Dropout."""

    token: str
    units: int | None = None
    probability: float | None = None

    @property
    def is_linear(self) -> bool:
        return self.units is not None


def parse_layer_spec(spec: str) -> list[Layer]:
    """Parse a layer spec such as ``"L2000,G,L30"``; raise ValueError naming the bad token and what is allowed."""
    tokens = [token.strip() for token in spec.split(",")]
    if tokens == [""]:
        raise ValueError(f"layer spec {spec!r} is empty; write the encoder as comma-separated tokens, "
                         f"e.g. 'L2000,G,L30'; allowed tokens: {ALLOWED_TOKENS}")
    layers = [_parse_token(token, position, spec) for position, token in enumerate(tokens, start=1)]
    if not layers[0].is_linear:
        raise ValueError(f"layer spec {spec!r}: first token {layers[0].token!r} must be a Linear layer L<n> "
                         f"(the input layer is implicit), e.g. 'L2000,G,L30'")
    if not layers[-1].is_linear:
        raise ValueError(f"layer spec {spec!r}: last token {layers[-1].token!r} must be a Linear layer L<n>, "
                         f"whose width is the code size, e.g. 'L2000,G,L30'")
    return layers


def _parse_token(token: str, position: int, spec: str) -> Layer:
    problem = f"layer spec {spec!r}: token {position} {token!r}"
    if token in ACTIVATION_TOKENS or token == "B":
        return Layer(token)
    if token.startswith("L"):
        if not re.fullmatch(r"L\d+", token) or int(token[1:]) == 0:
            raise ValueError(f"{problem} must be L followed by a positive integer number of units, e.g. 'L30'")
        return Layer(token, units=int(token[1:]))
    if token.startswith("D"):
        try:
            probability = float(token[1:])
        except ValueError:
            probability = math.nan
        if not 0.0 <= probability < 1.0:  # also false for nan
            raise ValueError(f"{problem} must be D followed by a dropout probability p with 0 <= p < 1, "
                             f"e.g. 'D0.2'")
        return Layer(token, probability=probability)
    what = "an empty token (two commas in a row or a trailing comma?)" if token == "" else "an unknown token"
    raise ValueError(f"{problem} is {what}; allowed tokens (case-sensitive): {ALLOWED_TOKENS}")


def code_size(spec: str) -> int:
    """Width of the code layer (the CIC): the units of the spec's last Linear layer."""
    return parse_layer_spec(spec)[-1].units


def best_architecture(ranking_path) -> str:
    """The winning layer spec of an architecture ranking table (TSV with columns rank and architecture; the
    lowest rank wins, the first row among equals)."""
    from cic.errors import InputError

    try:
        with open(ranking_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            rows = list(reader)
            columns = set(reader.fieldnames or ())
    except FileNotFoundError:
        raise InputError(ranking_path, "architecture ranking not found", "run the Fig 8 sweep first") from None
    if not {"rank", "architecture"} <= columns or not rows:
        raise InputError(ranking_path, "needs columns 'rank' and 'architecture' and at least one row",
                         "re-run the Fig 8 sweep (snakemake --forcerun rank_architectures)")
    spec = min(rows, key=lambda row: float(row["rank"]))["architecture"]
    parse_layer_spec(spec)
    return spec
