"""Exact memorization (one of the metrics P4, arXiv 2406.09179, compares): the teacher-forced argmax match rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import MetricResult, SplitOutputs, averaged, register_metric

if TYPE_CHECKING:
    import torch


def exact_memorization(argmax_match: torch.Tensor) -> float:
    """EM = mean_t 1[argmax_v p(v | x, y_<t) = y_t] (teacher-forced).  ↓ forget, ↑ retain; mean over examples."""
    return argmax_match.float().mean().item()


@register_metric(
    "exact_memorization",
    label="EM",
    knows="higher",
    aggregation="mean over records of the teacher-forced argmax match rate",
)
def _exact_memorization(out: SplitOutputs) -> MetricResult:
    return averaged([exact_memorization(s.argmax_match) for s in out.answer])
