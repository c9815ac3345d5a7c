"""Metric metadata (eval/specs.py) against the registered metrics and against what the metrics do."""

import subprocess
import sys

import pytest

from robust_unlearning.eval.metrics import METRICS, evaluate_qa_split
from robust_unlearning.eval.specs import METRIC_SPECS

from .conftest import ROOT
from .helpers import TINY_QA, TINY_QA_PERTURBED, memorise, tiny_model, tiny_tokenizer


def test_every_registered_metric_has_a_spec_and_every_spec_a_metric():
    assert sorted(METRIC_SPECS) == METRICS.names()


@pytest.fixture(scope="module")
def knowing_and_fresh():
    tokenizer = tiny_tokenizer()
    return memorise(tiny_model(tokenizer), tokenizer, TINY_QA, steps=120), tiny_model(tokenizer, seed=1), tokenizer


def test_each_metric_moves_the_way_its_spec_says_for_a_model_that_knows_the_answers(knowing_and_fresh):
    knowing, fresh, tokenizer = knowing_and_fresh
    names = METRICS.names()
    knows = evaluate_qa_split(knowing, tokenizer, TINY_QA_PERTURBED, names, batch_size=4, max_new_tokens=16)[0]
    guesses = evaluate_qa_split(fresh, tokenizer, TINY_QA_PERTURBED, names, batch_size=4, max_new_tokens=16)[0]
    for name, spec in METRIC_SPECS.items():
        assert (knows[name] > guesses[name]) == (spec.knows == "higher"), (name, knows[name], guesses[name])


def test_reports_label_metrics_and_compare_models_without_importing_torch():
    """A report job (tables, figures, verdicts) never loads a model: importing torch and transformers would cost
    each of them seconds, most of its run."""
    reports = sorted(p.stem for p in (ROOT / "src/robust_unlearning/report").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys, robust_unlearning.jobs, robust_unlearning.provenance, robust_unlearning.eval.comparisons; "
        + "; ".join(f"import robust_unlearning.report.{name}" for name in reports)
        + "; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(reports) >= 10 and run.stdout.strip() == "[]", run.stdout
