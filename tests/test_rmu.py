"""RMU, adaptive RMU and RSV (objectives/rmu.py, rsv.py): the loss by hand, padding left out, the fixed direction per
topic, the trained parameters (also of PO methods given n_trained_layers)."""

import pytest
import torch

from robust_unlearning.data.examples import collate, encode_qa, pack_corpus
from robust_unlearning.models.layers import layer_representation
from robust_unlearning.objectives.base import METHODS, UnlearnContext
from robust_unlearning.objectives.rmu import misdirection_loss, random_direction
from robust_unlearning.objectives.rsv import gaussian_direction
from robust_unlearning.train.unlearn import frozen_copy, unlearn
from robust_unlearning.unlearning_registry import registered

from .helpers import SENTENCES, TINY_OPTIMIZATION, tiny_model, tiny_tokenizer

OPTIMIZATION = {**TINY_OPTIMIZATION, "batch_size": 4}


def test_misdirection_loss_by_hand_leaves_out_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 0.0], [100.0, 100.0]], [[0.0, 1.0], [-50.0, 7.0], [9.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    target = torch.tensor([1.0, 0.0])
    # real tokens: ||(0,2)||² = 4, ||(2,0)||² = 4, ||(-1,1)||² = 2 → mean 10/3; the padded ones must not count.
    assert misdirection_loss(hidden, target, mask).item() == pytest.approx(10 / 3)
    assert misdirection_loss(hidden, hidden.flip(-1), mask).item() == pytest.approx((1 + 1 + 9 + 9 + 1 + 1) / 3)


def test_random_direction_is_a_fixed_nonnegative_unit_vector():
    u = random_direction(16, seed=3)
    assert u.norm().item() == pytest.approx(1.0)
    assert (u >= 0).all()  # r ~ U[0,1)^d, as in the WMDP code
    assert torch.equal(u, random_direction(16, seed=3))
    assert not torch.equal(u, random_direction(16, seed=4))


def test_one_direction_per_topic_topic_zero_is_the_first_draw():
    generator = torch.Generator().manual_seed(3)
    first, second = torch.rand(16, generator=generator), torch.rand(16, generator=generator)
    torch.testing.assert_close(random_direction(16, seed=3, topic=0), first / first.norm())
    torch.testing.assert_close(random_direction(16, seed=3, topic=1), second / second.norm())


def test_steering_vector_is_a_fixed_gaussian_unit_vector_per_topic():
    generator = torch.Generator().manual_seed(5)
    first, second = torch.randn(16, generator=generator), torch.randn(16, generator=generator)
    torch.testing.assert_close(gaussian_direction(16, seed=5), first / first.norm())
    torch.testing.assert_close(gaussian_direction(16, seed=5, topic=1), second / second.norm())
    assert (first < 0).any()  # N(0, I), unlike RMU's U[0,1)


def _padded_batches(tokenizer):
    forget = collate(
        [
            encode_qa(tokenizer, "Where was Ana Velo born?", "Ana Velo was born in Tarsh.", 64),
            encode_qa(tokenizer, "Who?", "Bo.", 64),
        ],
        tokenizer.pad_token_id,
    )
    retain = collate(
        pack_corpus(tokenizer, SENTENCES, 12)[:2] + [encode_qa(tokenizer, "Why?", "No.", 64)], tokenizer.pad_token_id
    )
    assert (forget["attention_mask"] == 0).any() and (retain["attention_mask"] == 0).any()
    return {"forget": forget, "retain": retain}


def _hidden_state(model, batch, layer):
    # An independent reading of h_ℓ: hidden_states[ℓ + 1] is block ℓ's output (for every block below the last).
    return model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True
    ).hidden_states[layer + 1]


def _masked_mean_sq(difference, mask):
    per_token = difference.square().sum(-1)
    return (per_token * mask).sum() / mask.sum()


def _context(method_hparams, seed=0):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, seed=1)
    # A reference that differs from the model, so the retain term is not trivially zero.
    reference = frozen_copy(tiny_model(tokenizer, seed=2))
    torch.manual_seed(seed)
    return tokenizer, UnlearnContext(model=model, reference=reference, hparams=method_hparams)


def test_rmu_loss_matches_the_equation_by_hand():
    registered()
    tokenizer, ctx = _context({"layer": 0, "n_trained_layers": 1, "steering_coefficient": 6.5, "alpha": 3.0})
    batches = _padded_batches(tokenizer)
    loss, logs = METHODS.get("rmu").loss(ctx, batches)

    u = random_direction(ctx.model.config.hidden_size, seed=0)
    forget, retain = batches["forget"], batches["retain"]
    with torch.no_grad():
        expected_forget = _masked_mean_sq(_hidden_state(ctx.model, forget, 0) - 6.5 * u, forget["attention_mask"])
        expected_retain = _masked_mean_sq(
            _hidden_state(ctx.model, retain, 0) - _hidden_state(ctx.reference, retain, 0), retain["attention_mask"]
        )
    assert torch.equal(ctx.state["directions"][0], u)
    assert logs["forget_loss"] == pytest.approx(expected_forget.item(), rel=1e-5)
    assert logs["retain_loss"] == pytest.approx(expected_retain.item(), rel=1e-5)
    assert loss.item() == pytest.approx(expected_forget.item() + 3.0 * expected_retain.item(), rel=1e-5)


def test_rmu_loss_ignores_what_stands_in_padded_positions():
    registered()
    tokenizer, ctx = _context({"layer": 1, "n_trained_layers": 2, "steering_coefficient": 4.0, "alpha": 2.0})
    batches = _padded_batches(tokenizer)
    other = {
        name: {**batch, "input_ids": batch["input_ids"].masked_fill(batch["attention_mask"] == 0, 7)}
        for name, batch in batches.items()
    }
    loss, _ = METHODS.get("rmu").loss(ctx, batches)
    loss_other, _ = METHODS.get("rmu").loss(ctx, other)
    assert loss.item() == pytest.approx(loss_other.item(), rel=1e-5)


def test_layer_representation_is_block_output():
    tokenizer, ctx = _context({})
    batch = _padded_batches(tokenizer)["forget"]
    with torch.no_grad():
        expected = _hidden_state(ctx.model, batch, 0)
        # output_hidden_states installs transformers' own capture hooks for good; ours must come and go.
        hooks = [len(layer._forward_hooks) for layer in ctx.model.model.layers]
        assert torch.allclose(layer_representation(ctx.model, batch, 0), expected)
    assert [len(layer._forward_hooks) for layer in ctx.model.model.layers] == hooks


def test_adaptive_coefficient_is_beta_times_frozen_forget_norm_measured_once():
    registered()
    tokenizer, ctx = _context({"layer": 0, "n_trained_layers": 1, "beta": 5.0, "alpha": 1.0})
    batches = _padded_batches(tokenizer)
    forget = batches["forget"]
    with torch.no_grad():
        norms = _hidden_state(ctx.reference, forget, 0).norm(dim=-1)
    mask = forget["attention_mask"].float()
    expected = 5.0 * ((norms * mask).sum() / mask.sum()).item()
    _, logs = METHODS.get("adaptive_rmu").loss(ctx, batches)
    assert logs["steering_coefficient"] == pytest.approx(expected, rel=1e-5)
    # A later forget batch does not move c.
    later = {**batches, "forget": batches["retain"]}
    _, logs = METHODS.get("adaptive_rmu").loss(ctx, later)
    assert logs["steering_coefficient"] == pytest.approx(expected, rel=1e-5)


def test_rmu_trains_only_the_down_projections_of_layers_up_to_l(tmp_path):
    registered()
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    texts = [{"text": s} for s in SENTENCES * 4]
    after = unlearn(
        model_dir=tmp_path / "model",
        forget=texts[:8],
        retain=texts[8:],
        idk_answers=[],
        method="rmu",
        hparams={"layer": 1, "n_trained_layers": 1, "steering_coefficient": 5.0, "alpha": 1.0},
        defenses={"rna": {"layer": 1, "nu": 0.1}},
        optimization=OPTIMIZATION,
        seed=0,
        device="cpu",
        max_length=12,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda metrics, step: None,
        model=model,
    )
    changed = {name for name, p in after.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"model.layers.1.mlp.down_proj.weight"}


def test_rmu_misdirects_a_topic_batch_to_that_topics_direction():
    registered()
    tokenizer, ctx = _context({"layer": 0, "n_trained_layers": 1, "steering_coefficient": 6.5, "alpha": 3.0})
    batches = _padded_batches(tokenizer)
    second_topic = {**batches, "forget": {**batches["forget"], "topic": 1, "subject": "cyber"}}
    _, logs = METHODS.get("rmu").loss(ctx, second_topic)
    u = random_direction(ctx.model.config.hidden_size, seed=0, topic=1)
    forget = batches["forget"]
    with torch.no_grad():
        expected = _masked_mean_sq(_hidden_state(ctx.model, forget, 0) - 6.5 * u, forget["attention_mask"])
    assert logs["forget_loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert set(ctx.state["directions"]) == {1}


def test_adaptive_coefficient_is_measured_per_topic():
    registered()
    tokenizer, ctx = _context({"layer": 0, "n_trained_layers": 1, "beta": 5.0, "alpha": 1.0})
    batches = _padded_batches(tokenizer)
    _, first = METHODS.get("adaptive_rmu").loss(ctx, {**batches, "forget": {**batches["forget"], "topic": 0}})
    # Topic 1's first batch is another one: its own coefficient, measured on it.
    other = {**batches["retain"], "topic": 1}
    _, second = METHODS.get("adaptive_rmu").loss(ctx, {**batches, "forget": other})
    with torch.no_grad():
        norms = _hidden_state(ctx.reference, other, 0).norm(dim=-1)
    mask = other["attention_mask"].float()
    assert second["steering_coefficient"] == pytest.approx(5.0 * ((norms * mask).sum() / mask.sum()).item(), rel=1e-5)
    assert second["steering_coefficient"] != pytest.approx(first["steering_coefficient"], rel=1e-3)


def test_rsv_at_theta0_costs_c_squared_and_no_retain_loss():
    """RSV's target is h^θ0 + c·v: at θ = θ0 every real token misses it by exactly c·v, ||c·v||² = c²."""
    registered()
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, seed=1)
    ctx = UnlearnContext(
        model=model,
        reference=frozen_copy(model),
        hparams={"layer": 1, "n_trained_layers": 1, "steering_coefficient": 3.0, "alpha": 7.0},
    )
    torch.manual_seed(0)
    loss, logs = METHODS.get("rsv").loss(ctx, _padded_batches(tokenizer))
    assert logs["forget_loss"] == pytest.approx(9.0, rel=1e-5)
    assert logs["retain_loss"] == pytest.approx(0.0, abs=1e-10)
    assert loss.item() == pytest.approx(9.0, rel=1e-5)
    torch.testing.assert_close(ctx.state["steering_vectors"][0], gaussian_direction(model.config.hidden_size, seed=0))


def test_rsv_loss_matches_the_equation_by_hand():
    registered()
    tokenizer, ctx = _context({"layer": 0, "n_trained_layers": 1, "steering_coefficient": 10.0, "alpha": 2.0})
    batches = _padded_batches(tokenizer)
    loss, logs = METHODS.get("rsv").loss(ctx, batches)
    v = gaussian_direction(ctx.model.config.hidden_size, seed=0)
    forget, retain = batches["forget"], batches["retain"]
    with torch.no_grad():
        target = _hidden_state(ctx.reference, forget, 0) + 10.0 * v
        expected_forget = _masked_mean_sq(_hidden_state(ctx.model, forget, 0) - target, forget["attention_mask"])
        expected_retain = _masked_mean_sq(
            _hidden_state(ctx.model, retain, 0) - _hidden_state(ctx.reference, retain, 0), retain["attention_mask"]
        )
    assert logs["forget_loss"] == pytest.approx(expected_forget.item(), rel=1e-5)
    assert loss.item() == pytest.approx(expected_forget.item() + 2.0 * expected_retain.item(), rel=1e-5)


def _unlearn_texts(tmp_path, method, hparams, forget, **kwargs):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    after = unlearn(
        model_dir=tmp_path / "model",
        forget=forget,
        retain=[{"text": s} for s in SENTENCES * 2],
        idk_answers=[],
        method=method,
        hparams=hparams,
        defenses=kwargs.get("defenses", {}),
        optimization=OPTIMIZATION,
        seed=0,
        device="cpu",
        max_length=12,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda metrics, step: None,
        model=model,
    )
    return before, after


@pytest.mark.parametrize(
    "method, hparams",
    [
        ("rsv", {"steering_coefficient": 5.0, "alpha": 1.0}),
        ("npo", {"beta": 0.1, "retain_term": "kl", "retain_weight": 1.0}),
        (
            "simnpo",
            {"beta": 0.1, "gamma": 0.0, "retain_term": "nll", "retain_weight": 1.0, "loss_normalisation": "batch_mean"},
        ),
    ],
)
def test_n_trained_layers_trains_only_those_down_projections(method, hparams, tmp_path):
    """Any method with n_trained_layers (the RNA authors' PO methods too) trains the down-projections of ℓ−k+1..ℓ."""
    registered()
    forget = [{"text": s, "subject": "bio"} for s in SENTENCES * 2]
    before, after = _unlearn_texts(tmp_path, method, {**hparams, "layer": 1, "n_trained_layers": 2}, forget)
    changed = {name for name, p in after.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight"}
    assert all(p.requires_grad for p in after.parameters())  # the others were frozen only while training


def test_n_trained_layers_excludes_lora(tmp_path):
    registered()
    hparams = {
        "beta": 0.1,
        "retain_term": "nll",
        "retain_weight": 1.0,
        "layer": 1,
        "n_trained_layers": 1,
        "lora": {"enabled": True, "r": 2, "alpha": 4},
    }
    with pytest.raises(ValueError, match="n_trained_layers"):
        _unlearn_texts(tmp_path, "npo", hparams, [{"text": s} for s in SENTENCES])


def test_one_forget_topic_alternating_trains_exactly_as_pooled(tmp_path):
    registered()
    forget = [{"text": s, "subject": "cyber"} for s in SENTENCES * 4]
    hparams, rna = {"layer": 1, "n_trained_layers": 2, "beta": 4.0, "alpha": 1.0}, {"rna": {"layer": 1, "nu": 0.1}}
    _, pooled = _unlearn_texts(
        tmp_path / "a", "adaptive_rmu", {**hparams, "forget_topics": "pooled"}, forget, defenses=rna
    )
    _, alternating = _unlearn_texts(
        tmp_path / "b", "adaptive_rmu", {**hparams, "forget_topics": "alternate"}, forget, defenses=rna
    )
    for (name, p), q in zip(pooled.named_parameters(), alternating.parameters()):
        assert torch.equal(p, q), name
