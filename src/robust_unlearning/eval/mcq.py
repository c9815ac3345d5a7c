"""Zero-shot multiple-choice accuracy (WMDP, MMLU and their analogues) through lm-evaluation-harness.

The RNA and WMDP papers report lm-eval's zero-shot accuracy (`lm-eval --model hf --tasks mmlu,wmdp`), so the
evaluator is lm-eval itself: its HF backend wraps the model already in memory (no reload between unlearning and
evaluation) and its task templates, read from the installed package, build the prompts. Two formats:

* ``lettered`` — lm-eval's ``mmlu`` / ``wmdp_*`` template: the question, the options as "A. …" to "D. …" and
  "Answer:", the letters scored. What the papers report (paper configs).
* ``continuation`` — lm-eval's ``mmlu_continuation`` template: "Question: …\\nAnswer:" with each choice text
  scored as the continuation. What a ~1 M-parameter model can answer (embedded default); WMDP has no
  continuation task in lm-eval, so its questions take the MMLU one.

Each record {question, choices, answer, subject} is one document of one task per call, prefixed with the
description lm-eval's task of its subject has (WMDP: "…about biology / cybersecurity"; MMLU: "…about
<subject with spaces>"). Over a set that spans subjects the accuracy is the mean over documents, which is what
lm-eval's ``mmlu`` group reports (its subtasks are weighted by size). ``acc`` compares the summed
log-likelihoods of the choices, ``acc_norm`` divides each by the choice's length in bytes.
"""

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import datasets
import lm_eval
import lm_eval.utils
import yaml
from lm_eval.api.task import ConfigurableTask
from lm_eval.evaluator import evaluate
from lm_eval.models.huggingface import HFLM
from torch import nn
from transformers import PreTrainedTokenizerBase

from ..data.formatting import mcq_description, prompt_format_of

LM_EVAL_TASKS = Path(lm_eval.__file__).parent / "tasks"
TEMPLATES = {
    "lettered": LM_EVAL_TASKS / "mmlu" / "default" / "_default_template_yaml",
    "continuation": LM_EVAL_TASKS / "mmlu" / "continuation" / "_continuation_template_yaml",
}
MCQ_FORMATS = tuple(TEMPLATES)
TEMPLATE_KEYS = ("output_type", "doc_to_text", "doc_to_choice", "doc_to_target")
METRICS = ("acc", "acc_norm")
# lm-eval logs every task build at INFO/WARNING under both names; a job evaluates dozens of models.
for _logger in ("lm_eval", "lm-eval"):
    logging.getLogger(_logger).setLevel(logging.ERROR)
# lm-eval compiles a field's Jinja template anew for every document it renders (EleutherAI/lm-evaluation-harness
# #1286, open): a quarter of a P1 model evaluation on the embedded default. A compiled template renders the same
# text, so each of the few template strings is compiled once per process.
lm_eval.utils.env.from_string = functools.lru_cache(maxsize=256)(lm_eval.utils.env.from_string)


def first_per_subject(records: Sequence[dict], limit: int) -> list[dict]:
    """The first `limit` records of each subject, in file order: lm-eval's `limit` counts per task, and WMDP-Bio and
    WMDP-Cyber are separate tasks, so a cap never drops a whole subject (the first N of a bio-then-cyber file would)."""
    taken: dict[str, int] = {}
    kept = []
    for record in records:
        if taken.get(record["subject"], 0) < limit:
            taken[record["subject"]] = taken.get(record["subject"], 0) + 1
            kept.append(record)
    return kept


def task_config(name: str, records: Sequence[dict], mcq_format: str) -> dict:
    """An lm-eval task over `records`: lm-eval's own template of `mcq_format`, our documents, acc and acc_norm."""
    if mcq_format not in TEMPLATES:
        raise ValueError(f"config key 'evaluation.mcq_format': {mcq_format!r} is not one of {', '.join(MCQ_FORMATS)}")
    template = yaml.safe_load(TEMPLATES[mcq_format].read_text())
    documents = [
        {
            **{key: r[key] for key in ("question", "choices", "answer", "subject")},
            "description": mcq_description(r["subject"], mcq_format),
        }
        for r in records
    ]
    return {
        "task": name,
        **{key: template[key] for key in TEMPLATE_KEYS},
        "custom_dataset": lambda **_: datasets.DatasetDict({"test": datasets.Dataset.from_list(documents)}),
        "test_split": "test",
        "num_fewshot": 0,
        "description": "description",  # a field name: each document carries its subject's description
        "metric_list": [{"metric": metric, "aggregation": "mean", "higher_is_better": True} for metric in METRICS],
    }


def evaluate_mcq(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, records: Sequence[dict], mcq_format: str, batch_size: int = 16
) -> tuple[dict[str, float], dict[str, list]]:
    """({"acc", "acc_norm"}, {"acc": per-record correctness, "acc_norm": …}) of `model` on `records` via lm-eval.

    A model prompted through its chat template (prompt_format "chat") gets lm-eval's apply_chat_template.
    """
    if not records:
        raise ValueError("no multiple-choice records to evaluate")
    task = ConfigurableTask(config=task_config("mcq", records, mcq_format))
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    was_training = model.training
    model.eval()
    try:
        results = evaluate(
            lm,
            {"mcq": task},
            log_samples=True,
            bootstrap_iters=0,
            verbosity="ERROR",
            apply_chat_template=prompt_format_of(tokenizer) == "chat",
        )
    finally:
        model.train(was_training)
    samples = sorted(results["samples"]["mcq"], key=lambda sample: sample["doc_id"])
    summary = {metric: results["results"]["mcq"][f"{metric},none"] for metric in METRICS}
    return summary, {metric: [bool(sample[metric]) for sample in samples] for metric in METRICS}
