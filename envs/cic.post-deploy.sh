#!/usr/bin/env bash
# Snakemake runs this inside the freshly created conda environment, from the workflow's working directory
# (the repository root): install the cic package itself, without touching the conda-managed dependencies.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation -e .
