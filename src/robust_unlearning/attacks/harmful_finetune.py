"""Harmful fine-tuning attack (Huang et al. 2024, Vaccine, arXiv 2402.01109): fine-tuning as a service.

The user uploads n samples of a benign task (sentiment with label words), a fraction p of which are harmful
prompt → harmful answer pairs; the provider trains a fresh LoRA adapter on the aligned, merged model (the
paper's "double LoRA") and serves the result.

The provider may defend this stage (the EWC and KL baselines of the paper's Table 1, registered below from
defenses/): a defense adds a term to the user's loss, computed from state it prepares once per aligned model.
EWC also keeps training the alignment's own adapter instead of a fresh one, as Vaccine's train.py does.
"""

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..data.examples import Batcher, Example, encode_qa
from ..defenses import ewc, kl
from ..models.lora import attach_lora, merge_lora
from ..registry import Registry
from ..train.loop import batch_count, micro_batch_size, train
from ..train.stages import causal_lm_loss


@dataclass(frozen=True)
class DefenseContext:
    """What a fine-tuning defense may prepare from, the same for every cell of one aligned model."""

    aligned: torch.nn.Module  # a plain model, or (reuses_alignment_adapter) the aligned model with its adapter unmerged
    alignment_examples: list[Example]  # the alignment data as the alignment encoded it (EWC's Fisher data)
    pad_id: int
    precision: str  # the user fine-tuning's, for passes a defense runs before training


@dataclass(frozen=True)
class FinetuneDefense:
    """prepare(context, settings) -> state, once per aligned model; regularizer(model, state, settings) -> a
    function (batch on the model's device, model outputs) -> (extra loss, logs), once per cell."""

    prepare: Callable
    regularizer: Callable
    reuses_alignment_adapter: bool = False


@dataclass(frozen=True)
class PreparedDefense:
    defense: FinetuneDefense
    state: object
    settings: dict


# name (a key of P3's methods table, experiments/p3_vaccine.py; its settings: p3.<name>) → defense.
FINETUNE_DEFENSES = Registry("fine-tuning defense")
FINETUNE_DEFENSES.register("ewc")(FinetuneDefense(ewc.prepare, ewc.regularizer, reuses_alignment_adapter=True))
FINETUNE_DEFENSES.register("kl")(FinetuneDefense(kl.prepare, kl.regularizer))


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


def user_finetune(aligned, tokenizer, mix: Sequence[dict], settings: dict, seed: int, checkpoint_path, params_fingerprint: str, log, defense: PreparedDefense | None = None):
    """A fresh LoRA on a copy of `aligned` (or all its weights) trained on `mix`, shuffled by seed; returned merged.

    With a defense that reuses the alignment adapter, `aligned` carries that adapter unmerged and the copy keeps
    training it (settings["lora"] is not used)."""
    model = copy.deepcopy(aligned)
    if defense is not None and defense.defense.reuses_alignment_adapter:
        if not hasattr(model, "merge_and_unload"):
            raise ValueError("this fine-tuning defense trains the alignment's adapter: align with LoRA and do not merge it")
    elif settings["lora"]["enabled"]:
        model = attach_lora(model, settings["lora"])
    examples = [encode_qa(tokenizer, question=r["prompt"], answer=r["response"], max_length=settings["max_length"]) for r in mix]
    batcher = Batcher(examples, micro_batch_size(settings), seed, tokenizer.pad_token_id)
    extra = None if defense is None else defense.defense.regularizer(model, defense.state, defense.settings)
    device = next(model.parameters()).device

    def objective(index: int):
        if extra is None:
            return causal_lm_loss(model, batcher.batch(index)), {}
        batch = {key: value.to(device) for key, value in batcher.batch(index).items()}
        outputs = model(**batch)
        term, logs = extra(batch, outputs)
        return outputs.loss + term, {"task_loss": outputs.loss.item(), **logs}

    final = train(model, objective, batch_count(settings, batcher.steps_per_epoch), settings, checkpoint_path, params_fingerprint, log)
    return merge_lora(model), final
