"""The QA metric registry (eval/qa_metrics/): every metric module is found, registers its computation and its
spec together, and importing the complete registry costs no torch."""

import subprocess
import sys

import pytest

from robust_unlearning.config import ConfigError, validate_config
from robust_unlearning.eval.qa_metrics.base import MetricSpec
from robust_unlearning.eval.specs import METRIC_SPECS, METRICS
from robust_unlearning.registry import declared_names


def test_the_spec_registry_imports_no_torch():
    code = "import robust_unlearning.eval.specs, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_every_metric_a_module_declares_is_registered_with_its_spec():
    declared = list(declared_names("robust_unlearning.eval.qa_metrics", "register_metric"))
    assert declared == METRICS.names() == sorted(METRIC_SPECS)


def test_p4_metrics_are_registered_and_hold_es(default_config):
    """The config picks P4's compared metrics by registered name; ES, the claim's subject, must be among them."""
    config = validate_config(default_config)
    assert config["p4"]["metrics"] == [
        "extraction_strength",
        "exact_memorization",
        "probability",
        "rouge_l",
        "truth_ratio",
    ]
    default_config["p4"]["metrics"] = ["rouge_l", "rouge_m"]
    with pytest.raises(ConfigError) as error:
        validate_config(default_config)
    assert "'p4.metrics.1': no QA metric 'rouge_m' is registered" in str(error.value)
    assert "'p4.metrics': it must hold extraction_strength" in str(error.value)


@pytest.mark.parametrize("knows, needs", [("more", None), ("higher", "perturbation")])
def test_a_misspelt_spec_fails_where_it_is_written(knows, needs):
    with pytest.raises(ValueError, match="knows is 'higher' or 'lower'"):
        MetricSpec("label", knows, "aggregation", needs)
