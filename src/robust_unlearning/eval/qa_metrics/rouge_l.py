"""ROUGE-L recall of the greedy answer: rouge_score's, Porter stemming on, as in TOFU and OpenUnlearning."""

import functools

from .base import MetricResult, SplitOutputs, averaged, register_metric


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


@register_metric(
    "rouge_l",
    label="ROUGE-L",
    knows="higher",
    aggregation="mean ROUGE-L recall of the greedy answer (rouge-score, stemmed)",
    needs="generation",
)
def _rouge_l(out: SplitOutputs) -> MetricResult:
    return averaged([rouge_l_recall(g, r["answer"]) for g, r in zip(out.generations, out.records)])
