"""File-level entry points of the workflow's rules: read inputs, call the library, write outputs atomically.

``workflow/scripts/*.py`` only forward Snakemake's input/output/params to these functions, so every step can also be
run and tested without Snakemake.
"""
