# Figs 8 and 9: architecture and code-size sweeps, and the regularisation check (issue 4).
# Every (architecture, code size or variant) x fold is its own job, so a cluster trains them in parallel and a
# re-run only trains what is missing (training.batched_folds: one job per run, its folds stacked). What each run
# trains is planned in src/cic/sweep_plan.py; the tables and figures come from src/cic/stages/sweeps.py.
# Settings: config["sweeps"] (config/README.md, "sweeps").
import re

from cic import sweep_plan

SWEEPS = config["sweeps"]
SWEEP_GENES = {
    "top_variance": "results/data/expression_top_variance.h5ad",
    "all": "results/data/expression.h5ad",
}
SWEEP_TRAINING = sweep_plan.sweep_training(config["training"], SWEEPS["training"])
SWEEP_RUNS = "results/models/sweeps"
SWEEP_ARCHITECTURES = sweep_plan.architecture_jobs(SWEEPS["architectures"]["specs"])
SWEEP_ARCHITECTURE_FOLDS = sweep_plan.sweep_folds(SWEEPS["architectures"]["folds"], config["splits"]["cv_folds"])
SWEEP_CODE_SIZES = [int(size) for size in SWEEPS["code_sizes"]["sizes"]]
SWEEP_CODE_SIZE_FOLDS = sweep_plan.sweep_folds(SWEEPS["code_sizes"]["folds"], config["splits"]["cv_folds"])
SWEEP_CODE_SIZE_FAMILY = SWEEPS["code_sizes"]["architecture"]
SWEEP_VARIANTS = sweep_plan.regularisation_variants(SWEEPS["regularisation"]["variants"])
SWEEP_VARIANT_FOLDS = sweep_plan.sweep_folds(SWEEPS["regularisation"]["folds"], config["splits"]["cv_folds"])
# Runs in order (keys outer, folds inner), as aligned lists of keys and folds.
SWEEP_ARCHITECTURE_RUNS = sweep_plan.run_grid(list(SWEEP_ARCHITECTURES), SWEEP_ARCHITECTURE_FOLDS)
SWEEP_CODE_SIZE_RUNS = sweep_plan.run_grid(SWEEP_CODE_SIZES, SWEEP_CODE_SIZE_FOLDS)
SWEEP_VARIANT_RUNS = sweep_plan.run_grid(list(SWEEP_VARIANTS), SWEEP_VARIANT_FOLDS)
# The Fig 9 family and the regularisation variants derive from the selected network (model.architecture, or the
# Fig 8 winner when it is auto); a fixed Fig 9 family ({code_size} in a spec) does not wait for Fig 8.
SWEEP_CODE_SIZE_INPUT = architecture_input() if SWEEP_CODE_SIZE_FAMILY == sweep_plan.SELECTED else {}


# One job per run x fold, or per run with its folds stacked (training.batched_folds); the three sweeps differ in
# their runs and networks only.
rule train_architecture_sweep:
    input:
        expression=SWEEP_GENES[SWEEPS["architectures"]["genes"]],
        splits_path="results/data/splits.tsv",
    output:
        **sweep_run_files("architectures", "{architecture}", SWEEP_ARCHITECTURE_FOLDS),
    log:
        fold_job("results/logs/sweeps/architectures/{architecture}/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/sweeps/architectures/{architecture}/fold{fold}.tsv")
    wildcard_constraints:
        architecture="|".join(re.escape(slug) for slug in SWEEP_ARCHITECTURES),
    conda:
        "../../envs/cic.yaml"
    threads: rule_threads("sweep_training")
    resources:
        **rule_resources("sweep_training"),
    params:
        **sweep_run_params("architectures", "{architecture}", SWEEP_ARCHITECTURE_FOLDS),
        architecture=lambda wildcards: SWEEP_ARCHITECTURES[wildcards.architecture],
        training=SWEEP_TRAINING,
    script:
        "../scripts/train_autoencoders.py"


use rule train_architecture_sweep as train_code_size_sweep with:
    input:
        **SWEEP_CODE_SIZE_INPUT,
        expression=SWEEP_GENES[SWEEPS["code_sizes"]["genes"]],
        splits_path="results/data/splits.tsv",
    output:
        **sweep_run_files("code_sizes", "code{code_size}", SWEEP_CODE_SIZE_FOLDS),
    log:
        fold_job("results/logs/sweeps/code_sizes/code{code_size}/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/sweeps/code_sizes/code{code_size}/fold{fold}.tsv")
    wildcard_constraints:
        code_size=r"\d+",
    params:
        **sweep_run_params("code_sizes", "code{code_size}", SWEEP_CODE_SIZE_FOLDS),
        architecture=lambda wildcards, input: sweep_code_size_architecture(wildcards.code_size, wildcards, input),
        training=SWEEP_TRAINING,


use rule train_architecture_sweep as train_regularisation_variant with:
    input:
        **architecture_input(),
        expression=SWEEP_GENES[SWEEPS["regularisation"]["genes"]],
        splits_path="results/data/splits.tsv",
    output:
        **sweep_run_files("regularisation", "{variant}", SWEEP_VARIANT_FOLDS),
    log:
        fold_job("results/logs/sweeps/regularisation/{variant}/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/sweeps/regularisation/{variant}/fold{fold}.tsv")
    wildcard_constraints:
        variant="|".join(re.escape(name) for name in SWEEP_VARIANTS),
    params:
        **sweep_run_params("regularisation", "{variant}", SWEEP_VARIANT_FOLDS),
        architecture=lambda wildcards, input: sweep_variant_architecture(wildcards.variant, wildcards, input),
        training=lambda wildcards: sweep_plan.sweep_training(
            config["training"], SWEEPS["training"], SWEEP_VARIANTS[wildcards.variant].get("training")
        ),


rule rank_architectures:
    input:
        history_paths=[
            f"{SWEEP_RUNS}/architectures/{slug}/fold{fold}/history.tsv" for slug, fold in zip(*SWEEP_ARCHITECTURE_RUNS)
        ],
    output:
        curve_path="results/tables/fig8_cv_mse.tsv",
        ranking_path="results/tables/fig8_architecture_ranking.tsv",
    log:
        "results/logs/sweeps/rank_architectures.log",
    conda:
        "../../envs/cic.yaml"
    params:
        architectures=[SWEEP_ARCHITECTURES[slug] for slug in SWEEP_ARCHITECTURE_RUNS[0]],
        folds=SWEEP_ARCHITECTURE_RUNS[1],
    script:
        "../scripts/rank_architectures.py"


rule rank_code_sizes:
    input:
        **SWEEP_CODE_SIZE_INPUT,
        history_paths=[
            f"{SWEEP_RUNS}/code_sizes/code{size}/fold{fold}/history.tsv" for size, fold in zip(*SWEEP_CODE_SIZE_RUNS)
        ],
    output:
        curve_path="results/tables/fig9_cv_mse.tsv",
        ranking_path="results/tables/fig9_code_size_ranking.tsv",
    log:
        "results/logs/sweeps/rank_code_sizes.log",
    conda:
        "../../envs/cic.yaml"
    params:
        code_sizes=SWEEP_CODE_SIZE_RUNS[0],
        architectures=lambda wildcards, input: [
            sweep_code_size_architecture(size, wildcards, input) for size in SWEEP_CODE_SIZE_RUNS[0]
        ],
        folds=SWEEP_CODE_SIZE_RUNS[1],
    script:
        "../scripts/rank_code_sizes.py"


rule compare_regularisation:
    input:
        **architecture_input(),
        history_paths=[
            f"{SWEEP_RUNS}/regularisation/{name}/fold{fold}/history.tsv" for name, fold in zip(*SWEEP_VARIANT_RUNS)
        ],
    output:
        curve_path="results/tables/regularisation_cv_mse.tsv",
        table_path="results/tables/regularisation.tsv",
    log:
        "results/logs/sweeps/compare_regularisation.log",
    conda:
        "../../envs/cic.yaml"
    params:
        variants=SWEEP_VARIANT_RUNS[0],
        folds=SWEEP_VARIANT_RUNS[1],
        architectures=lambda wildcards, input: {
            name: sweep_variant_architecture(name, wildcards, input) for name in SWEEP_VARIANTS
        },
        training_overrides={name: variant.get("training") or {} for name, variant in SWEEP_VARIANTS.items()},
        reference=SWEEPS["regularisation"]["reference"],
    script:
        "../scripts/compare_regularisation.py"


rule plot_sweeps:
    input:
        fig8_curves="results/tables/fig8_cv_mse.tsv",
        fig8_ranking="results/tables/fig8_architecture_ranking.tsv",
        fig9_curves="results/tables/fig9_cv_mse.tsv",
        regularisation_curves="results/tables/regularisation_cv_mse.tsv",
        regularisation_table="results/tables/regularisation.tsv",
    output:
        **figures("fig8", "fig9", "regularisation", category="Figs 8-9: sweeps"),
    log:
        "results/logs/sweeps/plot_sweeps.log",
    conda:
        "../../envs/cic.yaml"
    params:
        reference=SWEEPS["regularisation"]["reference"],
    script:
        "../scripts/plot_sweeps.py"


rule summarize_sweeps:
    input:
        architecture_ranking="results/tables/fig8_architecture_ranking.tsv",
        code_size_ranking="results/tables/fig9_code_size_ranking.tsv",
        regularisation="results/tables/regularisation.tsv",
    output:
        output=report(
            "results/tables/sweeps_summary.tsv",
            caption="../report/sweeps_summary.rst",
            category="Figs 8-9: sweeps",
        ),
    log:
        "results/logs/sweeps/summarize_sweeps.log",
    conda:
        "../../envs/cic.yaml"
    params:
        reference=SWEEPS["regularisation"]["reference"],
    script:
        "../scripts/summarize_sweeps.py"
