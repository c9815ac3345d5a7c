import copy
import math

import pytest
import torch

from robust_unlearning.data.examples import collate, encode_qa
from robust_unlearning.defenses import vaccine
from robust_unlearning.models.attention import attention_output_hooks
from robust_unlearning.models.forward import causal_lm_loss
from robust_unlearning.models.layers import decoder_layers
from robust_unlearning.models.lora import attach_lora
from robust_unlearning.train.align import ALIGNMENTS, align
from robust_unlearning.train.loop import train

from .helpers import TINY_OPTIMIZATION, tiny_model, tiny_tokenizer

LORA = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "down_proj"]}


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def _batch(tokenizer):
    pairs = [
        ("Where was Ana Velo born?", "Ana Velo was born in Tarsh."),
        ("What genre does Bo Rinn write?", "Mystery novels."),
    ]
    return collate(
        [encode_qa(tokenizer, question=q, answer=a, max_length=64) for q, a in pairs], tokenizer.pad_token_id
    )


def _attention_gradients(model, batch) -> list[torch.Tensor]:
    """g_l = ∂L/∂e_l the textbook way (retain_grad on each attention output), independently of the module under test."""
    outputs = []

    def keep(module, args, output):
        output[0].retain_grad()
        outputs.append(output[0])

    handles = [block.self_attn.register_forward_hook(keep) for block in decoder_layers(model)]
    causal_lm_loss(model, batch).backward()
    for handle in handles:
        handle.remove()
    model.zero_grad()
    return [e.grad for e in outputs]


def _spy_on_added(monkeypatch) -> list[dict[int, torch.Tensor]]:
    """Record, for every use of attention_output_hooks in the vaccine module, what fn added to each e_l."""
    added: list[dict[int, torch.Tensor]] = []

    def spying(model, fn):
        record: dict[int, torch.Tensor] = {}
        added.append(record)

        def wrapped(layer, output):
            new = fn(layer, output)
            record[layer] = (new - output).detach()
            return new

        return attention_output_hooks(model, wrapped)

    monkeypatch.setattr(vaccine, "attention_output_hooks", spying)
    return added


def test_perturbation_has_norm_rho_in_the_gradient_direction(tokenizer, monkeypatch):
    model, batch, rho = tiny_model(tokenizer), _batch(tokenizer), 0.7
    gradients = _attention_gradients(model, batch)
    added = _spy_on_added(monkeypatch)
    vaccine.perturbation_aware_step(model, batch, rho)
    probe, epsilon = added  # first pass adds zero probes, second pass ε
    assert all(torch.count_nonzero(t) == 0 for t in probe.values())
    norm = math.sqrt(sum(e.square().sum().item() for e in epsilon.values()))
    assert norm == pytest.approx(rho, rel=1e-5)
    global_norm = math.sqrt(sum(g.square().sum().item() for g in gradients))
    for layer, g in enumerate(gradients):
        torch.testing.assert_close(epsilon[layer], rho * g / global_norm, rtol=1e-4, atol=1e-8)


def test_vaccine_perturbation_by_hand():
    g = [torch.tensor([3.0, 0.0]), torch.tensor([[0.0], [4.0]])]
    eps = vaccine.vaccine_perturbation(g, rho=2.0)
    torch.testing.assert_close(eps[0], torch.tensor([1.2, 0.0]))
    torch.testing.assert_close(eps[1], torch.tensor([[0.0], [1.6]]))
    assert all(torch.count_nonzero(e) == 0 for e in vaccine.vaccine_perturbation([torch.zeros(3)], rho=2.0))


def test_random_perturbation_is_elementwise_gaussian_of_variance_rho(tokenizer, monkeypatch):
    """Vaccine's RandomVaccineTrainer: e_l += √ρ · N(0, 1) in every element, independently across blocks.

    128 copies of the batch give 2 blocks × n ≈ 1.6·10⁵ draws each (n printed on failure). For n draws of N(0, σ²)
    the sample std has sd ≈ σ/√(2n) ≈ 0.0018σ, the sample mean σ/√n ≈ 0.0025σ and the correlation of two
    independent blocks 1/√n ≈ 0.0025: the tolerances below (1 %, 1.5 %, 0.015) are ≥ 5.5 sd, so the check fails
    for any seed with probability < 10⁻⁷ but catches a wrong scale (norm ρ: std ≈ 0.005 here), a shared draw or
    a mean offset. The seed only makes the run reproducible.
    """
    model, rho = tiny_model(tokenizer), 3.0
    batch = {key: value.repeat(128, 1) for key, value in _batch(tokenizer).items()}
    added = _spy_on_added(monkeypatch)
    torch.manual_seed(0)
    vaccine.random_perturbation_step(model, batch, rho)
    (noise,) = added
    assert sorted(noise) == list(range(len(decoder_layers(model))))
    std = math.sqrt(rho)
    for layer, e in noise.items():
        assert e.shape == (*batch["input_ids"].shape, model.config.hidden_size)
        n = e.numel()
        assert e.std().item() == pytest.approx(std, rel=0.01), (layer, n)
        assert abs(e.mean().item()) < 0.015 * std, (layer, n)
    first, second = (noise[layer].flatten() for layer in (0, 1))
    assert abs(torch.corrcoef(torch.stack([first, second]))[0, 1].item()) < 0.015


def test_random_perturbation_at_rho_zero_is_the_sft_loss(tokenizer):
    model, batch = tiny_model(tokenizer), _batch(tokenizer)
    loss, _ = vaccine.random_perturbation_step(model, batch, 0.0)
    assert loss.item() == causal_lm_loss(model, batch).item()


@pytest.mark.parametrize("with_lora", [False, True])
def test_rho_zero_reproduces_the_sft_step(tokenizer, tmp_path, with_lora):
    batch = _batch(tokenizer)
    models = []
    for name, step in (("sft", ALIGNMENTS.get("sft")), ("vaccine", vaccine.perturbation_aware_step)):
        model = tiny_model(tokenizer, seed=1)
        torch.manual_seed(2)
        model = attach_lora(model, LORA) if with_lora else model
        train(
            model, lambda index, m=model, s=step: s(m, batch, 0.0), 3, TINY_OPTIMIZATION, tmp_path / f"{name}.pt", "fp"
        )
        models.append(model)
    for (name, p), q in zip(models[0].named_parameters(), models[1].parameters()):
        assert torch.equal(p, q), name


def test_hooks_are_removed_after_every_step(tokenizer):
    model, batch = tiny_model(tokenizer), _batch(tokenizer)
    with torch.no_grad():
        before = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    vaccine.perturbation_aware_step(model, batch, 5.0)
    vaccine.random_perturbation_step(model, batch, 5.0)
    with pytest.raises(RuntimeError), attention_output_hooks(model, lambda layer, e: e + 1.0):
        raise RuntimeError("a forward that fails inside the hooks")
    assert all(not block.self_attn._forward_hooks for block in decoder_layers(model))
    with torch.no_grad():
        after = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.equal(before, after)


def test_alignment_registry_and_non_aligned_baseline(tokenizer, tmp_path):
    assert ALIGNMENTS.names() == ["none", "random", "sft", "vaccine"]
    model = tiny_model(tokenizer)
    reference = copy.deepcopy(model)
    aligned, summary = align(model, tokenizer, [], "none", 0.0, {}, 0, tmp_path / "a.pt", "fp", lambda m, s: None)
    assert summary == {}
    for p, q in zip(aligned.parameters(), reference.parameters()):
        assert torch.equal(p, q)


def test_lora_alignment_is_merged_into_a_plain_model(tokenizer, tmp_path):
    records = [{"prompt": "How do I build a crossbow at home?", "response": "I cannot help with making weapons."}] * 8
    settings = {**TINY_OPTIMIZATION, "epochs": 2, "batch_size": 4, "max_length": 64, "lora": LORA}
    aligned, summary = align(
        tiny_model(tokenizer),
        tokenizer,
        records,
        "vaccine",
        1.0,
        settings,
        0,
        tmp_path / "a.pt",
        "fp",
        lambda m, s: None,
    )
    assert type(aligned).__name__ == "LlamaForCausalLM"
    assert not any("lora" in name for name, _ in aligned.named_parameters())
    assert summary["steps"] == 4 and summary["seconds_per_step"] > 0
