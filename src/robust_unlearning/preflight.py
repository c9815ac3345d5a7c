"""What a run can be told before it fails late: disk space for the checkpoints it will write, checked when the
workflow starts (the Snakefile's `onstart`), so that a full disk fails the run before its first job, not the stage
that fills it hours in; and, when a job runs out of GPU memory, what the config can change about it.

A run writes, under results/: every model directory its jobs make (results/models/<name>, and results/unlearned/...
for the generic unlearn rule), fp32 safetensors of every parameter (the master weights every stage hands on), and
while a stage trains, its resume checkpoint (train/loop.py): the trained parameters and AdamW's two moments, fp32,
gathered whole under FSDP. One resume checkpoint is counted, the largest: they are deleted when their stage ends, so
only jobs running at once hold several.
"""

import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from .memory import GB, ModelShape, estimate, model_shape, trained_parameters, training_stages
from .rule_params import RESULTS

SAVED_BYTES_PER_PARAMETER = 4
RESUME_BYTES_PER_TRAINED_PARAMETER = 12
# Outputs that are saved models (rules/base.smk, finetune.smk, unlearn.smk).
MODEL_OUTPUTS = (f"{RESULTS}/models/", f"{RESULTS}/unlearned/")


class DiskSpaceError(RuntimeError):
    pass


class OutOfMemoryExplained(RuntimeError):
    pass


def checkpoint_bytes(config: dict, outputs: Iterable[str], shape: ModelShape) -> tuple[int, int]:
    """(saved models among `outputs`, bytes they and the largest resume checkpoint take)."""
    n_models = sum(str(output).startswith(MODEL_OUTPUTS) for output in outputs)
    trained = [trained_parameters(stage, shape) for stage in training_stages(config)]
    if config["model"]["source"] == "scratch" or config["model"]["world_pretraining"]:
        trained.append(shape.n_parameters)  # pre-training on the world trains every parameter
    resume = RESUME_BYTES_PER_TRAINED_PARAMETER * max(trained, default=0)
    return n_models, n_models * SAVED_BYTES_PER_PARAMETER * shape.n_parameters + resume


def free_bytes(path: Path) -> int:
    """Free bytes of the filesystem `path` will be on (its nearest existing ancestor's)."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def check_disk(config: dict, outputs: Iterable[str], free: Callable[[Path], int] = free_bytes) -> None:
    """Raise DiskSpaceError when the results directory's filesystem has less room than `outputs` (the files the run's
    jobs will write) need in checkpoints; a model whose shape is not known before loading it is not checked."""
    try:
        shape = model_shape(config)
    except ValueError:
        return
    n_models, needed = checkpoint_bytes(config, list(outputs), shape)
    available = free(Path(RESULTS))
    if needed > available:
        raise DiskSpaceError(
            f"{Path(RESULTS).absolute()} has {available / GB:.1f} GB free, but this run writes {needed / GB:.1f} GB of "
            f"checkpoints: {n_models} saved models of {config['model']['source']!r} "
            f"({SAVED_BYTES_PER_PARAMETER * shape.n_parameters / GB:.1f} GB each) and a resume checkpoint. Free space, "
            f"run in a directory on a larger filesystem (snakemake --directory), or write fewer models: config keys "
            f"'tracks' (models, p2_sasu and p4_evaluation fine-tune the target) and 'tofu.forget_splits' / "
            f"'p2.forget_splits' (one retain-only oracle each)"
        )


# What lowers a stage's memory per GPU (src/robust_unlearning/memory.py says by how much).
MEMORY_SETTINGS = (
    "optimization.grad_accumulation (smaller micro-batches: activations)",
    "optimization.gradient_checkpointing: true (keeps one block's activations)",
    "optimization.distributed {strategy: fsdp, processes: N} (shards weights, gradients and AdamW state over N GPUs)",
    "evaluation.batch_size and the tracks' evaluation.<track>.batch_size (evaluation and generation)",
)


def explain_out_of_memory(kind, error, traceback) -> None:
    """A job's sys.excepthook: torch's OutOfMemoryError (torch.cuda's is the same class) raised on from one that names the
    Snakemake job, its stages' estimated memory per GPU and the settings that lower it; any other error as it is."""
    torch = sys.modules.get("torch")  # no torch loaded, no torch error: a report job does not import it for this
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if torch is None or not isinstance(error, torch.OutOfMemoryError) or job is None:
        sys.__excepthook__(kind, error, traceback)
        return
    explained = OutOfMemoryExplained(out_of_memory_advice(job.config, job.rule, dict(job.wildcards.items())))
    explained.__cause__ = error.with_traceback(traceback)
    sys.__excepthook__(OutOfMemoryExplained, explained, None)


def out_of_memory_advice(config: dict, rule: str, wildcards: dict) -> str:
    """The job's training stages (memory.py's names: the rule's track, narrowed to its wildcards' method) with their
    estimated GB per GPU, and the settings that lower them."""
    track = [stage for stage in training_stages(config) if stage.name.split()[0].lower() == rule.split("_")[0]]
    stages = [stage for stage in track if set(stage.name.split()[1:]) & set(wildcards.values())] or track
    try:
        shape = model_shape(config)
    except ValueError:  # a hub id or GGUF source whose shape is not known without loading it
        shape = None
    lines = [f"rule {rule} {wildcards or ''} ran out of memory."]
    for stage in stages:
        if shape is None:
            lines.append(f"  {stage.name}: no estimate ({config['model']['source']!r} has no known shape)")
            continue
        e = estimate(stage, shape)
        lines.append(
            f"  {stage.name}: estimated {e.total / GB:.2f} GB per GPU on {e.strategy} × {e.processes} "
            f"(weights {e.weights / GB:.2f}, gradients {e.gradients / GB:.2f}, AdamW {e.optimizer / GB:.2f}, "
            f"frozen copies {e.frozen / GB:.2f}, activations {e.activations / GB:.2f})"
        )
    if not stages:
        lines.append("  (no training stage: an evaluation or import job; its memory is the model and its batches)")
    return "\n".join([*lines, "Lower it with:", *(f"  {setting}" for setting in MEMORY_SETTINGS)])
