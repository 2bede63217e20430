# Fig 3: leave-one-cell-type-out training, limma on held-out REPs, and enrichment (issue 5).
# One network per held-out type (the types come from splits.tsv through a checkpoint, so every data source works),
# one evaluation of all of them, then per comparison (universality.de_pairs) limma and one enrichment per source.


checkpoint list_held_out_cell_types:
    input:
        splits="results/data/splits.tsv",
    output:
        "results/tables/fig3_held_out_cell_types.txt",
    params:
        cell_types=config["universality"]["cell_types"],
        de_pairs=config["universality"]["de_pairs"],
    log:
        "results/logs/universality/list_held_out_cell_types.log",
    benchmark:
        "results/benchmarks/universality/list_held_out_cell_types.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/list_held_out_cell_types.py"


# training.batched_folds: one job trains every leave-one-type-out network as one stacked model (same architecture,
# one seed per type as in the per-type jobs) into results/models/loto/<type>/; false: one job per held-out type.
# <type> is the type's file name (cic.labels.safe_name: b_cell stays b_cell, "CD4+ T" becomes CD4_T_<hash>); the
# script finds the label in the checkpoint's list.
if config["training"].get("batched_folds", False):

    rule train_loto_models_batched:
        input:
            expression="results/data/expression.h5ad",
            splits="results/data/splits.tsv",
            cell_types="results/tables/fig3_held_out_cell_types.txt",
            **architecture_input(),
        output:
            directory("results/models/loto"),
        params:
            architecture=selected_architecture,
            training=config["training"] | config["universality"]["training"],
            seed=config["seed"],
            checkpoint="results/models/loto_batched.checkpoint.pt",
        log:
            "results/logs/loto/batched.log",
        benchmark:
            "results/benchmarks/loto/batched.tsv"
        threads: rule_threads("training")
        resources:
            **rule_resources("training"),
        conda:
            "../../envs/cic.yaml"
        script:
            "../scripts/train_loto_models_batched.py"

else:

    rule train_loto_model:
        input:
            expression="results/data/expression.h5ad",
            splits="results/data/splits.tsv",
            cell_types="results/tables/fig3_held_out_cell_types.txt",
            **architecture_input(),
        output:
            model="results/models/loto/{cell_type}/model.pt",
            history="results/models/loto/{cell_type}/history.tsv",
        params:
            architecture=selected_architecture,
            training=config["training"] | config["universality"]["training"],
            seed=config["seed"],
        wildcard_constraints:
            cell_type=SAFE_NAME_PATTERN,
        log:
            "results/logs/loto/{cell_type}.log",
        benchmark:
            "results/benchmarks/loto/{cell_type}.tsv"
        threads: rule_threads("training")
        resources:
            **rule_resources("training"),
        conda:
            "../../envs/cic.yaml"
        script:
            "../scripts/train_loto_model.py"


rule evaluate_loto:
    input:
        models=loto_model_inputs,
        cell_types="results/tables/fig3_held_out_cell_types.txt",
        expression="results/data/expression.h5ad",
        splits="results/data/splits.tsv",
    output:
        per_sample="results/tables/fig3_loto_per_sample.tsv",
        table="results/tables/fig3_loto.tsv",
        reproduced="results/data/loto_reproduced_profiles.h5ad",
    log:
        "results/logs/universality/evaluate_loto.log",
    benchmark:
        "results/benchmarks/universality/evaluate_loto.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/evaluate_loto.py"


rule plot_fig3:
    input:
        "results/tables/fig3_loto.tsv",
    output:
        png=report("results/figures/fig3.png", caption="../report/fig3.rst", category="Fig 3"),
        svg="results/figures/fig3.svg",
    log:
        "results/logs/universality/plot_fig3.log",
    benchmark:
        "results/benchmarks/universality/plot_fig3.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/plot_fig3.py"


rule differential_expression_loto:
    input:
        expression="results/data/expression.h5ad",
        reproduced="results/data/loto_reproduced_profiles.h5ad",
    output:
        table="results/tables/de_{pair}.tsv",
        genes="results/tables/de_{pair}_up_genes.txt",
    params:
        case=lambda wildcards: universality_pairs()[wildcards.pair]["case"],
        control=lambda wildcards: universality_pairs()[wildcards.pair]["control"],
        min_log2_fold_change=config["universality"]["min_log2_fold_change"],
        max_adjusted_p=config["universality"]["max_adjusted_p"],
    wildcard_constraints:
        pair=universality_wildcard_pattern(universality_pairs()),
    log:
        "results/logs/universality/de_{pair}.log",
    benchmark:
        "results/benchmarks/universality/de_{pair}.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/differential_expression_loto.py"


rule enrich_loto_genes:
    input:
        unpack(universality_gene_set_input),
        genes="results/tables/de_{pair}_up_genes.txt",
        de_table="results/tables/de_{pair}.tsv",
        overlap="results/tables/gene_set_overlap.tsv",  # the source meets the data's identifiers
    output:
        "results/tables/enrichment_{pair}_{source}.tsv",
    params:
        source=lambda wildcards: universality_sources()[wildcards.source],
    wildcard_constraints:
        pair=universality_wildcard_pattern(universality_pairs()),
        source=universality_wildcard_pattern(universality_sources()),
    log:
        "results/logs/universality/enrichment_{pair}_{source}.log",
    benchmark:
        "results/benchmarks/universality/enrichment_{pair}_{source}.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/enrich_loto_genes.py"


rule plot_loto_enrichment:
    input:
        "results/tables/enrichment_{pair}_{source}.tsv",
    output:
        png=report("results/figures/fig3_enrichment_{pair}_{source}.png", caption="../report/fig3_enrichment.rst",
                   category="Fig 3"),
        svg="results/figures/fig3_enrichment_{pair}_{source}.svg",
    params:
        case=lambda wildcards: universality_pairs()[wildcards.pair]["case"],
        control=lambda wildcards: universality_pairs()[wildcards.pair]["control"],
        n_terms=config["universality"]["top_terms"],
    wildcard_constraints:
        pair=universality_wildcard_pattern(universality_pairs()),
        source=universality_wildcard_pattern(universality_sources()),
    log:
        "results/logs/universality/plot_enrichment_{pair}_{source}.log",
    benchmark:
        "results/benchmarks/universality/plot_enrichment_{pair}_{source}.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/plot_loto_enrichment.py"


rule summarize_universality:
    input:
        loto="results/tables/fig3_loto.tsv",
        de_tables=expand("results/tables/de_{pair}.tsv", pair=universality_pairs()),
        enrichment=expand("results/tables/enrichment_{pair}_{source}.tsv", pair=universality_pairs(),
                          source=universality_sources()),
        **({"activity": f"{SYNTHETIC_DIR}/program_activity.tsv"} if universality_truth_sources() else {}),
    output:
        summary=report("results/tables/universality_summary.tsv", caption="../report/universality_summary.rst",
                       category="Fig 3"),
        **({"true_programs": expand("results/tables/enrichment_{pair}_{source}_true_programs.tsv",
                                    pair=universality_pairs(), source=universality_truth_sources())}
           if universality_truth_sources() else {}),
    params:
        pairs=universality_pairs(),
        sources=list(universality_sources()),
        truth_sources=universality_truth_sources(),
        pathway_source=universality_pathway_source(),
    log:
        "results/logs/universality/summarize_universality.log",
    benchmark:
        "results/benchmarks/universality/summarize_universality.tsv"
    threads: rule_threads("default")
    resources:
        **rule_resources("default"),
    conda:
        "../../envs/cic.yaml"
    script:
        "../scripts/summarize_universality.py"
