"""The QA metric registry (eval/qa_metrics/): every metric module is found, registers its computation and its
spec together, and importing the complete registry costs no torch."""

import subprocess
import sys

import pytest

from robust_unlearning.eval.qa_metrics.base import MetricSpec
from robust_unlearning.eval.specs import METRIC_SPECS, METRICS, P4_CANDIDATES
from robust_unlearning.registry import declared_names


def test_the_spec_registry_imports_no_torch():
    code = "import robust_unlearning.eval.specs, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_every_metric_a_module_declares_is_registered_with_its_spec():
    declared = declared_names("robust_unlearning.eval.qa_metrics", "register_metric")
    assert declared == METRICS.names() == sorted(METRIC_SPECS)


def test_p4_compares_registered_metrics():
    assert set(P4_CANDIDATES) <= METRIC_SPECS.keys()


@pytest.mark.parametrize("knows, needs", [("more", None), ("higher", "perturbation")])
def test_a_misspelt_spec_fails_where_it_is_written(knows, needs):
    with pytest.raises(ValueError, match="knows is 'higher' or 'lower'"):
        MetricSpec("label", knows, "aggregation", needs)
