"""Provenance of a job: how it trained, on what, with which code and config.

Written into every results file (key "provenance") and onto every MLflow run of the job (tracking.job_run), so a
number can be traced to its setup without the logs. The git call, the package versions and the device names are
looked up once per process.

A job's training stages are the optimization blocks of its params (a dict with `batch_size` and `learning_rate`;
evaluation blocks have no learning rate). In the loop, `batch_size` is the effective batch of one optimizer step;
`grad_accumulation` k splits it into micro-batches of batch_size / k sequences, which the `distributed.processes`
ranks share, so each device runs micro-batches of batch_size / k whatever the world size.
"""

import functools
import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import distributed_settings, micro_batch_size

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["torch", "transformers", "peft", "accelerate"]
UNKNOWN = "unknown"


@dataclass(frozen=True)
class JobIdentity:
    """What names a Snakemake job in its MLflow runs and results: its rule, its params and its script."""

    rule: str
    params: dict
    script: str


# The launching job's identity in the ranks it starts (train/distributed.py), whose main module is not the script.
_launching_job: JobIdentity | None = None


def inherit_job(identity: JobIdentity | None) -> None:
    global _launching_job
    _launching_job = identity


def snakemake_job() -> JobIdentity | None:
    """The running Snakemake job (Snakemake defines `snakemake` in the script's `__main__`; its ranks inherit it), or None."""
    if _launching_job is not None:
        return _launching_job
    main = sys.modules.get("__main__")
    job = getattr(main, "snakemake", None)
    if job is None:
        return None
    # Snakemake's preamble sets the script's __file__ back to the real script.
    return JobIdentity(job.rule, dict(job.params.items()), main.__file__)


def job_params(job) -> dict:
    """A Snakemake job's params: what its rule reruns on. The config slice a rule passes as `cfg` (the workflow's
    convention) is spread at the top, so that a training stage is named by its config path ("pretrain")."""
    params = dict(job.params.items())
    return {**params.pop("cfg", {}), **params}


def config_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def training_stages(params, path: tuple[str, ...] = ()) -> dict[str, dict]:
    """{dotted path: optimization block} of every training stage in `params`."""
    if not isinstance(params, dict):
        return {}
    if "batch_size" in params and "learning_rate" in params:
        return {".".join(path): params}
    return {
        name: block
        for key, value in params.items()
        for name, block in training_stages(value, (*path, str(key))).items()
    }


def stage_setup(optimization: dict) -> dict:
    distributed = distributed_settings(optimization)
    return {
        "strategy": distributed["strategy"],
        "world_size": distributed["processes"],
        "per_device_batch": micro_batch_size(optimization),
        "grad_accumulation": optimization.get("grad_accumulation", 1),
        "effective_batch": optimization["batch_size"],
        "precision": optimization.get("precision", "fp32"),
    }


def _device_setting(params) -> str:
    """The config key `device` (cpu, cuda, auto) wherever the job's params carry it; jobs without one run on the CPU."""
    if isinstance(params, dict):
        if isinstance(params.get("device"), str):
            return params["device"]
        for value in params.values():
            found = _device_setting(value)
            if found:
                return found
    return ""


@functools.cache
def git_state() -> tuple[str, bool | None]:
    """(commit, dirty) of the checkout the package runs from; ("unknown", None) without git or a repository of its own."""
    try:
        top, commit = _git("rev-parse", "--show-toplevel", "HEAD").split()
        # A copy of the project without its .git may sit inside another repository: that one's commit is not ours.
        if Path(top).resolve() != PROJECT_ROOT:
            return UNKNOWN, None
        return commit, bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return UNKNOWN, None


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@functools.cache
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@functools.cache
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN


@functools.cache
def cuda_names() -> tuple[str, ...]:
    import torch

    return (
        tuple(torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count()))
        if torch.cuda.is_available()
        else ()
    )


def job_provenance(params: dict, trains: bool = True) -> dict:
    """The provenance record of a job with these params (JSON-serialisable). A job that `trains` nothing may still
    depend on optimization blocks (P1's base evaluation reads the p1 block): it has no stages."""
    commit, dirty = git_state()
    cuda = cuda_names() if _device_setting(params) in ("cuda", "auto") else ()
    return {
        "stages": {name: stage_setup(block) for name, block in training_stages(params).items()} if trains else {},
        "device": "cuda" if cuda else "cpu",
        "devices": {"cpu": cpu_name(), "cuda": list(cuda)},
        "versions": package_versions(),
        "git_commit": commit,
        "git_dirty": dirty,
        "config_hash": config_hash(params),
    }


def read_provenance(results_file: str | Path) -> dict:
    return json.loads(Path(results_file).read_text())["provenance"]


def with_provenance(result: dict, job, trains: bool = True) -> dict:
    """A results file's content: the job's result and the job's provenance (`job`: the script's `snakemake` object)."""
    return {**result, "provenance": job_provenance(job_params(job), trains)}


def setup_text(provenance: dict) -> str:
    """How a job trained, in a table cell: "ddp × 2, bf16, batch 32" per distinct stage setup; "no training" without one."""
    texts = {
        name.removesuffix(".optimization").rsplit(".", 1)[
            -1
        ]: f"{s['strategy']} × {s['world_size']}, {s['precision']}, batch {s['effective_batch']}"
        for name, s in provenance["stages"].items()
    }
    if not texts:
        return "no training"
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return "; ".join(f"{stage}: {text}" for stage, text in texts.items())


def device_text(provenance: dict) -> str:
    devices = provenance["devices"]
    return " + ".join(sorted(set(devices["cuda"]))) if provenance["device"] == "cuda" else devices["cpu"]


def setup_columns(results_file: str | Path) -> dict[str, str]:
    """The columns a tidy results table gives each row of this results file's job (report/reference.py prints them)."""
    provenance = read_provenance(results_file)
    return {"setup": setup_text(provenance), "device": device_text(provenance)}


def frame_per_job(results_files: list[str | Path], build):
    """The tidy table `build(files)`, built one results file at a time so that each row gets its job's setup columns."""
    import pandas as pd

    return pd.concat([build([path]).assign(**setup_columns(path)) for path in results_files], ignore_index=True)
