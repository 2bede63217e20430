# Figs 5-7: perturbation gene sets of each CIC component, their enrichment and networks (issue 7).
# The chosen model (perturbation.model) encodes every sample; each component of the mean code is raised by
# n_sigma standard deviations and decoded; the top_genes most-changed genes form its gene set. The sets are tested
# in every enrichment source; Figs 5-7 draw one source each (perturbation.figures).

PERTURBATION = config["perturbation"]
PERTURBATION_MODEL = f"results/models/{PERTURBATION['model']}/model.pt"
PERTURBATION_TABLES = expand("results/tables/perturbation_enrichment_{source}.tsv", source=SOURCES)


rule perturbation_gene_sets:
    input:
        model_path=PERTURBATION_MODEL,
        expression_path="results/data/expression.h5ad",
    output:
        gmt_path="results/tables/perturbation_gene_sets.gmt",
        changes_path="results/tables/perturbation_changes.tsv",
        components_path="results/tables/perturbation_components.tsv",
    log:
        "results/logs/perturbation/perturbation_gene_sets.log",
    conda:
        "../../envs/cic.yaml"
    params:
        n_sigma=PERTURBATION["n_sigma"],
        top_n=PERTURBATION["top_genes"],
    script:
        "../scripts/perturbation_gene_sets.py"


rule enrich_perturbation_gene_sets:
    input:
        unpack(source_gmt_input),
        gmt_path="results/tables/perturbation_gene_sets.gmt",
        expression_path="results/data/expression.h5ad",
        overlap="results/tables/gene_set_overlap.tsv",  # the source meets the data's identifiers
    output:
        output="results/tables/perturbation_enrichment_{source}.tsv",
    log:
        "results/logs/perturbation/enrich_{source}.log",
    conda:
        "../../envs/cic.yaml"
    params:
        source=lambda wildcards: SOURCES[wildcards.source],
    script:
        "../scripts/enrich_perturbation_gene_sets.py"


rule match_perturbation_programs:
    input:
        gmt_path="results/tables/perturbation_gene_sets.gmt",
        programs_path=f"{SYNTHETIC_DIR}/programs.gmt",
        expression_path="results/data/expression.h5ad",
    output:
        **figures("component_programs", category="Figs 5-7"),
        matches_path="results/tables/perturbation_program_matches.tsv",
        jaccard_path="results/tables/perturbation_program_jaccard.tsv",
        programs_table_path="results/tables/perturbation_programs_recovered.tsv",
    log:
        "results/logs/perturbation/match_perturbation_programs.log",
    conda:
        "../../envs/cic.yaml"
    params:
        max_adjusted_p=PERTURBATION["program_match_max_adjusted_p"],
    script:
        "../scripts/match_perturbation_programs.py"


rule plot_perturbation_networks:
    input:
        enrichment=PERTURBATION_TABLES,
        gmt="results/tables/perturbation_gene_sets.gmt",
    output:
        **figures("fig5", "fig6", "fig7", category="Figs 5-7"),
        **{
            f"{fig}_{kind}": f"results/networks/{fig}.{kind}"
            for fig in ("fig5", "fig6", "fig7")
            for kind in ("gexf", "graphml")
        },
    log:
        "results/logs/perturbation/plot_perturbation_networks.log",
    conda:
        "../../envs/cic.yaml"
    params:
        sources=list(SOURCES),
        figures=PERTURBATION["figures"],
    script:
        "../scripts/plot_perturbation_networks.py"


rule summarize_perturbation:
    input:
        unpack(
            lambda wildcards: (
                {
                    "matches": "results/tables/perturbation_program_matches.tsv",
                    "programs": "results/tables/perturbation_programs_recovered.tsv",
                }
                if DATASET["source"] == "synthetic"
                else {}
            )
        ),
        enrichment=PERTURBATION_TABLES,
        gmt="results/tables/perturbation_gene_sets.gmt",
        components="results/tables/perturbation_components.tsv",
    output:
        counts="results/tables/perturbation_counts.tsv",
        summary=in_report("results/tables/perturbation_summary.tsv", "Figs 5-7"),
    log:
        "results/logs/perturbation/summarize_perturbation.log",
    conda:
        "../../envs/cic.yaml"
    params:
        sources=list(SOURCES),
        figures=PERTURBATION["figures"],
        count_cutoffs=PERTURBATION["count_cutoffs"],
        max_adjusted_p=PERTURBATION["program_match_max_adjusted_p"],
    script:
        "../scripts/summarize_perturbation.py"
