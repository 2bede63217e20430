"""The workflow on a real Slurm cluster, through Snakemake's Slurm executor plugin and workflow/profiles/slurm.

A one-node cluster on localhost (Debian's slurm-wlm 22.05 + munge, installed with apt-get when missing; see
tests/slurm/cluster.py) runs the data stage and the main model's training of config/test.yaml with
`--profile workflow/profiles/slurm`. While it runs, two jobs are cancelled on purpose, as a preemption would kill them: the
data preparation as soon as it runs, and the training while it is held after epoch 2's checkpoint (the test/ops
hook CIC_HOLD_AFTER_EPOCH of cic.train, set in the jobs' environment: the cancellation comes at a known point
whatever the machine's speed, not in a race with the training). The profile's
retries must resubmit both, the training must resume from its checkpoint, and the outputs (the trained weights
included) must equal an uninterrupted local run with `--profile workflow/profiles/local`. Skipped, with the reason, only where Slurm cannot be
installed or run (not root, no apt-get, apt-get failing).

Overrides for this test cluster, on top of the profile: the partition (`slurm_partition`, added to the profile's
default-resources), no account, `squeue` for the executor's job states (`sacct` needs slurmdbd, which a one-node
test cluster does not run; slurmctld remembers finished jobs for MinJobAge = 1 h, longer than the test), and a 5 s
first status check instead of 40 s. The checks read durable records only, so they hold however long the run takes:
which rule each Slurm job ran (the executor's submission lines, naming the job's log `slurm_logs/rule_<rule>/`) and
how each job ended (the cluster's job completion log).
The cluster's slurm.conf lives in a temporary folder, not /etc/slurm: clients get SLURM_CONF, and an `srun` shim
passes it on to the plugin's in-job srun, which scrubs SLURM_* variables (tests/slurm/cluster.py).
Timing on 2 cores: about 2 to 3 minutes (the plugin polls job states at 5, 20, 45 s ... after a submission), plus
about 15 s once to apt-get install Slurm.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from cic.train import HOLD_AFTER_EPOCH, load_model
from conftest import REPO
from slurm.cluster import NODE, PARTITION, SlurmCluster, ensure_installed

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

TARGETS = ["results/data/expression.h5ad", "results/data/expression_top_variance.h5ad",
           "results/data/splits.tsv", "results/figures/data_overview.png", "results/models/main/model.pt"]
RULES = ["simulate_compendium", "prepare_expression", "select_top_variance_genes", "assign_splits",
         "plot_data_overview", "train_main_model"]
PREEMPTED_RULE = "prepare_expression"
TRAINING_RULE, CHECKPOINT = "train_main_model", "results/models/main/model.checkpoint.pt"
TRAINING_LOG = "results/logs/main/train_main_model.log"
# On top of config/test.yaml: epochs before and after the epoch at which the training job is held and cancelled.
LONGER_TRAINING = {"training": {"epochs": 5}}
HELD_EPOCH = 2


def _project(root: Path) -> Path:
    """A copy of the workflow and its profiles, so that no run touches the repository's results/."""
    root.mkdir(parents=True)
    for folder in ("workflow", "config", "envs"):  # the profiles are in workflow/profiles
        shutil.copytree(REPO / folder, root / folder)
    (root / "config/longer_training.yaml").write_text(yaml.safe_dump(LONGER_TRAINING))
    return root


CONFIG_FILES = ["--configfile", "config/test.yaml", "config/longer_training.yaml"]


class Preemption(threading.Thread):
    """Cancels (scancel) the first job of ``rule`` seen RUNNING, as a preemption or node loss would kill it;
    with ``once_logged=(log, text)``, only once ``text`` is in that log (a training job saying it is held)."""

    def __init__(self, cluster: SlurmCluster, rule: str, once_logged: tuple[Path, str] | None = None):
        super().__init__(daemon=True)
        self.cluster, self.comment, self.once_logged = cluster, f"rule_{rule}", once_logged
        self.job_id: str | None = None
        self.done = threading.Event()

    def _waiting(self) -> bool:
        if self.once_logged is None:
            return False
        log, text = self.once_logged
        return not log.exists() or text not in log.read_text()

    def run(self):  # polls (every 0.1 s) for a condition; nothing here waits a fixed time for something to happen
        while not self.done.is_set() and self.job_id is None:
            if self._waiting():
                time.sleep(0.1)
                continue
            for job in self.cluster.queue():
                if job["Comment"] == self.comment and job["State"] == "RUNNING":
                    self.cluster.cancel(job["JobIDRaw"])
                    self.job_id = job["JobIDRaw"]
                    break
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster():
    started = time.monotonic()
    reason = ensure_installed()
    if reason:
        pytest.skip(reason)
    installed = time.monotonic() - started
    with SlurmCluster() as running:
        running.install_seconds = installed
        yield running


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    root = _project(tmp_path_factory.mktemp("slurm") / "project")
    profile = yaml.safe_load((root / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["retries"] >= 1 and profile["rerun-incomplete"]
    # The test cluster's small node: light rules get 1000 MB and 10 min (the profile's 4000/60 would not fit).
    defaults = {**profile["default-resources"], "mem_mb": 1000, "runtime": 10, "slurm_partition": PARTITION}
    command = [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/slurm",
               "--default-resources", *(f"{key}={value}" for key, value in defaults.items()),
               "--slurm-no-account", "--slurm-status-command", "squeue",
               "--slurm-init-seconds-before-status-checks", "5", "--slurm-keep-successful-logs",
               *TARGETS, *CONFIG_FILES]
    preemption = Preemption(cluster, PREEMPTED_RULE)
    training_preemption = Preemption(cluster, TRAINING_RULE,
                                     once_logged=(root / TRAINING_LOG, f"holding after epoch {HELD_EPOCH}'s"))
    env = {**cluster.env, HOLD_AFTER_EPOCH: str(HELD_EPOCH)}  # sbatch --export=ALL passes it to the jobs
    preemption.start()
    training_preemption.start()
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=540)
    finally:
        for thread in (preemption, training_preemption):
            thread.done.set()
            thread.join()
    seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    (root / "snakemake_on_slurm.log").write_text(log)  # kept in pytest's temp folder for a look after a failure
    assert result.returncode == 0, f"snakemake on Slurm failed ({result.returncode}):\n{log[-8000:]}"
    print(f"slurm: install/check {cluster.install_seconds:.1f} s, workflow {seconds:.1f} s")
    submitted = submitted_jobs(log)
    completed = {job["JobIDRaw"]: job for job in cluster.completion_log(job_ids=submitted)}
    return SimpleNamespace(root=root, log=log, submitted=submitted, completed=completed,
                           preempted=preemption.job_id, preempted_training=training_preemption.job_id)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = _project(tmp_path_factory.mktemp("local") / "project")
    command = [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/local", *TARGETS, *CONFIG_FILES]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"local run failed:\n{(result.stdout + result.stderr)[-6000:]}"
    return root


def test_training_resources_come_from_the_config_and_the_rest_from_default_resources(tmp_path):
    """resources.training of the config becomes the training rules' resources (extras verbatim); every other rule
    states none and gets the executor's default-resources (the profile's, or the command line's)."""
    root = _project(tmp_path / "project")
    override = root / "config" / "resources.yaml"
    override.write_text(yaml.safe_dump({"resources": {"training": {
        "mem_mb": 1234, "runtime": 7, "cpus": 1, "gpu": 1, "extra": {"slurm_partition": "gpuq", "gres": "gpu:a100:1"}}}}))
    command = [sys.executable, "-m", "snakemake", "results/models/main/model.pt", "--profile",
               "workflow/profiles/slurm", "-n", "--verbose", "--default-resources", "mem_mb=321", "runtime=5",
               "--configfile", "config/test.yaml", str(override)]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    resources = {}  # rule -> its job's resources line
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        line = re.search(r"^\s*resources: (.*)$", block, re.M)
        if rule and line:
            resources[rule.group(1)] = line.group(1).split(", ")
    assert {"simulate_compendium", "prepare_expression", "assign_splits", "train_main_model"} <= set(resources)
    for rule, items in resources.items():
        expected = (["mem_mb=1234", "runtime=7", "gpu=1", "slurm_partition=gpuq", "gres=gpu:a100:1"]
                    if rule == "train_main_model" else ["mem_mb=321", "runtime=5"])
        assert set(expected) <= set(items), (rule, items)
        assert rule == "train_main_model" or not any(item.startswith("slurm_partition") for item in items)


def test_the_plugin_turns_training_resources_into_sbatch_options():
    """What README.md promises for a GPU training job: --mem, -t, --cpus-per-task and --gpus from the config."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(dict):
        __getattr__ = dict.__getitem__

    training = yaml.safe_load((REPO / "config/config.yaml").read_text())["resources"]["training"]
    resources = Resources(mem_mb=training["mem_mb"], runtime=training["runtime"], gpu=1)  # gpu: 1 on a GPU cluster
    job = SimpleNamespace(resources=resources, threads=training["cpus"], name="train_main_model")
    params = {"run_uuid": "run", "slurm_logfile": "log", "comment_str": "rule_train_main_model", "account": "",
              "partition": "-p gpu", "workdir": "/work"}
    call = get_submit_command(job, params) + set_gres_string(job)
    for option in (f"--mem {training['mem_mb']}", f"-t {training['runtime']}", f"--cpus-per-task={training['cpus']}",
                   "--gpus=1", "-p gpu"):
        assert option in call, (option, call)
    resources.pop("gpu")
    resources["gres"] = "gpu:a100:1"
    assert "--gres=gpu:a100:1" in set_gres_string(job) and "--gpus" not in set_gres_string(job)


def submitted_jobs(log: str) -> dict[str, str]:
    """{Slurm job id: rule} from the executor's submission lines ("... has been submitted with SLURM jobid 7
    (log: .../.snakemake/slurm_logs/rule_<rule>/7.log)."), a record that outlives slurmctld's memory of the job."""
    lines = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)\.?$", log, re.M)
    return {job_id: next(part[len("rule_"):] for part in Path(path).parts if part.startswith("rule_"))
            for job_id, path in lines}


def _jobs_of(run, rule) -> dict[str, dict]:
    """The job completion records of ``rule``'s Slurm jobs, by job id."""
    return {job_id: run.completed[job_id] for job_id, name in run.submitted.items() if name == rule}


def test_submitted_jobs_reads_the_executors_submission_lines():
    log = ("Job 3 has been submitted with SLURM jobid 12 (log: /p/.snakemake/slurm_logs/rule_assign_splits/12.log).\n"
           "Job 4 has been submitted with SLURM jobid 13 (log: /p/.snakemake/slurm_logs/rule_fit/fold_0/13.log).\n")
    assert submitted_jobs(log) == {"12": "assign_splits", "13": "fit"}


def test_every_rule_ran_as_a_slurm_job(slurm_run):
    for rule in RULES:
        jobs = _jobs_of(slurm_run, rule)
        completed = [record for record in jobs.values() if record["State"] == "COMPLETED"]
        assert len(completed) == 1, f"{rule}: expected one completed Slurm job, the job completion log has {jobs}"
        record = completed[0]
        assert (record["ExitCode"], record["Partition"], record["NodeList"]) == ("0:0", PARTITION, NODE), record
        # Training: config/test.yaml's resources.training (rule_resources); the rest: --default-resources above.
        runtime, memory = ("30", "mem=2000M") if rule == TRAINING_RULE else ("10", "mem=1000M")
        assert (record["Timelimit"], record["NCPUS"]) == (runtime, "1") and memory in record["Tres"], record
    # This run's Slurm jobs are exactly the rules' jobs (the cluster ran nothing else; one run id), and no rule ran
    # on the submitting host.
    assert set(slurm_run.completed) == set(slurm_run.submitted), (slurm_run.completed, slurm_run.submitted)
    assert len({job["JobName"] for job in slurm_run.completed.values()}) == 1, slurm_run.completed
    assert set(slurm_run.submitted.values()) == set(RULES)
    # (The log of the cancelled jobs, which the profile's show-failed-logs prints between ==== rulers, is the
    # in-job Snakemake's own log and says "localrule": that is the job running inside its Slurm allocation.)
    submitting_host_log = re.sub(r"\n={40,}\n.*?\n={40,}\n", "\n", slurm_run.log, flags=re.S)
    assert "localrule" not in submitting_host_log
    for rule in ("simulate_compendium", "prepare_expression", "assign_splits"):
        assert (slurm_run.root / f"results/logs/data/{rule}.log").exists()


@pytest.mark.parametrize("rule, preempted", [(PREEMPTED_RULE, "preempted"), (TRAINING_RULE, "preempted_training")])
def test_a_preempted_job_is_resubmitted_by_the_retries(slurm_run, rule, preempted):
    job_id = getattr(slurm_run, preempted)
    assert job_id is not None, f"no {rule} job was seen running, so none was cancelled"
    jobs = _jobs_of(slurm_run, rule)
    assert jobs[job_id]["State"].startswith("CANCELLED"), jobs
    retried = [other for other, job in jobs.items() if job["State"] == "COMPLETED"]
    assert len(retried) == 1 and int(retried[0]) > int(job_id), jobs
    assert f"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED'" in slurm_run.log
    assert "Trying to restart job" in slurm_run.log


def test_the_preempted_training_resumed_from_its_checkpoint(slurm_run, local_run):
    log = (slurm_run.root / TRAINING_LOG).read_text()  # the retried job's log
    resumed = re.search(r"resuming from \S+ after epoch (\d+)", log)
    assert resumed, f"the retried training job started over instead of resuming:\n{log[-3000:]}"
    assert int(resumed.group(1)) == HELD_EPOCH and "holding after" not in log, log[-3000:]
    epochs = LONGER_TRAINING["training"]["epochs"]
    history = pd.read_csv(slurm_run.root / "results/models/main/history.tsv", sep="\t")
    assert list(history["epoch"]) == list(range(1, epochs + 1))
    uninterrupted_history = pd.read_csv(local_run / "results/models/main/history.tsv", sep="\t")
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), uninterrupted_history.drop(columns="seconds"))
    assert not (slurm_run.root / CHECKPOINT).exists(), "the checkpoint is removed once the model is written"
    # Resumed and uninterrupted training end with the same weights (CPU, same config).
    resumed_model, _ = load_model(slurm_run.root / "results/models/main/model.pt")
    uninterrupted, _ = load_model(local_run / "results/models/main/model.pt")
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[name], tensor), name


def test_outputs_match_a_local_run(slurm_run, local_run):
    slurm, local = slurm_run.root / "results", local_run / "results"
    for name in ("expression.h5ad", "expression_top_variance.h5ad"):
        on_slurm, here = ad.read_h5ad(slurm / "data" / name), ad.read_h5ad(local / "data" / name)
        np.testing.assert_array_equal(on_slurm.X, here.X)
        pd.testing.assert_frame_equal(on_slurm.obs, here.obs)
        pd.testing.assert_frame_equal(on_slurm.var, here.var)
    for name in ("data/splits.tsv", "tables/sample_quality.tsv", "data/synthetic/samples.tsv",
                 "data/synthetic/programs.gmt"):
        assert (slurm / name).read_bytes() == (local / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(slurm / "data/synthetic/expression.parquet"),
                                  pd.read_parquet(local / "data/synthetic/expression.parquet"))
    for figure in ("data_overview.png", "data_overview.svg"):
        assert (slurm / "figures" / figure).stat().st_size > 0
