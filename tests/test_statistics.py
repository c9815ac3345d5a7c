"""The reports' shared statistics (report/statistics.py) against values worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from robust_unlearning.report.statistics import interval_text, judge, mean_std_text, t_interval


def test_t_interval_of_three_seeds():
    # mean 2, sample std 1, t(0.975; 2 dof) = 4.302653 (a t table): half-width 4.302653 / √3 = 2.484138.
    mean, low, high = t_interval(np.array([1.0, 2.0, 3.0]), 0.95)
    assert mean == 2.0
    assert low == pytest.approx(2.0 - 2.484138, abs=1e-6) and high == pytest.approx(2.0 + 2.484138, abs=1e-6)


def test_one_seed_has_no_interval_and_no_verdict():
    mean, low, high = t_interval(np.array([0.7]), 0.95)
    assert mean == 0.7 and math.isnan(low) and math.isnan(high)
    assert judge((mean, low, high)) == "inconclusive (one seed)"


def test_equal_seeds_give_a_point_interval():
    assert t_interval(np.array([0.5, 0.5, 0.5]), 0.9) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [
        ((1.0, 0.2, 1.8), "supported"),
        ((-1.0, -1.8, -0.2), "contradicted"),
        ((0.1, -0.3, 0.5), "inconclusive"),
        ((0.0, 0.0, 0.4), "inconclusive"),
    ],
)
def test_judge_reads_the_interval_against_zero(interval, verdict):
    assert judge(interval) == verdict


def test_texts():
    assert mean_std_text(pd.Series([1.0, 2.0, 3.0])) == "2.000 ± 1.000"
    assert mean_std_text(pd.Series([42.25]), 1) == "42.2 ± 0.0"
    assert interval_text((0.5, -0.25, 1.25)) == "+0.500 [-0.250, +1.250]"
    assert interval_text((12.345, 10.0, 14.69), 1) == "+12.3 [+10.0, +14.7]"
