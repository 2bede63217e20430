# The reproduction report: the paper's claims judged on this run (claims.tsv), the run's configuration, and the
# `figures` target. `snakemake --report results/report.html` gathers every figure registered with report().
#
# Re-render every figure from the stored tables, retraining nothing:
#     snakemake --cores 2 figures --forcerun results/figures/*
# (--forcerun accepts files: it reruns exactly the jobs that write them, the plotting rules, which read only
# tables and stored profiles; their inputs are up to date, so no training rule runs.)


rule claims:
    input:
        **claims_inputs(),
    output:
        output=report("results/tables/claims.tsv", caption="../report/claims.rst", category="Claims"),
    log:
        "results/logs/report/claims.log",
    conda:
        "../../envs/cic.yaml"
    params:
        dataset=dataset_label(),
    script:
        "../scripts/write_claims.py"


rule run_config:
    output:
        output=report(
            "results/tables/run_config.yaml", caption="../report/run_config.rst", category="Run configuration"
        ),
    log:
        "results/logs/report/run_config.log",
    conda:
        "../../envs/cic.yaml"
    params:
        config=config,
        dataset=dataset_label(),
    script:
        "../scripts/write_run_config.py"


rule figures:
    input:
        figure_outputs(),
    localrule: True
