"""Every QA metric, complete and without torch: importing this module imports each metric module of
eval/qa_metrics/, which registers its computation (METRICS) and its spec (METRIC_SPECS: label, which way a model
that still knows the answer moves it, aggregation, what its computation needs) together. Tables, reports and the
evaluation passes read the specs here, so a report job need not import torch to label a metric.
"""

from ..registry import import_modules
from .qa_metrics.base import METRIC_SPECS, METRICS, MetricSpec  # noqa: F401 — importers find the registries here

import_modules(f"{__package__}.qa_metrics")

GENERATION_METRICS = frozenset(name for name, spec in METRIC_SPECS.items() if spec.needs == "generation")
PERTURBATION_METRICS = frozenset(name for name, spec in METRIC_SPECS.items() if spec.needs == "perturbed")
