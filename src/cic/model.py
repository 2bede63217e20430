"""The paper's autoencoder (Fig 1) and classifier autoencoder (Fig 4), built from a layer spec (Fig 8 notation).

A layer spec describes the ENCODER after the input layer as comma-separated tokens; the width of the last
Linear layer is the size of the cell identity code (CIC). ``L2000,G,L30`` on 20184 genes is the paper's selected
network: Linear 20184->2000, LogSigmoid, Linear 2000->30. Tokens are case-sensitive; whitespace around a token
is ignored; the first token must be a Linear layer and so must the last (the code itself is linear).

| token  | layer                                                              |
| ------ | ------------------------------------------------------------------ |
| `L<n>` | Linear (fully connected) layer to n units, n a positive integer    |
| `G`    | LogSigmoid, log(1 / (1 + exp(-x)))                                 |
| `S`    | SoftMax over the features of a sample (the paper's `L300,S,L100,L30`) |
| `Sig`  | Sigmoid                                                            |
| `R`    | ReLU                                                               |
| `T`    | Tanh                                                               |
| `SP`   | SoftPlus, log(1 + exp(x))                                          |
| `SS`   | SoftShrink with lambda 0.5 (x - 0.5 above 0.5, x + 0.5 below -0.5, else 0) |
| `W`    | Swish (SiLU), x * sigmoid(x)                                       |
| `B`    | BatchNorm1d over the width of the preceding layer                  |
| `D<p>` | Dropout with probability p, 0 <= p < 1 (e.g. `D0.2`)               |

The decoder mirrors the encoder: the layer list is reversed and each Linear a->b becomes Linear b->a, so every
activation, BatchNorm and Dropout keeps its mirrored position. ``L300,S,L100,L30`` on 1000 genes gives the encoder
Linear(1000,300), SoftMax, Linear(300,100), Linear(100,30) and the decoder Linear(30,100), Linear(100,300), SoftMax,
Linear(300,1000). The output layer is linear: the REP is a regression on the expression values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn

ALLOWED_TOKENS = "L<n> (Linear to n units), G, S, Sig, R, T, SP, SS, W, B, D<p> (Dropout, 0 <= p < 1)"

# Parameter-free tokens -> module constructor.
ACTIVATIONS = {
    "G": nn.LogSigmoid,
    "S": partial(nn.Softmax, dim=1),  # over the features of each sample, not over the samples of a batch
    "Sig": nn.Sigmoid,
    "R": nn.ReLU,
    "T": nn.Tanh,
    "SP": nn.Softplus,
    "SS": nn.Softshrink,  # lambda 0.5, the torch (and Torch7) default
    "W": nn.SiLU,
}


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
    if token in ACTIVATIONS or token == "B":
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
    """The winning layer spec of an architecture ranking table (TSV with columns rank and architecture)."""
    import pandas as pd

    from cic.errors import InputError

    try:
        ranking = pd.read_csv(ranking_path, sep="\t")
    except FileNotFoundError:
        raise InputError(ranking_path, "architecture ranking not found", "run the Fig 8 sweep first") from None
    if not {"rank", "architecture"} <= set(ranking.columns) or ranking.empty:
        raise InputError(ranking_path, "needs columns 'rank' and 'architecture' and at least one row",
                         "re-run the Fig 8 sweep (snakemake --forcerun rank_architectures)")
    spec = str(ranking.sort_values("rank", kind="stable")["architecture"].iloc[0])
    parse_layer_spec(spec)
    return spec


def mirror_layers(layers: list[Layer], n_genes: int) -> list[Layer]:
    """The decoder's layers: the encoder's in reverse order, each Linear going back to its input width."""
    input_widths = []
    width = n_genes
    for layer in layers:
        if layer.is_linear:
            input_widths.append(width)
            width = layer.units
    mirrored = []
    for layer in reversed(layers):
        if layer.is_linear:
            units = input_widths.pop()
            mirrored.append(replace(layer, token=f"L{units}", units=units))
        else:
            mirrored.append(layer)
    return mirrored


def build_stack(layers: list[Layer], input_width: int) -> nn.Sequential:
    """Turn parsed layers into modules, starting from ``input_width`` features."""
    modules = []
    width = input_width
    for layer in layers:
        if layer.is_linear:
            modules.append(nn.Linear(width, layer.units))
            width = layer.units
        elif layer.probability is not None:
            modules.append(nn.Dropout(layer.probability))
        elif layer.token == "B":
            modules.append(nn.BatchNorm1d(width))
        else:
            modules.append(ACTIVATIONS[layer.token]())
    return nn.Sequential(*modules)


class Autoencoder(nn.Module):
    """GEP (n_genes) -> encoder -> CIC (code_size) -> mirrored decoder -> REP (n_genes)."""

    kind = "autoencoder"

    def __init__(self, n_genes: int, spec: str):
        super().__init__()
        if n_genes < 1:
            raise ValueError(f"n_genes must be a positive integer, got {n_genes}")
        layers = parse_layer_spec(spec)
        self.n_genes = n_genes
        self.spec = ",".join(layer.token for layer in layers)  # canonical form, without whitespace
        self.code_size = layers[-1].units
        self.encoder = build_stack(layers, n_genes)
        self.decoder = build_stack(mirror_layers(layers, n_genes), self.code_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def metadata(self) -> dict:
        """What :func:`build_model` needs to rebuild this network (plain values, safe for weights-only loading)."""
        return {"kind": self.kind, "n_genes": self.n_genes, "spec": self.spec}


class ClassifierAutoencoder(Autoencoder):
    """The paper's Fig 4: the autoencoder plus a classifier head on the CIC.

    The classifier is Linear(code, n_classes), or Linear(code, hidden) -> ReLU -> Linear(hidden, n_classes) when
    ``classifier_hidden`` is given. It outputs logits: the SoftMax is inside the cross-entropy loss during training
    and applied by :meth:`predict_proba`.
    """

    kind = "classifier_autoencoder"

    def __init__(self, n_genes: int, spec: str, n_classes: int, classifier_hidden: int | None = None):
        super().__init__(n_genes, spec)
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got n_classes={n_classes}")
        if classifier_hidden is not None and classifier_hidden < 1:
            raise ValueError(f"classifier_hidden must be a positive integer or None, got {classifier_hidden}")
        self.n_classes = n_classes
        self.classifier_hidden = classifier_hidden
        if classifier_hidden is None:
            self.classifier = nn.Sequential(nn.Linear(self.code_size, n_classes))
        else:
            self.classifier = nn.Sequential(nn.Linear(self.code_size, classifier_hidden), nn.ReLU(),
                                            nn.Linear(classifier_hidden, n_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (reconstruction, class logits), both computed from one encoding."""
        code = self.encode(x)
        return self.decode(code), self.classifier(code)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(self.encode(x)), dim=1)

    def metadata(self) -> dict:
        return super().metadata() | {"n_classes": self.n_classes, "classifier_hidden": self.classifier_hidden}


def build_model(meta: dict) -> Autoencoder:
    """Rebuild an untrained network from :meth:`Autoencoder.metadata` (e.g. read from a model file)."""
    if meta.get("kind") == Autoencoder.kind:
        return Autoencoder(meta["n_genes"], meta["spec"])
    if meta.get("kind") == ClassifierAutoencoder.kind:
        return ClassifierAutoencoder(meta["n_genes"], meta["spec"], meta["n_classes"], meta["classifier_hidden"])
    raise ValueError(f"unknown model kind {meta.get('kind')!r}; expected {Autoencoder.kind!r} or "
                     f"{ClassifierAutoencoder.kind!r}")


@torch.no_grad()
def initialise_weights(model: nn.Module, seed: int) -> None:
    """Draw fresh weights from ``seed``, independently of torch's global random state and of the device.

    Linear weights and biases are uniform in +-1/sqrt(fan_in), as Torch7's nn.Linear:reset() (and torch's default);
    BatchNorm layers go back to scale 1, shift 0 and fresh running statistics. Values are drawn on the CPU, so a
    seed gives the same initial network on every device.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.in_features)
            for parameter in (module.weight, module.bias):
                fresh = torch.empty(parameter.shape, dtype=torch.float64).uniform_(-bound, bound,
                                                                                   generator=generator)
                parameter.copy_(fresh)
        elif isinstance(module, nn.BatchNorm1d):
            module.reset_parameters()
