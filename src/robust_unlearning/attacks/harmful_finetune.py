"""Harmful fine-tuning attack (Huang et al. 2024, Vaccine, arXiv 2402.01109): fine-tuning as a service.

The user uploads n samples of a benign task (sentiment with label words), a fraction p of which are harmful
prompt → harmful answer pairs; the provider trains a fresh LoRA adapter on the aligned, merged model (the
paper's "double LoRA") and serves the result.
"""

import copy
import math
import random
from collections.abc import Sequence

from ..data.examples import Batcher, encode_qa
from ..models.lora import attach_lora, merge_lora
from ..train.loop import batch_count, micro_batch_size, train
from ..train.stages import causal_lm_loss


def harmful_mix(
    task_records: Sequence[dict],
    harmful_records: Sequence[dict],
    n: int,
    p: float,
    seed: int,
    task_question: str,
    label_words: Sequence[str],
) -> list[dict]:
    """The user's n samples: floor(n·p + ½) harmful (prompt, response) pairs, the rest benign-task examples.

    Both pools are drawn in one seed-fixed order, so a larger p swaps benign samples for harmful ones and keeps
    the others: the cells of one seed differ in the harmful data only.
    """
    n_harmful = math.floor(n * p + 0.5)
    if n_harmful > len(harmful_records) or n - n_harmful > len(task_records):
        raise ValueError(
            f"n={n}, p={p} needs {n_harmful} harmful and {n - n_harmful} benign samples; the benchmark has "
            f"{len(harmful_records)} and {len(task_records)}"
        )
    rng = random.Random(seed)
    benign_order = rng.sample(range(len(task_records)), len(task_records))
    harmful_order = rng.sample(range(len(harmful_records)), len(harmful_records))
    benign = [task_records[i] for i in benign_order[: n - n_harmful]]
    harmful = [harmful_records[i] for i in harmful_order[:n_harmful]]
    return [
        *({"prompt": task_question.format(sentence=r["sentence"]), "response": label_words[r["label"]], "is_harmful": False} for r in benign),
        *({"prompt": r["prompt"], "response": r["response"], "is_harmful": True} for r in harmful),
    ]


def user_finetune(aligned, tokenizer, mix: Sequence[dict], settings: dict, seed: int, checkpoint_path, params_fingerprint: str, log):
    """A fresh LoRA on a copy of `aligned` (or all its weights) trained on `mix`, shuffled by seed; returned merged."""
    model = copy.deepcopy(aligned)
    if settings["lora"]["enabled"]:
        model = attach_lora(model, settings["lora"])
    examples = [encode_qa(tokenizer, question=r["prompt"], answer=r["response"], max_length=settings["max_length"]) for r in mix]
    batcher = Batcher(examples, micro_batch_size(settings), seed, tokenizer.pad_token_id)

    def objective(index: int):
        return causal_lm_loss(model, batcher.batch(index)), {}

    final = train(model, objective, batch_count(settings, batcher.steps_per_epoch), settings, checkpoint_path, params_fingerprint, log)
    return merge_lora(model), final
