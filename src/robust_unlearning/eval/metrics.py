"""Unlearning metrics: TOFU's (Maini et al. 2024), Extraction Strength (P4, arXiv 2406.09179), MIA AUCs (MCQ accuracy: eval/mcq.py).

Every per-split metric is computed from one teacher-forced scoring pass over the split (answers, plus the
paraphrased and perturbed answers of the records that carry them, when a metric in PERTURBATION_METRICS needs
them) and at most one greedy generation pass. Those metrics use only the records that carry perturbed answers,
as TOFU does (the retain truth ratio on retain_perturbed), and report how many as `{metric}_rows`. ROUGE-L is
rouge_score's, Porter stemming on, as in TOFU and OpenUnlearning.
METRICS maps a config name to a function `SplitOutputs -> (aggregate, per-example values)`;
`evaluate_qa_split` runs the passes and the requested metrics. Statistics that compare splits or models
(forget_quality, model_utility, mia_auc) are plain functions of those per-example values.

Deviations from TOFU's code:
- answers are scored without the eos token TOFU appends, so every score is about the answer text alone and
  ES's "reproduces y" needs no stopping rule.
"""

import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import ks_2samp, rankdata
from torch import nn
from transformers import PreTrainedTokenizerBase

from robust_unlearning.data.formatting import format_answer, format_prompt
from robust_unlearning.eval.scoring import (
    AnswerScores,
    answer_token_logprobs,
    encode_answer,
    encode_prompt,
    generate_token_ids,
    greedy_generate,
)
from robust_unlearning.eval.specs import GENERATION_METRICS, PERTURBATION_METRICS
from robust_unlearning.registry import Registry

METRICS = Registry("metric")
MIN_K_FRACTION = 0.4


@dataclass
class SplitOutputs:
    """What the model passes produced for one split: `answer` and `generations` aligned with `records`;
    `paraphrased` and `perturbed` aligned with `perturbed_rows`, the indices of the records that carry
    perturbed answers (`carries_perturbed`), the only records PERTURBATION_METRICS use."""

    records: list[dict]
    answer: list[AnswerScores]  # (question, answer)
    perturbed_rows: list[int] | None  # indices into records of the records with perturbed answers
    paraphrased: list[AnswerScores] | None  # (question, paraphrased_answer), or answer where there is none
    perturbed: list[list[AnswerScores]] | None  # (question, each perturbed_answer)
    generations: list[str] | None  # greedy answer to the question


MetricResult = tuple[float, list[float]]


def _averaged(values: list[float]) -> MetricResult:
    return float(np.mean(values)), values


def carries_perturbed(record: dict) -> bool:
    """Whether a record has the perturbed answers that PERTURBATION_METRICS need: TOFU's rows from a
    ``*_perturbed`` config (forget, retain_perturbed, real_authors, world_facts) and every synthetic record."""
    return bool(record.get("perturbed_answer"))


# --- probability ---------------------------------------------------------------------------------------------


def answer_probability(logprobs: torch.Tensor) -> float:
    """P(y|x)^(1/|y|) = exp(−mean_t NLL_t).  ↑ retain, ↓ forget; mean over examples."""
    return logprobs.mean().exp().item()


@METRICS.register("probability")
def _probability(out: SplitOutputs) -> MetricResult:
    return _averaged([answer_probability(s.logprobs) for s in out.answer])


def normalised_answer_probability(answer: torch.Tensor, perturbed: Sequence[torch.Tensor]) -> float:
    """P(y) / (P(y) + Σ_j P(ŷ_j)), P = exp(−mean NLL).  ↑; mean over examples.

    TOFU reports this, not the plain probability, on real_authors and world_facts, where perturbed answers
    act as the wrong options of a multiple-choice question.
    """
    p = answer_probability(answer)
    return p / (p + sum(answer_probability(lp) for lp in perturbed))


@METRICS.register("probability_normalised")
def _probability_normalised(out: SplitOutputs) -> MetricResult:
    answers = [out.answer[i] for i in out.perturbed_rows]
    return _averaged(
        [normalised_answer_probability(a.logprobs, [s.logprobs for s in p]) for a, p in zip(answers, out.perturbed, strict=True)]
    )


# --- ROUGE-L -------------------------------------------------------------------------------------------------


@functools.cache
def _rouge_scorer():
    # Built once, on first use: importing rouge_score imports nltk (~1.5 s), which only generation metrics need.
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l_recall(generation: str, reference: str) -> float:
    """ROUGE-L recall LCS(generation, reference) / |reference|, as TOFU and OpenUnlearning compute it.

    rouge_score's tokens (lower-case, anything but [a-z0-9] separates tokens, Porter stemming of tokens longer
    than 3 characters); `score(target, prediction)` divides the LCS by the target's length for recall, so the
    reference is the target. 0 for an empty reference.  ↑ retain, ↓ forget; mean over examples.
    """
    return _rouge_scorer().score(target=reference, prediction=generation)["rougeL"].recall


@METRICS.register("rouge_l")
def _rouge_l(out: SplitOutputs) -> MetricResult:
    return _averaged([rouge_l_recall(g, r["answer"]) for g, r in zip(out.generations, out.records)])


# --- truth ratio, forget quality, model utility ---------------------------------------------------------------


def truth_ratio(paraphrased: torch.Tensor, perturbed: Sequence[torch.Tensor]) -> float:
    """tr = P(perturbed) / P(paraphrased), P = exp(−mean NLL), P(perturbed) the geometric mean over ŷ_j.

    Aggregated by `aggregate_truth_ratio`; per example the raw tr is kept (forget quality needs it).
    """
    perturbed_logprob = np.mean([lp.mean().item() for lp in perturbed])
    return float(np.exp(perturbed_logprob - paraphrased.mean().item()))


def aggregate_truth_ratio(truth_ratios: Sequence[float], forget: bool) -> float:
    """Forget split: mean(min(tr, 1/tr)), ↑ (1 = the model cannot tell true from false).
    Other splits: mean(max(0, 1 − tr)), ↑ (1 = the paraphrased answer far likelier than the perturbed ones).
    """
    tr = np.asarray(truth_ratios, dtype=float)
    return float(np.mean(np.minimum(tr, 1 / tr) if forget else np.maximum(0.0, 1 - tr)))


def _truth_ratios(out: SplitOutputs) -> list[float]:
    return [truth_ratio(a.logprobs, [s.logprobs for s in p]) for a, p in zip(out.paraphrased, out.perturbed, strict=True)]


@METRICS.register("truth_ratio")
def _truth_ratio(out: SplitOutputs) -> MetricResult:
    ratios = _truth_ratios(out)
    return aggregate_truth_ratio(ratios, forget=False), ratios


@METRICS.register("truth_ratio_forget")
def _truth_ratio_forget(out: SplitOutputs) -> MetricResult:
    ratios = _truth_ratios(out)
    return aggregate_truth_ratio(ratios, forget=True), ratios


def forget_quality(truth_ratios: Sequence[float], retain_model_truth_ratios: Sequence[float]) -> float:
    """KS-test p-value between the forget-split raw truth ratios of the evaluated and the retain-only model.

    ↑ (high p: indistinguishable from never having trained on the forget set); one number per model.
    """
    return float(ks_2samp(truth_ratios, retain_model_truth_ratios).pvalue)


def model_utility(values: Sequence[float]) -> float:
    """Harmonic mean n / Σ 1/v_i of {probability, ROUGE-L, truth ratio} × {retain, real_authors, world_facts}.

    ↑; the 9 numbers as TOFU (probability_normalised on real_authors / world_facts); 0 if any is 0.
    """
    values = np.asarray(values, dtype=float)
    return 0.0 if np.any(values == 0) else float(len(values) / np.sum(1 / values))


# --- exact memorization, extraction strength ------------------------------------------------------------------


def exact_memorization(argmax_match: torch.Tensor) -> float:
    """EM = mean_t 1[argmax_v p(v | x, y_<t) = y_t] (teacher-forced).  ↓ forget, ↑ retain; mean over examples."""
    return argmax_match.float().mean().item()


@METRICS.register("exact_memorization")
def _exact_memorization(out: SplitOutputs) -> MetricResult:
    return _averaged([exact_memorization(s.argmax_match) for s in out.answer])


def extraction_strength(argmax_match: torch.Tensor) -> float:
    """ES(x, y) = 1 − k*/|y|, k* the shortest prefix after which greedy decoding reproduces y.  ↓ forget; mean.

    Greedy decoding from x ⊕ y[:k] feeds the true tokens for as long as it stays correct, so it reproduces
    y[k:] iff every teacher-forced argmax at positions k..|y|−1 is right: k* = 1 + the last mismatch (0 if none).
    """
    mismatches = torch.nonzero(~argmax_match)
    k_star = mismatches[-1].item() + 1 if len(mismatches) else 0
    return 1 - k_star / len(argmax_match)


@METRICS.register("extraction_strength")
def _extraction_strength(out: SplitOutputs) -> MetricResult:
    return _averaged([extraction_strength(s.argmax_match) for s in out.answer])


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


# --- membership inference -------------------------------------------------------------------------------------
# Every score grows with how non-member-like an answer looks, and mia_auc is the AUC of telling holdout
# (non-member) from forget (member) by it: ≈0.5 the splits look alike, →1 the forget set still looks trained on.


def loss_score(logprobs: torch.Tensor) -> float:
    """LOSS: mean_t NLL_t."""
    return -logprobs.mean().item()


def zlib_score(logprobs: torch.Tensor, text: str) -> float:
    """ZLib: Σ_t NLL_t / len(zlib(text bytes)); the compressed length discounts answers that are easy for anyone."""
    return -logprobs.sum().item() / len(zlib.compress(text.encode("utf-8")))


def _mean_of_lowest(values: torch.Tensor, fraction: float) -> float:
    count = max(1, int(len(values) * fraction))
    return values.sort().values[:count].mean().item()


def min_k_score(logprobs: torch.Tensor, fraction: float = MIN_K_FRACTION) -> float:
    """Min-K%: −mean of the lowest k% token log-probs (k = 40%)."""
    return -_mean_of_lowest(logprobs, fraction)


def min_k_plus_plus_score(normalized_logprobs: torch.Tensor, fraction: float = MIN_K_FRACTION) -> float:
    """Min-K%++: −mean of the lowest k% of (log p(y_t) − μ_t)/σ_t, moments over the vocabulary at t (k = 40%)."""
    return -_mean_of_lowest(normalized_logprobs, fraction)


@METRICS.register("mia_loss")
def _mia_loss(out: SplitOutputs) -> MetricResult:
    return _averaged([loss_score(s.logprobs) for s in out.answer])


@METRICS.register("mia_zlib")
def _mia_zlib(out: SplitOutputs) -> MetricResult:
    return _averaged([zlib_score(s.logprobs, r["answer"].strip()) for s, r in zip(out.answer, out.records)])


@METRICS.register("mia_min_k")
def _mia_min_k(out: SplitOutputs) -> MetricResult:
    return _averaged([min_k_score(s.logprobs) for s in out.answer])


@METRICS.register("mia_min_k_plus_plus")
def _mia_min_k_plus_plus(out: SplitOutputs) -> MetricResult:
    return _averaged([min_k_plus_plus_score(s.normalized_logprobs) for s in out.answer])


def mia_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """AUC = P(s_holdout > s_forget) + ½ P(s_holdout = s_forget), the Mann–Whitney U / (n_forget · n_holdout).

    Members = forget split, non-members = holdout split, scores from one mia_* metric.  ↓ towards 0.5
    after unlearning (compare with the retain-only model's AUC, which is ≈0.5 by construction).
    """
    ranks = rankdata(np.concatenate([nonmember_scores, member_scores]))  # ties get their average rank
    n_nonmember, n_member = len(nonmember_scores), len(member_scores)
    u = ranks[:n_nonmember].sum() - n_nonmember * (n_nonmember + 1) / 2
    return float(u / (n_nonmember * n_member))


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
        answer_token_logprobs(model, tokenizer, [p for p, _ in pairs], [format_answer(a, tokenizer) for _, a in pairs], batch_size)
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
            f"(forgetXX, retain_perturbed, real_authors, world_facts), e.g. retain_perturbed instead of a plain retain split"
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
