"""cic: cell identity codes (Abdolhosseini et al., Sci Rep 2019) as an importable package.

The Snakemake workflow under ``workflow/`` calls into these modules; each module is usable on its own.
"""

__version__ = "0.1.0"
