# Fig 3: leave-one-cell-type-out training, limma on held-out REPs, and enrichment (issue 5).
# One network per held-out type (the types come from splits.tsv through a checkpoint, so every data source works),
# one evaluation of all of them, then per comparison (universality.de_pairs) limma and one enrichment per source.


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


# One job per held-out type, or all of them stacked in one job (training.batched_folds) into results/models/loto/<type>/.
# <type> is the type's file name (cic.labels.safe_name: b_cell stays b_cell, "CD4+ T" becomes CD4_T_<hash>); the
# function finds the label in the checkpoint's list.
rule train_universality:
    input:
        **architecture_input(),
        expression="results/data/expression.h5ad",
        splits_path="results/data/splits.tsv",
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
        "results/logs/universality/train/batched.log" if BATCHED else "results/logs/universality/train/{cell_type}.log",
    benchmark:
        "results/benchmarks/universality/train/batched.tsv"
        if BATCHED
        else "results/benchmarks/universality/train/{cell_type}.tsv"
    wildcard_constraints:
        cell_type=SAFE_NAME_PATTERN,
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


rule plot_fig3:
    input:
        table_path="results/tables/fig3_loto.tsv",
    output:
        **figures("fig3", category="Fig 3"),
    log:
        "results/logs/universality/plot_fig3.log",
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/plot_fig3.py"


rule differential_expression_universality:
    input:
        expression="results/data/expression.h5ad",
        reproduced="results/data/loto_reproduced_profiles.h5ad",
    output:
        table_path="results/tables/de_{pair}.tsv",
        genes_path="results/tables/de_{pair}_up_genes.txt",
    log:
        "results/logs/universality/de_{pair}.log",
    wildcard_constraints:
        pair=one_of(universality_pairs()),
    conda:
        "../../envs/cic.yaml"
    params:
        case=lambda wildcards: universality_pairs()[wildcards.pair]["case"],
        control=lambda wildcards: universality_pairs()[wildcards.pair]["control"],
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
        output="results/tables/enrichment_{pair}_{source}.tsv",
    log:
        "results/logs/universality/enrichment_{pair}_{source}.log",
    wildcard_constraints:
        pair=one_of(universality_pairs()),
        source=one_of(SOURCES),
    conda:
        "../../envs/cic.yaml"
    params:
        source=lambda wildcards: SOURCES[wildcards.source],
    script:
        "../scripts/enrich_universality_genes.py"


rule plot_universality_enrichment:
    input:
        enrichment_path="results/tables/enrichment_{pair}_{source}.tsv",
    output:
        png=report(
            "results/figures/fig3_enrichment_{pair}_{source}.png",
            caption="../report/fig3_enrichment.rst",
            category="Fig 3",
        ),
        svg="results/figures/fig3_enrichment_{pair}_{source}.svg",
    log:
        "results/logs/universality/plot_enrichment_{pair}_{source}.log",
    wildcard_constraints:
        pair=one_of(universality_pairs()),
        source=one_of(SOURCES),
    conda:
        "../../envs/cic.yaml"
    params:
        source_name=lambda wildcards: wildcards.source,
        case=lambda wildcards: universality_pairs()[wildcards.pair]["case"],
        control=lambda wildcards: universality_pairs()[wildcards.pair]["control"],
        n_terms=config["universality"]["top_terms"],
    script:
        "../scripts/plot_universality_enrichment.py"


rule summarize_universality:
    input:
        **({"activity": f"{SYNTHETIC_DIR}/program_activity.tsv"} if universality_truth_sources() else {}),
        table="results/tables/fig3_loto.tsv",
        de_tables=expand("results/tables/de_{pair}.tsv", pair=universality_pairs()),
        enrichment=expand("results/tables/enrichment_{pair}_{source}.tsv", pair=universality_pairs(), source=SOURCES),
    output:
        **(
            {
                "true_programs": expand(
                    "results/tables/enrichment_{pair}_{source}_true_programs.tsv",
                    pair=universality_pairs(),
                    source=universality_truth_sources(),
                )
            }
            if universality_truth_sources()
            else {}
        ),
        summary=report(
            "results/tables/universality_summary.tsv", caption="../report/universality_summary.rst", category="Fig 3"
        ),
    log:
        "results/logs/universality/summarize_universality.log",
    conda:
        "../../envs/cic.yaml"
    params:
        pairs=universality_pairs(),
        sources=list(SOURCES),
        truth_sources=universality_truth_sources(),
        pathway_source=universality_pathway_source(),
    script:
        "../scripts/summarize_universality.py"
