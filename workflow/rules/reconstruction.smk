# Fig 2: the selected network's cross-validation (2a), the main 75/25 model, and how well CICs reproduce
# the profiles (2b-2g).


# training.batched_folds: one job trains every fold at once (cic.train.fit with k networks) and writes the same per-fold
# files as the per-fold jobs, so the rules downstream cannot tell the difference.
if config["training"].get("batched_folds", False):

    rule train_cv_folds_batched:
        input:
            expression="results/data/expression.h5ad",
            splits="results/data/splits.tsv",
            **architecture_input(),
        output:
            models=expand("results/models/cv/fold{fold}/model.pt", fold=CV_FOLDS),
            histories=expand("results/models/cv/fold{fold}/history.tsv", fold=CV_FOLDS),
        params:
            architecture=selected_architecture,
            training=config["training"],
            folds=CV_FOLDS,
            seeds=[config["seed"] + fold for fold in CV_FOLDS],
            checkpoint="results/models/cv/folds_batched.checkpoint.pt",
        log:
            "results/logs/cv/folds_batched.log",
        benchmark:
            "results/benchmarks/cv/folds_batched.tsv"
        threads: rule_threads("training")
        resources:
            **rule_resources("training"),
        conda:
            "../../envs/cic.yaml"
        script:
            "../scripts/train_cv_folds_batched.py"

else:

    rule train_cv_fold:
        input:
            expression="results/data/expression.h5ad",
            splits="results/data/splits.tsv",
            **architecture_input(),
        output:
            model="results/models/cv/fold{fold}/model.pt",
            history="results/models/cv/fold{fold}/history.tsv",
        params:
            architecture=selected_architecture,
            training=config["training"],
            seed=lambda wildcards: config["seed"] + int(wildcards.fold),
        log:
            "results/logs/cv/fold{fold}.log",
        benchmark:
            "results/benchmarks/cv/fold{fold}.tsv"
        threads: rule_threads("training")
        resources:
            **rule_resources("training"),
        conda:
            "../../envs/cic.yaml"
        script:
            "../scripts/train_cv_fold.py"


rule summarize_cv:
    input:
        histories=expand("results/models/cv/fold{fold}/history.tsv", fold=CV_FOLDS),
    output:
        table="results/tables/fig2a_cv_mse.tsv",
        png=report("results/figures/fig2a.png", caption="../report/fig2a.rst", category="Fig 2"),
        svg="results/figures/fig2a.svg",
    params:
        folds=CV_FOLDS,
    log:
        "results/logs/reconstruction/summarize_cv.log",
    benchmark:
        "results/benchmarks/reconstruction/summarize_cv.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/summarize_cv.py"


rule train_main_model:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        **architecture_input(),
    output:
        model="results/models/main/model.pt",
        history="results/models/main/history.tsv",
    params:
        architecture=selected_architecture,
        training=config["training"],
        seed=config["seed"],
    log:
        "results/logs/main/train_main_model.log",
    benchmark:
        "results/benchmarks/main/train_main_model.tsv"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/train_main_model.py"


rule encode_profiles:
    input:
        model="results/models/main/model.pt",
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
    output:
        codes="results/tables/cic_codes.tsv",
        reproduced="results/data/reproduced_profiles.h5ad",
    log:
        "results/logs/main/encode_profiles.log",
    benchmark:
        "results/benchmarks/main/encode_profiles.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/encode_profiles.py"


rule evaluate_reconstruction:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        reproduced="results/data/reproduced_profiles.h5ad",
    output:
        per_sample="results/tables/fig2_per_sample.tsv",
        rank_counts="results/tables/fig2bc_rank_counts.tsv",
        examples="results/tables/fig2d_examples.tsv",
        wilcoxon="results/tables/fig2ef_wilcoxon.tsv",
    params:
        max_rank=config["reconstruction"]["max_rank"],
        example_cell_types=example_cell_types(),
    log:
        "results/logs/reconstruction/evaluate_reconstruction.log",
    benchmark:
        "results/benchmarks/reconstruction/evaluate_reconstruction.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/evaluate_reconstruction.py"


rule compare_reconstruction_methods:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        reproduced="results/data/reproduced_profiles.h5ad",
        **architecture_input(),
    output:
        "results/tables/fig2g_method_mse.tsv",
    params:
        n_components=selected_code_size,
        methods=config["reconstruction"]["baselines"],
        options=config["reconstruction"]["baseline_options"],
        seed=config["seed"],
    log:
        "results/logs/reconstruction/compare_reconstruction_methods.log",
    benchmark:
        "results/benchmarks/reconstruction/compare_reconstruction_methods.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/compare_reconstruction_methods.py"


rule plot_fig2:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        reproduced="results/data/reproduced_profiles.h5ad",
        per_sample="results/tables/fig2_per_sample.tsv",
        rank_counts="results/tables/fig2bc_rank_counts.tsv",
        examples="results/tables/fig2d_examples.tsv",
        method_mse="results/tables/fig2g_method_mse.tsv",
    output:
        fig2b_png=report("results/figures/fig2b.png", caption="../report/fig2b.rst", category="Fig 2"),
        fig2b_svg="results/figures/fig2b.svg",
        fig2c_png=report("results/figures/fig2c.png", caption="../report/fig2c.rst", category="Fig 2"),
        fig2c_svg="results/figures/fig2c.svg",
        fig2d_png=report("results/figures/fig2d.png", caption="../report/fig2d.rst", category="Fig 2"),
        fig2d_svg="results/figures/fig2d.svg",
        fig2e_png=report("results/figures/fig2e.png", caption="../report/fig2e.rst", category="Fig 2"),
        fig2e_svg="results/figures/fig2e.svg",
        fig2f_png=report("results/figures/fig2f.png", caption="../report/fig2f.rst", category="Fig 2"),
        fig2f_svg="results/figures/fig2f.svg",
        fig2g_png=report("results/figures/fig2g.png", caption="../report/fig2g.rst", category="Fig 2"),
        fig2g_svg="results/figures/fig2g.svg",
    log:
        "results/logs/reconstruction/plot_fig2.log",
    benchmark:
        "results/benchmarks/reconstruction/plot_fig2.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/plot_fig2.py"


rule summarize_fig2:
    input:
        cv="results/tables/fig2a_cv_mse.tsv",
        per_sample="results/tables/fig2_per_sample.tsv",
        wilcoxon="results/tables/fig2ef_wilcoxon.tsv",
        method_mse="results/tables/fig2g_method_mse.tsv",
    output:
        report("results/tables/fig2_summary.tsv", caption="../report/fig2_summary.rst", category="Fig 2"),
    log:
        "results/logs/reconstruction/summarize_fig2.log",
    benchmark:
        "results/benchmarks/reconstruction/summarize_fig2.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/summarize_fig2.py"
