"""Extraction Strength (P4, arXiv 2406.09179) from one teacher-forced pass; eval/metrics.py has the reference
that decodes from every prefix, `extraction_strength_by_generation`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import MetricResult, SplitOutputs, averaged, register_metric

if TYPE_CHECKING:
    import torch


def extraction_strength(argmax_match: torch.Tensor) -> float:
    """ES(x, y) = 1 − k*/|y|, k* the shortest prefix after which greedy decoding reproduces y.  ↓ forget; mean.

    Greedy decoding from x ⊕ y[:k] feeds the true tokens for as long as it stays correct, so it reproduces
    y[k:] iff every teacher-forced argmax at positions k..|y|−1 is right: k* = 1 + the last mismatch (0 if none).
    """
    mismatches = (~argmax_match).nonzero()
    k_star = mismatches[-1].item() + 1 if len(mismatches) else 0
    return 1 - k_star / len(argmax_match)


@register_metric("extraction_strength", label="ES", knows="higher", aggregation="mean over records of 1 − k*/|y|")
def _extraction_strength(out: SplitOutputs) -> MetricResult:
    return averaged([extraction_strength(s.argmax_match) for s in out.answer])
