"""profiles/slurm against a real SLURM: a one-node cluster on this machine runs the micro config through sbatch.

Opt-in (root, installs Debian's slurm-wlm and munge when missing, several minutes):

    RUN_SLURM_TESTS=1 .venv/bin/python -m pytest -m slurm tests/test_slurm.py

The cluster is Debian's slurm-wlm 22.05 as root (SlurmUser=root, select/cons_tres) without accounting, so job
status comes from `squeue` and MinJobAge keeps finished jobs visible to `scontrol` for ten minutes.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from robust_unlearning.config import layered

from .conftest import ROOT

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("RUN_SLURM_TESTS") != "1", reason="needs a local SLURM cluster; set RUN_SLURM_TESTS=1 (root)"
    ),
]

SLURM_CONF = """\
ClusterName=pytest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
# No cgroups: containers rarely allow them, and a test cluster needs no isolation.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
# Cores only: memory requests are checked against RealMemory but not reserved, so jobs share the node.
SelectTypeParameters=CR_Core
ReturnToService=2
# Without slurmdbd, squeue/scontrol are the only job records; keep finished jobs there for ten minutes.
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
NodeName=localhost CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _install_slurm() -> None:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() != 0:
        pytest.skip("slurm-wlm and munge are not installed and installing them needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "slurm-wlm", "munge"]
    if subprocess.run(install, env=env, capture_output=True).returncode:
        subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)


def _memory_mb() -> int:
    meminfo = Path("/proc/meminfo").read_text()
    return int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1)) // 1024


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"SLURM test cluster: {what} within {timeout:.0f} s")
        time.sleep(1)


# The default path, not $SLURM_CONF: the jobstep plugin drops SLURM_* variables before its nested srun.
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[None]:
    """Start munged, slurmctld and slurmd in the foreground (so that exactly these processes are stopped after)."""
    _install_slurm()
    if DEFAULT_CONF.exists():
        pytest.skip(f"{DEFAULT_CONF} exists: this machine has a SLURM configuration the test must not replace")
    state = Path(tempfile.mkdtemp(prefix="slurm-test-"))
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONF.write_text(SLURM_CONF.format(state=state, cpus=os.cpu_count(), memory_mb=_memory_mb()))
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    daemons = [
        subprocess.Popen(["munged", "--foreground", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ]
    try:
        _wait_for(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, "munged answers")
        for daemon in (["slurmctld", "-D"], ["slurmd", "-D"]):
            daemons.append(subprocess.Popen(daemon, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        idle = lambda: (
            subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.strip() == "idle"
        )  # noqa: E731
        _wait_for(idle, "the node is idle")
        yield
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
        DEFAULT_CONF.unlink(missing_ok=True)
        shutil.rmtree(state, ignore_errors=True)


def _snakemake(args: list[str], cwd: Path, timeout: int = 1800) -> str:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(cwd),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    result = subprocess.run(
        [str(bin_dir / "snakemake"), "-s", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_micro_config_runs_through_sbatch_like_a_local_run(slurm_cluster, tmp_path, micro_config_path):
    config = layered(
        yaml.safe_load((ROOT / "config/config.yaml").read_text()), yaml.safe_load(micro_config_path.read_text())
    )
    configfile = tmp_path / "micro.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    for workdir in (local, cluster):
        workdir.mkdir()

    started = time.perf_counter()
    _snakemake(["--directory", str(local), "--configfile", str(configfile), "--cores", "2"], local)
    local_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _snakemake(
        [
            "--directory", str(cluster), "--configfile", str(configfile),
            "--workflow-profile", str(ROOT / "profiles/slurm"),
            "--slurm-status-command", "squeue",
            "--slurm-keep-successful-logs",
            "--slurm-init-seconds-before-status-checks", "5",
        ],
        cluster,
    )  # fmt: skip
    print(f"local run {local_seconds:.0f} s, SLURM run {time.perf_counter() - started:.0f} s")

    # Every job but the local rule went through sbatch: the plugin names each log after its SLURM job id.
    logs = list((cluster / ".snakemake/slurm_logs").rglob("*.log"))
    rules = {log.relative_to(cluster / ".snakemake/slurm_logs").parts[0].removeprefix("rule_") for log in logs}
    assert {"prepare_benchmark", "base_model", "finetune", "evaluate_model", "table_models"} <= rules, rules
    job_ids = [log.stem for log in logs]
    assert all(job_id.isdigit() for job_id in job_ids), job_ids
    for job_id in job_ids:
        record = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
        assert "JobState=COMPLETED" in record, record

    # Same outputs as the local run: data byte for byte, the same models and metrics.
    for directory in ("results/data", "results/tables"):
        assert _files(cluster / directory) == _files(local / directory), directory
    assert (cluster / "results/metrics/models.json").read_text() == (local / "results/metrics/models.json").read_text()
