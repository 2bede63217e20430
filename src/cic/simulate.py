"""A seeded, CellNet-shaped synthetic expression compendium with planted ground truth.

The paper's data (CellNet: 16 human tissues x 65 Affymetrix HG-U133 Plus 2 profiles from >= 10 GEO studies each)
cannot be downloaded everywhere, so the default dataset is simulated with the structure the paper's claims rest on:

* expression is driven by latent biological programs: overlapping co-expressed gene modules with named ground truth;
* lineage structure: related cell types share programs (immune, contractile, epithelial, proliferation...);
* >= 10 studies per cell type, each with study-specific gene offsets (batch effects) and a study-level treatment
  that switches on a perturbation program in part of its samples, plus per-sample variation of program activities;
* microarray-like noise (Rocke & Durbin 2001: ``y = background + mu * exp(eta) + eps``) and per-array brightness,
  emitted as raw positive intensities so that log2 and quantile normalisation are really exercised.

It is a simulation: nothing here is tuned so that a paper claim holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CELL_TYPES = (
    "esc", "ovary", "skin", "neuron", "hspc", "macrophage", "b_cell", "t_cell", "endothelial", "fibroblast",
    "skeletal_muscle", "heart", "kidney", "lung", "liver", "colon",
)

# Program -> {cell type: activity}. Activities are in [0, 1]; an absent type has activity 0. Shared programs carry
# the lineage structure (immune, contractile, epithelial, stromal, proliferation); identity programs are one type's.
TYPE_PROGRAMS: dict[str, dict[str, float]] = {
    "HOUSEKEEPING_RIBOSOME": {t: 0.6 for t in CELL_TYPES} | {"esc": 1.0, "hspc": 0.9, "neuron": 0.4, "heart": 0.4},
    "PROLIFERATION_CELL_CYCLE": {"esc": 1.0, "hspc": 0.9, "colon": 0.4, "skin": 0.3, "fibroblast": 0.35,
                                 "endothelial": 0.3, "t_cell": 0.2, "b_cell": 0.2},
    "PLURIPOTENCY": {"esc": 1.0},
    "IMMUNE_COMMON": {"hspc": 0.6, "macrophage": 1.0, "b_cell": 1.0, "t_cell": 1.0, "lung": 0.25},
    "LYMPHOID": {"b_cell": 1.0, "t_cell": 1.0, "hspc": 0.3},
    "MYELOID": {"macrophage": 1.0, "hspc": 0.4, "lung": 0.2},
    "ANTIGEN_PRESENTATION_MHC2": {"b_cell": 0.8, "macrophage": 1.0, "hspc": 0.3, "lung": 0.2},
    "HEMATOPOIETIC_PROGENITOR": {"hspc": 1.0},
    "B_CELL_RECEPTOR_SIGNALING": {"b_cell": 1.0},
    "T_CELL_RECEPTOR_SIGNALING": {"t_cell": 1.0},
    "MACROPHAGE_PHAGOCYTOSIS": {"macrophage": 1.0},
    "SARCOMERE_CONTRACTION": {"heart": 1.0, "skeletal_muscle": 1.0},
    "CARDIAC_MUSCLE": {"heart": 1.0},
    "SKELETAL_MUSCLE": {"skeletal_muscle": 1.0},
    "OXIDATIVE_PHOSPHORYLATION": {"heart": 1.0, "skeletal_muscle": 0.8, "kidney": 0.6, "liver": 0.6},
    "EXTRACELLULAR_MATRIX": {"fibroblast": 1.0, "skin": 0.5, "ovary": 0.5, "lung": 0.4, "endothelial": 0.3,
                             "heart": 0.25},
    "VASCULAR_ENDOTHELIUM": {"endothelial": 1.0, "lung": 0.5, "heart": 0.3, "kidney": 0.3},
    "EPITHELIAL_JUNCTIONS": {"skin": 0.8, "colon": 1.0, "lung": 0.6, "kidney": 0.6, "liver": 0.3, "ovary": 0.2},
    "KERATINIZATION": {"skin": 1.0},
    "NEURONAL_SYNAPSE": {"neuron": 1.0},
    "HEPATIC_METABOLISM": {"liver": 1.0},
    "RENAL_TRANSPORT": {"kidney": 1.0},
    "PULMONARY_SURFACTANT": {"lung": 1.0},
    "INTESTINAL_ABSORPTION": {"colon": 1.0},
    "OVARIAN_STEROIDOGENESIS": {"ovary": 1.0},
    "FIBROBLAST_IDENTITY": {"fibroblast": 1.0},
    "ENDOTHELIAL_IDENTITY": {"endothelial": 1.0},
}

# Programs switched on by a study's treatment rather than by cell identity (the "perturbations" of CellNet studies).
PERTURBATION_PROGRAMS = ("INTERFERON_RESPONSE", "HYPOXIA_RESPONSE", "HEAT_SHOCK_STRESS", "INFLAMMATION_NFKB")


@dataclass
class SimulationConfig:
    """Knobs of the simulator; every one is a config value (``dataset.synthetic``), documented in config/README.md."""

    n_genes: int = 2000
    samples_per_type: int = 65
    studies_per_type: int = 10
    seed: int = 1
    program_size_fraction: tuple[float, float] = (0.02, 0.05)  # genes per program, as a fraction of n_genes
    program_effect_log2: float = 2.0  # mean log2 change of a program gene at activity 1
    repressed_fraction: float = 0.15  # fraction of program genes that go down when the program is on
    study_activity_sd: float = 0.2  # study-level log-normal variation of program activities
    sample_activity_sd: float = 0.15  # sample-level log-normal variation of program activities
    treated_fraction: float = 0.5  # fraction of a treated study's samples that get its perturbation program
    batch_strength: float = 0.25  # SD (log2) of study-specific gene offsets
    array_brightness_sd: float = 0.3  # SD (log2) of per-array overall intensity
    multiplicative_noise_sd: float = 0.15  # SD of eta (natural log) in y = background + mu * exp(eta) + eps
    additive_noise_sd: float = 8.0  # SD of eps, intensity units
    background: float = 16.0  # alpha, intensity units
    # None: one random stream for everything (the compendium). A number: the genes and programs still come from
    # ``seed``, the samples (studies, activities, batch offsets, noise) from their own stream, so new samples of the
    # same types, from new studies, can be drawn (what ``cic query`` is checked on).
    sample_seed: int | None = None


@dataclass
class SyntheticCompendium:
    """Raw intensities plus the ground truth they were simulated from."""

    intensities: pd.DataFrame  # genes x samples, raw positive intensities
    samples: pd.DataFrame  # indexed by sample: cell_type, study, treatment
    programs: dict[str, list[str]]  # program -> member genes
    loadings: pd.DataFrame  # long: program, gene, effect_log2
    type_activity: pd.DataFrame  # cell type x program, the activities the types were simulated with


def program_activity_table() -> pd.DataFrame:
    """Cell type x program activity of the planted identity programs (perturbation programs are 0 by type)."""
    programs = list(TYPE_PROGRAMS) + list(PERTURBATION_PROGRAMS)
    table = pd.DataFrame(0.0, index=pd.Index(CELL_TYPES, name="cell_type"), columns=programs)
    for program, activities in TYPE_PROGRAMS.items():
        for cell_type, activity in activities.items():
            table.loc[cell_type, program] = activity
    return table


def simulate_compendium(config: SimulationConfig) -> SyntheticCompendium:
    if config.n_genes < 100:
        raise ValueError(f"dataset.synthetic.n_genes must be at least 100, got {config.n_genes}")
    rng = np.random.default_rng(config.seed)
    genes = [f"GENE{i:05d}" for i in range(1, config.n_genes + 1)]
    type_activity = program_activity_table()
    programs = list(type_activity.columns)

    # Gene baselines: a low ("absent") and an expressed population, as on Affymetrix arrays (log2 scale).
    expressed = rng.random(config.n_genes) < 0.6
    baseline = np.where(expressed, rng.normal(8.0, 1.5, config.n_genes), rng.normal(4.5, 0.8, config.n_genes))

    # Programs: random, hence overlapping, gene modules with signed log2 effects.
    low, high = config.program_size_fraction
    loadings = np.zeros((len(programs), config.n_genes))
    members: dict[str, list[str]] = {}
    for index, program in enumerate(programs):
        size = max(5, int(round(rng.uniform(low, high) * config.n_genes)))
        chosen = np.sort(rng.choice(config.n_genes, size=size, replace=False))
        effect = np.abs(rng.normal(config.program_effect_log2, 0.4 * config.program_effect_log2, size))
        sign = np.where(rng.random(size) < config.repressed_fraction, -1.0, 1.0)
        loadings[index, chosen] = sign * effect
        members[program] = [genes[i] for i in chosen]

    # Samples: per type, studies_per_type studies of near-equal size; each study may apply one treatment.
    if config.sample_seed is not None:
        rng = np.random.default_rng([config.seed, config.sample_seed])
    sample_rows = []
    for cell_type in CELL_TYPES:
        study_of_sample = np.arange(config.samples_per_type) % config.studies_per_type
        for study_index in range(config.studies_per_type):
            study = f"{cell_type}_study{study_index + 1:02d}"
            treatment = PERTURBATION_PROGRAMS[rng.integers(len(PERTURBATION_PROGRAMS))] \
                if rng.random() < 0.5 else "none"
            in_study = np.flatnonzero(study_of_sample == study_index)
            treated = rng.random(len(in_study)) < config.treated_fraction
            for treated_here in treated:
                sample_rows.append((cell_type, study, treatment if treated_here else "none"))
    n_samples = len(sample_rows)
    sample_ids = [f"SIM{i:05d}" for i in range(1, n_samples + 1)]
    samples = pd.DataFrame(sample_rows, columns=["cell_type", "study", "treatment"],
                           index=pd.Index(sample_ids, name="sample"))

    # Program activities per sample: type activity, varied per study and per sample, plus the treatment program.
    studies = samples["study"].unique()
    study_factor = {s: rng.lognormal(0.0, config.study_activity_sd, len(programs)) for s in studies}
    activity = type_activity.loc[samples["cell_type"]].to_numpy()
    activity *= np.stack([study_factor[s] for s in samples["study"]])
    activity *= rng.lognormal(0.0, config.sample_activity_sd, activity.shape)
    program_index = {p: i for i, p in enumerate(programs)}
    for row, treatment in enumerate(samples["treatment"]):
        if treatment != "none":
            activity[row, program_index[treatment]] += rng.uniform(0.4, 1.0)

    # Log2 expression: baseline + programs + study offsets (batch effects) + array brightness.
    study_offset = {s: rng.normal(0.0, config.batch_strength, config.n_genes) for s in studies}
    log_expression = baseline[None, :] + activity @ loadings
    log_expression += np.stack([study_offset[s] for s in samples["study"]])
    log_expression += rng.normal(0.0, config.array_brightness_sd, (n_samples, 1))

    # Microarray measurement: y = background + mu * exp(eta) + eps, kept positive.
    true_intensity = np.exp2(log_expression)
    eta = rng.normal(0.0, config.multiplicative_noise_sd, true_intensity.shape)
    eps = rng.normal(0.0, config.additive_noise_sd, true_intensity.shape)
    measured = np.maximum(config.background + true_intensity * np.exp(eta) + eps, 1.0)

    intensities = pd.DataFrame(measured.T.astype(np.float32), index=pd.Index(genes, name="gene"),
                               columns=sample_ids)
    nonzero = np.nonzero(loadings)
    loading_table = pd.DataFrame({
        "program": [programs[i] for i in nonzero[0]],
        "gene": [genes[j] for j in nonzero[1]],
        "effect_log2": loadings[nonzero],
    })
    return SyntheticCompendium(intensities, samples, members, loading_table, type_activity)


def write_compendium(compendium: SyntheticCompendium, expression_path, sample_sheet_path, programs_path,
                     activity_path, loadings_path) -> None:
    """Write the raw matrix (genes x samples, parquet) and its ground truth, each atomically."""
    from cic.io import atomic_path, write_gmt, write_table

    with atomic_path(expression_path) as tmp:
        compendium.intensities.reset_index().to_parquet(tmp, index=False)
    write_table(compendium.samples.reset_index(), sample_sheet_path)
    descriptions = {
        program: "active in: " + (",".join(t for t, a in TYPE_PROGRAMS[program].items() if a >= 0.5)
                                  if program in TYPE_PROGRAMS else "treatment")
        for program in compendium.programs
    }
    write_gmt(compendium.programs, programs_path, descriptions)
    write_table(compendium.type_activity.reset_index(), activity_path)
    write_table(compendium.loadings, loadings_path)
