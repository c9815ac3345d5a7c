"""A paper's setting (report/setting.py) measured from hand-made results files: the preconditions met or not (a bound
itself counts as met), their seed intervals, the claims whose setting is not met reported as not testable, the
pages opening with the setting and paper_vs_ours listing it. t(0.975; 2 dof) · s / √3 = 2.484138 · s for three
seeds (a t table)."""

import json

import pandas as pd
import pytest

from robust_unlearning.report import p1, p3
from robust_unlearning.report.claims import judge_claims, verdicts_page
from robust_unlearning.report.reference import paper_vs_ours
from robust_unlearning.report.setting import Precondition


def test_a_target_reads_its_bounds_and_counts_a_bound_as_met():
    band = Precondition("x", lambda _results: pd.DataFrame(), source="", low=30.0, high=80.0, digits=1)
    assert band.target() == "in [30, 80]"
    assert band.met(30.0) and band.met(80.0) and not band.met(80.1) and not band.met(float("nan"))
    # 0.4 − 0.3 is 0.10000000000000003: still on the bound.
    assert Precondition("y", band.measure, source="", high=0.1).met(0.4 - 0.3)


PROVENANCE = {"stages": {}, "device": "cpu", "devices": {"cpu": "a CPU", "cuda": []}}


def _answers(correct: int) -> str:
    """Per-question correctness of 100 questions, the first `correct` right."""
    return "1" * correct + "0" * (100 - correct)


def _p1_results(tmp_path) -> list:
    """P1 jobs' results files over 100 general questions (one perturbed copy each): the base model (hazard 0.60, on
    the bound; general 0.70, perturbed 0.68), RMU unlearning to hazard 0.30 / 0.32 / 0.34 with general 0.68 (2 points
    lost), NPO stopping at hazard 0.40; every forget loss flattened (10 → 5.1 → 5: 0.1 of a fall of 5)."""
    base = {"method": "base", "hazard_acc": 0.60, "general_acc": 0.70, "perturbed_acc": 0.68}
    answers = {"general_correct": _answers(70), "perturbed_correct": _answers(68)}
    rows = [{**base, **answers, "mcq_format": "continuation", "prompt_format": "plain"}]
    for method, hazards in {"rmu": [0.30, 0.32, 0.34], "npo": [0.40, 0.40, 0.40]}.items():
        for seed, hazard in enumerate(hazards):
            for nu, drop in ((0.0, 10 + seed), (0.1, 2)):
                rows.append(
                    {
                        "method": method,
                        "seed": seed,
                        "layer": 2,
                        "nu": nu,
                        "nu_absolute": nu,
                        "hazard_acc": hazard,
                        "general_acc": 0.68,
                        "perturbed_acc": (68 - drop) / 100,
                        "general_correct": _answers(68),
                        "perturbed_correct": _answers(68 - drop),
                        "forget_loss_start": 10.0,
                        "forget_loss_three_quarters": 5.1,
                        "forget_loss_end": 5.0,
                    }
                )
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"rows": rows, "provenance": PROVENANCE}))
    return [path]


P1 = {
    "methods": ["rmu", "npo"],
    "seeds": [0, 1, 2],
    "n_sweep_seeds": 1,
    "layer": 2,
    "rna": {"nu": 0.1},
    "nu_sweep": [0.0, 0.1],
    "layer_sweep": [2],
    "verdict": {"confidence": 0.95, "near_chance_accuracy": 0.35, "convergence_tolerance": 0.1},
}


def test_p1_setting_is_measured_from_the_runs_per_method(tmp_path):
    frame = p1.read_runs_frame(_p1_results(tmp_path))
    setting = p1.setting_frame(frame, P1).set_index("setting")
    base = setting.loc["base model knows the hazard facts: hazard accuracy"]
    assert (base.target, base.measured, base.met) == ("≥ 0.6", "0.600 (one evaluation)", True)
    rmu = setting.loc["rmu unlearns: hazard accuracy of the plain model"]
    # 0.32 ± 2.484138 · 0.02 = [0.2703, 0.3697]: the mean is on the 0.32 bound.
    assert rmu.met and rmu.measured == "0.320 [0.270, 0.370]"
    assert (rmu.low, rmu.high) == pytest.approx((0.32 - 0.0496828, 0.32 + 0.0496828))
    kept = setting.loc["rmu keeps general knowledge: base − plain general accuracy"]
    assert kept.target == "≤ 0.03" and kept["mean"] == pytest.approx(0.02) and kept.met
    npo = setting.loc["npo unlearns: hazard accuracy of the plain model"]
    assert (npo.group, npo.measured, npo.met) == ("npo", "0.400 [0.400, 0.400]", False)
    assert setting.loc["npo keeps general knowledge: base − plain general accuracy", "target"] == "≤ 0.05"


def test_a_run_converged_when_its_forget_loss_moved_little_over_the_last_quarter():
    runs = pd.DataFrame(
        {
            "forget_loss_start": [10.0, 10.0, 10.0, 2.0],
            "forget_loss_three_quarters": [5.5, 5.6, 4.4, 2.0],
            "forget_loss_end": [5.0, 5.0, 5.0, 2.0],
        }
    )
    # Falls of 5: a last quarter of 0.5 is on the 10 % bound, 0.6 beyond it, and so is a rise back of 0.6; a loss that
    # never moved counts as flat (0 ≤ 0.1 · 0), which the hazard row of the same method then judges.
    assert list(p1.flattened(runs, 0.1)) == [True, False, False, True]


def test_p1_claims_are_judged_only_where_their_methods_setting_is_met(tmp_path):
    frame = p1.read_runs_frame(_p1_results(tmp_path))
    rows = p1.claim_rows(frame, P1).set_index("method")
    # RMU, question by question: the plain model drops questions 58 − seed … 67 (10 + seed of them), the base model
    # 68 and 69, so the excess is +1 on 10 + seed questions and −1 on 2: 0.08 / 0.09 / 0.10 over seeds, above 0.
    assert rows.loc["rmu", "excess_drop"][0] == pytest.approx(0.09)
    assert rows.loc["rmu", "claim_1"] == "supported"
    not_testable = "not testable here (setting not met: npo unlearns: hazard accuracy of the plain model)"
    assert list(rows.loc["npo", ["claim_1", "claim_2", "claim_3"]]) == [not_testable] * 3
    bench = tmp_path / "job.tsv"
    bench.write_text("s\th:m:s\tcpu_time\tmean_load\n200.0\t0:03:20\t80.0\t40.0\n")
    page = p1.verdicts_markdown(frame, P1, [bench])
    assert page.startswith(f"# {p1.TITLE}\n\n## Setting\n\n")
    assert "| npo unlearns: hazard accuracy of the plain model | ≤ 0.32 | 0.400 [0.400, 0.400] | not met |" in page
    # NPO's excess drop is measured as RMU's but not judged. By hand, 3 seeds × 100 questions: MS_seed = 100 · 2e-4 / 2
    # = 0.01, MS_question = 3 · 11.745556 / 99 = 0.355926, MS_res = (39 − 2.43 − 0.02 − 35.236667) / 198 = 0.006633;
    # Var = (0.01 + 0.355926 − 0.006633) / 300, df = 97.07, t = 1.98472: 0.09 ± 0.068685.
    assert f"| npo | +0.090 [+0.021, +0.159] | {not_testable} |" in page
    assert "*Testable here:* 1 of 2 rows" in page


def _p3_frame(hs_at_01: list[float]) -> pd.DataFrame:
    """Table 1 cells of SFT and Vaccine at p = 0 and 0.1, three seeds: SFT's HS at p = 0 is 0 / 5 / 10 (its mean on
    the 5 % bound), FA 90 / 92 / 94."""
    scores = {
        ("sft", 0.0): ([0.0, 5.0, 10.0], [90.0, 92.0, 94.0]),
        ("sft", 0.1): (hs_at_01, [90.0, 92.0, 94.0]),
        ("vaccine", 0.0): ([0.0, 0.0, 0.0], [90.0, 90.0, 90.0]),
        ("vaccine", 0.1): ([10.0, 10.0, 10.0], [90.0, 90.0, 90.0]),
    }
    return pd.DataFrame(
        {
            "method": method,
            "rho": 2.0 if method == "vaccine" else 0.0,
            "n": 8,
            "harmful_ratio": p,
            "seed": seed,
            "harmful_score": hs,
            "finetune_accuracy": fa,
            "embedding_drift": 1.0,
            "relative_embedding_drift": 0.1,
        }
        for (method, p), (hs_values, fa_values) in scores.items()
        for seed, (hs, fa) in enumerate(zip(hs_values, fa_values))
    )


P3 = {
    "methods": ["sft", "vaccine"],
    "rho": 2.0,
    "n_finetune": 8,
    "harmful_ratios": [0.0, 0.1],
    "verdict": {"confidence": 0.95, "fa_tolerance": 5.0},
}


UNMET = "not testable here (setting not met: the attack does not saturate: SFT's HS at p = 0.1 (%))"


@pytest.mark.parametrize(
    ("hs_at_01", "measured", "met"),
    [
        # HS 30 / 45 / 60 %: 45 ± 2.484138 · 15 = [7.7, 82.3]; the mean is within [30, 80].
        ([30.0, 45.0, 60.0], "45.0 [7.7, 82.3]", True),
        # 85 / 90 / 95 %: the attack saturates SFT, a defense's drop cannot be read.
        ([85.0, 90.0, 95.0], "90.0 [77.6, 102.4]", False),
    ],
)
def test_p3_setting_and_a_claim_not_testable_when_the_attack_saturates(hs_at_01, measured, met):
    results = p3.Results(_p3_frame(hs_at_01), P3)
    setting = p3.setting_frame(results.frame, P3).set_index("setting")
    refuses = setting.loc["SFT-aligned model refuses: HS at p = 0 (%)"]
    assert (refuses.target, refuses.measured, refuses.met) == ("≤ 5", "5.0 [-7.4, 17.4]", True)
    assert setting.loc["SFT-aligned model learns the task: FA at p = 0 (%)", "met"]
    attack = setting.loc["the attack does not saturate: SFT's HS at p = 0.1 (%)"]
    assert (attack.target, attack.measured, attack.met) == ("in [30, 80]", measured, met)
    claim = next(claim for claim in p3.CLAIMS if claim.heading.startswith("Claim 4"))
    judged = judge_claims([claim], results, {}, p3.setting_frame(results.frame, P3))
    page = verdicts_page("P3", judged)
    if met:
        assert "| 0.1 | +0.00 [+0.00, +0.00] | inconclusive |" in page
    else:
        assert page == (
            "# P3\n\n## Claim 4: Vaccine reduces the harmful embedding drift (drift(SFT) − drift(Vaccine))\n\n"
            "**Not testable here** (setting not met: the attack does not saturate: SFT's HS at p = 0.1 (%)).\n\n"
            # The measurements stay, each decision marked not testable.
            "| p | absolute drift, mean [CI] | verdict | relative drift, mean [CI] | verdict |\n|---|---|---|---|---|\n"
            f"| 0.1 | +0.00 [+0.00, +0.00] | {UNMET} | +0.000 [+0.000, +0.000] | {UNMET} |\n"
        )


def test_paper_vs_ours_opens_with_the_setting(tmp_path):
    (tmp_path / "p1").mkdir()
    runs = tmp_path / "p1" / "runs.csv"
    pd.DataFrame({"method": ["base"], "hazard_acc": [0.55]}).to_csv(runs, index=False)
    setting = tmp_path / "p1" / "setting.csv"
    pd.DataFrame(
        [
            {
                "group": "base",
                "setting": "base model knows the hazard facts: hazard accuracy",
                "target": "≥ 0.6",
                "source": "WMDP-Bio 0.637",
                "mean": 0.55,
                "low": float("nan"),
                "high": float("nan"),
                "seeds": 1,
                "measured": "0.550 (one evaluation)",
                "met": False,
            }
        ]
    ).to_csv(setting, index=False)
    ledger = tmp_path / "fidelity.md"
    ledger.write_text("| id | choice | authors | ours | same? |\n|---|---|---|---|---|\n")
    value = {
        "table": "base",
        "results": "p1/runs.csv",
        "where": {"method": "base"},
        "column": "hazard_acc",
        "paper": 0.637,
    }
    table = paper_vs_ours([value], [runs], ledger, setting_files=[setting])
    first, second = table.iloc[0], table.iloc[1]
    assert first["paper table"] == "setting: base model knows the hazard facts: hazard accuracy"
    assert (first["results"], first["ours"], first["rows"]) == ("p1/setting.csv", 0.55, 1)
    assert first["setting"] == "target ≥ 0.6 (WMDP-Bio 0.637): not met"
    assert second["paper table"] == "base" and second["ours"] == pytest.approx(0.55) and second["setting"] == ""
