# Public data sources (dataset.source: geo | cellnet): download into resources/cache/ (kept, so a re-run downloads
# nothing) and write the raw genes x samples matrix + sample sheet that prepare_expression reads (cic.run_plan).

GEO_DIR = "results/data/geo"
CELLNET_DIR = "results/data/cellnet"
# Only the keys the import uses, so that editing other dataset keys does not trigger a new import.
SELECTION = {"samples_per_type": DATASET["samples_per_type"], "cell_types": DATASET.get("cell_types")}


# Compute nodes of a cluster often have no internet: downloads run on the submitting host.
localrules:
    import_geo,
    import_cellnet,


rule import_geo:
    input:
        sample_sheet=lambda wildcards: DATASET["geo"]["sample_sheet"],
    output:
        expression=f"{GEO_DIR}/expression.parquet",
        samples_out=f"{GEO_DIR}/samples.tsv",
    log:
        "results/logs/data/import_geo.log",
    benchmark:
        "results/benchmarks/data/import_geo.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        geo_settings=DATASET["geo"],
        download=DATASET["download"],
        dataset=SELECTION,
        seed=config["seed"],
    script:
        "../scripts/import_geo.py"


rule import_cellnet:
    output:
        expression=f"{CELLNET_DIR}/expression.parquet",
        samples_out=f"{CELLNET_DIR}/samples.tsv",
    log:
        "results/logs/data/import_cellnet.log",
    benchmark:
        "results/benchmarks/data/import_cellnet.tsv"
    conda:
        "../../envs/cic.yaml"
    params:
        cellnet=DATASET["cellnet"],
        download=DATASET["download"],
        dataset=SELECTION,
        seed=config["seed"],
    script:
        "../scripts/import_cellnet.py"
