"""What a run's rules read and pass (cic.run_plan, cic.sweep_plan.plan_sweeps) and the rule bridge for a rule that
runs two stage functions (cic.runner.run_rule): the behaviour the workflow layer relies on, without Snakemake."""

import copy
import re
from types import SimpleNamespace

import pytest
import yaml

from cic import run_plan, sweep_plan
from cic.errors import InputError
from cic.runner import run_rule
from conftest import REPO

DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


def _config(**dataset):
    config = copy.deepcopy(DEFAULT)
    config["dataset"] |= dataset
    return config


def test_each_source_reads_its_own_raw_files_and_a_local_dataset_only_the_files_it_names():
    assert run_plan.raw_expression_files(_config(source="geo")) == {
        "expression": "results/data/geo/expression.parquet", "sample_sheet": "results/data/geo/samples.tsv"}
    local = _config(source="local")
    local["dataset"]["local"] |= {"expression": "mine.tsv", "sample_sheet": None, "annotation": {"file": None}}
    assert run_plan.raw_expression_files(local) == {"expression": "mine.tsv"}
    local["dataset"]["local"] |= {"sample_sheet": "sheet.tsv", "annotation": {"file": "GPL570.tsv"}}
    assert run_plan.raw_expression_files(local) == {"expression": "mine.tsv", "sample_sheet": "sheet.tsv",
                                                    "annotation": "GPL570.tsv"}
    # The user's declared layout for local files; the workflow's own for the files it writes.
    assert run_plan.expression_reader(local) is local["dataset"]["local"]
    assert run_plan.expression_reader(_config(source="cellnet"))["orientation"] == "genes_x_samples"


def test_resolve_config_resolves_auto_orders_keys_and_refuses_an_impossible_config_with_one_line():
    config = copy.deepcopy(DEFAULT)
    config = {"seed": 3, **{key: value for key, value in config.items() if key != "seed"}}  # an overlay's key first
    notes = run_plan.resolve_config(config, DEFAULT)
    assert list(config) == list(DEFAULT)
    assert config["enrichment"]["sources"] != "auto" and isinstance(notes, list)
    impossible = copy.deepcopy(DEFAULT)
    impossible["dataset"] |= {"source": "local"}  # a local source without a matrix
    with pytest.raises(InputError, match="dataset.local"):
        run_plan.resolve_config(impossible, DEFAULT)


def test_comparisons_are_named_by_file_safe_names_and_keep_the_labels_as_the_data_spell_them():
    config = copy.deepcopy(DEFAULT)
    config["universality"]["de_pairs"] = [{"case": " CD4+ T cells ", "control": "B cell"}]
    pairs = run_plan.comparison_pairs(config)
    (name, pair), = pairs.items()
    assert pair == {"case": "CD4+ T cells", "control": "B cell"}
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", name), name


def test_wildcard_patterns_match_exactly_one_name_even_when_names_share_underscores():
    names = ["b_cell_vs_t_cell", "b_cell"]
    pattern = run_plan.one_of(names)
    assert all(re.fullmatch(pattern, name) for name in names)
    assert not re.fullmatch(pattern, "b_cell_vs_t")
    assert not re.fullmatch(run_plan.one_of([]), "")  # no comparison: the rule matches nothing


def test_planted_programs_are_truth_only_on_synthetic_data_and_the_pathway_source_defaults_to_the_first():
    config = copy.deepcopy(DEFAULT)
    config["enrichment"]["sources"] = [{"name": "go", "gmt": "go.gmt"},
                                       {"name": "planted", "gmt": "results/data/synthetic/programs.gmt"}]
    assert run_plan.truth_sources(config) == ["planted"]
    assert run_plan.truth_sources(config | {"dataset": config["dataset"] | {"source": "local"}}) == []
    assert run_plan.gene_set_files(config) == {"go": "go.gmt", "planted": "results/data/synthetic/programs.gmt"}
    assert run_plan.pathway_source(config) == "go"
    config["enrichment"]["sources"] = []
    assert run_plan.pathway_source(config) is None


def test_training_jobs_ask_for_a_gpu_only_when_configured_and_pass_cluster_extras_through():
    config = copy.deepcopy(DEFAULT)
    config["resources"]["training"] |= {"gpu": 0, "cpus": 4, "extra": {"slurm_partition": "gpu"}}
    resources = run_plan.training_resources(config, "training")
    assert "gpu" not in resources and resources["slurm_partition"] == "gpu"
    assert run_plan.training_threads(config, "training") == 4
    config["resources"]["training"]["gpu"] = 1
    assert run_plan.training_resources(config, "training")["gpu"] == 1


def test_an_auto_architecture_waits_for_the_fig8_ranking_then_takes_its_winner(tmp_path):
    config = copy.deepcopy(DEFAULT)
    config["model"]["architecture"] = "auto"
    ranking = tmp_path / "fig8_architecture_ranking.tsv"
    # FileNotFoundError naming the input: Snakemake marks the parameter <TBD> until the sweep has written it.
    with pytest.raises(FileNotFoundError) as missing:
        run_plan.selected_architecture(config, str(ranking))
    assert missing.value.filename == str(ranking)
    ranking.write_text("rank\tarchitecture\n2\tL300,G,L30\n1\tL300,S,L100,L30\n")
    assert run_plan.selected_architecture(config, str(ranking)) == "L300,S,L100,L30"
    config["model"]["architecture"] = "L100,G,L10"
    assert run_plan.selected_architecture(config, None) == "L100,G,L10"


def test_sweep_plans_pair_each_history_with_its_run_and_fold_in_one_order():
    config = copy.deepcopy(DEFAULT)
    config["sweeps"]["code_sizes"] |= {"sizes": [10, 30], "folds": 2, "genes": "all"}
    sweeps = sweep_plan.plan_sweeps(config)
    code_sizes = sweeps["code_sizes"]
    assert code_sizes.values == [10, 10, 30, 30] and code_sizes.grid[1] == [0, 1, 0, 1]
    assert code_sizes.history_paths[1] == f"{sweep_plan.RUNS_DIR}/code_sizes/code10/fold1/history.tsv"
    assert code_sizes.expression == "results/data/expression.h5ad"
    config["sweeps"]["architectures"]["specs"] = ["L300,G,L30", "L300, G, L30"]
    with pytest.raises(ValueError, match="twice"):
        sweep_plan.plan_sweeps(config)


def _smk(tmp_path, **named):
    """A stand-in for the `snakemake` object of a rule's script: named input, output and params."""
    section = lambda values: SimpleNamespace(items=lambda: list(values.items()))
    return SimpleNamespace(input=section(named.get("input", {})), output=section(named.get("output", {})),
                           params=section(named.get("params", {})), log=[str(tmp_path / "rule.log")],
                           rule="summarize_x", threads=1)


def test_a_rule_running_two_stage_functions_gives_each_its_own_arguments(tmp_path, monkeypatch):
    calls = []
    module = SimpleNamespace(summarize=lambda table, output: calls.append(("summarize", table, output)),
                             plot=lambda table, figure_png: calls.append(("plot", table, figure_png)))
    monkeypatch.setitem(__import__("sys").modules, "fake_stage", module)
    smk = _smk(tmp_path, input={"table": "t.tsv"}, output={"output": "s.tsv", "figure_png": "f.png"})
    run_rule(smk, "fake_stage:summarize", "fake_stage:plot")
    assert calls == [("summarize", "t.tsv", "s.tsv"), ("plot", "t.tsv", "f.png")]


def test_a_rule_argument_no_stage_function_takes_fails_instead_of_being_dropped(tmp_path, monkeypatch, capsys):
    module = SimpleNamespace(summarize=lambda table, output: None, plot=lambda table, figure_png: None)
    monkeypatch.setitem(__import__("sys").modules, "fake_stage", module)
    smk = _smk(tmp_path, input={"table": "t.tsv", "tabel": "typo.tsv"}, output={"output": "s", "figure_png": "f"})
    with pytest.raises(SystemExit) as exit_:
        run_rule(smk, "fake_stage:summarize", "fake_stage:plot")
    assert exit_.value.code == 1
    assert "tabel" in capsys.readouterr().err
