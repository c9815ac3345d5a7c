"""Relearning (P4, arXiv 2406.09179): a few steps of NLL fine-tuning on held-out forget data, then evaluate.

The attacker fine-tunes a copy of the unlearned model for `epochs` (paper: 1) on the attack slice (forget-author
QA pairs that are never evaluated) with the shared training loop, so what comes back on the evaluated forget
questions was recovered from the weights, not taught by the attack.
"""

import copy

from ..config import micro_batch_size
from ..data.examples import Batcher, encode_qa_records
from ..models.forward import causal_lm_loss
from ..models.lora import attach_lora, merge_lora
from ..train.loop import batch_count, fingerprint, train
from .base import RED_TEAM, Attacked, AttackInputs

# Loop settings the attack does not expose: no warm-up, no checkpoints of a seconds-long run.
LOOP_DEFAULTS = {"weight_decay": 0.0, "warmup_ratio": 0.0, "grad_clip": 1.0, "log_every": 1, "checkpoint_every": 10**9}


def relearned(inputs: AttackInputs, settings: dict):
    """A fine-tuned copy of `inputs.model` (the original is left as it is)."""
    if not inputs.attack_slice:
        raise ValueError("the relearning attack needs held-out forget records (p4.attacks.heldout_fraction > 0)")
    optimization = {**LOOP_DEFAULTS, **settings["optimization"]}
    model = copy.deepcopy(inputs.model)
    if settings["lora"]["enabled"]:
        model = attach_lora(model, settings["lora"])
    tokenizer = inputs.tokenizer
    batcher = Batcher(
        encode_qa_records(tokenizer, inputs.attack_slice, settings["max_length"]),
        micro_batch_size(optimization),
        inputs.seed,
        tokenizer.pad_token_id,
    )
    n_batches = batch_count(optimization, batcher.steps_per_epoch)
    params = {
        "attack": "relearn",
        "optimization": optimization,
        "lora": settings["lora"],
        "seed": inputs.seed,
        "n_records": len(inputs.attack_slice),
    }
    train(
        model,
        lambda step: (causal_lm_loss(model, batcher.batch(step)), {}),
        n_batches,
        optimization,
        inputs.resume_file,
        fingerprint(params),
        inputs.log,
    )
    return merge_lora(model)


@RED_TEAM.register("relearn")
def relearn(inputs: AttackInputs, settings: dict) -> Attacked:
    return Attacked(relearned(inputs, settings), inputs.forget, inputs.retain)
