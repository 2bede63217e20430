# Supp Fig S7 and Fig 4: RF/SVM on CICs vs PCA, the classifier autoencoder, noise robustness (issue 6).

NOISE_FOLDS = list(range(config["splits"]["noise_cv_folds"]))


rule train_classifier_autoencoder:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        **architecture_input(),
    output:
        model="results/models/classifier_autoencoder/model.pt",
        history="results/models/classifier_autoencoder/history.tsv",
        codes="results/tables/classifier_cic_codes.tsv",
        architecture="results/models/classifier_autoencoder/architecture.tsv",
    params:
        architecture=selected_architecture,
        training=config["training"],
        settings=config["classification"],
        seed=config["seed"] + 200,
    log:
        "results/logs/classification/train_classifier_autoencoder.log",
    benchmark:
        "results/benchmarks/classification/train_classifier_autoencoder.tsv"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/train_classifier_autoencoder.py"


rule classify_cell_types:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        codes="results/tables/cic_codes.tsv",
        classifier_codes="results/tables/classifier_cic_codes.tsv",
        classifier_model="results/models/classifier_autoencoder/model.pt",
        **architecture_input(),
    output:
        predictions="results/tables/classification_predictions.tsv",
        metrics="results/tables/classification_metrics.tsv",
    params:
        n_components=selected_code_size,
        settings=config["classification"],
        seed=config["seed"],
    log:
        "results/logs/classification/classify_cell_types.log",
    benchmark:
        "results/benchmarks/classification/classify_cell_types.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/classify_cell_types.py"


rule train_noise_fold:
    input:
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        **architecture_input(),
    output:
        model="results/models/noise/fold{fold}/model.pt",
        history="results/models/noise/fold{fold}/history.tsv",
        accuracy="results/models/noise/fold{fold}/test_accuracy.tsv",
    params:
        architecture=selected_architecture,
        training=config["training"],
        settings=config["classification"],
        seed=lambda wildcards: config["seed"] + 300 + int(wildcards.fold),
    log:
        "results/logs/noise/fold{fold}.log",
    benchmark:
        "results/benchmarks/noise/fold{fold}.tsv"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/train_noise_fold.py"


rule plot_classification:
    input:
        predictions="results/tables/classification_predictions.tsv",
        metrics="results/tables/classification_metrics.tsv",
        architecture="results/models/classifier_autoencoder/architecture.tsv",
        noise_folds="results/tables/noise_folds.tsv",
        noise_by_sigma="results/tables/noise_test_sigma.tsv",
    output:
        figS7_png=report("results/figures/figS7.png", caption="../report/figS7.rst", category="Classification"),
        figS7_svg="results/figures/figS7.svg",
        fig4_png=report("results/figures/fig4.png", caption="../report/fig4.rst", category="Classification"),
        fig4_svg="results/figures/fig4.svg",
        noise_png=report("results/figures/noise_robustness.png", caption="../report/noise_robustness.rst",
                         category="Classification"),
        noise_svg="results/figures/noise_robustness.svg",
    log:
        "results/logs/classification/plot_classification.log",
    benchmark:
        "results/benchmarks/classification/plot_classification.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/plot_classification.py"


rule summarize_classification:
    input:
        metrics="results/tables/classification_metrics.tsv",
        classifier_history="results/models/classifier_autoencoder/history.tsv",
        noise_accuracies=expand("results/models/noise/fold{fold}/test_accuracy.tsv", fold=NOISE_FOLDS),
        splits="results/data/splits.tsv",
    output:
        summary=report("results/tables/classification_summary.tsv", caption="../report/classification_summary.rst",
                       category="Classification"),
        noise_folds="results/tables/noise_folds.tsv",
        noise_by_sigma="results/tables/noise_test_sigma.tsv",
    log:
        "results/logs/classification/summarize_classification.log",
    benchmark:
        "results/benchmarks/classification/summarize_classification.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/summarize_classification.py"
