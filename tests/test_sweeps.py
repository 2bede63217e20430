"""Sweep planning (Figs 8, 9, regularisation) and the tables, figures and summary built from run histories."""

import json

import numpy as np
import pandas as pd
import pytest

from cic import sweep_plan
from cic.errors import InputError
from cic.model import Autoencoder
from cic.stages import sweeps


# --------------------------------------------------------------------------------------------------------------
# Planning


def test_architecture_jobs_name_files_one_to_one_and_refuse_duplicates():
    jobs = sweep_plan.architecture_jobs(["L300,G,L30", "L300, S, L100, L30"])
    assert jobs == {"L300_G_L30": "L300,G,L30", "L300_S_L100_L30": "L300,S,L100,L30"}
    with pytest.raises(ValueError, match="twice"):
        sweep_plan.architecture_jobs(["L300,G,L30", "L300, G, L30"])


def test_paper_notation_is_the_legend_of_fig8():
    assert sweep_plan.paper_notation("L300,S,L100,L30") == "L300, S, L100, L30"


def test_folds_are_the_first_n_of_the_shared_cv_folds():
    assert sweep_plan.sweep_folds(None, 10) == list(range(10))
    assert sweep_plan.sweep_folds(3, 10) == [0, 1, 2]
    with pytest.raises(ValueError, match="splits.cv_folds is 3"):
        sweep_plan.sweep_folds(4, 3)


def test_run_grid_pairs_every_key_with_every_fold_in_order():
    assert sweep_plan.run_grid(["a", "b"], [0, 1]) == (["a", "a", "b", "b"], [0, 1, 0, 1])


def test_seeds_are_reproducible_distinct_between_sweeps_and_shared_within_a_fold():
    seeds = {sweep: [sweep_plan.sweep_seed(1, sweep, fold) for fold in range(10)] for sweep in sweep_plan.SEED_OFFSETS}
    assert len(set().union(*seeds.values())) == 30
    # seed + the sweep's offset + fold (sweep_plan's docstring): every entry of a sweep at a fold gets the same seed
    assert (sweep_plan.sweep_seed(1, "architectures", 0), sweep_plan.sweep_seed(7, "regularisation", 2)) == (1001, 3009)


def test_training_overrides_apply_sweep_then_run_over_the_main_settings():
    merged = sweep_plan.sweep_training({"epochs": 200, "l1": 0.0, "learning_rate": 0.002}, {"epochs": 5},
                                       {"l1": 1e-6})
    assert merged == {"epochs": 5, "l1": 1e-6, "learning_rate": 0.002}


def test_code_size_family_resizes_the_selected_code_or_fills_a_template():
    assert sweep_plan.code_size_architecture("selected", "L2000,G,L30", 10) == "L2000,G,L10"
    assert sweep_plan.code_size_architecture("L300, G, L{code_size}", None, 70) == "L300,G,L70"
    with pytest.raises(ValueError, match="code_size"):
        sweep_plan.code_size_architecture("L300,G,L30", None, 10)


@pytest.mark.parametrize(("variant", "expected"), [
    ({"name": "none"}, "L300,G,L30"),
    ({"name": "l2", "training": {"weight_decay": 1e-4}}, "L300,G,L30"),
    ({"name": "dropout", "dropout": 0.2}, "L300,G,D0.2,L30"),
    ({"name": "batch_norm", "batch_norm": True}, "L300,B,G,L30"),
    ({"name": "relu", "activation": "R"}, "L300,R,L30"),
    ({"name": "swish", "activation": "W", "dropout": 0.1}, "L300,W,D0.1,L30"),
    ({"name": "own", "spec": "L100, T, L30"}, "L100,T,L30"),
])
def test_regularisation_variants_derive_valid_networks_from_the_selected_one(variant, expected):
    spec = sweep_plan.variant_architecture("L300,G,L30", variant)
    assert spec == expected
    assert Autoencoder(50, spec).spec == expected  # the training job accepts it


def test_variant_names_must_be_unique_and_file_safe():
    with pytest.raises(ValueError, match="twice"):
        sweep_plan.regularisation_variants([{"name": "none"}, {"name": "none"}])
    with pytest.raises(ValueError, match="may only contain"):
        sweep_plan.regularisation_variants([{"name": "a/b"}])


# --------------------------------------------------------------------------------------------------------------
# Tables from histories


def write_history(path, final_test, epochs=4, train_offset=-0.01):
    """A history whose test MSE falls geometrically to ``final_test`` at the last epoch."""
    path.parent.mkdir(parents=True, exist_ok=True)
    test = final_test * 2.0 ** np.arange(epochs - 1, -1, -1)
    pd.DataFrame({"epoch": np.arange(1, epochs + 1), "train_mse": test + train_offset, "test_mse": test,
                  "learning_rate": 0.001, "seconds": 0.1}).to_csv(path, sep="\t", index=False)
    return path


def runs(tmp_path, finals: dict[str, list[float]]):
    """Histories for each key's per-fold final test MSEs; returns aligned paths, keys and folds."""
    paths, keys, folds = [], [], []
    for key, values in finals.items():
        for fold, value in enumerate(values):
            paths.append(write_history(tmp_path / str(key).replace(",", "_") / f"fold{fold}.tsv", value))
            keys.append(key)
            folds.append(fold)
    return paths, keys, folds


def test_architectures_are_ranked_by_final_mean_test_mse_with_standard_errors(tmp_path):
    paths, keys, folds = runs(tmp_path, {"L300,G,L30": [0.30, 0.34, 0.32], "L300,S,L100,L30": [0.10, 0.12, 0.14],
                                         "L300,R,L30": [0.50, 0.50, 0.50]})
    sweeps.rank_architectures(paths, keys, folds, tmp_path / "curves.tsv", tmp_path / "ranking.tsv")
    ranking = pd.read_csv(tmp_path / "ranking.tsv", sep="\t")
    assert list(ranking["architecture"]) == ["L300,S,L100,L30", "L300,G,L30", "L300,R,L30"]
    assert list(ranking["rank"]) == [1, 2, 3]
    assert ranking.loc[0, "final_test_mse_mean"] == pytest.approx(0.12)
    assert ranking.loc[0, "final_test_mse_se"] == pytest.approx(0.02 / np.sqrt(3))
    assert list(ranking["folds"]) == [3, 3, 3] and list(ranking["epochs"]) == [4, 4, 4]
    curves = pd.read_csv(tmp_path / "curves.tsv", sep="\t")
    first = curves[(curves["architecture"] == "L300,S,L100,L30") & (curves["epoch"] == 1)]
    assert float(first["test_mse_mean"].iloc[0]) == pytest.approx(0.12 * 8)
    from cic.model import best_architecture

    assert best_architecture(tmp_path / "ranking.tsv") == "L300,S,L100,L30"  # what `architecture: auto` trains


def test_code_sizes_ranking_names_each_network(tmp_path):
    paths, keys, folds = runs(tmp_path, {10: [0.2, 0.22], 30: [0.1, 0.11], 100: [0.09, 0.11]})
    specs = [f"L300,G,L{size}" for size in keys]
    sweeps.rank_code_sizes(paths, keys, specs, folds, tmp_path / "curves.tsv", tmp_path / "ranking.tsv")
    ranking = pd.read_csv(tmp_path / "ranking.tsv", sep="\t")
    assert list(ranking["code_size"]) == [100, 30, 10]
    assert list(ranking["architecture"]) == ["L300,G,L100", "L300,G,L30", "L300,G,L10"]
    assert sweeps.smallest_within_one_se(ranking) == 30  # 0.105 is within one SE (0.01) of 0.1


def test_smallest_within_one_se_without_standard_errors_takes_the_best():
    ranking = pd.DataFrame({"rank": [1, 2], "code_size": [30, 10], "final_test_mse_mean": [0.1, 0.1001],
                            "final_test_mse_se": [np.nan, np.nan]})
    assert sweeps.smallest_within_one_se(ranking) == 30


def test_regularisation_changes_are_paired_per_fold_against_the_reference(tmp_path):
    paths, keys, folds = runs(tmp_path, {"none": [0.10, 0.20, 0.30], "l2": [0.11, 0.21, 0.31],
                                         "dropout": [0.10, 0.20, 0.30], "swish": [0.1, 0.1, 0.1]})
    architectures = {"none": "L300,G,L30", "l2": "L300,G,L30", "dropout": "L300,G,D0.2,L30", "swish": "L300,W,L30"}
    sweeps.compare_regularisation(paths, keys, folds, architectures, {"l2": {"weight_decay": 1e-4}}, "none",
                                  tmp_path / "curves.tsv", tmp_path / "table.tsv")
    table = pd.read_csv(tmp_path / "table.tsv", sep="\t").set_index("variant")
    assert table.loc["l2", "change_vs_reference"] == pytest.approx(0.01)
    assert table.loc["l2", "change_se"] == pytest.approx(0.0, abs=1e-12)  # the same shift in every fold
    assert table.loc["l2", "relative_change"] == pytest.approx(0.01 / 0.2)
    assert json.loads(table.loc["l2", "training_overrides"]) == {"weight_decay": 1e-4}
    assert table.loc["dropout", "architecture"] == "L300,G,D0.2,L30"
    assert dict(table["kind"]) == {"none": "reference", "l2": "regularisation", "dropout": "regularisation",
                                   "swish": "architecture"}  # the paper tested L1, L2, dropout; swish is future work
    assert table.loc["none", "change_vs_reference"] == 0 and np.isnan(table.loc["none", "paired_t_p"])
    assert table.loc["none", "generalisation_gap"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="reference 'nothing'"):
        sweeps.compare_regularisation(paths, keys, folds, architectures, {}, "nothing", tmp_path / "c.tsv",
                                      tmp_path / "t.tsv")


def test_a_history_without_test_mse_is_an_input_error_naming_the_file(tmp_path):
    path = tmp_path / "history.tsv"
    pd.DataFrame({"epoch": [1], "train_mse": [0.1]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match="history.tsv.*test_mse"):
        sweeps.read_runs([path], ["L10,G,L2"], [0], "architecture")


def test_figures_and_summary_from_stored_tables(tmp_path):
    t = tmp_path
    arch = runs(t / "a", {"L300,G,L30": [0.1, 0.12], "L300,S,L100,L30": [0.2, 0.21], "L300,G,L100,L30": [0.3, 0.3]})
    sweeps.rank_architectures(*arch, t / "fig8.tsv", t / "fig8_ranking.tsv")
    sizes = runs(t / "c", {10: [0.3, 0.31], 30: [0.1, 0.12]})
    sweeps.rank_code_sizes(sizes[0], sizes[1], [f"L300,G,L{k}" for k in sizes[1]], sizes[2], t / "fig9.tsv",
                           t / "fig9_ranking.tsv")
    variants = runs(t / "r", {"none": [0.1, 0.2], "l1": [0.1, 0.25], "relu": [0.5, 0.5]})
    sweeps.compare_regularisation(*variants, {"none": "L300,G,L30", "l1": "L300,G,L30", "relu": "L300,R,L30"},
                                  {"l1": {"l1": 1e-6}},
                                  "none", t / "reg_curves.tsv", t / "reg.tsv")
    figures = {f"{name}_{ext}": t / f"{name}.{ext}" for name in ("fig8", "fig9", "regularisation")
               for ext in ("png", "svg")}
    sweeps.plot_sweeps(t / "fig8.tsv", t / "fig8_ranking.tsv", t / "fig9.tsv", t / "reg_curves.tsv", t / "reg.tsv",
                       "none", figures)
    for path in figures.values():
        assert path.stat().st_size > 1000
    assert "L300, S, L100, L30" in (t / "fig8.svg").read_text()  # legend in the paper's notation
    sweeps.summarize_sweeps(t / "fig8_ranking.tsv", t / "fig9_ranking.tsv", t / "reg.tsv", "none", t / "summary.tsv")
    summary = pd.read_csv(t / "summary.tsv", sep="\t").set_index("quantity")
    assert list(summary.columns) == ["this_run", "paper", "paper_source", "note"]
    assert summary.loc["best_architecture", "this_run"] == "L300,G,L30"
    assert summary.loc["best_architecture", "paper"] == "L300,G,L30"
    assert summary.loc["second_architecture", "paper"] == "L300,S,L100,L30"
    assert summary.loc["rank_of_paper_best_architecture", "this_run"] == "1"
    assert int(summary.loc["chosen_code_size", "this_run"]) == 30
    assert int(summary.loc["chosen_code_size", "paper"]) == 30
    # the largest change among the paper's regularisers (l1), not the future-work relu variant (+233 %)
    assert float(summary.loc["regularisation_largest_relative_change", "this_run"]) == pytest.approx(0.025 / 0.15)
    assert float(summary.loc["regularisation_relative_change_relu", "this_run"]) == pytest.approx(0.35 / 0.15)
    assert summary.loc["regularisation_largest_relative_change", "paper"] == "no meaningful change"
