"""What each registered metric is, without torch: its label, which way a model that still knows the answer moves
it, how it aggregates over records, and what its computation needs (lm-eval's MetricSpec, for our QA metrics).

The implementations are registered under the same names in eval/metrics.py; tests/test_metric_specs.py keeps the
two in step. Tables, reports and the evaluation passes read the metadata here, so a report job need not import
torch to label a metric.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    label: str
    # "higher" when a model that still knows the answer scores higher (forget set: ↓ after unlearning).
    knows: str
    aggregation: str
    # What its computation needs beyond the teacher-forced answer pass: "generation" (greedy answers),
    # "perturbed" (the paraphrased and perturbed answers; only rows that carry them count).
    needs: str | None = None


METRIC_SPECS = {
    "probability": MetricSpec("probability", "higher", "mean over records of exp(−mean answer NLL)"),
    "probability_normalised": MetricSpec("normalised probability", "higher", "mean of P(y) / (P(y) + Σ P(perturbed))", needs="perturbed"),
    "rouge_l": MetricSpec("ROUGE-L", "higher", "mean ROUGE-L recall of the greedy answer (rouge-score, stemmed)", needs="generation"),
    "truth_ratio": MetricSpec("truth ratio", "higher", "mean max(0, 1 − tr)", needs="perturbed"),
    "truth_ratio_forget": MetricSpec("forget truth ratio", "lower", "mean min(tr, 1/tr) (TOFU's forget-set form)", needs="perturbed"),
    "exact_memorization": MetricSpec("EM", "higher", "mean over records of the teacher-forced argmax match rate"),
    "extraction_strength": MetricSpec("ES", "higher", "mean over records of 1 − k*/|y|"),
    "mia_loss": MetricSpec("MIA LOSS", "lower", "mean answer NLL"),
    "mia_zlib": MetricSpec("MIA ZLib", "lower", "answer NLL sum / zlib length"),
    "mia_min_k": MetricSpec("MIA Min-K%", "lower", "−mean of the lowest 40 % token log-probs"),
    "mia_min_k_plus_plus": MetricSpec("MIA Min-K%++", "lower", "−mean of the lowest 40 % normalised token log-probs"),
}

GENERATION_METRICS = frozenset(name for name, spec in METRIC_SPECS.items() if spec.needs == "generation")
PERTURBATION_METRICS = frozenset(name for name, spec in METRIC_SPECS.items() if spec.needs == "perturbed")

# The metrics P4 (arXiv 2406.09179) compares for robustness, in its tables' order.
P4_CANDIDATES = ("extraction_strength", "exact_memorization", "probability", "rouge_l", "truth_ratio")
