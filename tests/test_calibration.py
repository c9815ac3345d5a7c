"""Calibration by model mixing (eval/calibration.py): exact endpoints, bisection within budget and tolerance."""

import copy

import pytest
import torch

from robust_unlearning.eval.calibration import ModelMixer, calibrate
from robust_unlearning.eval.metrics import evaluate_qa_split

from .helpers import TINY_QA, memorise, tiny_model, tiny_tokenizer

QA = TINY_QA
METRICS = ["extraction_strength", "exact_memorization", "probability", "rouge_l"]


@pytest.fixture(scope="module")
def target_and_unlearned():
    """A tiny model that memorised QA (the target) and a perturbed copy of it (stands in for an unlearned model)."""
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    memorise(model, tokenizer, QA)
    unlearned = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in unlearned.parameters():
            parameter.add_(0.5 * parameter.std() * torch.randn(parameter.shape, generator=generator))
    return model.eval(), unlearned.eval(), tokenizer


def test_endpoints_reproduce_the_two_models_exactly(target_and_unlearned):
    target, unlearned, tokenizer = target_and_unlearned
    mixer = ModelMixer(copy.deepcopy(target), target.state_dict(), unlearned.state_dict())
    for alpha, reference in ((0.0, target), (1.0, unlearned)):
        mixed = mixer.set_alpha(alpha)
        for (name, value), (_, expected) in zip(mixed.state_dict().items(), reference.state_dict().items()):
            assert torch.equal(value, expected), (alpha, name)
        assert (
            evaluate_qa_split(mixed, tokenizer, QA, METRICS)[0]
            == evaluate_qa_split(reference, tokenizer, QA, METRICS)[0]
        )
    assert (
        evaluate_qa_split(target, tokenizer, QA, ["extraction_strength"])[0]["extraction_strength"] > 0.5
    )  # the target memorised QA


def test_mixing_is_parameter_wise_linear(target_and_unlearned):
    target, unlearned, _ = target_and_unlearned
    mixed = ModelMixer.from_models(copy.deepcopy(target), unlearned).set_alpha(0.25)
    for name, value in mixed.state_dict().items():
        torch.testing.assert_close(value, 0.75 * target.state_dict()[name] + 0.25 * unlearned.state_dict()[name])
    with pytest.raises(ValueError, match=r"α must be in \[0, 1\]"):
        ModelMixer.from_models(copy.deepcopy(target), unlearned).set_alpha(1.5)


@pytest.mark.parametrize("tau", [0.4, 0.6, 0.9])
@pytest.mark.parametrize("shape", ["linear", "convex", "steep"])
def test_bisection_meets_tau_within_tolerance_and_budget(tau, shape):
    curves = {"linear": lambda a: 1 - a, "convex": lambda a: (1 - a) ** 3, "steep": lambda a: 1 / (1 + (a / 0.3) ** 8)}
    f = curves[shape]
    result = calibrate(f, tau, tolerance=1e-3, max_evaluations=12)
    assert result.n_evaluations <= 12
    assert f(result.alpha) >= tau * f(0)  # the threshold is met
    low, high = result.bracket
    assert high - low <= 1e-3 and f(high) < tau * f(0)  # and α* is the largest such α to within the tolerance
    assert low == result.alpha


def test_bisection_stops_at_the_evaluation_budget():
    calls = []
    result = calibrate(lambda a: calls.append(a) or 1 - a, 0.9, tolerance=1e-9, max_evaluations=5)
    assert result.n_evaluations == len(calls) == 5
    assert 1 - result.alpha >= 0.9


def test_an_unlearned_model_within_tau_is_taken_whole():
    result = calibrate(lambda a: 1 - 0.05 * a, 0.9)
    assert result.alpha == 1.0 and result.n_evaluations == 2


def test_a_shared_cache_is_not_evaluated_twice():
    calls, cache = [], {}
    f = lambda a: calls.append(a) or 1 - a  # noqa: E731
    calibrate(f, 0.9, tolerance=0.01, cache=cache)
    first = len(calls)
    again = calibrate(f, 0.9, tolerance=0.01, cache=cache)
    assert len(calls) == first and again.n_evaluations == 0


def test_bisection_on_tiny_models_meets_tau(target_and_unlearned):
    target, unlearned, tokenizer = target_and_unlearned
    mixer = ModelMixer.from_models(copy.deepcopy(target), unlearned)

    def retain_es(alpha):
        return evaluate_qa_split(mixer.set_alpha(alpha), tokenizer, QA, ["extraction_strength"])[0][
            "extraction_strength"
        ]

    reference = retain_es(0.0)
    assert retain_es(1.0) < 0.9 * reference  # the perturbation destroys enough for the bisection to have work
    result = calibrate(retain_es, 0.9, tolerance=0.01, max_evaluations=12)
    assert result.n_evaluations <= 12
    assert result.score >= 0.9 * reference == pytest.approx(result.threshold)
    assert retain_es(result.alpha) == result.score
    assert result.bracket[1] - result.bracket[0] <= 0.01
