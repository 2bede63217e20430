# Supp Fig S7 and Fig 4: RF/SVM on CICs vs PCA, the classifier autoencoder, noise robustness (issue 6).


rule train_classifier_autoencoder:
    input:
        **training_input(),
    output:
        model_path="results/models/classifier_autoencoder/model.pt",
        history_path="results/models/classifier_autoencoder/history.tsv",
        codes_path="results/tables/classifier_cic_codes.tsv",
        architecture_path="results/models/classifier_autoencoder/architecture.tsv",
    log:
        "results/logs/classification/train_classifier_autoencoder.log",
    benchmark:
        "results/benchmarks/classification/train_classifier_autoencoder.tsv"
    conda:
        "../../envs/cic.yaml"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    params:
        architecture=selected_architecture,
        training=config["training"],
        settings=config["classification"],
        seed=config["seed"] + 200,
    script:
        "../scripts/train_classifier_autoencoder.py"


rule classify_cell_types:
    input:
        **training_input(),
        codes_path="results/tables/cic_codes.tsv",
        classifier_codes_path="results/tables/classifier_cic_codes.tsv",
        classifier_model_path="results/models/classifier_autoencoder/model.pt",
    output:
        predictions_path="results/tables/classification_predictions.tsv",
        metrics_path="results/tables/classification_metrics.tsv",
    log:
        "results/logs/classification/classify_cell_types.log",
    benchmark:
        "results/benchmarks/classification/classify_cell_types.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        n_components=selected_code_size,
        settings=config["classification"],
        seed=config["seed"],
    script:
        "../scripts/classify_cell_types.py"


rule train_noise_fold:
    input:
        **training_input(),
    output:
        model_path="results/models/noise/fold{fold}/model.pt",
        history_path="results/models/noise/fold{fold}/history.tsv",
        accuracy_path="results/models/noise/fold{fold}/test_accuracy.tsv",
    log:
        "results/logs/noise/fold{fold}.log",
    benchmark:
        "results/benchmarks/noise/fold{fold}.tsv"
    conda:
        "../../envs/cic.yaml"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    params:
        fold=lambda wildcards: int(wildcards.fold),
        architecture=selected_architecture,
        training=config["training"],
        settings=config["classification"],
        seed=lambda wildcards: config["seed"] + 300 + int(wildcards.fold),
    script:
        "../scripts/train_noise_fold.py"


rule summarize_classification:
    input:
        metrics_path="results/tables/classification_metrics.tsv",
        classifier_history_path="results/models/classifier_autoencoder/history.tsv",
        noise_fold_paths=expand(
            "results/models/noise/fold{fold}/test_accuracy.tsv", fold=range(config["splits"]["noise_cv_folds"])
        ),
        splits_path="results/data/splits.tsv",
        predictions_path="results/tables/classification_predictions.tsv",
        architecture_path="results/models/classifier_autoencoder/architecture.tsv",
    output:
        **figures("figS7", "fig4", "noise_robustness", category="Classification"),
        output=in_report("results/tables/classification_summary.tsv", "Classification"),
        noise_folds_path="results/tables/noise_folds.tsv",
        noise_sigma_path="results/tables/noise_test_sigma.tsv",
    log:
        "results/logs/classification/summarize_classification.log",
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/summarize_classification.py"
