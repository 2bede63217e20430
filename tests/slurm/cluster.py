"""A throw-away one-node Slurm cluster on localhost for the test suite (Debian's slurm-wlm 22.05 + munge).

Everything lives in one temporary folder: its own munge key and socket, slurm.conf on free ports, state, spool and
logs. No cgroups, no systemd, no slurmdbd: proctrack/linuxproc, task/none, accounting_storage/none with the job
completion log (jobcomp/filetxt) as the durable record of every finished job, read with `sacct --completion`: the
tests read job states there, never from slurmctld's memory. Plain `sacct` needs slurmdbd, so Snakemake's Slurm
executor polls job states with `squeue` here; MinJobAge (how long slurmctld remembers a finished job) is an hour,
longer than any test runs, so a poll can never miss a job that ended between two polls. Clients find the cluster
through the SLURM_CONF variable of ``cluster.env``.

One shim: the plugin's in-job executor (slurm-jobstep) scrubs SLURM_* variables before its nested `srun`, so that
srun would look for /etc/slurm/slurm.conf, where a real cluster keeps it. Rather than write system files, ``env``
puts a folder first on PATH whose `srun` sets SLURM_CONF and execs the real srun.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]
BINARIES = ["slurmctld", "slurmd", "sbatch", "srun", "squeue", "scancel", "sinfo", "sacct", "scontrol", "munged"]
PARTITION = "cictest"
NODE = "cicnode"


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def ensure_installed() -> str | None:
    """Install slurm-wlm and munge with apt-get where they are missing; return why not, or None when ready.

    Quick when installed (no apt at all); otherwise apt-get install from the local cache, and only when that
    fails an apt-get update first.
    """
    if os.geteuid() != 0:
        return "a one-node Slurm cluster needs root (slurmd, and apt-get to install slurm-wlm and munge)"
    if not missing_binaries():
        return None
    if shutil.which("apt-get") is None:
        return "Slurm is not installed and there is no apt-get to install Debian's slurm-wlm and munge"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300",
               *PACKAGES]
    result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        update = subprocess.run(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"], env=env,
                                capture_output=True, text=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            return (f"apt-get install {' '.join(PACKAGES)} failed (rc {result.returncode}): "
                    f"{(update.stderr + result.stderr).strip()[-600:]}")
    if missing_binaries():
        return f"apt-get installed {' '.join(PACKAGES)} but {', '.join(missing_binaries())} are still missing"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_hardware() -> str:
    """The node's CPUs/sockets/cores/threads/memory exactly as slurmd sees them (so the node never drains)."""
    line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    fields = [field for field in line.split() if not field.startswith(("NodeName=", "RealMemory="))]
    memory = int(next(f for f in line.split() if f.startswith("RealMemory=")).split("=")[1])
    return " ".join(fields + [f"RealMemory={max(memory - 512, 1000)}"])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class SlurmCluster:
    """munged + slurmctld + slurmd in a temporary folder; ``start()``, then ``stop()`` (kills only their pids)."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="cic-slurm-"))
        # munged insists that every folder above its socket is searchable by all.
        self.root.chmod(0o755)
        self.conf = self.root / "slurm.conf"
        self.jobcomp = self.root / "log" / "jobcomp.txt"
        shim = self.root / "bin"
        shim.mkdir()
        (shim / "srun").write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {shutil.which("srun") or "srun"} "$@"\n')
        (shim / "srun").chmod(0o755)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
        for name in ("SLURM_JOB_ID", "SLURM_JOBID"):  # never look like we run inside a job
            self.env.pop(name, None)
        self.pids: dict[str, int] = {}

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "SlurmCluster":
        try:
            self._start_munge()
            self._write_conf()
            self._daemon("slurmctld", ["slurmctld", "-i"], self.root / "slurmctld.pid")
            self._wait(lambda: self._run("sinfo", "-h").returncode == 0, timeout, "slurmctld to answer")
            self._daemon("slurmd", ["slurmd", "-N", NODE], self.root / "slurmd.pid")
            self._wait(lambda: self._run("sinfo", "-h", "-n", NODE, "-o", "%T").stdout.strip() == "idle",
                       timeout, f"node {NODE} to become idle")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel what is left, stop the daemons this cluster started (by pid) and delete its folder."""
        if "slurmctld" in self.pids and _pid_alive(self.pids["slurmctld"]):
            self._run("scancel", "--quiet", "--user", "root", check=False)
            self._wait(lambda: not self._run("squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING").stdout.strip(),
                       20, "jobs to end", fail=False)
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(name, None)
            if pid is None or not _pid_alive(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            if not self._wait(lambda: not _pid_alive(pid), 20, f"{name} to stop", fail=False):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- queries ----------------------------------------------------------------------------------------------
    def completion_log(self, job_ids=(), timeout: float = 60) -> list[dict]:
        """Every job the cluster finished, from the job completion log via `sacct --completion`; first waits until
        every one of ``job_ids`` is in it (slurmctld writes the record as a job ends)."""
        self._wait(lambda: set(job_ids) <= {job["JobIDRaw"] for job in self._completion_records()}, timeout,
                   f"jobs {sorted(job_ids)} in the job completion log")
        return self._completion_records()

    def _completion_records(self) -> list[dict]:
        fields = ["JobIDRaw", "JobName", "State", "ExitCode", "Partition", "NodeList", "Timelimit", "NCPUS"]
        result = self._run("sacct", "--completion", "--parsable2", "--noheader", f"--format={','.join(fields)}")
        jobs = [dict(zip(fields, line.split("|"))) for line in result.stdout.splitlines() if line.strip()]
        # The allocated memory is in the log's Tres field only (sacct --completion leaves ReqMem empty).
        tres = {}
        for line in self.jobcomp.read_text().splitlines() if self.jobcomp.exists() else []:
            record = dict(item.split("=", 1) for item in line.split() if "=" in item)
            tres[record.get("JobId")] = record.get("Tres", "")
        for job in jobs:
            job["Tres"] = tres.get(job["JobIDRaw"], "")
        return jobs

    def cancel(self, job_id: str) -> None:
        self._run("scancel", job_id)

    def queue(self) -> list[dict]:
        """The jobs slurmctld knows now (live state: pending and running, and finished ones for MinJobAge), with
        the executor's comment (``rule_<rule>``). For what happened to a job, read :meth:`completion_log`."""
        result = self._run("squeue", "--states=all", "--noheader", "--format=%i|%T|%k|%j")
        keys = ["JobIDRaw", "State", "Comment", "JobName"]
        return [dict(zip(keys, line.split("|"))) for line in result.stdout.splitlines() if line.strip()]

    # -- internals --------------------------------------------------------------------------------------------
    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0 and command[0] not in ("sinfo", "squeue"):
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def _start_munge(self) -> None:
        munge = self.root / "munge"
        munge.mkdir(mode=0o755)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = munge / "munge.socket"
        self._daemon("munged", ["munged", f"--key-file={key}", f"--socket={self.munge_socket}",
                                f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
                                f"--seed-file={munge / 'munged.seed'}"], munge / "munged.pid")

    def _write_conf(self) -> None:
        for folder in ("state", "spool", "log"):
            (self.root / folder).mkdir()
        host = socket.gethostname().split(".")[0]
        self.conf.write_text(f"""\
ClusterName=cictest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.root / 'state'}
SlurmdSpoolDir={self.root / 'spool'}
SlurmctldPidFile={self.root / 'slurmctld.pid'}
SlurmdPidFile={self.root / 'slurmd.pid'}
SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}
SlurmdLogFile={self.root / 'log' / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 {_node_hardware()} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=NO MaxTime=INFINITE State=UP
""")

    def _daemon(self, name: str, command: list[str], pid_file: Path) -> None:
        """Start a self-daemonising program and remember the pid it writes."""
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{name} did not start ({result.returncode}): {result.stderr.strip()}"
                               f"{self._logs()}")
        self._wait(lambda: pid_file.exists() and pid_file.read_text().strip().isdigit(), 20, f"{name} pid file")
        self.pids[name] = int(pid_file.read_text().strip())

    def _wait(self, condition, timeout: float, what: str, fail: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.2)
        if fail:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{self._logs()}")
        return False

    def _logs(self) -> str:
        text = ""
        for log in sorted(self.root.glob("**/*.log")):
            text += f"\n--- {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        return text
