import hashlib

import numpy as np
import pandas as pd

from cic.io import read_gmt
from cic.simulate import CELL_TYPES, SimulationConfig, simulate_compendium, write_compendium


def _write(compendium, folder):
    paths = [folder / name for name in ("expression.parquet", "samples.tsv", "programs.gmt", "activity.tsv",
                                         "loadings.tsv")]
    write_compendium(compendium, *paths)
    return paths


def _digest(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_shapes_and_names(tiny_compendium):
    intensities, samples = tiny_compendium.intensities, tiny_compendium.samples
    assert intensities.shape == (150, 16 * 8)
    assert list(intensities.columns) == list(samples.index)
    assert sorted(samples["cell_type"].unique()) == sorted(CELL_TYPES)
    assert (samples["cell_type"].value_counts() == 8).all()
    assert samples.groupby("cell_type")["study"].nunique().eq(3).all()
    assert (intensities.to_numpy() > 0).all(), "raw intensities must be positive"
    # Raw scale: log2 + quantile normalisation has real work to do.
    assert np.quantile(intensities.to_numpy(), 0.99) > 100


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    config = SimulationConfig(n_genes=120, samples_per_type=4, studies_per_type=2, seed=11)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    first = _digest(_write(simulate_compendium(config), tmp_path / "a"))
    second = _digest(_write(simulate_compendium(config), tmp_path / "b"))
    config.seed = 12
    other = _digest(_write(simulate_compendium(config), tmp_path / "c"))
    assert first == second
    assert first[0] != other[0]


def test_planted_programs_co_vary(tiny_compendium):
    log_expression = np.log2(tiny_compendium.intensities + 1).T  # samples x genes
    correlation = np.corrcoef(log_expression.to_numpy().T)
    genes = list(tiny_compendium.intensities.index)
    position = {g: i for i, g in enumerate(genes)}
    rng = np.random.default_rng(0)
    within = []
    for program, members in tiny_compendium.programs.items():
        loadings = tiny_compendium.loadings[tiny_compendium.loadings["program"] == program]
        up = [position[g] for g in loadings.loc[loadings["effect_log2"] > 0, "gene"]]
        if len(up) >= 2:
            block = correlation[np.ix_(up, up)]
            within.append(block[np.triu_indices(len(up), 1)].mean())
    random_pairs = rng.choice(len(genes), size=(2000, 2))
    random_pairs = random_pairs[random_pairs[:, 0] != random_pairs[:, 1]]
    background = correlation[random_pairs[:, 0], random_pairs[:, 1]].mean()
    assert np.median(within) > background + 0.2


def test_identity_programs_are_up_in_their_type(tiny_compendium):
    log_expression = np.log2(tiny_compendium.intensities + 1).T
    samples = tiny_compendium.samples
    loadings = tiny_compendium.loadings
    for program, cell_type in (("B_CELL_RECEPTOR_SIGNALING", "b_cell"), ("CARDIAC_MUSCLE", "heart"),
                               ("PLURIPOTENCY", "esc")):
        up = loadings.loc[(loadings["program"] == program) & (loadings["effect_log2"] > 0), "gene"]
        score = log_expression[up].mean(axis=1)
        in_type = samples["cell_type"] == cell_type
        assert score[in_type].mean() > score[~in_type].mean() + 1.0, program


def test_lineage_structure_shared_programs(tiny_compendium):
    activity = tiny_compendium.type_activity
    # Immune types share immune programs; heart and skeletal muscle share contractile ones.
    assert (activity.loc[["b_cell", "t_cell", "macrophage", "hspc"], "IMMUNE_COMMON"] > 0).all()
    assert (activity.loc[["heart", "skeletal_muscle"], "SARCOMERE_CONTRACTION"] == 1).all()
    assert activity.loc[["esc", "hspc"], "PROLIFERATION_CELL_CYCLE"].min() > \
        activity.drop(index=["esc", "hspc"])["PROLIFERATION_CELL_CYCLE"].max()


def test_ground_truth_files_agree_with_data(tmp_path, tiny_compendium):
    paths = _write(tiny_compendium, tmp_path)
    programs = read_gmt(paths[2])
    assert programs == tiny_compendium.programs
    matrix = pd.read_parquet(paths[0]).set_index("gene")
    np.testing.assert_array_equal(matrix.to_numpy(), tiny_compendium.intensities.to_numpy())
    sheet = pd.read_csv(paths[1], sep="\t")
    assert list(sheet.columns) == ["sample", "cell_type", "study", "treatment"]
    loadings = pd.read_csv(paths[4], sep="\t")
    for program, members in programs.items():
        assert sorted(loadings.loc[loadings["program"] == program, "gene"]) == sorted(members)
