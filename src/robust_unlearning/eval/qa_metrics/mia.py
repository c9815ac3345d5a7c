"""Membership-inference scores: LOSS, ZLib, Min-K% and Min-K%++.

Every score grows with how non-member-like an answer looks, and mia_auc (eval/comparisons.py) is the AUC of telling
holdout (non-member) from forget (member) by it: ≈0.5 the splits look alike, →1 the forget set still looks
trained on.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from .base import MetricResult, SplitOutputs, averaged, register_metric

if TYPE_CHECKING:
    import torch

MIN_K_FRACTION = 0.4


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


@register_metric("mia_loss", label="MIA LOSS", knows="lower", aggregation="mean answer NLL")
def _mia_loss(out: SplitOutputs) -> MetricResult:
    return averaged([loss_score(s.logprobs) for s in out.answer])


@register_metric("mia_zlib", label="MIA ZLib", knows="lower", aggregation="answer NLL sum / zlib length")
def _mia_zlib(out: SplitOutputs) -> MetricResult:
    return averaged([zlib_score(s.logprobs, r["answer"].strip()) for s, r in zip(out.answer, out.records)])


@register_metric(
    "mia_min_k",
    label="MIA Min-K%",
    knows="lower",
    aggregation="−mean of the lowest 40 % token log-probs",
)
def _mia_min_k(out: SplitOutputs) -> MetricResult:
    return averaged([min_k_score(s.logprobs) for s in out.answer])


@register_metric(
    "mia_min_k_plus_plus",
    label="MIA Min-K%++",
    knows="lower",
    aggregation="−mean of the lowest 40 % normalised token log-probs",
)
def _mia_min_k_plus_plus(out: SplitOutputs) -> MetricResult:
    return averaged([min_k_plus_plus_score(s.normalized_logprobs) for s in out.answer])
