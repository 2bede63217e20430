# cic-workflow: reproduce "Cell identity codes" (Abdolhosseini et al., Sci Rep 2019) and go beyond it.
# Run:  snakemake --cores all                      (default: embedded synthetic compendium)
#       snakemake --cores all --configfile config/test.yaml   (tiny)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/reconstruction.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/universality.smk"
include: "workflow/rules/classification.smk"
include: "workflow/rules/perturbation.smk"
include: "workflow/rules/query.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
