"""Data-parallel training: the one loop of train/loop.py on `optimization.distributed.processes` ranks of one job.

Semantics. With grad_accumulation k and N processes, rank r computes the micro-batches s·k + r, s·k + r + N, …
of optimizer step s (k/N of them; validation makes k a multiple of N), each loss divided by k/N, and the ranks'
gradients are averaged: every step's gradient is the N = 1 gradient up to the order of float sums. Batches stay a
pure function of (seed, index), so the effective batch and the examples of each step do not depend on N, and the
logged metrics, averaged over the ranks' micro-batches, give the N = 1 trajectory. Randomness drawn inside an
objective (dropout, RNA's noise) is not a function of the batch index: every rank starts from the run seed, which
methods read back as torch.initial_seed() (RMU's u), so those draws repeat across the ranks of a step and are not
one process's (measured: RMU alone matches N = 1 exactly, RMU with RNA does not).

Strategies (`optimization.distributed.strategy`):
- ddp: every rank holds the whole model, starting from rank 0's weights; once its micro-batches are done, the
  gradients of the trained parameters are all-reduced (averaged), as DDP does at the last micro-batch under
  no_sync, so the clip sees the global norm. Not torch's DDP wrapper: it syncs only the gradients of forwards made
  through the wrapper, and our objectives call the model themselves, several times per micro-batch (NPO's forget
  and retain passes), and RMU stops a forward midway by raising in a hook, which skips DDP's post-forward. The
  price is no overlap of that one all-reduce with the last backward.
- fsdp: torch FSDP2 (`fully_shard`) on each decoder block and on the root: weights, gradients and AdamW state
  sharded over the ranks. It works in place, so the objectives' own calls of the model run through its hooks;
  gradients are reduce-scattered (averaged) in every backward, and the clip takes the norm of the sharded
  gradients, reduced over the ranks. Runs on CPU with gloo (tests/test_distributed.py) as on CUDA with NCCL.
  For full fine-tunes: a LoRA model's weights are frozen and its adapter is small, which is ddp's case.
- deepspeed_zero3: recognised, not wired in. Without the deepspeed package it fails before any process starts,
  naming the package; with it, it fails too: ZeRO-3's engine owns the backward (its own loss scaling), the step,
  the clip and a sharded checkpoint directory, which would turn the one loop into two. fsdp shards the same state.

Frozen copies (RMU's θ0, the NPO / KL reference: train/unlearn.py's `frozen_copy`) are deep copies made before
training, so no strategy touches them: each rank holds a whole replica, in θ0's dtype (train/unlearn.py
`reference_dtype`).

Jobs. The finetune and unlearn jobs run one stage on their ranks. A P2 cell or a P4 job (several unlearning runs,
each evaluated, attacked or calibrated) runs whole on every rank, SPMD: each run trains sharded, and `unsharded`
then gives every rank a plain copy of the unlearned model, which it evaluates, attacks and mixes on its own, with
no collective, so the ranks stay in step whatever the evaluation does; rank 0's result is the job's. The one
evaluation made during training, P2's utility curve, runs on the sharded model: the loop calls `log` on every
rank, and generation keeps the ranks in lockstep (eval/scoring.py, `synced_gpus`). Each rank keeps the target in
host memory and trains a device copy of it.

Launching (`launch`). A job whose method or stage asks for N > 1 processes runs `torchrun --standalone` on this module:
each rank is a fresh interpreter whose main module is this one. torch.multiprocessing's spawn would instead
re-execute the job's own main module in every rank, and that is the Snakemake script, which would start the job
again. torchrun sets RANK / WORLD_SIZE / MASTER_PORT (a free port) and stops the other ranks when one fails, so no
rank is left waiting in a collective. Only rank 0 writes outputs and checkpoints and logs; it logs into the MLflow
run the launching process opened (or opens the job's runs itself, named by the launching Snakemake job's rule,
which the ranks inherit), so a job has its runs once, not once per rank.

Checkpoints. Rank 0 writes the full state: under FSDP the ranks first gather the trained parameters and the
AdamW state into full tensors (torch.distributed.checkpoint's full state dicts), not a shard per rank. Every rank
reads it on resume and takes its shard; the RNG state is kept per rank.
"""

import atexit
import contextlib
import importlib.util
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from .. import provenance
from ..config import distributed_settings as settings
from ..gpu_memory import log_peak_gpu_memory
from ..models.factory import save_atomically

# The package each strategy needs beyond torch.
REQUIRED_PACKAGE = {"deepspeed_zero3": "deepspeed"}


def require_packages(distributed: dict) -> None:
    package = REQUIRED_PACKAGE.get(distributed["strategy"])
    if package and importlib.util.find_spec(package) is None:
        raise ModuleNotFoundError(
            f"optimization.distributed.strategy {distributed['strategy']!r} needs the {package!r} package, which is not installed "
            f"(pip install {package}); strategies ddp and fsdp need nothing beyond torch"
        )


def launch(fn, distributed: dict, *args, **kwargs):
    """fn(*args, **kwargs) on every rank of `distributed` (settings()); return rank 0's result, which must pickle.

    One process runs fn here. More run under torchrun, on CUDA one GPU each; this process waits for them, and a
    failed rank fails the launch.
    """
    require_packages(distributed)
    if distributed["processes"] == 1:
        return fn(*args, **kwargs)
    with tempfile.TemporaryDirectory(prefix="ranks-") as tmp:
        job, result = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        job.write_bytes(pickle.dumps((provenance.snakemake_job(), fn, args, kwargs)))
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={distributed['processes']}",
        ]
        command += ["-m", __name__, str(job), str(result)]
        environment = _rank_environment(distributed["processes"])
        finished = subprocess.run(
            command, env=environment, stdout=_file_or_none(sys.stdout), stderr=_file_or_none(sys.stderr)
        )
        if finished.returncode:
            raise RuntimeError(
                f"{distributed['processes']} training processes ({distributed['strategy']}) failed with exit code "
                f"{finished.returncode}; their traceback is above"
            )
        return pickle.loads(result.read_bytes())


def _rank_environment(processes: int) -> dict[str, str]:
    import mlflow  # imported where used: ~2 s that single-process training never needs

    env = {
        **os.environ,
        # The ranks import fn's module as this process does, wherever it found it (a source tree on sys.path).
        "PYTHONPATH": os.pathsep.join(path for path in sys.path if path),
        # The job's threads are shared out to its ranks.
        "OMP_NUM_THREADS": str(max(1, torch.get_num_threads() // processes)),
    }
    run = mlflow.active_run()
    if run is not None:
        env.update(MLFLOW_TRACKING_URI=mlflow.get_tracking_uri(), MLFLOW_RUN_ID=run.info.run_id)
    return env


def _file_or_none(stream):
    """The stream itself when it is a file the ranks can write to (the job's log, redirected by jobs.log_to), else
    None: inherit this process's."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    stream.flush()
    return stream


class DataParallel:
    """This process's part of a data-parallel job: its rank, and what the loop does with the others.

    With one process every collective is a no-op and the loop is the single-device loop.
    """

    def __init__(self, optimization: dict):
        distributed = settings(optimization)
        self.strategy, self.size = distributed["strategy"], distributed["processes"]
        require_packages(distributed)
        if self.strategy == "deepspeed_zero3":
            raise NotImplementedError(
                "optimization.distributed.strategy 'deepspeed_zero3' is not wired into the training loop (train/distributed.py); "
                "'fsdp' shards the weights, gradients and optimizer state as ZeRO-3 does"
            )
        accumulation = optimization.get("grad_accumulation", 1)
        if accumulation % self.size:
            raise ValueError(
                f"optimization 'grad_accumulation' {accumulation} is not divisible by distributed.processes {self.size}"
            )
        if self.size > 1 and not (dist.is_initialized() and dist.get_world_size() == self.size):
            raise RuntimeError(
                f"optimization.distributed.processes is {self.size}, but this process is not one of {self.size} ranks: "
                "start the stage with train.distributed.launch (the finetune and unlearn jobs do)"
            )
        self.rank = dist.get_rank() if self.size > 1 else 0
        # A one-process stage may train inside a several-rank job (P4's relearning attack on every rank of a P4 job):
        # each rank then trains its own copy, and only the job's rank 0 writes the checkpoint.
        self.main = (dist.get_rank() if dist.is_initialized() else 0) == 0

    @property
    def sharded(self) -> bool:
        return self.strategy == "fsdp" and self.size > 1

    def distribute(self, model: torch.nn.Module) -> None:
        """Make the ranks' models one model: shard it (fsdp) or copy rank 0's weights to the others (ddp)."""
        if self.size == 1:
            return
        if not self.sharded:
            for parameter in model.parameters():
                dist.broadcast(parameter.data, src=0)
            return
        if hasattr(model, "peft_config"):
            raise ValueError(
                "optimization.distributed.strategy 'fsdp' shards a full fine-tune; a LoRA model (frozen weights, small adapter) trains with 'ddp'"
            )
        from torch.distributed.fsdp import fully_shard

        blocks = set(getattr(model, "_no_split_modules", None) or [])
        for module in model.modules():
            if type(module).__name__ in blocks:
                fully_shard(module)
        fully_shard(model)

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """ddp: average the trained parameters' gradients over the ranks (FSDP has done it in the backward)."""
        if self.size == 1 or self.sharded:
            return
        # Every rank's objective reaches the same parameters, so the ranks reduce the same list of gradients.
        gradients = [p.grad for p in parameters if p.grad is not None]
        for pending in [dist.all_reduce(g, async_op=True) for g in gradients]:
            pending.wait()
        for gradient in gradients:
            gradient.div_(self.size)

    def gathered(self, value) -> list:
        """[value of rank 0, value of rank 1, …] on every rank."""
        if self.size == 1:
            return [value]
        values = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def merged(self, window: dict[str, list[float]]) -> dict[str, list[float]]:
        """Every rank's logged values of the window, so a mean over them is the mean over all micro-batches."""
        merged: dict[str, list[float]] = {}
        for rank_window in self.gathered(window):
            for key, values in rank_window.items():
                merged.setdefault(key, []).extend(values)
        return merged

    def training_state(self, model: torch.nn.Module, names: list[str], optimizer: torch.optim.Optimizer) -> dict:
        """{"trainable": full tensors of the named parameters, "optimizer": its state dict} on rank 0, {} on the others
        (under FSDP every rank must call it: the shards are gathered)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_model_state_dict,
                get_optimizer_state_dict,
            )

            full = StateDictOptions(full_state_dict=True, cpu_offload=True)
            weights, optimizer_state = (
                get_model_state_dict(model, options=full),
                get_optimizer_state_dict(model, optimizer, options=full),
            )
            return (
                {"trainable": {name: weights[name] for name in names}, "optimizer": optimizer_state}
                if self.main
                else {}
            )
        if not self.main:
            return {}
        parameters = dict(model.named_parameters())
        return {
            "trainable": {name: parameters[name].detach().clone() for name in names},
            "optimizer": optimizer.state_dict(),
        }

    def load_training_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
                set_optimizer_state_dict,
            )

            set_model_state_dict(
                model, state["trainable"], options=StateDictOptions(full_state_dict=True, strict=False)
            )
            set_optimizer_state_dict(
                model, optimizer, state["optimizer"], options=StateDictOptions(full_state_dict=True)
            )
            return
        model.load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])


def save_on_main(model: torch.nn.Module, tokenizer, out_dir: str | Path) -> None:
    """Rank 0 writes the model with save_atomically; an FSDP model's ranks first gather its full weights there."""
    if dist.is_initialized():
        if _is_sharded(model):
            model = _gathered_model(model, every_rank=False)
        if dist.get_rank() != 0:
            return
    save_atomically(model, tokenizer, out_dir)


def unsharded(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself, or on every rank a plain copy of a sharded one (its ranks gather the full weights).

    What a job does with a model after training it (evaluate, attack, mix) then needs no collective: each rank of a
    P2 or P4 job does it on its own copy, as the one-process job does.
    """
    return _gathered_model(model, every_rank=True) if _is_sharded(model) else model


def _is_sharded(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def _gathered_model(model, every_rank: bool):
    """A plain copy of a sharded model, built without weights and given the full ones, on every rank or on rank 0
    only (None elsewhere; the gathered weights then go to rank 0's CPU memory)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    from transformers import AutoModelForCausalLM

    weights = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=not every_rank))
    if not every_rank and dist.get_rank() != 0:
        return None
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(model.config, dtype=next(iter(weights.values())).dtype)
    plain.load_state_dict(weights, assign=True)
    plain.tie_weights()
    # FSDP shards parameters only: the buffers a state dict leaves out (rotary frequencies) are the model's own.
    buffers = dict(model.named_buffers())
    for name, buffer in list(plain.named_buffers()):
        if buffer.is_meta:
            owner, _, attribute = name.rpartition(".")
            plain.get_submodule(owner)._buffers[attribute] = buffers[name].to(next(iter(weights.values())).device)
    plain.generation_config = model.generation_config
    return plain.eval()


@contextlib.contextmanager
def _job_run(rank: int):
    """Rank 0 logs into the job's MLflow run, opened by the launching process (MLFLOW_RUN_ID, set by launch)."""
    if rank != 0 or "MLFLOW_RUN_ID" not in os.environ:
        yield
        return
    import mlflow

    with mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"]):
        yield


def _run_rank(job_file: str, result_file: str) -> None:
    """One rank under torchrun: join the process group, run the job's fn, and on rank 0 write its result."""
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    atexit.register(log_peak_gpu_memory)  # the job's log_to does it for the launching process only
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        # CPU tensors (config device cpu, all_gather_object's) go over gloo, CUDA tensors over NCCL.
        backend = "cpu:gloo,cuda:nccl"
    dist.init_process_group(backend)
    try:
        identity, fn, args, kwargs = pickle.loads(Path(job_file).read_bytes())
        provenance.inherit_job(identity)
        with _job_run(rank):
            result = fn(*args, **kwargs)
        if rank == 0:
            Path(result_file).write_bytes(pickle.dumps(result))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    from torch.distributed.elastic.multiprocessing.errors import record

    record(_run_rank)(*sys.argv[1:])
