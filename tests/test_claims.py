"""Claims as data (report/claims.py): the writer, and the tracks' declared rules on measured numbers whose verdicts
are worked out by hand. t(0.975; 2 dof) = 4.302653 (a t table), so three seeds with mean m and sample std s give the
95 % interval m ± 4.302653 · s / √3 = m ± 2.484138 · s."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from robust_unlearning.report import p2_sasu, p3, p4
from robust_unlearning.report.claims import Claim, Section, fill, judge_claims, verdicts_page
from robust_unlearning.report.statistics import (
    Interval,
    direction,
    judge,
    paired_interval,
    seeds_in_direction,
    trend,
)


def _claim(claims: list[Claim], heading: str) -> Claim:
    return next(claim for claim in claims if claim.heading.startswith(heading))


def test_a_claim_is_measured_decided_in_order_and_written_as_a_section():
    claim = Claim(
        heading="Claim: x exceeds {limit:g}",
        paper="x is large.",
        before=["{settings} settings."],
        measure=lambda _results: pd.DataFrame({"method": ["a", "b"], "x": [0.5, 2.0]}),
        # the verdict reads the decision before it
        rules={
            "above": lambda row, params: row["x"] > params["limit"],
            "verdict": lambda row, _: "supported" if row["above"] else "not supported",
        },
        table=[("method", "{method}"), ("x", "{x:.2f}"), ("above", "{above}"), ("verdict", "{verdict}")],
        summary=lambda rows, _results: {"settings": len(rows)},
        after=[lambda judged: None, lambda judged: f"{sum(row['above'] for row in judged.rows)} above."],
    )
    left_off = Claim(heading="Never shown", measure=lambda _results: pd.DataFrame(), applies=lambda _results: False)
    page = verdicts_page("Title", [Section("", ["Preamble."]), *judge_claims([claim, left_off], None, {"limit": 1})])
    assert page == (
        "# Title\n\nPreamble.\n\n## Claim: x exceeds 1\n\n*Paper:* x is large.\n\n2 settings.\n\n"
        "| method | x | above | verdict |\n|---|---|---|---|\n| a | 0.50 | no | not supported |\n| b | 2.00 | yes | supported |"
        "\n\n1 above.\n"
    )


def test_settings_listed_as_lines_and_sections_with_headings():
    claim = Claim(heading="Targets", measure=lambda _results: pd.DataFrame({"m": ["a", "b"]}), lines="- {m}")
    page = verdicts_page("T", [*judge_claims([claim], None, {}), Section("Cost", ["12 s."])])
    assert page == "# T\n\n## Targets\n\n- a\n- b\n\n## Cost\n\n12 s.\n"


def test_checks_and_intervals_read_as_words_and_numbers():
    assert fill("{ok} / {ok:reached|not reached} / {ok:≤|>}", {"ok": np.bool_(False)}) == "no / not reached / >"
    assert fill("{ok:within|more than}", {"ok": True}) == "within"
    assert fill("{shrink:+.3f}", {"shrink": Interval(0.5, -0.25, 1.25)}) == "+0.500 [-0.250, +1.250]"
    assert fill("{{{sets}}}", {"sets": "forget, retain"}) == "{forget, retain}"


@pytest.mark.parametrize(
    ("differences", "text", "verdict"),
    [
        ([0.18, 0.20, 0.22], "+0.200 [+0.150, +0.250]", "supported"),  # 0.20 ± 2.484138 · 0.02
        ([-0.18, -0.20, -0.22], "-0.200 [-0.250, -0.150]", "contradicted"),
        # mean 0.0667, sample std 0.251661: ± 0.625163
        ([0.3, -0.2, 0.1], "+0.067 [-0.558, +0.692]", "inconclusive"),
    ],
)
def test_paired_differences_judged_by_their_interval(differences, text, verdict):
    after = pd.Series([1.0, 1.0, 1.0, 7.0], index=[0, 1, 2, 3])
    before = pd.Series([1.0 + d for d in differences] + [5.0], index=[0, 1, 2, 9])  # seeds 3 and 9 are unpaired
    interval = paired_interval(before, after, 0.95)
    assert format(interval, "+.3f") == text and judge(interval) == verdict


def test_direction_of_a_paired_change_over_seeds():
    assert seeds_in_direction(np.array([-0.4, 0.0, 0.3]), -1) == 1
    assert direction(-0.4, 3, 3, -1) == "yes"
    assert direction(-0.2, 2, 3, -1) == "partly"
    assert direction(0.05, 1, 3, -1) == "no"
    assert direction(0.0, 0, 3, +1) == "no"


def test_trend_of_a_spearman_correlation():
    x = pd.Series([1, 2, 3, 4, 5])
    r, p_value, moves = trend(x, pd.Series([5, 4, 3, 2, 1]), 0.95)
    assert r == pytest.approx(-1.0) and moves == "falls"
    # ranks 1 3 2 5 4: r = 1 − 6 · 4 / (5 · 24) = 0.8; t = 0.8 · √(3 / 0.36) = 2.3094 on 3 dof: p = 0.104.
    r, p_value, moves = trend(x, pd.Series([1, 3, 2, 5, 4]), 0.95)
    assert r == pytest.approx(0.8) and p_value == pytest.approx(0.104, abs=1e-3) and moves == "inconclusive"
    assert trend(x, pd.Series([1, 3, 2, 5, 4]), 0.8)[2] == "rises"
    assert trend(x, pd.Series([2, 2, 2, 2, 2]), 0.95)[2] == "inconclusive (constant)"


def _p2_cells(trigger: dict[str, tuple[list[float], list[float]]]) -> pd.DataFrame:
    rows = []
    for method, variants in trigger.items():
        for (forget_set, defense), values in zip([("clean", "vanilla"), ("sa", "vanilla")], variants):
            rows += [
                {
                    "method": method,
                    "forget": "forget10",
                    "seed": seed,
                    "forget_set": forget_set,
                    "defense": defense,
                    "trigger_utility": value,
                }
                for seed, value in enumerate(values)
            ]
    return pd.DataFrame(rows)


def test_p2_a_direction_claim_is_reproduced_partly_or_not_by_its_seeds():
    frame = _p2_cells(
        {
            "a": ([0.6, 0.6, 0.6], [0.2, 0.2, 0.2]),  # −0.4 on every seed
            "b": ([0.6, 0.6, 0.6], [0.1, 0.7, 0.4]),  # −0.5, +0.1, −0.2: the mean falls, one seed rises
            "c": ([0.5, 0.5, 0.5], [0.6, 0.4, 0.6]),  # +0.1, −0.1, +0.1: the mean rises
        }
    )
    claim = _claim(p2_sasu.CLAIMS, "SA degrades")
    page = verdicts_page("P2", judge_claims([claim], p2_sasu.Results(frame, {}), {}))
    measured = "*Measured:* trigger utility falls in **1 of 3** testable method × forget-split settings on every seed."
    assert measured in page
    assert "| a | forget10 | 0.600 | 0.200 | -0.400 | 3/3 | yes |" in page
    assert "| b | forget10 | 0.600 | 0.400 | -0.200 | 2/3 | partly |" in page
    assert "| c | forget10 | 0.500 | 0.533 | +0.033 | 1/3 | no |" in page


def _p3_cells(scores: dict[tuple[str, float], tuple[list[float], list[float]]]) -> pd.DataFrame:
    refusals = {"sft": (80.0, 2.0), "vaccine": (90.0, 1.0)}
    rows = []
    for (method, p), (hs, fa) in scores.items():
        rows += [
            {
                "method": method,
                "rho": 2.0 if method == "vaccine" else 0.0,
                "n": 8,
                "harmful_ratio": p,
                "seed": seed,
                "harmful_score": h,
                "finetune_accuracy": f,
                "aligned_refusal_rate": refusals[method][0],
                "refusal_rate": refusals[method][1],
            }
            for seed, (h, f) in enumerate(zip(hs, fa))
        ]
    return pd.DataFrame(rows)


def test_p3_vaccine_lowers_hs_only_where_fa_stays_within_tolerance():
    frame = _p3_cells(
        {
            # HS(SFT) − HS(Vaccine) = 60, 55, 65: 60 ± 12.42; FA(SFT) − FA(Vaccine) = 1, 3, 5: 3 ± 4.97, within 5
            ("sft", 0.1): ([90, 95, 100], [100, 100, 100]),
            ("vaccine", 0.1): ([30, 40, 35], [99, 97, 95]),
            # HS: 10, −5, 4: 3 ± 18.75 (sample std 7.5498); FA: 6, 7, 8: 7 ± 2.48, more than 5
            ("sft", 0.2): ([50, 45, 54], [100, 100, 100]),
            ("vaccine", 0.2): ([40, 50, 50], [94, 93, 92]),
        }
    )
    config = {
        "methods": ["sft", "vaccine"],
        "rho": 2.0,
        "n_finetune": 8,
        "harmful_ratios": [0.1, 0.2],
        "verdict": {"confidence": 0.95},
    }
    claim = _claim(p3.CLAIMS, "Claim 2")
    page = verdicts_page("P3", judge_claims([claim], p3.Results(frame, config), {"fa_tolerance": 5}))
    assert "| 0.1 | +60.0 [+47.6, +72.4] | 3/3 | supported | +3.0 [-2.0, +8.0] | yes | supported |" in page
    assert "| 0.2 | +3.0 [-15.8, +21.8] | 2/3 | inconclusive | +7.0 [+4.5, +9.5] | no | not supported |" in page
    assert "SFT 80.0 % → 2.0 %, Vaccine 90.0 % → 1.0 %" in page


@pytest.mark.parametrize(
    ("hs_trend", "fa_loss", "hs_verdict", "fa_verdict"),
    [
        ("falls", 3.0, "supported", "within the 5 points counted as slight → supported"),
        ("rises", 5.0, "contradicted", "within the 5 points counted as slight → supported"),
        ("inconclusive (constant)", 31.8, "inconclusive", "more than the 5 points counted as slight → not supported"),
    ],
)
def test_p3_rho_claim_reads_the_trends(hs_trend, fa_loss, hs_verdict, fa_verdict):
    measured = {
        "hs_r": -0.85,
        "hs_p": 0.004,
        "hs_trend": hs_trend,
        "fa_r": -0.87,
        "fa_p": 0.003,
        "fa_trend": "falls",
        "rho_first": 0.5,
        "fa_first": 100.0,
        "rho_last": 5.0,
        "fa_last": 100.0 - fa_loss,
        "fa_loss": fa_loss,
    }
    claim = dataclasses.replace(
        _claim(p3.CLAIMS, "Claim 3"),
        measure=lambda _results: pd.DataFrame([measured]),
        summary=lambda rows, _results: {"attention_norms": "", "embedding_norms": "", "sft_norm": "."},
        applies=lambda _results: True,
    )
    page = verdicts_page("P3", judge_claims([claim], None, {"fa_tolerance": 5, "rho_sweep_ratio": 0.1}))
    assert f"with ρ → {hs_verdict}.\n" in page and fa_verdict in page


def test_p4_counts_the_forget_splits_whose_ranking_calibration_changes():
    rankings = pd.DataFrame(
        {
            "forget": ["forget05", "forget10"],
            "uncalibrated": ["GA (0.100) < NPO (0.200)", "GA (0.100) < NPO (0.200)"],
            "calibrated": ["NPO (0.150) < GA (0.300)", "GA (0.200) = NPO (0.200)"],
            "ranks": [
                {"kendall_tau": -1.0, "same_order": False, "same_best": False},
                {"kendall_tau": 0.0, "same_order": False, "same_best": True},
            ],
            "retain_min": [0.4, 0.5],
            "retain_max": [0.9, 0.8],
        }
    )
    claim = dataclasses.replace(_claim(p4.CLAIMS, "Does calibration"), measure=lambda _results: rankings)
    page = verdicts_page("P4", judge_claims([claim], None, {"tau": 0.9}))
    assert "| forget05 | GA (0.100) < NPO (0.200) | NPO (0.150) < GA (0.300) | -1.00 | no | no |" in page
    assert "changes the order of methods in **2 of 2** forget splits and the best method in **1 of 2**" in page
    assert (
        "retain ES spans 0.400–0.900 (forget05), 0.500–0.800 (forget10); at α* every method keeps at least τ = 0.9"
        in page
    )
