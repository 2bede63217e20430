"""Make the repository's reduced copy of the Nakayama 2007 sarcoma arrays (resources/README.md says why and how).

    python resources/nakayama2007/reduce.py FULL_COPY_DIR resources/nakayama2007

FULL_COPY_DIR holds the full set as converted from the datamicroarray R package's ``data/nakayama.RData``:
``expression.tsv.gz`` (22283 HG-U133A probe sets x 105 samples, first column ``probe_set``, MAS5 signal) and
``samples.tsv`` (``sample``, ``cell_type``). The copy keeps

* the 5 tumour types with at least MIN_SAMPLES samples (86 samples): a type needs 10 for the default 10-fold CV;
* the probe sets whose mean signal over those 86 arrays is at least MIN_MEAN_SIGNAL, without Affymetrix' AFFX
  control probe sets (spike-ins and hybridisation controls, no genes), so that the copy stays under 3 MB;

and writes every kept value exactly as distributed (the text is copied, never re-formatted). The gzip header has no
file name or time stamp, so the same input always gives the same bytes.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pandas as pd

MIN_SAMPLES = 15
MIN_MEAN_SIGNAL = 20.0  # MAS5 signal; Golub et al. (1999) floored such arrays at 20: below it is mostly noise


def reduce(full: Path, output: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    expression = pd.read_csv(full / "expression.tsv.gz", sep="\t", index_col=0, dtype=str, keep_default_na=False)
    samples = pd.read_csv(full / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    sizes = samples["cell_type"].value_counts()
    samples = samples[samples["cell_type"].isin(sizes.index[sizes >= MIN_SAMPLES])]
    expression = expression[samples["sample"]]
    mean = expression.astype(float).mean(axis=1)
    keep = (mean >= MIN_MEAN_SIGNAL) & ~expression.index.str.startswith("AFFX")
    expression = expression[keep.to_numpy()]
    output.mkdir(parents=True, exist_ok=True)
    text = expression.to_csv(sep="\t", lineterminator="\n").encode()
    with open(output / "expression.tsv.gz", "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as handle:
        handle.write(text)
    samples.to_csv(output / "samples.tsv", sep="\t", index=False, lineterminator="\n")
    return expression, samples


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    kept, sheet = reduce(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{kept.shape[0]} probe sets x {kept.shape[1]} samples; types: "
          + ", ".join(f"{name} {count}" for name, count in sheet["cell_type"].value_counts().items()))
