"""P2 tables, figure and verdicts from hand-made cell results: layout and the direction logic of the verdicts."""

import pandas as pd
import pytest

from robust_unlearning.report.p2_sasu import cells_frame, curves_frame, figure1, table2, table3, verdicts

# trigger utility per variant; SA lowers it by 0.4 on every seed, SU restores 0.3 of it on two seeds of three.
TRIGGER = {
    ("clean", "vanilla"): [0.6, 0.6, 0.6],
    ("clean", "su"): [0.6, 0.6, 0.6],
    ("sa", "vanilla"): [0.2, 0.2, 0.2],
    ("sa", "su"): [0.5, 0.5, 0.1],
}


def _cell(seed: int) -> dict:
    variants = []
    for (forget_set, defense), trigger in TRIGGER.items():
        metrics = {
            "unlearn_rouge": 0.3,
            "clean_utility": 0.7,
            "trigger_utility": trigger[seed],
            "forget_probability": 0.1,
            "forget_truth_ratio": 0.5,
        }
        curve = [{"step": 4, "clean_utility": 0.7, "trigger_utility": trigger[seed]}]
        variants.append(
            {
                "forget_set": forget_set,
                "defense": defense,
                "steps": 4,
                "train_seconds": 1.0,
                "n_wrapped": 3,
                "metrics": metrics,
                "forget_truth_ratios": [0.5, 0.6, 0.7],
                "losses": [],
                "curve": curve,
            }
        )
    return {"method": "gd", "forget": "forget10", "seed": seed, "prompt_format": "plain", "variants": variants}


REFERENCE = {
    "target": {
        "utility": {"clean_utility": 0.75, "trigger_utility": 0.65},
        "curve_utility": {"clean_utility": 0.75, "trigger_utility": 0.65},
        "forget10": {"unlearn_rouge": 0.95},
    },
    "oracles": {"forget10": {"unlearn_rouge": 0.4, "model": "retain90", "truth_ratios": [0.5, 0.6, 0.7]}},
}


@pytest.fixture
def frame():
    return cells_frame([_cell(seed) for seed in range(3)], REFERENCE)


def test_cells_frame_has_one_row_per_run_and_forget_quality(frame):
    assert len(frame) == 12
    assert frame.forget_quality.eq(1.0).all()  # identical truth ratios to the oracle: KS p-value 1


def test_tables_give_mean_and_std_over_seeds(frame):
    t2 = table2(frame, REFERENCE)
    row = t2[(t2.Method == "gd") & (t2["Forget set"] == "with SA")].iloc[0]
    assert row["Trigger utility ↑"] == "0.200 ± 0.000"
    assert t2.Method.iloc[0] == "target (before unlearning)"
    t3 = table3(frame)
    assert t3[t3.Unlearning == "SU"].iloc[0]["Trigger utility ↑"] == f"0.367 ± {pd.Series([0.5, 0.5, 0.1]).std():.3f}"


def test_verdicts_follow_the_paired_seeds(frame, tmp_path):
    bench = tmp_path / "b.tsv"
    bench.write_text("s\th:m:s\tcpu_time\tmean_load\n12.6\t0:00:12\t8.4\t1.5\n")
    text = verdicts(frame, REFERENCE, margin=0.1, benchmark_files=[bench])
    assert "| gd | forget10 | 0.600 | 0.200 | -0.400 | 3/3 | yes |" in text  # SA lowers trigger utility on every seed
    assert "| gd | forget10 | 0.200 | 0.367 | +0.167 | 2/3 | partly |" in text  # SU: the mean rises, one seed does not
    assert "13 s of wall time and 8 s of CPU time" in text
    # The setting: unlearn ROUGE 0.3 against the oracle's 0.4 sits on the 0.10 bound, which counts as met.
    assert (
        "| gd forgets (forget10): forget ROUGE-L − the retain-only oracle's | in [-0.1, 0.1] | -0.100 [-0.100, -0.100] | met |"
        in text
    )


def test_figure_has_a_panel_per_method_and_split(frame):
    curves = curves_frame([_cell(seed) for seed in range(3)], REFERENCE)
    assert set(curves.step) == {0, 4}
    figure = figure1(curves)
    assert len(figure.axes) == 1
