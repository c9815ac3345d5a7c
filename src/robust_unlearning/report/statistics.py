"""The statistics the papers' claims are judged with: a seed aggregate as text, a Student-t interval over seeds
(alone or of paired differences) or over seeds and questions crossed, the verdict that interval gives a claim, the direction a paired change takes
over seeds, and the trend of a Spearman correlation."""

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats


class Interval(NamedTuple):
    """A mean and its interval; formats as "mean [low, high]", each number in the format given (`f"{x:+.3f}"`)."""

    mean: float
    low: float
    high: float

    def __format__(self, spec: str) -> str:
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def mean_std_text(values: pd.Series, digits: int = 3) -> str:
    """ "mean ± std" over seeds; the std of one seed is 0."""
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def t_interval(values: np.ndarray, confidence: float) -> Interval:
    """The two-sided `confidence` Student-t interval of the mean of `values` (seeds); NaN bounds for one value."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return Interval(mean, float("nan"), float("nan"))
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
    return Interval(mean, mean - half, mean + half)


def crossed_interval(values: np.ndarray, confidence: float) -> Interval:
    """The mean of a seeds × questions matrix and its two-sided `confidence` interval, seeds and questions both
    taken as samples (crossed random effects, one value a cell): Var(mean) = σ²_seed/S + σ²_question/Q +
    σ²_residual/(S·Q), each component from the two-way ANOVA's mean squares and clipped at 0, with Satterthwaite's
    degrees of freedom for the t quantile. NaN bounds for one seed or one question."""
    values = np.asarray(values, dtype=float)
    n_seeds, n_questions = values.shape
    mean = float(values.mean())
    if n_seeds < 2 or n_questions < 2:
        return Interval(mean, float("nan"), float("nan"))
    seed_means, question_means = values.mean(1), values.mean(0)
    residual = values - seed_means[:, None] - question_means[None, :] + mean
    squares = {  # mean square, degrees of freedom
        "seed": (n_questions * np.sum((seed_means - mean) ** 2) / (n_seeds - 1), n_seeds - 1),
        "question": (n_seeds * np.sum((question_means - mean) ** 2) / (n_questions - 1), n_questions - 1),
        "residual": (np.sum(residual**2) / ((n_seeds - 1) * (n_questions - 1)), (n_seeds - 1) * (n_questions - 1)),
    }
    # S·Q·Var(mean) = (MS_seed − MS_res)⁺ + (MS_question − MS_res)⁺ + MS_res: a sum of mean squares with weights ±1.
    ms_residual = squares["residual"][0]
    weights = {name: float(squares[name][0] > ms_residual) for name in ("seed", "question")}
    weights["residual"] = 1.0 - sum(weights.values())
    total = sum(weights[name] * ms for name, (ms, _) in squares.items())
    if total <= 0:
        return Interval(mean, mean, mean)
    dof = total**2 / sum((weights[name] * ms) ** 2 / df for name, (ms, df) in squares.items())
    half = float(stats.t.ppf(0.5 + confidence / 2, dof) * np.sqrt(total / (n_seeds * n_questions)))
    return Interval(mean, mean - half, mean + half)


def paired_interval(a: pd.Series, b: pd.Series, confidence: float) -> Interval:
    """The t interval of a − b over the seeds (the index) both have."""
    seeds = a.index.intersection(b.index)
    return t_interval((a.loc[seeds] - b.loc[seeds]).to_numpy(), confidence)


def judge(interval: Interval) -> str:
    """A claim that an effect is positive: supported when the whole interval is above 0, contradicted when below."""
    _, low, high = interval
    if np.isnan(low):
        return "inconclusive (one seed)"
    return "supported" if low > 0 else "contradicted" if high < 0 else "inconclusive"


def interval_text(interval: Interval, digits: int = 3) -> str:
    return format(Interval(*interval), f"+.{digits}f")


def seeds_in_direction(changes: pd.Series, sign: int) -> int:
    """How many seeds' changes have the sign `sign` (+1 rises, −1 falls)."""
    return int((np.sign(changes) == sign).sum())


def direction(mean_change: float, agreeing: int, seeds: int, sign: int) -> str:
    """A claim that a paired change has the sign `sign`: "yes" when the seed mean does and every seed agrees,
    "partly" when only the mean does, else "no"."""
    if np.sign(mean_change) != sign:
        return "no"
    return "yes" if agreeing == seeds else "partly"


def trend(x: pd.Series, y: pd.Series, confidence: float) -> tuple[float, float, str]:
    """(Spearman r, p-value, how y moves as x grows): "falls" or "rises" when the correlation is significant at
    `confidence`, else "inconclusive" ("inconclusive (constant)" when one side does not vary)."""
    r, p_value = stats.spearmanr(x, y)
    if np.isnan(r):
        return r, p_value, "inconclusive (constant)"
    if p_value >= 1 - confidence:
        return r, p_value, "inconclusive"
    return r, p_value, "falls" if r < 0 else "rises"
