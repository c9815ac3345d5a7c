"""The statistics the papers' claims are judged with: a seed aggregate as text, a Student-t interval over seeds
(alone or of paired differences), the verdict that interval gives a claim, the direction a paired change takes
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
