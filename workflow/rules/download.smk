# Public data sources (dataset.source: geo | cellnet): download into resources/cache/ (kept, so a re-run downloads
# nothing) and write the raw genes x samples matrix + sample sheet that prepare_expression reads (cic.run_plan).
# Only the dataset keys the import uses are params, so that editing the others does not trigger a new import.


# Compute nodes of a cluster often have no internet: downloads run on the submitting host.
localrules:
    import_dataset,


rule import_dataset:
    input:
        unpack(
            lambda wildcards: {"sample_sheet": DATASET["geo"]["sample_sheet"]} if wildcards.database == "geo" else {}
        ),
    output:
        expression="results/data/{database}/expression.parquet",
        samples_out="results/data/{database}/samples.tsv",
    log:
        "results/logs/data/import_{database}.log",
    benchmark:
        "results/benchmarks/data/import_{database}.tsv"
    wildcard_constraints:
        database="geo|cellnet",
    conda:
        "../../envs/cic.yaml"
    params:
        database=lambda wildcards: wildcards.database,
        settings=lambda wildcards: DATASET[wildcards.database],
        download=DATASET["download"],
        dataset={"samples_per_type": DATASET["samples_per_type"], "cell_types": DATASET.get("cell_types")},
        seed=config["seed"],
    script:
        "../scripts/import_dataset.py"
