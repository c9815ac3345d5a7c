"""Harmful fine-tuning attack (Huang et al. 2024, Vaccine, arXiv 2402.01109): fine-tuning as a service.

The user uploads n samples of a benign task (sentiment with label words), a fraction p of which are harmful
prompt → harmful answer pairs; the provider trains a fresh LoRA adapter on the aligned, merged model (the
paper's "double LoRA") and serves the result.

The provider may defend this stage (the EWC, KL and Vlguard baselines of the paper's Table 1, registered below
from defenses/), from state it prepares once per aligned model: a defense adds a term to the user's loss (EWC,
KL) and/or adds rows to the data the provider trains on (Vlguard: alignment data mixed into the user's set).
EWC also keeps training the alignment's own adapter instead of a fresh one, as Vaccine's train.py does.
"""

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..config import micro_batch_size
from ..data.examples import Batcher, Example, encode_qa
from ..defenses import ewc, kl, vlguard
from ..eval.safety import task_prompt
from ..models.forward import causal_lm_loss
from ..models.lora import attach_lora, merge_lora
from ..registry import Registry
from ..train.loop import batch_count, train


@dataclass(frozen=True)
class DefenseContext:
    """What a fine-tuning defense may prepare from, the same for every cell of one aligned model."""

    aligned: torch.nn.Module  # a plain model, or (reuses_alignment_adapter) the aligned model with its adapter unmerged
    alignment_examples: list[Example]  # the alignment data as the alignment encoded it (EWC's Fisher data)
    pad_id: int
    precision: str  # the user fine-tuning's, for passes a defense runs before training
    alignment_records: Sequence[dict] = ()  # the alignment records {prompt, response}, in file order (Vlguard's data)


@dataclass(frozen=True)
class FinetuneDefense:
    """prepare(context, settings) -> state, once per aligned model; then per cell, either or both of
    regularizer(model, state, settings) -> a function (batch on the model's device, model outputs) -> (extra
    loss, logs), and training_rows(mix, state, settings) -> the rows trained on instead of the user's `mix`."""

    prepare: Callable
    regularizer: Callable | None = None
    reuses_alignment_adapter: bool = False
    training_rows: Callable | None = None


@dataclass(frozen=True)
class PreparedDefense:
    defense: FinetuneDefense
    state: object
    settings: dict


# name (a key of P3's methods table, experiments/p3_vaccine.py; its settings: p3.<name>) → defense.
FINETUNE_DEFENSES = Registry("fine-tuning defense")
FINETUNE_DEFENSES.register("ewc")(FinetuneDefense(ewc.prepare, ewc.regularizer, reuses_alignment_adapter=True))
FINETUNE_DEFENSES.register("kl")(FinetuneDefense(kl.prepare, kl.regularizer))
FINETUNE_DEFENSES.register("vlguard")(FinetuneDefense(vlguard.prepare, training_rows=vlguard.training_rows))


def harmful_mix(
    task_records: Sequence[dict],
    harmful_records: Sequence[dict],
    n: int,
    p: float,
    seed: int,
    task_question: str,
    label_words: Sequence[str],
    *,
    task_instruction: str | None = None,
) -> list[dict]:
    """The user's n samples: floor(n·p + ½) harmful (prompt, response) pairs, the rest benign-task examples,
    prompted as eval/safety.py task_prompt lays them out (with task_instruction, the sentence is the row's input).

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
        *(_task_row(r, task_question, label_words, task_instruction) for r in benign),
        *({"prompt": r["prompt"], "response": r["response"], "is_harmful": True} for r in harmful),
    ]


def _task_row(record: dict, task_question: str, label_words: Sequence[str], task_instruction: str | None) -> dict:
    question, text = task_prompt(record, task_question, task_instruction)
    return {
        "prompt": question,
        **({"input": text} if text else {}),
        "response": label_words[record["label"]],
        "is_harmful": False,
    }


def encode_row(tokenizer, row: dict, max_length: int) -> Example:
    """A training row {prompt, response[, input]} as encode_qa encodes a QA pair: prompt masked, answer + EOS trained."""
    return encode_qa(tokenizer, row["prompt"], row["response"], max_length, input=row.get("input"))


def user_finetune(
    aligned,
    tokenizer,
    mix: Sequence[dict],
    settings: dict,
    seed: int,
    checkpoint_path,
    params_fingerprint: str,
    log,
    defense: PreparedDefense | None = None,
):
    """A fresh LoRA on a copy of `aligned` (or all its weights) trained on `mix`, shuffled by seed; returned merged.

    With a defense that reuses the alignment adapter, `aligned` carries that adapter unmerged and the copy keeps
    training it (settings["lora"] is not used); a defense with training_rows trains on the rows it returns."""
    model = copy.deepcopy(aligned)
    if defense is not None and defense.defense.reuses_alignment_adapter:
        if not hasattr(model, "merge_and_unload"):
            raise ValueError(
                "this fine-tuning defense trains the alignment's adapter: align with LoRA and do not merge it"
            )
    elif settings["lora"]["enabled"]:
        model = attach_lora(model, settings["lora"])
    rows = (
        mix
        if defense is None or defense.defense.training_rows is None
        else defense.defense.training_rows(mix, defense.state, defense.settings)
    )
    examples = [encode_row(tokenizer, r, settings["max_length"]) for r in rows]
    batcher = Batcher(examples, micro_batch_size(settings), seed, tokenizer.pad_token_id)
    extra = (
        None
        if defense is None or defense.defense.regularizer is None
        else defense.defense.regularizer(model, defense.state, defense.settings)
    )
    device = next(model.parameters()).device

    def objective(index: int):
        if extra is None:
            return causal_lm_loss(model, batcher.batch(index)), {}
        batch = {key: value.to(device) for key, value in batcher.batch(index).items()}
        outputs = model(**batch)
        term, logs = extra(batch, outputs)
        return outputs.loss + term, {"task_loss": outputs.loss.item(), **logs}

    final = train(
        model,
        objective,
        batch_count(settings, batcher.steps_per_epoch),
        settings,
        checkpoint_path,
        params_fingerprint,
        log,
    )
    return merge_lora(model), final
