# Fig 2: the selected network's cross-validation (2a), the main 75/25 model, how well CICs reproduce GEPs (2b-2g).


# One job per fold, or every fold stacked in one job (training.batched_folds: common.smk's fold_files), with the
# same per-fold files, seeds and numbers either way.
rule train_cv:
    input:
        **training_input(),
    output:
        model_paths=fold_files("results/models/cv/fold{fold}/model.pt", CV_FOLDS),
        history_paths=fold_files("results/models/cv/fold{fold}/history.tsv", CV_FOLDS),
    log:
        fold_job("results/logs/cv/fold{fold}.log"),
    benchmark:
        fold_job("results/benchmarks/cv/fold{fold}.tsv")
    conda:
        "../../envs/cic.yaml"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    params:
        architecture=selected_architecture,
        training=config["training"],
        holdouts=lambda wildcards: [("cv_fold", fold) for fold in job_folds(wildcards, CV_FOLDS)],
        seeds=lambda wildcards: [config["seed"] + fold for fold in job_folds(wildcards, CV_FOLDS)],
        checkpoint_path=fold_checkpoint("results/models/cv/folds_batched.checkpoint.pt"),
    script:
        "../scripts/train_autoencoders.py"


rule summarize_cv:
    input:
        history_paths=expand("results/models/cv/fold{fold}/history.tsv", fold=CV_FOLDS),
    output:
        **figures("fig2a", category="Fig 2"),
        table_path="results/tables/fig2a_cv_mse.tsv",
    log:
        "results/logs/reconstruction/summarize_cv.log",
    conda:
        "../../envs/cic.yaml"
    params:
        folds=CV_FOLDS,
    script:
        "../scripts/summarize_cv.py"


# The same network and training on the 75/25 split (params merge into train_cv's: only these differ).
use rule train_cv as train_main_model with:
    output:
        model_paths=["results/models/main/model.pt"],
        history_paths=["results/models/main/history.tsv"],
    log:
        "results/logs/main/train_main_model.log",
    benchmark:
        "results/benchmarks/main/train_main_model.tsv"
    params:
        holdouts=[("split", "test")],
        seeds=[config["seed"]],
        checkpoint_path=None,  # beside the model (cic.train)


rule encode_profiles:
    input:
        model_path="results/models/main/model.pt",
        expression="results/data/expression.h5ad",
        splits_path="results/data/splits.tsv",
    output:
        codes_path="results/tables/cic_codes.tsv",
        reproduced_path="results/data/reproduced_profiles.h5ad",
    log:
        "results/logs/main/encode_profiles.log",
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/encode_profiles.py"


rule evaluate_reconstruction:
    input:
        expression="results/data/expression.h5ad",
        splits_path="results/data/splits.tsv",
        reproduced="results/data/reproduced_profiles.h5ad",
    output:
        per_sample_path="results/tables/fig2_per_sample.tsv",
        rank_counts_path="results/tables/fig2bc_rank_counts.tsv",
        examples_path="results/tables/fig2d_examples.tsv",
        wilcoxon_path="results/tables/fig2ef_wilcoxon.tsv",
    log:
        "results/logs/reconstruction/evaluate_reconstruction.log",
    conda:
        "../../envs/cic.yaml"
    params:
        max_rank=config["reconstruction"]["max_rank"],
        example_cell_types=run_plan.example_cell_types(config),
    script:
        "../scripts/evaluate_reconstruction.py"


rule compare_reconstruction_methods:
    input:
        **training_input(),
        reproduced="results/data/reproduced_profiles.h5ad",
    output:
        output="results/tables/fig2g_method_mse.tsv",
    log:
        "results/logs/reconstruction/compare_reconstruction_methods.log",
    benchmark:
        "results/benchmarks/reconstruction/compare_reconstruction_methods.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        n_components=selected_code_size,
        methods=config["reconstruction"]["baselines"],
        options=config["reconstruction"]["baseline_options"],
        seed=config["seed"],
    script:
        "../scripts/compare_reconstruction_methods.py"


rule summarize_fig2:
    input:
        expression="results/data/expression.h5ad",
        splits_path="results/data/splits.tsv",
        reproduced="results/data/reproduced_profiles.h5ad",
        cv_summary_path="results/tables/fig2a_cv_mse.tsv",
        per_sample_path="results/tables/fig2_per_sample.tsv",
        rank_counts_path="results/tables/fig2bc_rank_counts.tsv",
        examples_path="results/tables/fig2d_examples.tsv",
        wilcoxon_path="results/tables/fig2ef_wilcoxon.tsv",
        method_mse_path="results/tables/fig2g_method_mse.tsv",
    output:
        **figures("fig2b", "fig2c", "fig2d", "fig2e", "fig2f", "fig2g", category="Fig 2"),
        output=in_report("results/tables/fig2_summary.tsv", "Fig 2"),
    log:
        "results/logs/reconstruction/summarize_fig2.log",
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/summarize_fig2.py"
