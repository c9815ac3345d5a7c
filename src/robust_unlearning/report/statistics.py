"""The statistics the paper reports share: a seed aggregate as text, a Student-t interval over seeds, the verdict
that interval gives a claim, and the interval as text."""

import numpy as np
import pandas as pd
from scipy import stats

# An interval: (mean, low, high).
Interval = tuple[float, float, float]


def mean_std_text(values: pd.Series, digits: int = 3) -> str:
    """"mean ± std" over seeds; the std of one seed is 0."""
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def t_interval(values: np.ndarray, confidence: float) -> Interval:
    """The two-sided `confidence` Student-t interval of the mean of `values` (seeds); NaN bounds for one value."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def judge(interval: Interval) -> str:
    """A claim that an effect is positive: supported when the whole interval is above 0, contradicted when below."""
    _, low, high = interval
    if np.isnan(low):
        return "inconclusive (one seed)"
    return "supported" if low > 0 else "contradicted" if high < 0 else "inconclusive"


def interval_text(interval: Interval, digits: int = 3) -> str:
    mean, low, high = interval
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"
