# Figs 5-7 (issue 7): perturbation.model encodes every sample; each component of the mean code is raised by n_sigma
# standard deviations and decoded, and the top_genes most-changed genes form its gene set. The sets are tested in
# every enrichment source; Figs 5-7 draw one source each (perturbation.figures) as networks.

PERTURBATION = config["perturbation"]
PERTURBATION_TABLES = expand("results/tables/perturbation_enrichment_{source}.tsv", source=SOURCES)
# Synthetic data: each component's best planted program, the Jaccard matrix, and the programs recovered.
PLANTED_MATCHES = expand(
    "results/tables/perturbation_{name}.tsv", name=["program_matches", "program_jaccard", "programs_recovered"]
)


rule perturbation_gene_sets:
    input:
        model_path=f"results/models/{PERTURBATION['model']}/model.pt",
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
        matches_path=PLANTED_MATCHES[0],
        jaccard_path=PLANTED_MATCHES[1],
        programs_table_path=PLANTED_MATCHES[2],
    log:
        "results/logs/perturbation/match_perturbation_programs.log",
    conda:
        "../../envs/cic.yaml"
    params:
        max_adjusted_p=PERTURBATION["program_match_max_adjusted_p"],
    script:
        "../scripts/match_perturbation_programs.py"


rule summarize_perturbation:
    input:
        **({"matches": PLANTED_MATCHES[0], "programs": PLANTED_MATCHES[2]} if DATASET["source"] == "synthetic" else {}),
        enrichment=PERTURBATION_TABLES,
        gmt="results/tables/perturbation_gene_sets.gmt",
        components="results/tables/perturbation_components.tsv",
    output:
        **figures(*PERTURBATION["figures"], category="Figs 5-7", networks=True),
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
