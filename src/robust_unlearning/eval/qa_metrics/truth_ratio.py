"""TOFU's truth ratio: how much likelier the paraphrased answer is than the perturbed ones, in its two
aggregations (retain-style and TOFU's forget-set form); forget quality (eval/comparisons.py) tests the raw ratios."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .base import MetricResult, SplitOutputs, register_metric

if TYPE_CHECKING:
    import torch


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
    return [
        truth_ratio(a.logprobs, [s.logprobs for s in p]) for a, p in zip(out.paraphrased, out.perturbed, strict=True)
    ]


@register_metric(
    "truth_ratio", label="truth ratio", knows="higher", aggregation="mean max(0, 1 − tr)", needs="perturbed"
)
def _truth_ratio(out: SplitOutputs) -> MetricResult:
    ratios = _truth_ratios(out)
    return aggregate_truth_ratio(ratios, forget=False), ratios


@register_metric(
    "truth_ratio_forget",
    label="forget truth ratio",
    knows="lower",
    aggregation="mean min(tr, 1/tr) (TOFU's forget-set form)",
    needs="perturbed",
)
def _truth_ratio_forget(out: SplitOutputs) -> MetricResult:
    ratios = _truth_ratios(out)
    return aggregate_truth_ratio(ratios, forget=True), ratios
