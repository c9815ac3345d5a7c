"""TOFU's answer probability (Maini et al. 2024): the per-token geometric mean P(y|x)^(1/|y|)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import MetricResult, SplitOutputs, averaged, register_metric

if TYPE_CHECKING:
    import torch


def answer_probability(logprobs: torch.Tensor) -> float:
    """P(y|x)^(1/|y|) = exp(−mean_t NLL_t).  ↑ retain, ↓ forget; mean over examples."""
    return logprobs.mean().exp().item()


@register_metric(
    "probability", label="probability", knows="higher", aggregation="mean over records of exp(−mean answer NLL)"
)
def _probability(out: SplitOutputs) -> MetricResult:
    return averaged([answer_probability(s.logprobs) for s in out.answer])
