"""A paper's setting as data: the preconditions its claims assume, measured on our results.

A paper's claims are statements about a setting (P1's are about a model that knows the hazard facts and whose
unlearning worked); where our run does not reach that setting, a verdict cannot test the claim. A `Precondition`
names a quantity, measures it from the results the claims read (one row per group it is checked for, such as the
base model or a method, with one value per seed, or the one value of a single evaluation), and states its target:
bounds taken from the paper's own baseline rows, with that source written beside them. A precondition is met when its
seed mean lies within the bounds, a bound itself included; the seed interval is shown next to it.

A claim names the groups each of its rows depends on (`Claim.setting`); `judge_claims` reports a row whose groups
have an unmet precondition as "not testable here" instead of judging it. `setting_section` is the page's opening
"Setting" section and `judge_setting`'s frame is what `paper_vs_ours` lists beside the paper's numbers.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .claims import Section, fill, markdown_table
from .statistics import t_interval

# Differences such as 0.4 − 0.3 land a rounding error on either side of the bound they equal.
_TOLERANCE = 1e-9
COLUMNS = ["group", "setting", "target", "source", "mean", "low", "high", "seeds", "measured", "met"]


@dataclass(frozen=True)
class Precondition:
    """One precondition: `measure(results)` gives one row per group ("group", "values" and what `name`, a template
    over the row, reads); met when the mean of "values" is within [`low`, `high`] (an open side is None)."""

    name: str
    measure: Callable[[Any], pd.DataFrame]
    source: str
    low: float | None = None
    high: float | None = None
    digits: int = 3

    def target(self) -> str:
        low, high = (None if bound is None else f"{bound:g}" for bound in (self.low, self.high))
        if low is None:
            return f"≤ {high}"
        return f"≥ {low}" if high is None else f"in [{low}, {high}]"

    def met(self, mean: float) -> bool:
        if math.isnan(mean):
            return False
        above = self.low is None or mean >= self.low - _TOLERANCE
        return above and (self.high is None or mean <= self.high + _TOLERANCE)


def _measured_text(values: np.ndarray, interval, digits: int) -> str:
    if len(values) == 0:
        return "not measured"
    if len(values) == 1:
        return f"{interval.mean:.{digits}f} (one evaluation)"
    return format(interval, f".{digits}f")


def judge_setting(preconditions: Sequence[Precondition], results: Any, confidence: float) -> pd.DataFrame:
    """One row per precondition × group: its target and source, the seed mean and its `confidence` t interval, met."""
    rows = []
    for precondition in preconditions:
        for row in precondition.measure(results).to_dict("records"):
            values = np.asarray(row["values"], dtype=float)
            interval = t_interval(values, confidence) if len(values) else (math.nan, math.nan, math.nan)
            rows.append(
                {
                    "group": row["group"],
                    "setting": fill(precondition.name, row),
                    "target": precondition.target(),
                    "source": precondition.source,
                    "mean": interval[0],
                    "low": interval[1],
                    "high": interval[2],
                    "seeds": len(values),
                    "measured": _measured_text(values, interval, precondition.digits),
                    "met": precondition.met(interval[0]),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def setting_section(setting: pd.DataFrame, confidence: float) -> Section:
    """The page's opening section: every precondition with its target, where the target comes from, the measured
    value and whether it is met."""
    rows = [
        [row.setting, row.target, row.measured, fill("{met:met|not met}", {"met": row.met}), row.source]
        for row in setting.itertuples()
    ]
    intervals = " (intervals: {confidence:.0%} t intervals over seeds)" if (setting["seeds"] > 1).any() else ""
    intro = (
        "What the paper's claims assume, measured here: a precondition is met when its seed mean reaches the "
        f"target{intervals}. A claim row whose setting is not met is reported as not testable here, not judged."
    )
    table = markdown_table(["setting", "target", "measured, mean [CI]", "met", "target's source"], rows)
    return Section("Setting", [fill(intro, {"confidence": confidence}), table])
