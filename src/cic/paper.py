"""The paper's reported numbers, in one place, so every summary table prints them beside this run's.

Abdolhosseini et al., Sci Rep 9, 2342 (2019). Each entry: value and where in the paper it is stated.
"""

from __future__ import annotations

from dataclasses import dataclass


# Stage name -> the summary table that stage writes (cic.claims reads them; the workflow lists them without pandas).
SUMMARY_TABLES = {
    "fig2": "results/tables/fig2_summary.tsv",
    "sweeps": "results/tables/sweeps_summary.tsv",
    "universality": "results/tables/universality_summary.tsv",
    "classification": "results/tables/classification_summary.tsv",
    "perturbation": "results/tables/perturbation_summary.tsv",
    "novelty": "results/tables/novelty_summary.tsv",
}


@dataclass(frozen=True)
class PaperValue:
    value: float | int | str
    source: str


TEST_SAMPLES = 260  # 25 % of 1040

PAPER: dict[str, PaperValue] = {
    # Fig 2a: 10-fold CV of L2000,G,L30 on 20184 genes.
    "cv_test_mse_epoch1": PaperValue(0.3, "Fig 2a / text: average test MSE 0.3 at epoch 1"),
    "cv_test_mse_plateau": PaperValue(0.11, "Fig 2a / text: plateau at 0.11 from epoch 66"),
    "cv_max_standard_error": PaperValue(0.0035, "Fig 2a / text: maximum SE during training 0.0035"),
    # Fig 2b/2c: rank of the own REP among the other test GEPs.
    "rank1_fraction_spearman": PaperValue(230 / TEST_SAMPLES, "Fig 2b: 230/260 (88.4 %) ranked first"),
    "rank2_fraction_spearman": PaperValue(22 / TEST_SAMPLES, "Fig 2b: 22 (8.4 %) ranked second"),
    "rank3_fraction_spearman": PaperValue(8 / TEST_SAMPLES, "Fig 2b: 8 (3 %) ranked third"),
    "rank1_fraction_mse": PaperValue(226 / TEST_SAMPLES, "Fig 2c: 226/260 (87 %) ranked first"),
    "rank2_fraction_mse": PaperValue(21 / TEST_SAMPLES, "Fig 2c: 21 (8 %) ranked second"),
    "rank3_fraction_mse": PaperValue(13 / TEST_SAMPLES, "Fig 2c: 13 (5 %) ranked third"),
    "reverse_rank1_fraction": PaperValue(1.0, "text: for 100 % of test REPs the own GEP ranked first"),
    # Fig 2e/2f: REP-GEP vs nearest GEP-GEP, one-sided Wilcoxon.
    "wilcoxon_p_spearman": PaperValue(1e-15, "Fig 2e: Wilcoxon p < 1e-15 (REP-GEP correlation higher)"),
    "wilcoxon_p_mse": PaperValue(1e-15, "Fig 2f: Wilcoxon p < 1e-15 (REP-GEP MSE lower)"),
    # Fig 2g.
    "best_reconstruction_method": PaperValue("CIC", "Fig 2g: CIC outperforms PCA, NMF and kernel PCAs"),
    # Fig 3 / universality.
    "loto_b_cell_closer_than_training": PaperValue(65, "text: 65 of 65 held-out B-cell REPs closer to own GEP"),
    "b_vs_t_de_genes": PaperValue(380, "text: 380 genes log2FC > 1, BH p <= 0.05 up in B-cell REPs"),
    "b_vs_t_top_pathway": PaperValue("B cell receptor signaling pathway", "text: Enrichr top hit (z-score)"),
    "b_vs_t_top_pathway_adjusted_p": PaperValue(0.026, "text: adjusted p of the top pathway"),
    # Supp Fig S7: misclassifications out of 260 test samples.
    "misclassified_pca_rf": PaperValue(25, "text/S7: PCA + Random Forest"),
    "misclassified_pca_svm": PaperValue(27, "text/S7: PCA + SVM"),
    "misclassified_cic_rf": PaperValue(16, "text/S7: CIC + Random Forest"),
    "misclassified_cic_svm": PaperValue(27, "text/S7: CIC + SVM"),
    "misclassified_classifier_ae_rf": PaperValue(10, "text/S7: classifier-autoencoder CIC + RF"),
    "misclassified_classifier_ae_svm": PaperValue(10, "text/S7: classifier-autoencoder CIC + SVM"),
    # Noise robustness.
    "noise_accuracy_mean": PaperValue(0.994, "text: mean accuracy 99.4 % over 5 folds"),
    "noise_accuracy_se": PaperValue(0.002, "text: standard error 0.002"),
    "noise_accuracy_min": PaperValue(0.986, "text: fold accuracies 98.6 % to 100 %"),
    # Figs 5-7 totals with BH 0.05.
    "enriched_processes_bh": PaperValue(2115, "text: 2115 biological processes (BH 0.05)"),
    "enriched_compartments_bh": PaperValue(303, "text: 303 cellular compartments (BH 0.05)"),
    "enriched_pathways_bh": PaperValue(484, "text: 484 pathways (BH 0.05)"),
    # Figs 8/9.
    "best_architecture": PaperValue("L300,G,L30", "Fig 8: best of 10 architectures on 1000 genes"),
    "second_architecture": PaperValue("L300,S,L100,L30", "Fig 8: second best"),
    "third_architecture": PaperValue("L300,G,L100,L30", "Fig 8: third best"),
    "chosen_code_size": PaperValue(30, "Fig 9: 30 chosen; 10 and 20 slightly worse at the end of training"),
    "regularisation_effect": PaperValue("no meaningful change",
                                        "Methods: L1, L2 and dropout gave no meaningful change (no numbers given)"),
}


def paper_value(key: str):
    """The paper's value for ``key`` (KeyError for an unknown key, so a typo cannot pass silently)."""
    return PAPER[key].value


def summary_row(quantity: str, value, paper_key: str | None = None, note: str = "") -> dict:
    """One row of a stage's summary table: this run's value with the paper's value and its source beside it.

    Every ``results/tables/*_summary.tsv`` has the columns quantity, this_run, paper, paper_source, note.
    """
    paper = PAPER[paper_key] if paper_key else None
    return {"quantity": quantity, "this_run": value, "paper": paper.value if paper else "",
            "paper_source": paper.source if paper else "", "note": note}
