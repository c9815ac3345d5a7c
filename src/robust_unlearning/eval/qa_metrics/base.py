"""The contract of a QA metric: what its computation is given and returns, what it is (its spec), and the
registries `register_metric` files both in under the name the config uses. Torch-free, as every metric module
must be: eval/specs.py imports them all for report jobs that label metrics without torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...registry import Registry

if TYPE_CHECKING:
    from ..scoring import AnswerScores


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is, for tables, reports and the evaluation passes (lm-eval's MetricSpec, for our QA metrics)."""

    label: str
    # "higher" when a model that still knows the answer scores higher (forget set: ↓ after unlearning).
    knows: str
    aggregation: str
    # What its computation needs beyond the teacher-forced answer pass: "generation" (greedy answers),
    # "perturbed" (the paraphrased and perturbed answers; only rows that carry them count).
    needs: str | None = None

    def __post_init__(self):
        # A misspelt value would flip the metric's direction in the tables, or skip a pass its computation reads.
        if self.knows not in ("higher", "lower") or self.needs not in (None, "generation", "perturbed"):
            raise ValueError(f"{self}: knows is 'higher' or 'lower', needs is None, 'generation' or 'perturbed'")


@dataclass
class SplitOutputs:
    """What the model passes produced for one split: `answer` and `generations` aligned with `records`;
    `paraphrased` and `perturbed` aligned with `perturbed_rows`, the indices of the records that carry
    perturbed answers (eval/metrics.py: `carries_perturbed`), the only records a metric that needs them reads."""

    records: list[dict]
    answer: list[AnswerScores]  # (question, answer)
    perturbed_rows: list[int] | None  # indices into records of the records with perturbed answers
    paraphrased: list[AnswerScores] | None  # (question, paraphrased_answer), or answer where there is none
    perturbed: list[list[AnswerScores]] | None  # (question, each perturbed_answer)
    generations: list[str] | None  # greedy answer to the question


MetricResult = tuple[float, list[float]]  # (aggregate, per-example values)
Metric = Callable[[SplitOutputs], MetricResult]

METRICS = Registry("metric")  # name → Metric
METRIC_SPECS: dict[str, MetricSpec] = {}  # name → MetricSpec, filed by register_metric along with the computation


def register_metric(
    name: str, *, label: str, knows: str, aggregation: str, needs: str | None = None
) -> Callable[[Metric], Metric]:
    """Registers the decorated computation in METRICS and its spec in METRIC_SPECS, both under `name`."""
    spec = MetricSpec(label, knows, aggregation, needs)

    def add(compute: Metric) -> Metric:
        METRICS.register(name)(compute)  # a name registered twice fails here, before its spec is replaced
        METRIC_SPECS[name] = spec
        return compute

    return add


def averaged(values: list[float]) -> MetricResult:
    return float(np.mean(values)), values
