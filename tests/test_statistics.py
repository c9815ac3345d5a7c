"""The reports' shared statistics (report/statistics.py) against values worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from robust_unlearning.report.statistics import crossed_interval, interval_text, judge, mean_std_text, t_interval


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


def test_crossed_interval_by_hand():
    # 2 seeds × 3 questions. Mean 1/2; seed means 2/3, 1/3; question means 1/2, 0, 1.
    # MS_seed = 3·2·(1/6)²/1 = 1/6; MS_question = 2·(0 + 1/4 + 1/4)/2 = 1/2;
    # residuals ±1/3, ±1/6 (four of them) → MS_res = (2/9 + 4/36)/2 = 1/6.
    # σ²_seed clips to 0 (MS_seed = MS_res), so S·Q·Var = MS_question = 1/2 with 2 degrees of freedom:
    # half width = t(0.975, 2) · √(1/2 / 6) = 4.302653 · 0.288675 = 1.242069.
    mean, low, high = crossed_interval(np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), 0.95)
    assert mean == 0.5
    assert (low, high) == pytest.approx((0.5 - 1.242069, 0.5 + 1.242069), abs=1e-6)


def test_crossed_interval_with_every_component():
    # 3 seeds × 2 questions [[0, 1], [1, 1], [1, 2]]. Mean 1; seed means 1/2, 1, 3/2; question means 2/3, 4/3.
    # MS_seed = 2·(1/4 + 0 + 1/4)/2 = 1/2; MS_question = 3·(1/9 + 1/9)/1 = 2/3; residuals x − r − c + m =
    # [[−1/6, 1/6], [1/3, −1/3], [−1/6, 1/6]] → MS_res = (4/36 + 2/9)/2 = 1/6. Both components stay:
    # S·Q·Var = 1/2 + 2/3 − 1/6 = 1, Var = 1/6; df = 1 / ((1/2)²/2 + (2/3)²/1 + (1/6)²/2) = 72/42 = 12/7.
    mean, low, high = crossed_interval(np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 2.0]]), 0.95)
    half = stats.t.ppf(0.975, 12 / 7) * math.sqrt(1 / 6)
    assert mean == 1.0 and (low, high) == pytest.approx((1 - half, 1 + half))


def test_crossed_interval_of_one_seed_or_constant_values():
    _, low, high = crossed_interval(np.array([[1.0, 0.0, 1.0]]), 0.95)
    assert np.isnan(low) and np.isnan(high)
    assert tuple(crossed_interval(np.full((3, 4), 0.25), 0.95)) == (0.25, 0.25, 0.25)
