# Data stage: the compendium (simulated or the user's own), its preparation, and the shared splits.


rule simulate_compendium:
    output:
        expression=f"{SYNTHETIC_DIR}/expression.parquet",
        sample_sheet=f"{SYNTHETIC_DIR}/samples.tsv",
        programs=f"{SYNTHETIC_DIR}/programs.gmt",
        activity=f"{SYNTHETIC_DIR}/program_activity.tsv",
        loadings=f"{SYNTHETIC_DIR}/program_loadings.tsv",
    log:
        "results/logs/data/simulate_compendium.log",
    benchmark:
        "results/benchmarks/data/simulate_compendium.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        settings=DATASET["synthetic"],
        samples_per_type=DATASET["samples_per_type"],
        seed=config["seed"],
    script:
        "../scripts/simulate_compendium.py"


rule prepare_expression:
    input:
        **run_plan.raw_expression_files(config),
    output:
        output="results/data/expression.h5ad",
        sample_quality="results/tables/sample_quality.tsv",
    log:
        "results/logs/data/prepare_expression.log",
    benchmark:
        "results/benchmarks/data/prepare_expression.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        local=run_plan.expression_reader(config),
        dataset=DATASET,
        preprocess=config["preprocess"],
        seed=config["seed"],
    script:
        "../scripts/prepare_expression.py"


rule select_top_variance_genes:
    input:
        expression="results/data/expression.h5ad",
    output:
        output="results/data/expression_top_variance.h5ad",
    log:
        "results/logs/data/select_top_variance_genes.log",
    conda:
        "../../envs/cic.yaml"
    params:
        n_genes=config["preprocess"]["top_variance_genes"],
    script:
        "../scripts/select_top_variance_genes.py"


rule assign_splits:
    input:
        expression="results/data/expression.h5ad",
    output:
        output="results/data/splits.tsv",
    log:
        "results/logs/data/assign_splits.log",
    conda:
        "../../envs/cic.yaml"
    params:
        test_fraction=config["splits"]["test_fraction"],
        cv_folds=config["splits"]["cv_folds"],
        noise_cv_folds=config["splits"]["noise_cv_folds"],
        seed=config["seed"],
    script:
        "../scripts/assign_splits.py"


rule plot_data_overview:
    input:
        expression="results/data/expression.h5ad",
        sample_quality="results/tables/sample_quality.tsv",
        splits="results/data/splits.tsv",
    output:
        **figures("data_overview", category="Data"),
    log:
        "results/logs/data/plot_data_overview.log",
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/plot_data_overview.py"


# Does every GMT source share enough genes with the data (cic.identifiers: probe sets against symbols stop the run with
# one line)? Every enrichment rule reads this table; its priority runs it before the long training jobs.
rule check_gene_set_overlap:
    input:
        source_gmt=list(run_plan.gene_set_files(config).values()),
        expression="results/data/expression.h5ad",
    output:
        output="results/tables/gene_set_overlap.tsv",
    log:
        "results/logs/data/check_gene_set_overlap.log",
    priority: 50
    conda:
        "../../envs/cic.yaml"
    params:
        sources=config["enrichment"]["sources"],
        min_gene_overlap=config["enrichment"]["min_gene_overlap"],
    script:
        "../scripts/check_gene_set_overlap.py"
