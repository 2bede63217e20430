"""Project hygiene a user relies on: the conda env matches pyproject, the workflow lints clean."""

import re
import subprocess
import sys
import tomllib

import yaml

from conftest import REPO

# PyPI name -> conda-forge name where they differ.
CONDA_NAMES = {"torch": "pytorch", "matplotlib": "matplotlib-base"}
NOT_IN_ENV = {"snakemake"}  # the env runs rules; snakemake itself launches them


def _requirement(text):
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", text)
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_conda_env_matches_pyproject_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_requirement(d) for d in project["dependencies"])
    env = yaml.safe_load((REPO / "envs/cic.yaml").read_text())
    listed = {}
    for entry in env["dependencies"]:
        for item in entry["pip"] if isinstance(entry, dict) else [entry]:
            name, pin = _requirement(item)
            listed[name] = pin.replace("==", "=") if not pin.startswith(("=", ">", "<")) else pin
    for name, pin in wanted.items():
        if name in NOT_IN_ENV:
            continue
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in listed, f"envs/cic.yaml lacks {conda_name} (pyproject: {name}{pin})"
        assert listed[conda_name].lstrip("=") == pin.lstrip("="), \
            f"{conda_name}: envs/cic.yaml pins {listed[conda_name]!r}, pyproject {pin!r}"
    extra = set(listed) - {CONDA_NAMES.get(n, n) for n in wanted} - {"python", "pip", "setuptools"}
    assert not extra, f"envs/cic.yaml has packages pyproject.toml lacks: {sorted(extra)}"


def test_snakemake_lint_is_clean(workflow_copy):
    """On a copy (conftest.copy_workflow): snakemake may write .snakemake/ metadata where it runs, and the
    repository may be in use by a run of its own."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=workflow_copy, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr, \
        result.stdout + result.stderr


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci/run").read_text()
    command = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S).group(1).strip()
    assert command in ci
