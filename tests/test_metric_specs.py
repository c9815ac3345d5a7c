"""Metric metadata (eval/specs.py) against the registered metrics and against what the metrics do."""

import subprocess
import sys

import pytest

from robust_unlearning.eval.metrics import METRICS, evaluate_qa_split
from robust_unlearning.eval.specs import METRIC_SPECS

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


def test_a_report_labels_metrics_without_importing_torch():
    code = "import sys, robust_unlearning.report.p4; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
