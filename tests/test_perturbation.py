import numpy as np
import pytest

from cic.io import read_gmt, write_gmt
from cic.perturbation import component_names, match_programs, numpy_decoder, perturbation_gene_sets

N_COMPONENTS, BLOCK = 4, 10
GENES = [f"GENE{i:03d}" for i in range(60)]


def _linear_decoder():
    """decode(c) = c @ W + b, where component j moves genes j*10 .. j*10+9 most (weights 3..1.2), others a little."""
    rng = np.random.default_rng(3)
    weights = rng.uniform(-0.5, 0.5, size=(N_COMPONENTS, len(GENES)))
    for j in range(N_COMPONENTS):
        block = np.linspace(3.0, 1.2, BLOCK) * np.where(np.arange(BLOCK) % 3 == 0, -1.0, 1.0)  # some go down
        weights[j, j * BLOCK:(j + 1) * BLOCK] = block
    bias = rng.normal(size=len(GENES))
    return (lambda codes: codes @ weights + bias), weights


def _codes():
    return np.random.default_rng(4).normal(loc=[0.0, 1.0, -2.0, 5.0], scale=[1.0, 0.2, 3.0, 0.5], size=(50, 4))


def test_top_genes_and_changes_of_a_linear_decoder(tmp_path):
    decode, weights = _linear_decoder()
    codes = _codes()
    sets, changes = perturbation_gene_sets(decode, codes, GENES, n_sigma=2.0, top_n=BLOCK)

    assert list(sets) == ["CIC01", "CIC02", "CIC03", "CIC04"]
    sigma = codes.std(axis=0, ddof=1)
    for j, name in enumerate(sets):
        block = GENES[j * BLOCK:(j + 1) * BLOCK]
        assert sets[name] == block  # ordered by |change|, i.e. by |weight|
        rows = changes[changes["component"] == name]
        assert rows["gene"].tolist() == block and rows["rank"].tolist() == list(range(1, BLOCK + 1))
        assert rows["change"].to_numpy() == pytest.approx(2.0 * sigma[j] * weights[j, j * BLOCK:(j + 1) * BLOCK])

    write_gmt(sets, tmp_path / "components.gmt")
    assert read_gmt(tmp_path / "components.gmt") == sets


def test_dead_component_gets_no_set_and_inputs_are_checked():
    decode, _ = _linear_decoder()
    codes = _codes()
    codes[:, 2] = 7.0  # this neuron never varies
    with pytest.warns(UserWarning, match="CIC03"):
        sets, changes = perturbation_gene_sets(decode, codes, GENES, top_n=BLOCK)
    assert list(sets) == ["CIC01", "CIC02", "CIC04"] and "CIC03" not in set(changes["component"])
    with pytest.raises(ValueError, match="top_n"):
        perturbation_gene_sets(decode, codes, GENES, top_n=len(GENES) + 1)
    with pytest.raises(ValueError, match="decode returned"):
        perturbation_gene_sets(decode, codes, GENES[:-1], top_n=BLOCK)


def test_component_names_are_zero_padded():
    assert component_names(30)[:2] == ["CIC01", "CIC02"] and component_names(30)[-1] == "CIC30"
    assert component_names(100)[0] == "CIC001"


def test_numpy_decoder_wraps_a_torch_module():
    torch = pytest.importorskip("torch")
    _, weights = _linear_decoder()
    layer = torch.nn.Linear(N_COMPONENTS, len(GENES), dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weights.T))
        layer.bias.zero_()
    sets, _ = perturbation_gene_sets(numpy_decoder(layer), _codes(), GENES, top_n=BLOCK)
    assert sets["CIC02"] == GENES[BLOCK:2 * BLOCK]


def test_match_programs_recovers_planted_programs():
    background = [f"GENE{i:04d}" for i in range(1000)]
    programs = {f"PROGRAM_{p}": background[p * 50:p * 50 + 50] for p in range(4)}
    rng = np.random.default_rng(5)
    components = {
        "CIC01": background[0:40] + list(rng.choice(background[500:], 10, replace=False)),  # PROGRAM_0
        "CIC02": background[100:130] + list(rng.choice(background[500:], 20, replace=False)),  # PROGRAM_2
        "CIC03": list(rng.choice(background[500:], 50, replace=False)),  # nothing planted
    }
    matches = match_programs(components, programs, background)

    assert matches.jaccard.shape == (3, 4)
    assert matches.jaccard.loc["CIC01", "PROGRAM_0"] == pytest.approx(40 / 60)
    best = matches.per_component.set_index("component")
    assert best.loc["CIC01", "best_by_jaccard"] == best.loc["CIC01", "best_by_p"] == "PROGRAM_0"
    assert best.loc["CIC02", "best_by_p"] == "PROGRAM_2"
    assert not best.loc["CIC03", "significant"]
    recovered = matches.per_program.set_index("program")["recovered"]
    assert recovered.to_dict() == {"PROGRAM_0": True, "PROGRAM_1": False, "PROGRAM_2": True, "PROGRAM_3": False}
    assert matches.n_recovered == 2
    pair = matches.pairs.set_index(["component", "program"]).loc[("CIC03", "PROGRAM_1")]
    assert (pair["overlap"], pair["p_value"], pair["adjusted_p"]) == (0, 1.0, 1.0)
