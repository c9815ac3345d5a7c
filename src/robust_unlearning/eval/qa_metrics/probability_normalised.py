"""TOFU's normalised answer probability: the answer's probability against its perturbed (wrong) answers'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import MetricResult, SplitOutputs, averaged, register_metric
from .probability import answer_probability

if TYPE_CHECKING:
    import torch


def normalised_answer_probability(answer: torch.Tensor, perturbed: Sequence[torch.Tensor]) -> float:
    """P(y) / (P(y) + Σ_j P(ŷ_j)), P = exp(−mean NLL).  ↑; mean over examples.

    TOFU reports this, not the plain probability, on real_authors and world_facts, where perturbed answers
    act as the wrong options of a multiple-choice question.
    """
    p = answer_probability(answer)
    return p / (p + sum(answer_probability(lp) for lp in perturbed))


@register_metric(
    "probability_normalised",
    label="normalised probability",
    knows="higher",
    aggregation="mean of P(y) / (P(y) + Σ P(perturbed))",
    needs="perturbed",
)
def _probability_normalised(out: SplitOutputs) -> MetricResult:
    answers = [out.answer[i] for i in out.perturbed_rows]
    return averaged(
        [
            normalised_answer_probability(a.logprobs, [s.logprobs for s in p])
            for a, p in zip(answers, out.perturbed, strict=True)
        ]
    )
