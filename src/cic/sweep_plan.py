"""What the sweeps of Figs 8 and 9 and the regularisation check train: jobs, layer specs, folds, seeds, settings.

Imported by ``workflow/rules/sweeps.smk`` when Snakemake builds its job graph, so it stays light: plain Python on
layer-spec strings, no torch or pandas. The training jobs parse every spec fully (:func:`cic.layers.parse_layer_spec`)
before they train.

Every run is one (architecture, code size or variant) x one cross-validation fold. Its seed is
``seed + SEED_OFFSETS[sweep] + fold``: reproducible, independent between sweeps, and shared by the entries of one
sweep at the same fold, so the regularisation variants of a fold start from the same random stream (paired runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cic.layers import ACTIVATION_TOKENS

# Offsets of the sweeps' seeds from config["seed"]; folds add 0 .. cv_folds - 1 (< 1000) to them.
SEED_OFFSETS = {"architectures": 1000, "code_sizes": 2000, "regularisation": 3000}
SELECTED = "selected"  # code_sizes.architecture: resize the code layer of the selected network
CODE_SIZE_FIELD = "{code_size}"
VARIANT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def tokens(spec: str) -> list[str]:
    return [token.strip() for token in str(spec).split(",")]


def canonical_spec(spec: str) -> str:
    """``"L300, G, L30"`` -> ``"L300,G,L30"`` (the form :class:`cic.model.Autoencoder` stores)."""
    return ",".join(tokens(spec))


def paper_notation(spec: str) -> str:
    """The paper's legend notation: ``"L300,G,L30"`` -> ``"L300, G, L30"``."""
    return ", ".join(tokens(spec))


def architecture_slug(spec: str) -> str:
    """A file-name-safe name of a layer spec, one to one: commas become underscores (``L300_G_L30``)."""
    return "_".join(tokens(spec))


def architecture_jobs(specs) -> dict[str, str]:
    """{slug: canonical spec} of the Fig 8 sweep, in config order; a spec listed twice is a config error."""
    jobs: dict[str, str] = {}
    for spec in specs:
        slug = architecture_slug(spec)
        if slug in jobs:
            raise ValueError(f"config: sweeps.architectures.specs lists {canonical_spec(spec)!r} twice; "
                             "fix: remove the duplicate")
        jobs[slug] = canonical_spec(spec)
    return jobs


def sweep_folds(folds: int | None, cv_folds: int) -> list[int]:
    """The first ``folds`` folds of the shared ``cv_fold`` column (all ``cv_folds`` when ``folds`` is None)."""
    if folds is None:
        return list(range(cv_folds))
    if not 1 <= folds <= cv_folds:
        raise ValueError(f"config: a sweep asks for {folds} folds but splits.cv_folds is {cv_folds}; "
                         f"fix: set the sweep's folds between 1 and {cv_folds} (or null for all)")
    return list(range(folds))


def run_grid(keys, folds) -> tuple[list, list[int]]:
    """Every key x fold, as two aligned lists (keys outer, folds inner): the order of a sweep's runs."""
    pairs = [(key, int(fold)) for key in keys for fold in folds]
    return [key for key, _ in pairs], [fold for _, fold in pairs]


def sweep_seed(seed: int, sweep: str, fold: int) -> int:
    return int(seed) + SEED_OFFSETS[sweep] + int(fold)


def sweep_training(training: dict, sweep_overrides: dict | None, run_overrides: dict | None = None) -> dict:
    """The training settings of a sweep run: ``training``, then the sweeps' overrides, then the run's own."""
    return dict(training) | dict(sweep_overrides or {}) | dict(run_overrides or {})


def with_code_size(spec: str, code_size: int) -> str:
    """``spec`` with its code layer (the last Linear layer) resized: ``("L300,G,L30", 10)`` -> ``"L300,G,L10"``."""
    layers = tokens(spec)
    if not re.fullmatch(r"L\d+", layers[-1]):
        raise ValueError(f"layer spec {spec!r} must end with a Linear layer L<n> (the code)")
    return ",".join(layers[:-1] + [f"L{int(code_size)}"])


def code_size_architecture(family: str, selected: str | None, code_size: int) -> str:
    """The Fig 9 network with a code of ``code_size`` units.

    ``family`` is ``"selected"`` (the selected network, ``selected``, with its code layer resized; the paper's
    L2000,G,L<k>) or a layer spec containing ``{code_size}``, e.g. ``"L2000,G,L{code_size}"``.
    """
    if family == SELECTED:
        if selected is None:
            raise ValueError("sweeps.code_sizes.architecture is 'selected' but no selected network was given")
        return with_code_size(selected, code_size)
    if CODE_SIZE_FIELD not in family:
        raise ValueError(f"config: sweeps.code_sizes.architecture {family!r} must be 'selected' or contain "
                         f"{CODE_SIZE_FIELD}, e.g. 'L2000,G,L{CODE_SIZE_FIELD}'")
    return canonical_spec(family.replace(CODE_SIZE_FIELD, str(int(code_size))))


def variant_architecture(selected: str, variant: dict) -> str:
    """The network of one regularisation variant, derived from the selected network.

    ``variant`` keys (all optional but ``name``): ``spec`` replaces the network outright; otherwise
    ``activation`` replaces every activation token (e.g. ``R``, ``W``), ``batch_norm: true`` puts a ``B`` after every
    hidden Linear layer (before its activation) and ``dropout: p`` puts a ``D<p>`` after every activation of the
    encoder (the decoder mirrors them). ``{name: none}`` is the selected network unchanged.
    """
    if variant.get("spec"):
        return canonical_spec(variant["spec"])
    layers = tokens(selected)
    activation = variant.get("activation")
    if activation:
        if activation not in ACTIVATION_TOKENS:
            raise ValueError(f"config: regularisation variant {variant['name']!r}: activation {activation!r} is not "
                             f"one of {', '.join(ACTIVATION_TOKENS)}")
        layers = [activation if token in ACTIVATION_TOKENS else token for token in layers]
    result: list[str] = []
    last = len(layers) - 1
    for position, token in enumerate(layers):
        result.append(token)
        if variant.get("batch_norm") and token.startswith("L") and position != last:
            result.append("B")
        if variant.get("dropout") and token in ACTIVATION_TOKENS:
            result.append(f"D{float(variant['dropout']):g}")
    return ",".join(result)


def regularisation_variants(variants) -> dict[str, dict]:
    """{name: variant} in config order; names must be unique and file-name safe."""
    named: dict[str, dict] = {}
    for variant in variants:
        name = str(variant["name"])
        if not VARIANT_NAME.match(name):
            raise ValueError(f"config: regularisation variant name {name!r} may only contain letters, digits, "
                             "'_' and '-'")
        if name in named:
            raise ValueError(f"config: regularisation variant {name!r} is listed twice; fix: rename one")
        named[name] = dict(variant)
    return named


RUNS_DIR = "results/models/sweeps"  # <sweep>/<run folder>/fold<k>/{model.pt,history.tsv}
GENES = {"top_variance": "results/data/expression_top_variance.h5ad", "all": "results/data/expression.h5ad"}


@dataclass(frozen=True)
class Sweep:
    """One sweep of a run: ``runs`` maps each run's folder name to what it varies (a layer spec for
    ``architectures``, a code size for ``code_sizes``, a variant for ``regularisation``); each run trains the CV
    ``folds`` on the ``expression`` file (sweeps.<name>.genes)."""

    name: str
    runs: dict
    folds: list[int]
    expression: str

    @property
    def grid(self) -> tuple[list[str], list[int]]:
        """Every run x fold as aligned lists (runs outer, folds inner) of run folders and folds."""
        return run_grid(list(self.runs), self.folds)

    @property
    def values(self) -> list:
        """What each run x fold of :attr:`grid` varies (its layer spec, code size or variant)."""
        return [self.runs[folder] for folder in self.grid[0]]

    @property
    def history_paths(self) -> list[str]:
        """The training history of every run x fold, in :attr:`grid` order."""
        return [f"{RUNS_DIR}/{self.name}/{folder}/fold{fold}/history.tsv" for folder, fold in zip(*self.grid)]


def plan_sweeps(config: dict) -> dict[str, Sweep]:
    """The three sweeps of config["sweeps"]: Fig 8's architectures (folders: :func:`architecture_slug`), Fig 9's
    code sizes (folders ``code<size>``) and the regularisation variants (folders: their names).

    Raises ValueError (from :func:`architecture_jobs`, :func:`sweep_folds`, :func:`regularisation_variants`) for a
    spec or variant listed twice, a bad variant name or more sweep folds than CV folds."""
    sweeps, cv_folds = config["sweeps"], config["splits"]["cv_folds"]
    runs = {
        "architectures": architecture_jobs(sweeps["architectures"]["specs"]),
        "code_sizes": {f"code{int(size)}": int(size) for size in sweeps["code_sizes"]["sizes"]},
        "regularisation": regularisation_variants(sweeps["regularisation"]["variants"]),
    }
    return {name: Sweep(name, runs[name], sweep_folds(sweeps[name]["folds"], cv_folds), GENES[sweeps[name]["genes"]])
            for name in runs}
