"""Statistics that compare splits or models, from the per-example values eval/metrics.py computes: TOFU's forget
quality and model utility, and the MIA AUC. numpy and scipy only, so that a report computes them without importing
torch or transformers."""

from collections.abc import Sequence

import numpy as np
from scipy.stats import ks_2samp, rankdata


def forget_quality(truth_ratios: Sequence[float], retain_model_truth_ratios: Sequence[float]) -> float:
    """KS-test p-value between the forget-split raw truth ratios of the evaluated and the retain-only model.

    ↑ (high p: indistinguishable from never having trained on the forget set); one number per model.
    """
    return float(ks_2samp(truth_ratios, retain_model_truth_ratios).pvalue)


def model_utility(values: Sequence[float]) -> float:
    """Harmonic mean n / Σ 1/v_i of {probability, ROUGE-L, truth ratio} × {retain, real_authors, world_facts}.

    ↑; the 9 numbers as TOFU (probability_normalised on real_authors / world_facts); 0 if any is 0.
    """
    values = np.asarray(values, dtype=float)
    return 0.0 if np.any(values == 0) else float(len(values) / np.sum(1 / values))


def mia_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """AUC = P(s_holdout > s_forget) + ½ P(s_holdout = s_forget), the Mann–Whitney U / (n_forget · n_holdout).

    Members = forget split, non-members = holdout split, scores from one mia_* metric.  ↓ towards 0.5
    after unlearning (compare with the retain-only model's AUC, which is ≈0.5 by construction).
    """
    ranks = rankdata(np.concatenate([nonmember_scores, member_scores]))  # ties get their average rank
    n_nonmember, n_member = len(nonmember_scores), len(member_scores)
    u = ranks[:n_nonmember].sum() - n_nonmember * (n_nonmember + 1) / 2
    return float(u / (n_nonmember * n_member))
