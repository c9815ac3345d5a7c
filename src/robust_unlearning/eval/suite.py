"""The first evaluation of a model: TOFU-style metrics per split and zero-shot MCQ accuracy on both MCQ sets."""

from pathlib import Path

from ..data.formatting import prompt_format_of
from ..data.io import read_jsonl
from ..models.factory import load_model, load_tokenizer
from .mcq import evaluate_mcq
from .metrics import evaluate_qa_split

QA_METRICS = ["probability", "rouge_l", "exact_memorization"]
MCQ_SETS = ["hazard_mcq", "general_mcq"]


def evaluate_model(
    model_dir: Path, tofu_dir: Path, wmdp_dir: Path, splits: list[str], evaluation: dict, device: str
) -> dict:
    """{"tofu": {split: {metric: value}}, "mcq": {set: lm-eval acc}, and how they were prompted} on the first `max_examples` records of each set."""
    model, tokenizer = load_model(model_dir, device), load_tokenizer(model_dir)
    limit, batch_size = evaluation["max_examples"], evaluation["batch_size"]
    tofu = {
        split: evaluate_qa_split(
            model,
            tokenizer,
            read_jsonl(tofu_dir / f"{split}.jsonl", limit),
            QA_METRICS,
            batch_size,
            evaluation["max_new_tokens"],
        )[0]
        for split in splits
    }
    mcq_format = evaluation["mcq_format"]
    mcq = {
        name: evaluate_mcq(model, tokenizer, read_jsonl(wmdp_dir / f"{name}.jsonl", limit), mcq_format, batch_size)[0][
            "acc"
        ]
        for name in MCQ_SETS
    }
    return {"tofu": tofu, "mcq": mcq, "mcq_format": mcq_format, "prompt_format": prompt_format_of(tokenizer)}
