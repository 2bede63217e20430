# Figs 8 and 9: architecture and code-size sweeps, and the regularisation check (issue 4). What each run trains is
# planned in cic.sweep_plan; the tables and figures come from cic.stages.sweeps. Settings: config/README.md, "sweeps".


# One job per run x fold, so a cluster trains them in parallel and a re-run trains only what is missing, or one job
# per run with its folds stacked (training.batched_folds). The three sweeps differ in their runs and networks only.
rule train_architecture_sweep:
    input:
        expression=SWEEP["architectures"].expression,
        splits_path="results/data/splits.tsv",
    output:
        **sweep_run_files("architectures", "{architecture}"),
    log:
        fold_job("results/logs/sweeps/architectures/{architecture}/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/sweeps/architectures/{architecture}/fold{fold}.tsv")
    conda:
        "../../envs/cic.yaml"
    threads: rule_threads("sweep_training")
    resources:
        **rule_resources("sweep_training"),
    params:
        **sweep_run_params("architectures", "{architecture}"),
        architecture=lambda wildcards: SWEEP["architectures"].runs[wildcards.architecture],
        training=SWEEP_TRAINING,
    script:
        "../scripts/train_autoencoders.py"


use rule train_architecture_sweep as train_code_size_sweep with:
    input:
        **SWEEP_CODE_SIZE_INPUT,
        expression=SWEEP["code_sizes"].expression,
        splits_path="results/data/splits.tsv",
    output:
        **sweep_run_files("code_sizes", "code{code_size}"),
    log:
        fold_job("results/logs/sweeps/code_sizes/code{code_size}/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/sweeps/code_sizes/code{code_size}/fold{fold}.tsv")
    params:
        **sweep_run_params("code_sizes", "code{code_size}"),
        architecture=lambda wildcards, input: code_size_network(wildcards.code_size, wildcards, input),
        training=SWEEP_TRAINING,


use rule train_architecture_sweep as train_regularisation_variant with:
    input:
        **training_input(SWEEP["regularisation"].expression),
    output:
        **sweep_run_files("regularisation", "{variant}"),
    log:
        fold_job("results/logs/sweeps/regularisation/{variant}/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/sweeps/regularisation/{variant}/fold{fold}.tsv")
    params:
        **sweep_run_params("regularisation", "{variant}"),
        architecture=lambda wildcards, input: variant_network(wildcards.variant, wildcards, input),
        training=lambda wildcards: sweep_plan.sweep_training(
            config["training"], SWEEPS["training"], SWEEP["regularisation"].runs[wildcards.variant].get("training")
        ),


rule rank_architectures:
    input:
        history_paths=SWEEP["architectures"].history_paths,
    output:
        curve_path="results/tables/fig8_cv_mse.tsv",
        ranking_path="results/tables/fig8_architecture_ranking.tsv",
    log:
        "results/logs/sweeps/rank_architectures.log",
    conda:
        "../../envs/cic.yaml"
    params:
        architectures=SWEEP["architectures"].values,
        folds=SWEEP["architectures"].grid[1],
    script:
        "../scripts/rank_architectures.py"


rule rank_code_sizes:
    input:
        **SWEEP_CODE_SIZE_INPUT,
        history_paths=SWEEP["code_sizes"].history_paths,
    output:
        curve_path="results/tables/fig9_cv_mse.tsv",
        ranking_path="results/tables/fig9_code_size_ranking.tsv",
    log:
        "results/logs/sweeps/rank_code_sizes.log",
    conda:
        "../../envs/cic.yaml"
    params:
        code_sizes=SWEEP["code_sizes"].values,
        architectures=lambda wildcards, input: [
            code_size_network(size, wildcards, input) for size in SWEEP["code_sizes"].values
        ],
        folds=SWEEP["code_sizes"].grid[1],
    script:
        "../scripts/rank_code_sizes.py"


rule compare_regularisation:
    input:
        **architecture_input(),
        history_paths=SWEEP["regularisation"].history_paths,
    output:
        curve_path="results/tables/regularisation_cv_mse.tsv",
        table_path="results/tables/regularisation.tsv",
    log:
        "results/logs/sweeps/compare_regularisation.log",
    conda:
        "../../envs/cic.yaml"
    params:
        variants=SWEEP["regularisation"].grid[0],
        folds=SWEEP["regularisation"].grid[1],
        architectures=lambda wildcards, input: {
            name: variant_network(name, wildcards, input) for name in SWEEP["regularisation"].runs
        },
        training_overrides={name: run.get("training") or {} for name, run in SWEEP["regularisation"].runs.items()},
        reference=SWEEPS["regularisation"]["reference"],
    script:
        "../scripts/compare_regularisation.py"


rule summarize_sweeps:
    input:
        fig8_curves="results/tables/fig8_cv_mse.tsv",
        fig8_ranking="results/tables/fig8_architecture_ranking.tsv",
        fig9_curves="results/tables/fig9_cv_mse.tsv",
        fig9_ranking="results/tables/fig9_code_size_ranking.tsv",
        regularisation_curves="results/tables/regularisation_cv_mse.tsv",
        regularisation_table="results/tables/regularisation.tsv",
    output:
        **figures("fig8", "fig9", "regularisation", category="Figs 8-9: sweeps"),
        output=in_report("results/tables/sweeps_summary.tsv", "Figs 8-9: sweeps"),
    log:
        "results/logs/sweeps/summarize_sweeps.log",
    conda:
        "../../envs/cic.yaml"
    params:
        reference=SWEEPS["regularisation"]["reference"],
    script:
        "../scripts/summarize_sweeps.py"
