# The reproduction report: the paper's claims judged on this run (claims.tsv), the run's configuration, and the
# `figures` target. `snakemake --report results/report.html` gathers every output registered with report().
# Re-render every figure, retraining nothing: snakemake --cores 2 figures --forcerun results/figures/*
# (it reruns the jobs that write figures, which read stored tables and profiles; no training job writes one).


rule claims:
    input:
        **claims_inputs(),
    output:
        output=in_report("results/tables/claims.tsv", "Claims"),
    log:
        "results/logs/report/claims.log",
    conda:
        "../../envs/cic.yaml"
    params:
        dataset=dataset_label(config),
    script:
        "../scripts/write_claims.py"


rule run_config:
    output:
        output=in_report("results/tables/run_config.yaml", "Run configuration"),
    log:
        "results/logs/report/run_config.log",
    conda:
        "../../envs/cic.yaml"
    params:
        config=config,
        dataset=dataset_label(config),
    script:
        "../scripts/write_run_config.py"


rule figures:
    input:
        figure_outputs(),
    localrule: True
