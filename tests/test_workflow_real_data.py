"""The real example through snakemake: 75 of the shipped sarcoma arrays (HG-U133A probe sets, raw MAS5 signal,
labels with spaces) with config/nakayama2007.yaml, a config of only a `dataset` block, at the smallest sizes
(tests/data/real_example_sizes.yaml). One run covers "a config of only a dataset block runs the whole workflow" and
"real data"; then symbol gene sets against its probe sets stop with one line."""

import shutil

import anndata as ad
import pandas as pd
import pytest
import yaml

from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow

CONFIG = "config/nakayama2007.yaml"
SIZES = REPO / "tests/data/real_example_sizes.yaml"
TYPES = ["dedifferentiated liposarcoma", "malignant fibrous histiocytoma", "myxofibrosarcoma", "myxoid liposarcoma",
         "synovial sarcoma"]
NOT_RUN_PAIR = "not run: set `universality.de_pairs` (its first case stands for the paper's B cells)"


def test_the_configs_are_a_dataset_block_and_sizes():
    assert set(yaml.safe_load((REPO / CONFIG).read_text())) == {"dataset"}
    sizes = yaml.safe_load(SIZES.read_text())
    assert "dataset" not in sizes and "enrichment" not in sizes
    assert set(sizes["universality"]) == {"training"} and "example_cell_types" not in sizes["reconstruction"]
    assert "figures" not in sizes["perturbation"]


def test_the_real_example_runs_end_to_end_from_its_dataset_block(workflow_copy):
    root = workflow_copy
    shutil.copytree(REPO / "resources/nakayama2007", root / "resources/nakayama2007")
    run = run_snakemake(root, "all", "--configfile", CONFIG, str(SIZES))
    assert "note: universality.de_pairs is empty" in run.stderr and "note: enrichment.sources is empty" in run.stderr
    results = root / "results"

    adata = ad.read_h5ad(results / "data/expression.h5ad")
    assert adata.shape == (75, 16038)  # 15 per type (dataset.samples_per_type), every shipped probe set
    assert sorted(adata.obs["cell_type"].unique()) == TYPES
    provenance = adata.uns["provenance"]
    assert provenance["gene_id_kind"] == "affymetrix_probe_set" and provenance["log2_applied"]

    claims = pd.read_csv(results / "tables/claims.tsv", sep="\t", keep_default_na=False)
    universality = claims[claims["source"].str.contains("universality_summary")]
    assert len(universality) == 3 and (universality["holds"] == "not run").all()
    assert (universality["this_run"] == NOT_RUN_PAIR).all()
    others = claims[~claims["source"].str.contains("universality_summary")]
    assert others["holds"].isin(["yes", "no", "not tested"]).all(), others[["claim", "holds", "this_run"]]
    assert (claims["dataset"] == "local (expression.tsv.gz)").all()

    # Every stage ran; what needs a comparison or a gene set source was left out and says so.
    per_type = pd.read_csv(results / "tables/fig3_loto.tsv", sep="\t")
    assert sorted(per_type["cell_type"]) == TYPES
    assert not list((results / "tables").glob("de_*")) and not list((results / "tables").glob("*enrichment*"))
    assert not (results / "tables/gene_set_overlap.tsv").exists()
    assert not any((results / "figures" / f"{figure}.png").exists() for figure in ("fig5", "fig6", "fig7"))
    perturbation = pd.read_csv(results / "tables/perturbation_summary.tsv", sep="\t").set_index("quantity")
    assert perturbation.loc["enrichment", "this_run"].startswith("not run: set `enrichment.sources`")
    assert len((results / "tables/perturbation_gene_sets.gmt").read_text().splitlines()) >= 1
    # Fig 2d: none of the paper's types here, so the three with the most test samples (ties: label order).
    splits = pd.read_csv(results / "data/splits.tsv", sep="\t")
    test_counts = splits.loc[splits["split"] == "test", "cell_type"].value_counts()
    largest = sorted(test_counts.index, key=lambda cell_type: (-test_counts[cell_type], cell_type))[:3]
    examples = pd.read_csv(results / "tables/fig2d_examples.tsv", sep="\t")
    assert examples["cell_type"].tolist() == largest
    for figure in ("fig2a", "fig2d", "fig3", "fig8", "fig9", "figS7", "fig4", "data_overview"):
        assert (results / f"figures/{figure}.png").stat().st_size > 1000
    run_config = yaml.safe_load((results / "tables/run_config.yaml").read_text())
    assert run_config["universality"]["de_pairs"] == [] and run_config["enrichment"]["sources"] == []

    # A library of gene symbols against these probe sets: one line naming both kinds, before any enrichment.
    gmt = root / "symbols.gmt"
    gmt.write_text("apoptosis\tGO\tTP53\tBAX\tBCL2\ncycle\tGO\tCDK1\tCCNB1\n")
    overlay = root / "config/symbols.yaml"
    overlay.write_text(yaml.safe_dump({"enrichment": {"sources": [{"name": "GO_demo", "gmt": str(gmt)}]}}))
    result = run_snakemake(root, "results/tables/gene_set_overlap.tsv", "--configfile", CONFIG, str(SIZES),
                           str(overlay), check=False)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if "ERROR cic" in line]
    assert len(ours) == 1, result.stderr[-3000:]
    assert (f"{gmt}: gene set source 'GO_demo' shares 0 genes with the data (0.0% of the smaller list: 5 source "
            "genes, 16038 data genes; enrichment.min_gene_overlap = 0.33): the data's ids are Affymetrix probe sets "
            "(e.g. '1007_s_at'), the source's are gene symbols (e.g. 'BAX'); fix: map the data's ids to gene "
            "symbols: set dataset.local.annotation.file to your platform's probe annotation") in ours[0]
    assert "Traceback" not in result.stderr
    assert not (results / "tables/gene_set_overlap.tsv").exists()
