"""Atomic output writers and the AnnData expression container.

Every writer goes to a temporary file in the destination folder and renames it into place, so an interrupted
or failed step never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # anndata, numpy and pandas load in the functions that need them: a table or figure job
    import anndata as ad  # that reads no .h5ad does not pay for anndata's import
    import numpy as np
    import pandas as pd


@contextlib.contextmanager
def _temporary_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path``, removed on leaving unless it was renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes),
                                        dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _publish(tmp: Path, path: Path) -> None:
    # mkstemp creates 0600 files; give the result the permissions an ordinary open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    with _temporary_path(path) as tmp:
        yield tmp
        _publish(tmp, Path(path))


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike) -> Iterator[tuple[Path, ...]]:
    """Temporary paths beside each of ``paths``, renamed onto them together once the block succeeds: when the block
    fails nothing is renamed, and when a rename fails the outputs renamed before it are removed, so a step's outputs
    are never a mix of complete and missing files."""
    with contextlib.ExitStack() as stack:
        temporaries = tuple(stack.enter_context(_temporary_path(path)) for path in paths)
        yield temporaries
        done = []
        try:
            for tmp, path in zip(temporaries, paths):
                _publish(tmp, Path(path))
                done.append(Path(path))
        except BaseException:
            for path in done:
                path.unlink(missing_ok=True)
            raise


def write_table(frame: pd.DataFrame, path: str | os.PathLike, index: bool = False) -> None:
    """Write a tab-separated table atomically (floats with full precision, so re-reading is exact)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index, float_format="%.10g")


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)


def read_h5ad(path: str | os.PathLike) -> ad.AnnData:
    import anndata as ad

    return ad.read_h5ad(path)


def expression_container(matrix: np.ndarray, samples: pd.DataFrame, genes: list[str] | pd.Index,
                         **provenance) -> ad.AnnData:
    """Build the one expression container used downstream.

    ``matrix`` is samples x genes (float32, log2 scale after preparation); ``samples`` is indexed by sample id
    and has columns ``cell_type`` and ``study``; ``provenance`` goes to ``uns`` (how the data were made).
    """
    import anndata as ad
    import numpy as np
    import pandas as pd

    obs = samples.copy()
    obs.index = obs.index.astype(str)
    obs.index.name = "sample"
    obs["cell_type"] = obs["cell_type"].astype(str).astype("category")
    obs["study"] = obs["study"].astype(str)
    var = pd.DataFrame(index=pd.Index([str(g) for g in genes], name="gene"))
    adata = ad.AnnData(X=np.ascontiguousarray(matrix, dtype=np.float32), obs=obs, var=var)
    adata.uns["provenance"] = {key: value for key, value in provenance.items() if value is not None}
    return adata


def read_gmt(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a GMT file (``name<TAB>description<TAB>gene...``) into {name: genes}."""
    gene_sets: dict[str, list[str]] = {}
    with open(path) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 3:
                gene_sets[fields[0]] = [gene for gene in fields[2:] if gene]
    return gene_sets


def write_gmt(gene_sets: dict[str, list[str]], path: str | os.PathLike,
              descriptions: dict[str, str] | None = None) -> None:
    descriptions = descriptions or {}
    lines = [
        "\t".join([name, descriptions.get(name, name), *genes]) for name, genes in gene_sets.items()
    ]
    write_text("\n".join(lines) + "\n", path)
