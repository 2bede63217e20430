"""Job start-up of the workflow layer (issue 19): what a job pays before it works, and what a dry run pays.

Each stage module is imported in a fresh interpreter (as a rule's script does), 5 times, and `snakemake -n` is run
on the default config in a copy of the workflow without results/ (a full DAG, as a first run sees it), 3 times.
Reported: the median wall seconds and CPU seconds (user + system of the child) of each, and which heavy libraries
the import loaded. With --finished-run, a whole light job as Snakemake runs it: in a copy of a finished config/test.yaml
run, `snakemake <table> --forcerun <rule> --cores 1` minus the dry run of the same (the DAG), 3 times, for a rule that
reads tables only (summarize_perturbation) and one that also draws figures (summarize_sweeps): the job's interpreter, Snakemake's script
preamble, our imports and the work. Run from the repository root, in the project's environment:

    python benchmarks/bench_startup.py            # this checkout
    python benchmarks/bench_startup.py --src DIR  # another checkout's src/ first on PYTHONPATH (e.g. main's)
    python benchmarks/bench_startup.py --finished-run DIR   # DIR: a project copy where the test.yaml run finished
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ["cic.stages.reconstruction", "cic.stages.sweeps", "cic.stages.universality", "cic.stages.classification",
           "cic.stages.perturbation", "cic.stages.data", "cic.stages.report", "cic.stages.autoencoder"]
HEAVY = ("torch", "anndata", "scipy", "sklearn", "matplotlib")


def timed(command, cwd, env) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the package's src/ folder")
    parser.add_argument("--workflow", type=Path, default=REPO, help="the checkout whose workflow is dry-run")
    parser.add_argument("--finished-run", type=Path, help="a project copy with a finished config/test.yaml run")
    args = parser.parse_args()
    env = os.environ | {"PYTHONPATH": str(args.src.resolve())}
    print("| what | wall s (median) | CPU s (median) | heavy libraries loaded |\n| --- | ---: | ---: | --- |")
    for module in MODULES:
        code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules) or '-')"
        runs = [timed([sys.executable, "-c", code], REPO, env) for _ in range(5)]
        print(f"| `import {module}` | {statistics.median(r[0] for r in runs):.2f} | "
              f"{statistics.median(r[1] for r in runs):.2f} | {runs[0][2].strip()} |")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "project"
        shutil.copytree(args.workflow, copy, ignore=shutil.ignore_patterns(".git", ".venv", "results", ".snakemake",
                                                                          "*.egg-info", "__pycache__"))
        runs = [timed([sys.executable, "-m", "snakemake", "-n", "-q"], copy, env) for _ in range(3)]
    print(f"| `snakemake -n` (default config, no results) | {statistics.median(r[0] for r in runs):.2f} | "
          f"{statistics.median(r[1] for r in runs):.2f} | |")
    if args.finished_run:
        for rule, target in LIGHT_JOBS.items():
            job = light_job_seconds(args.finished_run, rule, target, env)
            print(f"| one `{rule}` job (run minus dry run, test config) | {job[0]:.2f} | {job[1]:.2f} | |")


# A rule that reads small tables only, and one that draws a figure with matplotlib: {rule: its output}.
LIGHT_JOBS = {"summarize_perturbation": "results/tables/perturbation_summary.tsv",
              "summarize_sweeps": "results/tables/sweeps_summary.tsv"}


def light_job_seconds(finished_run: Path, rule: str, target: str, env) -> tuple[float, float]:
    """Median wall and CPU seconds that running one job of ``rule`` adds to Snakemake's dry run of the same target,
    in a copy of ``finished_run`` (its results are kept; only that job reruns)."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "project"
        shutil.copytree(finished_run, copy, symlinks=True, ignore=shutil.ignore_patterns(".git", ".venv"))
        common = [sys.executable, "-m", "snakemake", target, "--forcerun", rule, "--cores", "1", "-q",
                  "--configfile", "config/test.yaml"]
        differences = []
        for _ in range(3):
            dry = timed([*common, "-n"], copy, env)
            run = timed(common, copy, env)
            differences.append((run[0] - dry[0], run[1] - dry[1]))
    return statistics.median(d[0] for d in differences), statistics.median(d[1] for d in differences)


if __name__ == "__main__":
    main()
