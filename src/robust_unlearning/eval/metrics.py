"""Unlearning metrics: TOFU's (Maini et al. 2024), Extraction Strength (P4, arXiv 2406.09179), MIA AUCs (MCQ
accuracy: eval/mcq.py).

Every per-split metric is computed from one teacher-forced scoring pass over the split (answers, plus the
paraphrased and perturbed answers of the records that carry them, when a metric in PERTURBATION_METRICS needs
them) and at most one greedy generation pass. Those metrics use only the records that carry perturbed answers,
as TOFU does (the retain truth ratio on retain_perturbed), and report how many as `{metric}_rows`.
Each metric is a module of eval/qa_metrics/, registered in METRICS (eval/specs.py) under its config name as a
function `SplitOutputs -> (aggregate, per-example values)`; `evaluate_qa_split` runs the passes and the requested
metrics. Statistics that compare splits or models (forget_quality, model_utility, mia_auc) are plain functions of
those per-example values, in eval/comparisons.py.

Deviations from TOFU's code:
- answers are scored without the eos token TOFU appends, so every score is about the answer text alone and
  ES's "reproduces y" needs no stopping rule.
"""

from collections.abc import Sequence

from torch import nn
from transformers import PreTrainedTokenizerBase

from robust_unlearning.data.formatting import format_answer, format_prompt
from robust_unlearning.eval.qa_metrics.base import SplitOutputs

# Each metric's per-record computation lives in its module; re-exported for the callers that import it from here.
from robust_unlearning.eval.qa_metrics.exact_memorization import exact_memorization  # noqa: F401
from robust_unlearning.eval.qa_metrics.extraction_strength import extraction_strength  # noqa: F401
from robust_unlearning.eval.qa_metrics.probability import answer_probability  # noqa: F401
from robust_unlearning.eval.qa_metrics.probability_normalised import (
    normalised_answer_probability,  # noqa: F401
)
from robust_unlearning.eval.qa_metrics.rouge_l import rouge_l_recall  # noqa: F401
from robust_unlearning.eval.qa_metrics.truth_ratio import (  # noqa: F401
    aggregate_truth_ratio,
    truth_ratio,
)
from robust_unlearning.eval.scoring import (
    AnswerScores,
    answer_token_logprobs,
    encode_answer,
    encode_prompt,
    generate_token_ids,
    greedy_generate,
)
from robust_unlearning.eval.specs import (
    GENERATION_METRICS,
    METRICS,
    PERTURBATION_METRICS,
)


def carries_perturbed(record: dict) -> bool:
    """Whether a record has the perturbed answers that PERTURBATION_METRICS need: TOFU's rows from a
    ``*_perturbed`` config (forget, retain_perturbed, real_authors, world_facts) and every synthetic record."""
    return bool(record.get("perturbed_answer"))


# --- reference Extraction Strength ----------------------------------------------------------------------------


def extraction_strength_by_generation(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, prompt: str, answer: str
) -> float:
    """Reference ES straight from the definition: greedy-decode from each prefix until one reproduces y.

    O(|y|) generate calls per example; for tests and the benchmark of `extraction_strength`.
    """
    prompt_ids, answer_ids = encode_prompt(tokenizer, prompt), encode_answer(tokenizer, answer)
    for k in range(len(answer_ids)):
        suffix = answer_ids[k:]
        [continuation] = generate_token_ids(model, tokenizer, [prompt_ids + answer_ids[:k]], len(suffix))
        if continuation == suffix:
            return 1 - k / len(answer_ids)
    return 0.0


# --- evaluation entries ---------------------------------------------------------------------------------------


def _score_split(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, records: list[dict], with_perturbed: bool, batch_size: int
) -> tuple[list[AnswerScores], list[int] | None, list[AnswerScores] | None, list[list[AnswerScores]] | None]:
    """(answer scores of every record, perturbed_rows, their paraphrased and perturbed scores) in one pass;
    a record without perturbed answers contributes only its answer."""
    prompts = [format_prompt(r["question"], tokenizer) for r in records]
    pairs = list(zip(prompts, [r["answer"] for r in records]))
    rows = [i for i, r in enumerate(records) if carries_perturbed(r)] if with_perturbed else None
    if with_perturbed:
        # Records without a paraphrase (real_authors, world_facts) use the answer itself, as TOFU does.
        pairs += [(prompts[i], records[i].get("paraphrased_answer", records[i]["answer"])) for i in rows]
        pairs += [(prompts[i], wrong) for i in rows for wrong in records[i]["perturbed_answer"]]
    scores = iter(
        answer_token_logprobs(
            model, tokenizer, [p for p, _ in pairs], [format_answer(a, tokenizer) for _, a in pairs], batch_size
        )
    )
    answer = [next(scores) for _ in records]
    if not with_perturbed:
        return answer, None, None, None
    paraphrased = [next(scores) for _ in rows]
    perturbed = [[next(scores) for _ in records[i]["perturbed_answer"]] for i in rows]
    return answer, rows, paraphrased, perturbed


def evaluate_qa_split(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    records: list[dict],
    metric_names: Sequence[str],
    batch_size: int = 16,
    max_new_tokens: int = 64,
) -> tuple[dict[str, float], dict[str, list]]:
    """The requested METRICS on one QA split: ({name: aggregate}, {name: per-example values, "generation": texts}).

    One scoring pass over every answer the metrics need, one generation pass only if a metric needs it.
    PERTURBATION_METRICS use only the records that carry perturbed answers (TOFU computes the retain truth
    ratio on its 400 retain_perturbed rows, never on answers borrowed from other questions): the summary gives
    `{name}_rows`, how many records that is, right after each such metric; their per-example lists are aligned
    with per_example["perturbed_rows"], those records' indices in `records`. A split with no such record
    raises ValueError.
    """
    metrics = {name: METRICS.get(name) for name in metric_names}  # unknown names fail before any model pass
    with_perturbed = sorted(PERTURBATION_METRICS & metrics.keys())
    if with_perturbed and not any(carries_perturbed(r) for r in records):
        raise ValueError(
            f"{', '.join(with_perturbed)}: computed only on records with perturbed answers (perturbed_answer), and "
            f"none of the {len(records)} records of this split has them; evaluate on a split TOFU perturbed "
            f"(forgetXX, retain_perturbed, real_authors, world_facts), e.g. retain_perturbed instead of a plain "
            "retain split"
        )
    answer, perturbed_rows, paraphrased, perturbed = _score_split(
        model, tokenizer, records, with_perturbed=bool(with_perturbed), batch_size=batch_size
    )
    generations = None
    if GENERATION_METRICS & metrics.keys():
        prompts = [format_prompt(r["question"], tokenizer) for r in records]
        generations = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size)
    outputs = SplitOutputs(records, answer, perturbed_rows, paraphrased, perturbed, generations)
    summary, per_example = {}, {}
    for name, metric in metrics.items():
        summary[name], per_example[name] = metric(outputs)
        if name in PERTURBATION_METRICS:
            summary[f"{name}_rows"] = len(perturbed_rows)
    if perturbed_rows is not None:
        per_example["perturbed_rows"] = perturbed_rows
    if generations is not None:
        per_example["generation"] = generations
    return summary, per_example
