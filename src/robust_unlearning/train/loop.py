"""The one training loop of every stage (pretrain, finetune, align, unlearn).

An objective is a function `batch index -> (loss, logs)` that builds its own batches from the
index; the loop only does forward (under bf16 autocast, or in bf16 weights: `optimization.precision`), backward, clip,
step, log and checkpoint.
With `grad_accumulation` k, optimizer step s sums the gradients of batches s·k … s·k + k − 1
(each loss divided by k), so a batch stays a pure function of its index and k micro-batches of
`micro_batch_size` (config.py) sequences make one step of `batch_size`. With `optimization.distributed`, N ranks
share each step's k micro-batches and average their gradients (train/distributed.py), which leaves the
step's gradient and the logged metrics those of one process. Checkpoints carry the optimizer,
scheduler and RNG state, so a job interrupted and rerun by Snakemake finishes with the same
weights as an uninterrupted one.

A checkpoint resumes only the run that wrote it: its fingerprint hashes the stage's params, so a changed setting
makes it stale. One exception: a loss or gradient norm that turns NaN or infinite stops the stage
(NonFiniteLossError, before the step that would apply it) and leaves its last good state as the checkpoint, marked
diverged, which a rerun resumes even with other RESCUE_SETTINGS (learning rate, precision, clipping: what cures a
divergence). Such a run's result depends on its history, the steps before the divergence having run under the old
settings; the log says so.
"""

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from tqdm import tqdm

from ..models.factory import cast_weights
from .distributed import DataParallel

Objective = Callable[[int], tuple[torch.Tensor, dict[str, float]]]
LogFn = Callable[[dict[str, float], int], None]
# Settings whose change keeps a diverged run's checkpoint valid (the module docstring), wherever they sit in params.
RESCUE_SETTINGS = frozenset({"learning_rate", "precision", "grad_clip"})


class NonFiniteLossError(RuntimeError):
    pass


def set_determinism(seed: int, threads: int | None = None) -> None:
    torch.manual_seed(seed)
    # Without it, a small model's steps slow down ~2x on CPU as weights shrink into denormals (measured).
    torch.set_flush_denormal(True)
    if threads:
        torch.set_num_threads(threads)


def warmup_cosine(total_steps: int, warmup_ratio: float, floor: float = 0.1) -> Callable[[int], float]:
    warmup = max(1, int(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def warmup_constant(total_steps: int, warmup_ratio: float) -> Callable[[int], float]:
    """Linear warm-up, then the peak rate to the end (the RNA authors' AdamW without a scheduler, at warmup_ratio 0)."""
    warmup = max(1, int(total_steps * warmup_ratio))
    return lambda step: min(1.0, (step + 1) / warmup)


# `optimization.schedule`; unset is cosine, so configs written before the key existed keep their schedule.
SCHEDULES = {"cosine": warmup_cosine, "constant": warmup_constant}


def weight_dtype(optimization: dict) -> torch.dtype:
    """The dtype θ trains in: bf16 weights and AdamW state under `precision: bf16-pure`, as the RNA authors' (an
    update below half a bf16 step of its weight rounds away, P1-02); else fp32 master weights (fp32, bf16 autocast)."""
    return torch.bfloat16 if optimization.get("precision", "fp32") == "bf16-pure" else torch.float32


def gradient_norm(parameters: list[torch.nn.Parameter], max_norm: float | None) -> torch.Tensor:
    """The global gradient norm (logged), clipped to `max_norm` unless that is None (no clipping)."""
    if max_norm is None:
        norm = torch.nn.utils.get_total_norm([p.grad for p in parameters if p.grad is not None])
    else:
        norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    # FSDP's sharded gradients give the norm as a DTensor, already reduced over the ranks.
    return norm.full_tensor() if hasattr(norm, "full_tensor") else norm


def batch_count(optimization: dict, steps_per_epoch: int) -> int:
    """Micro-batches a stage trains on: `epochs` passes, cut at `max_steps` optimizer steps when that is set
    (papers that count steps, e.g. P1's 500 RMU steps over a corpus far larger than 500 batches)."""
    n_batches = optimization["epochs"] * steps_per_epoch
    if optimization.get("max_steps") is not None:
        n_batches = min(n_batches, optimization["max_steps"] * optimization.get("grad_accumulation", 1))
    return n_batches


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _without_rescue_settings(value):
    if isinstance(value, dict):
        return {key: _without_rescue_settings(v) for key, v in value.items() if key not in RESCUE_SETTINGS}
    return [_without_rescue_settings(v) for v in value] if isinstance(value, list) else value


def fingerprint(params: dict) -> str:
    """Two hashes, "<params without RESCUE_SETTINGS>-<params>": a diverged checkpoint must match the first part to
    be resumed, any other the whole."""
    return f"{_hash(_without_rescue_settings(params))}-{_hash(params)}"


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(
    model: torch.nn.Module,
    objective: Objective,
    n_batches: int,
    optimization: dict,
    checkpoint_path: str | Path,
    params_fingerprint: str,
    log: LogFn = lambda metrics, step: None,
    parameters: Iterable[torch.nn.Parameter] | None = None,
    history: list[tuple[dict[str, float], int]] | None = None,
) -> dict[str, float]:
    """Train on batches 0 … n_batches − 1 of `objective`; return the mean of the last logged metrics. `history`, if
    given, receives every logged (metrics, step) of the stage, those before a resume included.

    Steps, logging and checkpoints count optimizer steps (n_batches // grad_accumulation; a tail of
    fewer than grad_accumulation batches is dropped, as Batcher drops an epoch's tail). Every rank of a
    distributed stage calls `log` with the same merged metrics: a callback may evaluate the model (P2's utility
    curve), which a sharded model does only with all its ranks; what it writes, only rank 0 writes
    (tracking.is_main_rank).
    """
    # Hand-built settings (tests, direct callers) may leave out the GPU keys; their defaults are "off".
    accumulation = optimization.get("grad_accumulation", 1)
    autocast = optimization.get("precision", "fp32") == "bf16"
    total_steps = n_batches // accumulation
    if total_steps < 1:
        raise ValueError(f"{n_batches} batches make no optimizer step of grad_accumulation={accumulation} batches")
    ranks = DataParallel(optimization)
    per_rank = accumulation // ranks.size
    if optimization.get("gradient_checkpointing", False):
        # Non-reentrant: works when the inputs need no grad (frozen embeddings under LoRA).
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    device_type = next(model.parameters()).device.type
    trainable = list(parameters) if parameters is not None else [p for p in model.parameters() if p.requires_grad]
    # A parameter subset (RMU's down-projections) freezes the rest while training: the backward pass then skips
    # their weight gradients, which for a 7B model would take as much memory as the weights and never be cleared.
    chosen = {id(p) for p in trainable}
    frozen = [p for p in model.parameters() if p.requires_grad and id(p) not in chosen]
    for parameter in frozen:
        parameter.requires_grad_(False)
    names = {id(p): n for n, p in model.named_parameters()}
    trainable_names, frozen_names = [names[id(p)] for p in trainable], [names[id(p)] for p in frozen]
    # The model goes back in the dtype it came in (exact: bf16 values are fp32 values), so what runs after training
    # (evaluation, saving, P4's model mixing) sees the dtype every stage hands on.
    given_dtype, dtype = next(model.parameters()).dtype, weight_dtype(optimization)
    if dtype != given_dtype:
        cast_weights(model, dtype)
    # FSDP replaces the parameters with sharded ones: from here on they are found by name.
    ranks.distribute(model)
    by_name = dict(model.named_parameters())
    trainable, frozen = [by_name[n] for n in trainable_names], [by_name[n] for n in frozen_names]
    # The fused CUDA kernel is one launch per step instead of several per parameter tensor.
    optimizer = torch.optim.AdamW(
        trainable,
        lr=optimization["learning_rate"],
        weight_decay=optimization["weight_decay"],
        fused=device_type == "cuda",
    )
    schedule = SCHEDULES[optimization.get("schedule", "cosine")]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(total_steps, optimization["warmup_ratio"]))
    checkpoint_path = Path(checkpoint_path)
    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    start = 0
    # Every (metrics, step) handed to `log`, kept in the checkpoints, so that `history` (P1's convergence record)
    # holds the whole curve of a resumed stage too.
    logged: list[tuple[dict[str, float], int]] = []
    if checkpoint_path.exists():
        # Every rank reads it; mmap shares the pages between them.
        state = torch.load(checkpoint_path, weights_only=False, mmap=True)
        # A checkpoint of a run with other parameters (config changed since the interruption) is stale.
        rescued = "diverged" in state and state["fingerprint"] != params_fingerprint
        if state["fingerprint"] == params_fingerprint or (
            rescued and state["fingerprint"].partition("-")[0] == params_fingerprint.partition("-")[0]
        ):
            ranks.load_training_state(model, optimizer, state)
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"][ranks.rank])
            start = state["step"]
            logged = list(state.get("logged", []))
            if rescued:
                # The loaded state carries the old peak rate; the schedule goes on from `start` at the new one.
                peak = optimization["learning_rate"]
                scheduler.base_lrs = [peak] * len(optimizer.param_groups)
                for group in optimizer.param_groups:
                    group["initial_lr"], group["lr"] = peak, peak * scheduler.lr_lambdas[0](start)
                logging.getLogger(__name__).warning(
                    "%s: resuming a diverged run at step %d under changed settings (%s): its first %d steps ran "
                    "under the old ones",
                    checkpoint_path,
                    start,
                    state["diverged"],
                    start,
                )

    model.train()
    window: dict[str, list[float]] = {}
    last: dict[str, float] = {}

    def record(logs: dict[str, float]) -> None:
        for key, value in logs.items():
            window.setdefault(key, []).append(value)

    def save(steps: int, **marks) -> None:
        state = ranks.training_state(model, trainable_names, optimizer)
        rng = ranks.gathered(torch.get_rng_state())
        if ranks.main:
            _save_checkpoint(
                checkpoint_path,
                {
                    "fingerprint": params_fingerprint,
                    "step": steps,
                    **state,
                    "scheduler": scheduler.state_dict(),
                    "rng": rng,
                    "logged": logged,
                    **marks,
                },
            )

    last_finite, non_finite = math.nan, None

    for step in tqdm(
        range(start, total_steps), initial=start, total=total_steps, mininterval=5, desc="train", disable=not ranks.main
    ):
        # This rank's share of the step's micro-batches; with one rank, all of them.
        for batch in range(step * accumulation + ranks.rank, (step + 1) * accumulation, ranks.size):
            # Under bf16 autocast the weights and optimizer state stay fp32 and the matmuls run in bf16.
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
                loss, logs = objective(batch)
            # The mean over this rank's micro-batches; the ranks' gradients are then averaged.
            (loss / per_rank).backward()
            value = loss.item()
            record({"loss": value, **logs})
            if math.isfinite(value):
                last_finite = value
            elif non_finite is None:
                non_finite = f"loss {value}"
        ranks.average_gradients(trainable)
        norm = gradient_norm(trainable, optimization["grad_clip"]).item()
        if non_finite is not None or not math.isfinite(norm):
            settings = {key: optimization.get(key) for key in sorted(RESCUE_SETTINGS)}
            # The weights and AdamW state are still those after `step` steps. Every rank sees a non-finite norm (the
            # gradients are averaged first) and can gather the state; a loss non-finite on one rank alone cannot.
            if ranks.size == 1 or not math.isfinite(norm):
                save(step, diverged=settings)
            raise NonFiniteLossError(
                f"{checkpoint_path}: {non_finite or f'gradient norm {norm}'} at optimizer step {step + 1} of "
                f"{total_steps} (last finite loss {last_finite:.6g}, learning rate {scheduler.get_last_lr()[0]:.3g} of "
                f"peak {settings['learning_rate']}, precision {settings['precision'] or 'fp32'}, grad_clip "
                f"{settings['grad_clip']}). The state after step {step} is kept there: rerun with a lower "
                f"optimization.learning_rate, another precision or a grad_clip, and the stage resumes from it (any "
                f"other change starts it over)"
            )
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        record({"grad_norm": norm, "lr": scheduler.get_last_lr()[0]})
        if (step + 1) % optimization["log_every"] == 0 or step + 1 == total_steps:
            last = {key: sum(values) / len(values) for key, values in ranks.merged(window).items()}
            log(last, step + 1)
            logged.append((last, step + 1))
            window = {}
        if (step + 1) % optimization["checkpoint_every"] == 0 and step + 1 < total_steps:
            save(step + 1)
    model.eval()
    if dtype != given_dtype:
        # Module.to, not cast_weights: FSDP2 re-shards through it; the buffers were never cast.
        model.to(given_dtype)
    for parameter in frozen:
        parameter.requires_grad_(True)
    if optimization.get("gradient_checkpointing", False):
        model.activation_checkpointing_disable()
    if ranks.main:
        checkpoint_path.unlink(missing_ok=True)
    if history is not None:
        history.extend(logged)
    return last
