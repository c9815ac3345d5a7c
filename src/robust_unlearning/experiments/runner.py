"""What every unlearning job does per run, in one place: copy the loaded model, unlearn the copy, time it, log it to
MLflow and evaluate it.

A job (P1's variants of one method and seed, a P2 cell, a P4 population or calibration job) loads its model once and
runs several specifications in one process: on the embedded default, importing torch and loading a model cost more
than one run of the tiny model. A track builds its grid of `RunSpec`s, each with its evaluation as a callback, and
`run_specs` runs them in order, returning one row per spec: what its evaluation made of it.

MLflow: each spec is a child run of the workflow's run, named by the spec and logging its params, unless the job
names a shared run (P1: one run per method and seed, each variant's metrics prefixed by the variant's name). The step
metrics of training and the evaluation's metrics are logged here; the callbacks run inside the spec's run, so what
they log themselves (P2's utility curve, P4's attack losses) lands there too.

Under a distributed method the job's function runs on every rank (train/distributed.py's `launch`), and so does this:
each rank trains its shard, calls the step hook (P2's curve generates on the sharded model, the ranks in lockstep)
and evaluates its own plain copy of the unlearned model; only rank 0 opens runs and logs (tracking.is_main_rank).
"""

import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import tracking
from ..models.factory import device_copy
from ..train.unlearn import unlearn


@dataclass(frozen=True)
class Clock:
    """When a run's training started and ended (time.perf_counter): a row reports its training and evaluation time."""

    started: float
    trained: float

    @property
    def train_seconds(self) -> float:
        return self.trained - self.started

    def seconds_since_training(self) -> float:
        return time.perf_counter() - self.trained


@dataclass(frozen=True)
class Evaluation:
    row: dict
    metrics: dict[str, float]


@dataclass(frozen=True)
class RunSpec:
    """One unlearning run of a job: what to train and how to judge the result.

    `evaluate(model, clock)` gets the unlearned model and returns the spec's row and the metrics logged for it.
    `on_log(model, metrics, step)`, if set, sees every logged training step with the model being trained.
    `history`, if set, receives every logged (metrics, step) once training is done, those before a resume included.
    `params` are the MLflow params of the spec's own run (a job's shared run has the job's)."""

    name: str
    method: str
    hparams: dict
    optimization: dict
    seed: int
    forget: list[dict]
    retain: list[dict]
    resume_file: Path
    evaluate: Callable[[torch.nn.Module, Clock], Evaluation]
    defenses: dict[str, dict] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    on_log: Callable[[torch.nn.Module, dict, int], None] | None = None
    history: list[tuple[dict, int]] | None = None


@dataclass(frozen=True)
class SharedRun:
    name: str
    params: dict


@dataclass(frozen=True)
class Job:
    """What a job's runs share. `model` stays as loaded (in host memory, or on the device), and every run trains a
    device copy of it; `model_dir` is where it was loaded from (its tokenizer; the checkpoints' fingerprint)."""

    model: torch.nn.Module
    model_dir: Path
    device: str
    idk_answers: list[str]
    max_length: int
    parent_file: Path
    tags: dict
    shared_run: SharedRun | None = None


def run_specs(job: Job, specs: Iterable[RunSpec]) -> list[dict]:
    """Run the specs in order, one row each. `specs` may be a generator, so that a spec measured on the job's model
    (P1's noise unit) is measured after the runs before it, under the settings their `set_determinism` left."""
    if job.shared_run is None:
        return [_run(job, spec, prefix="") for spec in specs]
    with tracking.job_run(job.parent_file, job.shared_run.name, job.shared_run.params, tags=job.tags):
        return [_run(job, spec, prefix=f"{spec.name}.") for spec in specs]


def _run(job: Job, spec: RunSpec, prefix: str) -> dict:
    def log(metrics: dict, step: int | None = None) -> None:
        tracking.log_metrics({f"{prefix}{key}": value for key, value in metrics.items()}, step)

    with nullcontext() if job.shared_run else tracking.job_run(job.parent_file, spec.name, spec.params, tags=job.tags):
        started = time.perf_counter()
        # `evaluate` holds the only reference to the unlearned model, which is never bound here (arguments are
        # evaluated left to right: the clock stops once training is done), so P4's calibration can free it.
        evaluation = spec.evaluate(_unlearned(job, spec, log), Clock(started, time.perf_counter()))
        log(evaluation.metrics)
    return evaluation.row


def _unlearned(job: Job, spec: RunSpec, log: Callable[[dict, int], None]) -> torch.nn.Module:
    """A device copy of the job's model, unlearned (sharded over the job's ranks under a distributed method) and
    returned whole on every rank."""
    model = device_copy(job.model, job.device)

    def log_step(metrics: dict, step: int) -> None:
        log(metrics, step)
        if spec.on_log is not None:
            spec.on_log(model, metrics, step)

    return unlearn(
        model_dir=job.model_dir,
        forget=spec.forget,
        retain=spec.retain,
        idk_answers=job.idk_answers,
        method=spec.method,
        hparams=spec.hparams,
        defenses=spec.defenses,
        optimization=spec.optimization,
        seed=spec.seed,
        device=job.device,
        max_length=job.max_length,
        out_dir=None,
        resume_file=spec.resume_file,
        log=log_step,
        model=model,
        history=spec.history,
    )
