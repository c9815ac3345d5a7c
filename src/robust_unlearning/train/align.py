"""Safety alignment, the first stage of P3 (Huang et al. 2024, Vaccine, arXiv 2402.01109).

The base model learns to refuse harmful prompts and keep answering benign instructions. The config names the
method: "none" (the non-aligned baseline: the base model unchanged), "sft", "vaccine" (perturbation-aware,
defenses/vaccine.py) or "random" (Vaccine's ablation: elementwise Gaussian noise of variance ρ on the same
attention outputs). With LoRA the adapter is merged after training, so the user's fine-tuning starts from a
plain model with a fresh adapter; merge=False keeps it for a fine-tuning that trains it further (EWC).
"""

import time
from collections.abc import Sequence

from ..config import micro_batch_size
from ..data.examples import Batcher, encode_qa
from ..defenses.vaccine import perturbation_aware_step, random_perturbation_step
from ..models.forward import causal_lm_loss
from ..models.lora import attach_lora, merge_lora
from ..registry import Registry
from .loop import batch_count, train

# name → step(model, batch, rho) -> (loss, logs); None trains nothing.
ALIGNMENTS = Registry("alignment")
ALIGNMENTS.register("none")(None)
ALIGNMENTS.register("vaccine")(perturbation_aware_step)
ALIGNMENTS.register("random")(random_perturbation_step)


@ALIGNMENTS.register("sft")
def sft_step(model, batch, rho: float):
    return causal_lm_loss(model, batch), {}


def align(
    model,
    tokenizer,
    records: Sequence[dict],
    method: str,
    rho: float,
    settings: dict,
    seed: int,
    checkpoint_path,
    params_fingerprint: str,
    log,
    merge: bool = True,
):
    """Align `model` on (prompt, response) records; return the merged (or, merge=False, still wrapped) model and a
    summary with the time per step."""
    step_fn = ALIGNMENTS.get(method)
    if step_fn is None:
        return model, {}
    if settings["lora"]["enabled"]:
        model = attach_lora(model, settings["lora"])
    examples = [
        encode_qa(tokenizer, question=r["prompt"], answer=r["response"], max_length=settings["max_length"])
        for r in records
    ]
    batcher = Batcher(examples, micro_batch_size(settings), seed, tokenizer.pad_token_id)

    def objective(index: int):
        return step_fn(model, batcher.batch(index), rho)

    n_batches = batch_count(settings, batcher.steps_per_epoch)
    steps = n_batches // settings.get("grad_accumulation", 1)
    start = time.perf_counter()
    final = train(model, objective, n_batches, settings, checkpoint_path, params_fingerprint, log)
    return merge_lora(model) if merge else model, {
        **final,
        "steps": steps,
        "seconds_per_step": (time.perf_counter() - start) / steps,
    }
