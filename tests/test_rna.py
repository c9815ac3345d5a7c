"""RNA (defenses/rna.py): noise statistics, ν = 0 is the plain method, the hook goes away, only the retain branch is
perturbed, and on the frozen side of it: θ0's retain forward, never θ's (except with the NLL retain term)."""

import pytest
import torch

from robust_unlearning.data.examples import collate, pack_corpus
from robust_unlearning.defenses.rna import gaussian_representation_noise
from robust_unlearning.models.layers import layer_representation
from robust_unlearning.objectives.base import DEFENSES, METHODS, UnlearnContext
from robust_unlearning.train.unlearn import frozen_copy
from robust_unlearning.unlearning_registry import registered

from .helpers import SENTENCES, tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def setup():
    tokenizer = tiny_tokenizer()
    model = frozen_copy(tiny_model(tokenizer))
    batch = collate(pack_corpus(tokenizer, SENTENCES * 4, 16)[:8], tokenizer.pad_token_id)
    return tokenizer, model, batch


def _hooks(model):
    return [len(layer._forward_hooks) for layer in model.model.layers]


def test_noise_has_mean_zero_and_std_nu_fresh_every_pass(setup):
    _, model, batch = setup
    torch.manual_seed(0)
    with torch.no_grad():
        clean = layer_representation(model, batch, 1)
        with gaussian_representation_noise(model, layer=1, nu=0.3):
            draws = torch.stack([layer_representation(model, batch, 1) - clean for _ in range(20)])
    n = draws.numel()
    assert n > 50_000
    assert abs(draws.mean().item()) < 4 * 0.3 / n**0.5
    assert draws.std().item() == pytest.approx(0.3, rel=0.02)
    assert not torch.allclose(draws[0], draws[1])  # fresh noise each forward


def test_noise_at_layer_l_reaches_the_layers_above(setup):
    _, model, batch = setup
    with torch.no_grad():
        clean_below = layer_representation(model, batch, 0)
        clean_logits = model(input_ids=batch["input_ids"]).logits
        with gaussian_representation_noise(model, layer=0, nu=0.5):
            noisy_below = layer_representation(model, batch, 0)
            noisy_logits = model(input_ids=batch["input_ids"]).logits
    assert not torch.allclose(noisy_below, clean_below)
    assert not torch.allclose(noisy_logits, clean_logits)


def test_nu_zero_installs_nothing_and_changes_nothing(setup):
    _, model, batch = setup
    hooks = _hooks(model)
    with torch.no_grad():
        clean = model(input_ids=batch["input_ids"]).logits
        with gaussian_representation_noise(model, layer=1, nu=0.0):
            assert _hooks(model) == hooks
            assert torch.equal(model(input_ids=batch["input_ids"]).logits, clean)


def test_hook_is_removed_on_exit_even_after_an_error(setup):
    _, model, batch = setup
    hooks = _hooks(model)
    with torch.no_grad():
        clean = model(input_ids=batch["input_ids"]).logits
        with pytest.raises(RuntimeError), gaussian_representation_noise(model, layer=1, nu=1.0):
            assert _hooks(model) != hooks
            raise RuntimeError
        assert _hooks(model) == hooks
        assert torch.equal(model(input_ids=batch["input_ids"]).logits, clean)


def _context(hparams: dict, nu: float, setup):
    tokenizer, _, batch = setup
    registered()
    model = tiny_model(tokenizer, seed=1)
    ctx = UnlearnContext(model=model, reference=frozen_copy(model), hparams=hparams)
    DEFENSES.get("rna").configure(ctx, {"layer": 1, "nu": nu})
    retain = collate(pack_corpus(tokenizer, list(reversed(SENTENCES)) * 4, 16)[:8], tokenizer.pad_token_id)
    return ctx, {"forget": batch, "retain": retain}


def _losses(method: str, hparams: dict, nu: float, setup) -> dict[str, float]:
    ctx, batches = _context(hparams, nu, setup)
    torch.manual_seed(0)
    _, logs = METHODS.get(method).loss(ctx, batches)
    assert _hooks(ctx.model) == _hooks(ctx.reference) == [0, 0]  # nothing left behind by the step
    return logs


PO_KL = {"beta": 0.1, "gamma": 0.0, "retain_term": "kl", "retain_weight": 1.0}


@pytest.mark.parametrize(
    "method, hparams",
    [
        ("rmu", {"layer": 1, "n_trained_layers": 2, "steering_coefficient": 5.0, "alpha": 1.0}),
        ("rsv", {"layer": 1, "n_trained_layers": 2, "steering_coefficient": 5.0, "alpha": 1.0}),
        ("npo", PO_KL),
        ("npo", {**PO_KL, "retain_term": "mse"}),
        ("simnpo", PO_KL),
        ("npo", {**PO_KL, "retain_term": "nll"}),
    ],
)
def test_only_the_retain_branch_is_perturbed(method, hparams, setup):
    plain = _losses(method, hparams, 0.0, setup)
    noisy = _losses(method, hparams, 2.0, setup)
    # The forget forward of the same step is untouched (NPO's θ0 included); the retain term sees the noise.
    assert noisy["forget_loss"] == plain["forget_loss"]
    assert noisy["retain_loss"] != pytest.approx(plain["retain_loss"], rel=1e-3)
    if hparams.get("retain_term") != "nll":
        assert plain["retain_loss"] == pytest.approx(
            0.0, abs=1e-6
        )  # θ = θ0 before the first step: only noise moves θ0's side
    if method in ("rmu", "rsv"):
        width = setup[1].config.hidden_size
        assert noisy["retain_loss"] == pytest.approx(width * 2.0**2, rel=0.1)  # mean_t ||ε_t||² ≈ d ν²


def _noise_seen(method: str, hparams: dict, setup) -> dict[str, list[bool]]:
    """For θ and θ0, in call order: whether RNA's hook sat on block ℓ during each full forward of one step."""
    ctx, batches = _context(hparams, 2.0, setup)
    seen = {"model": [], "reference": []}
    for name, module in (("model", ctx.model), ("reference", ctx.reference)):
        block = module.model.layers[1]
        hooks = len(block._forward_hooks)
        module.register_forward_pre_hook(
            lambda _module, _args, name=name, block=block, hooks=hooks: seen[name].append(
                len(block._forward_hooks) > hooks
            )
        )
    METHODS.get(method).loss(ctx, batches)
    return seen


@pytest.mark.parametrize(
    "method, retain_term, expected",
    [
        # The authors': θ's forwards and NPO's forget-side θ0 forward clean, θ0's retain forward noisy.
        ("npo", "kl", {"model": [False, False], "reference": [False, True]}),
        ("npo", "mse", {"model": [False, False], "reference": [False, True]}),
        ("simnpo", "kl", {"model": [False, False], "reference": [True]}),
        # NLL has no frozen side: the noise goes on θ's own retain forward (our reading).
        ("npo", "nll", {"model": [False, True], "reference": [False]}),
        ("simnpo", "nll", {"model": [False, True], "reference": []}),
    ],
)
def test_po_noise_goes_on_the_frozen_reference_of_the_retain_term(method, retain_term, expected, setup):
    assert _noise_seen(method, {**PO_KL, "retain_term": retain_term}, setup) == expected
