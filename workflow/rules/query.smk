# Identify new samples with the classifier autoencoder (issue 18; cic.reference, cic.query, as `cic query` does): the
# reference bundle, each query.samples file, and novelty (types a leave-one-type-out network never saw: unassigned).


rule reference_bundle:
    input:
        model="results/models/classifier_autoencoder/model.pt",
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
    output:
        weights=REFERENCE[0],
        meta=in_report(REFERENCE[1], "Identify new samples"),
        codes=REFERENCE[2],
    log:
        "results/logs/query/reference_bundle.log",
    conda:
        "../../envs/cic.yaml"
    params:
        preprocess=config["preprocess"],
        training=config["training"] | config["classification"]["training"],
    script:
        "../scripts/write_reference.py"


rule query_samples:
    input:
        unpack(lambda wildcards: run_plan.query_files(config, wildcards.query)),
        reference=REFERENCE,
    output:
        predictions="results/query/{query}/predictions.tsv",
        codes="results/query/{query}/codes.tsv",
        reproduced="results/query/{query}/reproduced.h5ad",
        map_png=in_report("results/query/{query}/query_map.png", "Identify new samples", subcategory="{query}"),
        map_svg="results/query/{query}/query_map.svg",
    log:
        "results/logs/query/{query}.log",
    conda:
        "../../envs/cic.yaml"
    params:
        entry=lambda wildcards: config["query"]["samples"][wildcards.query],
        settings=config["query"],
    script:
        "../scripts/identify_query.py"


rule novelty:
    input:
        models=universality_model_inputs,
        cell_types="results/tables/fig3_held_out_cell_types.txt",
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
        reference=REFERENCE,
    output:
        table=in_report("results/tables/novelty.tsv", "Identify new samples"),
        summary="results/tables/novelty_summary.tsv",
        png=in_report("results/figures/novelty.png", "Identify new samples"),
        svg="results/figures/novelty.svg",
    log:
        "results/logs/query/novelty.log",
    benchmark:
        "results/benchmarks/query/novelty.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        min_probability=config["query"]["min_probability"],
        validation_fraction=(config["training"] | config["universality"]["training"])["validation_fraction"],
        seed=config["seed"] + 400,
    script:
        "../scripts/measure_novelty.py"
