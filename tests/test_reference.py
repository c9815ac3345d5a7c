import math

import pandas as pd
import pytest

from robust_unlearning.report.reference import paper_vs_ours

RUNS = pd.DataFrame(
    {
        "method": ["base", "rmu", "rmu", "rmu", "rmu"],
        "variant": ["base", "plain", "plain", "+RNA", "plain"],
        "nu": [None, 0.0, 0.0, 0.1, 0.0],
        "seed": [None, 0, 1, 0, 2],
        "hazard_acc": [0.60, 0.30, 0.34, 0.40, 0.32],
    }
)


LEDGER = """# Fidelity ledger

| id | choice | authors | ours | same? | reason · expected effect |
|---|---|---|---|---|---|
| P1-07 | layer ℓ | `ID=7` | `layer: 7` | same | — |
| P1-26 | NPO loss normalisation | batch-mean NLL | summed | **different** | saturates |
"""


@pytest.fixture
def results(tmp_path):
    (tmp_path / "p1").mkdir()
    RUNS.to_csv(tmp_path / "p1" / "runs.csv", index=False)
    (tmp_path / "fidelity.md").write_text(LEDGER)
    return tmp_path


def test_ours_is_the_mean_and_std_of_the_matching_rows(results):
    values = [
        {
            "table": "Table 1, RMU",
            "results": "p1/runs.csv",
            "where": {"method": "rmu", "nu": 0.0},
            "column": "hazard_acc",
            "paper": 0.312,
        },
        {
            "table": "Table 1, base",
            "results": "p1/runs.csv",
            "where": {"method": "base"},
            "column": "hazard_acc",
            "paper": 0.637,
        },
    ]
    table = paper_vs_ours(values, [results / "p1" / "runs.csv"], results / "fidelity.md")
    rmu, base = table.iloc[0], table.iloc[1]
    # Seeds 0, 1, 2 of plain RMU: mean (0.30 + 0.34 + 0.32) / 3 = 0.32, sample std 0.02.
    assert rmu["rows"] == 3 and rmu["ours"] == pytest.approx(0.32) and rmu["ours std"] == pytest.approx(0.02)
    assert rmu["ours − paper"] == pytest.approx(0.32 - 0.312)
    assert rmu["where"] == "method=rmu, nu=0.0"
    assert base["rows"] == 1 and base["ours"] == pytest.approx(0.60) and math.isnan(base["ours std"])


def test_a_value_no_run_of_ours_matches_stays_blank(results):
    values = [
        {
            "table": "Table 1, NPO",
            "results": "p1/runs.csv",
            "where": {"method": "npo"},
            "column": "hazard_acc",
            "paper": 0.3,
        }
    ]
    row = paper_vs_ours(values, [results / "p1" / "runs.csv"], results / "fidelity.md").iloc[0]
    assert row["rows"] == 0 and math.isnan(row["ours"]) and row["paper"] == 0.3


def test_a_column_the_results_lack_is_named(results):
    values = [
        {"table": "Table 1", "results": "p1/runs.csv", "where": {"method": "rmu"}, "column": "wmdp_bio", "paper": 0.3}
    ]
    with pytest.raises(KeyError, match=r"reference.values.*wmdp_bio"):
        paper_vs_ours(values, [results / "p1" / "runs.csv"], results / "fidelity.md")


def test_each_row_names_the_scorer_of_the_rows_it_averages(results):
    runs = RUNS.assign(mcq_format="lettered", prompt_format="plain")
    runs.to_csv(results / "runs.csv", index=False)
    values = [
        {
            "table": "Table 1, RMU",
            "results": "runs.csv",
            "where": {"method": "rmu"},
            "column": "hazard_acc",
            "paper": 0.3,
        }
    ]
    assert (
        paper_vs_ours(values, [results / "runs.csv"], results / "fidelity.md").iloc[0]["scored by"]
        == "lm-eval lettered MCQ, plain prompt"
    )
    # A results file without provenance columns leaves the cell empty rather than guessing.
    RUNS.to_csv(results / "runs.csv", index=False)
    assert paper_vs_ours(values, [results / "runs.csv"], results / "fidelity.md").iloc[0]["scored by"] == ""


def test_each_row_shows_our_setup_next_to_the_papers(results):
    runs = RUNS.assign(
        setup=["no training", *["none × 1, bf16, batch 4"] * 3, "ddp × 2, bf16, batch 4"],
        device=["AMD EPYC", *["NVIDIA H200"] * 4],
    )
    runs.to_csv(results / "runs.csv", index=False)
    values = [
        {
            "table": "Table 1, RMU",
            "results": "runs.csv",
            "where": {"method": "rmu", "variant": "plain"},
            "column": "hazard_acc",
            "paper": 0.3,
        }
    ]
    row = paper_vs_ours(
        values, [results / "runs.csv"], results / "fidelity.md", "DeepSpeed ZeRO-3, 2 GPUs, bf16, batch 32"
    ).iloc[0]
    assert row["paper setup"] == "DeepSpeed ZeRO-3, 2 GPUs, bf16, batch 32"
    # Plain RMU's seeds ran on two setups: both are named.
    assert row["our setup"] == "ddp × 2, bf16, batch 4, NVIDIA H200 / none × 1, bf16, batch 4, NVIDIA H200"
    # A results file without setup columns leaves the cell empty.
    assert paper_vs_ours(values, [results / "p1" / "runs.csv"], results / "fidelity.md").iloc[0]["our setup"] == ""


def test_each_row_names_the_ledger_rows_it_depends_on_and_their_status(results):
    values = [
        {
            "table": "Table 1, NPO",
            "results": "p1/runs.csv",
            "where": {"method": "rmu"},
            "column": "hazard_acc",
            "paper": 0.3,
            "ledger": ["P1-07", "P1-26"],
        }
    ]
    row = paper_vs_ours(values, [results / "p1" / "runs.csv"], results / "fidelity.md").iloc[0]
    assert row["ledger"] == "P1-07 (same), P1-26 (different)"
    with pytest.raises(KeyError, match=r"reference.values.*P1-99"):
        paper_vs_ours([{**values[0], "ledger": ["P1-99"]}], [results / "p1" / "runs.csv"], results / "fidelity.md")


def test_every_paper_config_value_names_ledger_rows_that_exist():
    import yaml

    from robust_unlearning.report.reference import ledger_statuses

    from .conftest import ROOT

    statuses = ledger_statuses(ROOT / "docs" / "fidelity.md")
    for path in sorted((ROOT / "config" / "paper").glob("*.yaml")):
        for value in (yaml.safe_load(path.read_text()).get("reference") or {}).get("values", []):
            assert value.get("ledger"), f"{path.name}: {value['table']} names no ledger rows"
            assert set(value["ledger"]) <= statuses.keys(), f"{path.name}: {value['table']}"
