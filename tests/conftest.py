"""Shared fixtures: a tiny simulated compendium and helpers to write user-style input files."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from filelock import FileLock

from cic.simulate import SimulationConfig, simulate_compendium

REPO = Path(__file__).resolve().parents[1]


def load_test_config(root: Path = REPO) -> dict:
    """config/test.yaml as the workflow sees it: its differences merged into config/config.yaml, as
    `--configfile config/test.yaml` does (Snakemake's own merge, key by key)."""
    import yaml
    from snakemake.utils import update_config

    config = yaml.safe_load((root / "config/config.yaml").read_text())
    update_config(config, yaml.safe_load((root / "config/test.yaml").read_text()))
    return config


def pytest_collection_modifyitems(config, items):
    """The Slurm tests first: they mostly wait on the cluster's job polling, so under pytest-xdist (`-n 2 --dist
    loadscope`, pyproject.toml) the other worker runs the rest of the suite meanwhile. (Starting the test.yaml run
    at the same time as the Slurm run was slower: both compete for the two cores.)"""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is None)


@pytest.fixture(autouse=True)
def seeded_torch():
    """Every test starts from the same torch global RNG state: a test that initialises weights or draws tensors
    without its own seed gets the same numbers whatever ran before it in this (xdist) worker."""
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny matrices train fastest on one thread, and the 2-core test machine is shared with other processes.
    Use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_network(monkeypatch):
    """Nothing may reach the network: a connection attempt fails as it would offline.
    Use with `pytestmark = pytest.mark.usefixtures("no_network")`."""
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable (blocked in tests)")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(socket.socket, "connect", unreachable)


@pytest.fixture(scope="session")
def tiny_compendium():
    return simulate_compendium(SimulationConfig(n_genes=150, samples_per_type=8, studies_per_type=3, seed=3))


@pytest.fixture
def user_files(tmp_path, tiny_compendium):
    """A genes x samples TSV matrix and a sample sheet, as a user would bring them."""
    expression = tmp_path / "expression.tsv"
    sheet = tmp_path / "samples.tsv"
    tiny_compendium.intensities.to_csv(expression, sep="\t")
    tiny_compendium.samples.reset_index()[["sample", "cell_type", "study"]].to_csv(sheet, sep="\t", index=False)
    return expression, sheet


def copy_workflow(root: Path) -> Path:
    """Copy the workflow to ``root``, so test runs never touch the repository's results/."""
    root.mkdir(parents=True)
    for folder in ("workflow", "config", "envs"):
        shutil.copytree(REPO / folder, root / folder)
    return root


@pytest.fixture
def workflow_copy(tmp_path):
    return copy_workflow(tmp_path / "project")


@pytest.fixture(scope="session")
def test_config_run(tmp_path_factory, worker_id):
    """The whole workflow run once on config/test.yaml; tests of every stage inspect its results. Under pytest-xdist
    the first worker to need it runs it in the folder all workers share, under a lock; the others wait and reuse it."""
    if worker_id == "master":  # no xdist (pytest -n 0)
        root = copy_workflow(tmp_path_factory.mktemp("test_config_run") / "project")
        run_snakemake(root, "all", configfile="config/test.yaml")
        return root
    shared = tmp_path_factory.getbasetemp().parent / "test_config_run"
    with FileLock(f"{shared}.lock"):
        done = shared / "finished"
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)
            run_snakemake(copy_workflow(shared / "project"), "all", configfile="config/test.yaml")
            done.touch()
    return shared / "project"


@pytest.fixture
def private_run(test_config_run, tmp_path) -> Path:
    """A private copy of the test.yaml run (modification times and .snakemake metadata kept), for tests that run
    snakemake on it (a dry run, --report, a re-render): under pytest-xdist the other worker's tests read the shared
    run meanwhile, and snakemake locks, writes metadata into and may touch the folder it runs in."""
    return Path(shutil.copytree(test_config_run, tmp_path / "project", symlinks=True))


def run_snakemake(root: Path, *arguments: str, configfile: str | Path | None = None,
                  check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake on a workflow copy; ``configfile`` goes last because that option takes several values."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(root),
               "--snakefile", str(root / "workflow" / "Snakefile"), *arguments]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def write_matrix(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, sep="\t")
    return path


def random_positive(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(6, 1, (rows, cols))


def reference_ranks(query, partner, references, metric: str, skip_own_row: bool = False) -> np.ndarray:
    """An independent reference for the Fig 2/Fig 3 ranks: for each ``i``, 1 + the number of ``references`` rows
    closer to ``query[i]`` than ``partner[i]`` is, with scipy's Spearman correlation and a plain mean squared error.
    ``skip_own_row`` leaves out reference ``i`` (Fig 2: "the other test GEPs"). A difference within 1e-9 relative
    is a tie, which does not count (the documented rule of cic.evaluation)."""
    query, partner, references = (np.asarray(x, dtype=np.float64) for x in (query, partner, references))
    ranks = []
    for i in range(len(query)):
        others = np.delete(references, i, axis=0) if skip_own_row else references
        if metric == "spearman":
            rho = scipy.stats.spearmanr(np.vstack([query[i], partner[i], others]), axis=1).statistic[0]
            own, candidates, closer = rho[1], rho[2:], rho[2:] > rho[1]
        else:
            own = np.mean((query[i] - partner[i]) ** 2)
            candidates = np.mean((others - query[i]) ** 2, axis=1)
            closer = candidates < own
        ranks.append(1 + int(np.sum(closer & ~np.isclose(candidates, own, rtol=1e-9, atol=1e-12))))
    return np.array(ranks)


def benjamini_hochberg_by_definition(p_values) -> np.ndarray:
    """BH adjusted p straight from its definition (an independent reference for the code's BH): for each p_i, the
    smallest min(1, p_j * m / rank_j) over the p_j >= p_i, with rank_j the number of p-values <= p_j."""
    p = np.asarray(p_values, dtype=float)
    rank = np.array([np.sum(p <= value) for value in p])
    step = np.minimum(1.0, p * len(p) / rank)
    return np.array([step[p >= value].min() for value in p])
