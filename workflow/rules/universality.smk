# Fig 3 (issue 5): one network per held-out type (listed from splits.tsv by a checkpoint, so every data source works),
# one evaluation of all; per comparison (universality.de_pairs), limma and an enrichment per source.


checkpoint list_held_out_cell_types:
    input:
        splits_path="results/data/splits.tsv",
    output:
        output="results/tables/fig3_held_out_cell_types.txt",
    log:
        "results/logs/universality/list_held_out_cell_types.log",
    conda:
        "../../envs/cic.yaml"
    params:
        requested=config["universality"]["cell_types"],
        de_pairs=config["universality"]["de_pairs"],
    script:
        "../scripts/list_held_out_cell_types.py"


# One job per held-out type, or all stacked in one (training.batched_folds), into results/models/loto/<type>/: <type>
# is the type's file name (cic.labels.safe_name: "CD4+ T" becomes CD4_T_<hash>), the label is found in the checkpoint.
rule train_universality:
    input:
        **training_input(),
        cell_types_path="results/tables/fig3_held_out_cell_types.txt",
    output:
        **(
            {"models_dir": directory("results/models/loto")}
            if BATCHED
            else {
                "model_path": "results/models/loto/{cell_type}/model.pt",
                "history_path": "results/models/loto/{cell_type}/history.tsv",
            }
        ),
    log:
        f"results/logs/universality/train/{'batched' if BATCHED else '{cell_type}'}.log",
    benchmark:
        f"results/benchmarks/universality/train/{'batched' if BATCHED else '{cell_type}'}.tsv"
    conda:
        "../../envs/cic.yaml"
    threads: rule_threads("training")
    resources:
        **rule_resources("training"),
    params:
        **(
            {"checkpoint_path": "results/models/loto_batched.checkpoint.pt"}
            if BATCHED
            else {"held_out": lambda wildcards: wildcards.cell_type}
        ),
        architecture=selected_architecture,
        training=config["training"] | config["universality"]["training"],
        seed=config["seed"],
    script:
        "../scripts/train_universality.py"


rule evaluate_universality:
    input:
        models=universality_model_inputs,
        cell_types="results/tables/fig3_held_out_cell_types.txt",
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
    output:
        per_sample="results/tables/fig3_loto_per_sample.tsv",
        table="results/tables/fig3_loto.tsv",
        reproduced="results/data/loto_reproduced_profiles.h5ad",
    log:
        "results/logs/universality/evaluate_universality.log",
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/evaluate_universality.py"


rule differential_expression_universality:
    input:
        expression="results/data/expression.h5ad",
        reproduced="results/data/loto_reproduced_profiles.h5ad",
    output:
        table_path="results/tables/de_{pair}.tsv",
        genes_path="results/tables/de_{pair}_up_genes.txt",
    log:
        "results/logs/universality/de_{pair}.log",
    conda:
        "../../envs/cic.yaml"
    params:
        case=lambda wildcards: PAIRS[wildcards.pair]["case"],
        control=lambda wildcards: PAIRS[wildcards.pair]["control"],
        min_log2_fold_change=config["universality"]["min_log2_fold_change"],
        max_adjusted_p=config["universality"]["max_adjusted_p"],
    script:
        "../scripts/differential_expression_universality.py"


rule enrich_universality_genes:
    input:
        unpack(source_gmt_input),
        genes_path="results/tables/de_{pair}_up_genes.txt",
        de_table_path="results/tables/de_{pair}.tsv",
        overlap="results/tables/gene_set_overlap.tsv",  # the source meets the data's identifiers
    output:
        enrichment_path="results/tables/enrichment_{pair}_{source}.tsv",
        png=in_report("results/figures/fig3_enrichment_{pair}_{source}.png", "Fig 3", "fig3_enrichment"),
        svg="results/figures/fig3_enrichment_{pair}_{source}.svg",
    log:
        "results/logs/universality/enrichment_{pair}_{source}.log",
    conda:
        "../../envs/cic.yaml"
    params:
        source=lambda wildcards: SOURCES[wildcards.source],
        source_name=lambda wildcards: wildcards.source,
        case=lambda wildcards: PAIRS[wildcards.pair]["case"],
        control=lambda wildcards: PAIRS[wildcards.pair]["control"],
        n_terms=config["universality"]["top_terms"],
    script:
        "../scripts/enrich_universality_genes.py"


rule summarize_universality:
    input:
        **({"activity": f"{SYNTHETIC_DIR}/program_activity.tsv"} if TRUTH_SOURCES else {}),
        table="results/tables/fig3_loto.tsv",
        de_tables=expand("results/tables/de_{pair}.tsv", pair=PAIRS),
        enrichment=expand("results/tables/enrichment_{pair}_{source}.tsv", pair=PAIRS, source=SOURCES),
    output:
        **figures("fig3", category="Fig 3"),
        true_programs=expand(
            "results/tables/enrichment_{pair}_{source}_true_programs.tsv", pair=PAIRS, source=TRUTH_SOURCES
        ),
        summary=in_report("results/tables/universality_summary.tsv", "Fig 3"),
    log:
        "results/logs/universality/summarize_universality.log",
    conda:
        "../../envs/cic.yaml"
    params:
        pairs=PAIRS,
        sources=list(SOURCES),
        truth_sources=TRUTH_SOURCES,
        pathway_source=run_plan.pathway_source(config),
    script:
        "../scripts/summarize_universality.py"
