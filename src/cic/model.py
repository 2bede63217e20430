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

Conditioned inputs: every network holds a per-gene ``input_mean`` and ``input_scale`` (buffers, saved in the model
file; 0 and 1 until training fits them on the network's own training samples). :meth:`Autoencoder.encode` feeds
``(GEP - input_mean) / input_scale`` to the encoder and :meth:`Autoencoder.decode` returns
``decoder(code) * input_scale + input_mean``: the same family of functions as the paper's network (the first
and last Linear layers absorb the shift and scale), but one whose optimisation does not have to learn each gene's
mean level first. Codes, REPs and every downstream number stay on the data's log2 scale.

:class:`NetworkStack` holds k networks of one architecture in one module (each Linear layer's k weight matrices
as one ``[k, in, out]`` parameter, run as one batched matrix product), which is how :func:`cic.train.fit` trains
1..k networks at once; :meth:`NetworkStack.network` gives network i back as an ordinary :class:`Autoencoder`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from cic.layers import (  # noqa: F401  (the spec helpers, re-exported: cic.model is where users look)
    ACTIVATION_TOKENS,
    ALLOWED_TOKENS,
    Layer,
    best_architecture,
    code_size,
    parse_layer_spec,
)

# Parameter-free tokens (cic.layers.ACTIVATION_TOKENS) -> module constructor.
ACTIVATIONS = {
    "G": nn.LogSigmoid,
    "S": partial(nn.Softmax, dim=-1),  # over the features of each sample, not over the samples of a batch
    "Sig": nn.Sigmoid,
    "R": nn.ReLU,
    "T": nn.Tanh,
    "SP": nn.Softplus,
    "SS": nn.Softshrink,  # lambda 0.5, the torch (and Torch7) default
    "W": nn.SiLU,
}
assert set(ACTIVATIONS) == set(ACTIVATION_TOKENS)


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
    """GEP (n_genes) -> encoder -> CIC (code_size) -> mirrored decoder -> REP (n_genes), on the data's scale.

    ``input_mean`` and ``input_scale`` (buffers, one value per gene) condition the network's inputs and outputs:
    see the module docstring. They are 0 and 1 (no conditioning) until :func:`cic.train.fit` sets them.
    """

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
        self.register_buffer("input_mean", torch.zeros(n_genes))
        self.register_buffer("input_scale", torch.ones(n_genes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """CICs (samples x code_size) of GEPs ``x`` (samples x genes, the data's log2 scale)."""
        return self.encoder((x - self.input_mean) / self.input_scale)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """REPs (samples x genes, the data's log2 scale) of codes (samples x code_size)."""
        return torch.addcmul(self.input_mean, self.decoder(code), self.input_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def metadata(self) -> dict:
        """What :func:`build_model` needs to rebuild this network (plain values, safe for weights-only loading)."""
        return {"kind": self.kind, "n_genes": self.n_genes, "spec": self.spec}


def classifier_layers(n_classes: int, classifier_hidden: int | None) -> list[Layer]:
    """The classifier head after the CIC: Linear to n_classes, or Linear to hidden, ReLU, Linear to n_classes."""
    if classifier_hidden is None:
        return [Layer(f"L{n_classes}", units=n_classes)]
    return [Layer(f"L{classifier_hidden}", units=classifier_hidden), Layer("R"),
            Layer(f"L{n_classes}", units=n_classes)]


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
        self.classifier = build_stack(classifier_layers(n_classes, classifier_hidden), self.code_size)

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


# --------------------------------------------------------------------------------------------------------------
# k networks of one architecture in one module (how cic.train.fit trains them)


class StackedLinear(nn.Module):
    """k Linear layers: ``x [k, batch, in] -> [k, batch, out]``, one batched product (``torch.baddbmm``).

    The weights are stored TRANSPOSED, ``[k, in, out]`` (an nn.Linear weight is ``[out, in]``), so that the forward
    product ``x @ W`` and the weight gradient ``x^T @ grad`` are batched products of contiguous matrices (with
    ``[k, out, in]`` autograd copies every weight gradient into the parameter's layout, as costly as the product
    itself on a CPU). Bias ``[k, out]``.
    """

    def __init__(self, k: int, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.zeros(k, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(k, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)


class StackedBatchNorm(nn.Module):
    """k BatchNorm1d layers (torch's defaults: eps 1e-5, momentum 0.1) on ``[k, batch, features]``.

    In training mode each network normalises with the mean and (biased) variance of its own REAL rows only
    (``counts[i]`` first rows; the others pad a block of networks with fewer samples) and updates its running
    statistics with the unbiased variance, as nn.BatchNorm1d; a network without a row in the block keeps its
    running statistics. In eval mode each network uses its running statistics.
    """

    def __init__(self, k: int, features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(k, features))
        self.bias = nn.Parameter(torch.zeros(k, features))
        self.register_buffer("running_mean", torch.zeros(k, features))
        self.register_buffer("running_var", torch.ones(k, features))
        self.register_buffer("num_batches_tracked", torch.zeros(k, dtype=torch.long))

    def forward(self, x: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        scale, shift = self.weight.unsqueeze(1), self.bias.unsqueeze(1)
        if not self.training:
            return (x - self.running_mean.unsqueeze(1)) / torch.sqrt(self.running_var.unsqueeze(1) + self.eps) \
                * scale + shift
        if counts is None:
            counts = torch.full((x.shape[0],), x.shape[1], device=x.device)
        real = (torch.arange(x.shape[1], device=x.device) < counts.unsqueeze(1)).to(x.dtype).unsqueeze(2)
        n = counts.clamp(min=1).to(x.dtype).view(-1, 1, 1)  # a network without rows: finite values, not used
        mean = (x * real).sum(dim=1, keepdim=True) / n
        centred = x - mean
        variance = (centred.square() * real).sum(dim=1, keepdim=True) / n
        with torch.no_grad():
            present = (counts > 0).unsqueeze(1)
            unbiased = (variance * n / (n - 1).clamp(min=1)).squeeze(1)
            self.running_mean.copy_(torch.where(present, torch.lerp(self.running_mean, mean.squeeze(1),
                                                                    self.momentum), self.running_mean))
            self.running_var.copy_(torch.where(present, torch.lerp(self.running_var, unbiased, self.momentum),
                                               self.running_var))
            self.num_batches_tracked.add_((counts > 0).long())
        return centred / torch.sqrt(variance + self.eps) * scale + shift


class StackedDropout(nn.Module):
    """Dropout on ``[k, batch, features]`` (training mode only), scaled by 1 / (1 - p) as nn.Dropout.

    With ``generators`` each network draws the mask of its ``counts[i]`` real rows from its own generator, so a
    network drops the same units whether it trains alone or in a stack; without, one mask from torch's global
    generator.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor, counts: list[int] | None = None,
                generators: list[torch.Generator] | None = None) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = 1.0 - self.p
        if generators is None:
            mask = torch.empty_like(x).bernoulli_(keep)
        else:
            mask = torch.zeros_like(x)
            for network, (count, generator) in enumerate(zip(counts, generators)):
                if count:
                    mask[network, :count].bernoulli_(keep, generator=generator)
        return x * mask / keep


def build_stacked(layers: list[Layer], input_width: int, k: int) -> nn.Sequential:
    """:func:`build_stack` for k networks: the same modules at the same positions (so state_dict names match)."""
    modules = []
    width = input_width
    for layer in layers:
        if layer.is_linear:
            modules.append(StackedLinear(k, width, layer.units))
            width = layer.units
        elif layer.probability is not None:
            modules.append(StackedDropout(layer.probability))
        elif layer.token == "B":
            modules.append(StackedBatchNorm(k, width))
        else:
            modules.append(ACTIVATIONS[layer.token]())  # element-wise, or SoftMax over the last (feature) axis
    return nn.Sequential(*modules)


class NetworkStack(nn.Module):
    """k networks with the architecture of ``template`` (an :class:`Autoencoder` or :class:`ClassifierAutoencoder`)
    as one module: every parameter and buffer of network i is row i of a stacked tensor (Linear weights transposed,
    see :class:`StackedLinear`), and the k networks run on a ``[k, batch, genes]`` block, network i on block i.

    ``counts`` (an int tensor, one entry per network; None = every row) says how many leading rows of each block
    are real samples; BatchNorm and Dropout look only at those (the rest pad the block of a network with fewer
    samples). ``dropout_generators`` (set by the trainer) gives each network its own dropout stream. Both only
    matter in training mode.
    """

    def __init__(self, template: Autoencoder, k: int):
        super().__init__()
        if k < 1:
            raise ValueError(f"a stack needs at least one network, got k={k}")
        self.k = k
        self.meta = template.metadata()
        self.n_genes, self.spec, self.code_size = template.n_genes, template.spec, template.code_size
        layers = parse_layer_spec(template.spec)
        self.encoder = build_stacked(layers, template.n_genes, k)
        self.decoder = build_stacked(mirror_layers(layers, template.n_genes), template.code_size, k)
        self.classifier = build_stacked(classifier_layers(template.n_classes, template.classifier_hidden),
                                        template.code_size, k) if isinstance(template, ClassifierAutoencoder) else None
        self.register_buffer("input_mean", torch.zeros(k, template.n_genes))
        self.register_buffer("input_scale", torch.ones(k, template.n_genes))
        self.dropout_generators: list[torch.Generator] | None = None

    @property
    def is_classifier(self) -> bool:
        return self.classifier is not None

    def _run(self, layers: nn.Sequential, x: torch.Tensor, counts: torch.Tensor | None) -> torch.Tensor:
        listed = None if counts is None else counts.tolist()
        for layer in layers:
            if isinstance(layer, StackedBatchNorm):
                x = layer(x, counts)
            elif isinstance(layer, StackedDropout):
                x = layer(x, listed, self.dropout_generators if counts is not None else None)
            else:
                x = layer(x)
        return x

    def encode(self, x: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """``[k, batch, genes]`` GEPs -> ``[k, batch, code_size]`` CICs, network i on block i."""
        return self._run(self.encoder, (x - self.input_mean.unsqueeze(1)) / self.input_scale.unsqueeze(1), counts)

    def decode(self, code: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """``[k, batch, code_size]`` codes -> ``[k, batch, genes]`` REPs on the data's scale."""
        return torch.addcmul(self.input_mean.unsqueeze(1), self._run(self.decoder, code, counts),
                             self.input_scale.unsqueeze(1))

    def classify(self, code: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """``[k, batch, code_size]`` codes -> ``[k, batch, n_classes]`` logits (classifier autoencoders)."""
        return self._run(self.classifier, code, counts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def linear_weights(self) -> list[nn.Parameter]:
        """The stacked weight matrices of every Linear layer (what the L1 and L2 penalties act on)."""
        return [module.weight for module in self.modules() if isinstance(module, StackedLinear)]

    def _transposed(self) -> set[str]:
        return {f"{name}.weight" for name, module in self.named_modules() if isinstance(module, StackedLinear)}

    @torch.no_grad()
    def set_network(self, index: int, network: Autoencoder) -> None:
        """Copy ``network``'s parameters and buffers into row ``index``."""
        if network.metadata() != self.meta:
            raise ValueError(f"network {network.metadata()} does not have the stack's architecture {self.meta}")
        single, transposed = network.state_dict(), self._transposed()
        for name, tensor in self.state_dict().items():
            value = single[name].T if name in transposed else single[name]
            tensor[index].copy_(value)

    @torch.no_grad()
    def network(self, index: int) -> Autoencoder:
        """Network ``index`` as an ordinary :class:`Autoencoder` (or classifier), on the stack's device and dtype."""
        with torch.random.fork_rng(devices=[]):  # torch's constructors draw from the global generator
            model = build_model(self.meta)
        transposed = self._transposed()
        state = {name: (tensor[index].T if name in transposed else tensor[index]).clone()
                 for name, tensor in self.state_dict().items()}
        first = next(iter(self.parameters()))
        model.to(device=first.device, dtype=first.dtype)
        model.load_state_dict(state)
        return model
