"""Every unlearning loss against hand-computed values on tiny tensors, and a short run of every method."""

import copy
import math

import pytest
import torch

from robust_unlearning.data.examples import IGNORE_INDEX, collate, encode_qa, pack_corpus
from robust_unlearning.models.factory import save_atomically
from robust_unlearning.objectives.base import METHODS, STREAMS, StreamSources, UnlearnContext
from robust_unlearning.objectives.losses import (
    dpo_loss,
    gradient_ascent_loss,
    kl_to_reference,
    logprob_mse,
    mean_nll,
    npo_loss,
    sequence_logprob,
    simnpo_loss,
)
from robust_unlearning.objectives.retain import retain_loss
from robust_unlearning.objectives.streams import stream_batcher
from robust_unlearning.train.unlearn import unlearn
from robust_unlearning.unlearning_registry import registered

from .helpers import SENTENCES, FixedLogits, tiny_model, tiny_tokenizer

OPTIMIZATION = {
    "epochs": 4,
    "batch_size": 2,
    "learning_rate": 5e-3,
    "weight_decay": 0.0,
    "warmup_ratio": 0.0,
    "grad_clip": 1.0,
    "log_every": 1,
    "checkpoint_every": 1000,
}
HPARAMS = {"beta": 0.1, "gamma": 0.0, "retain_term": "nll", "retain_weight": 1.0}


def test_sequence_logprob_sums_only_labelled_tokens():
    logits = torch.zeros(1, 4, 3)  # uniform: every token has log-prob log(1/3)
    labels = torch.tensor([[IGNORE_INDEX, 1, 2, IGNORE_INDEX]])  # positions 1 and 2 are scored
    logp, length = sequence_logprob(logits, labels)
    assert logp.item() == pytest.approx(2 * math.log(1 / 3))
    assert length.item() == 2
    assert mean_nll(logits, labels).item() == pytest.approx(math.log(3))


def test_sequence_logprob_reads_the_next_token_distribution():
    # log_softmax([0, ln 3]) = [ln 1/4, ln 3/4]; position 0 predicts token 1 (label at position 1).
    logits = torch.tensor([[[0.0, math.log(3)], [0.0, 0.0]]])
    logp, _ = sequence_logprob(logits, torch.tensor([[IGNORE_INDEX, 1]]))
    assert logp.item() == pytest.approx(math.log(3 / 4))


def test_gradient_ascent_loss_raises_the_nll():
    logits = torch.zeros(1, 3, 3, requires_grad=True)
    labels = torch.tensor([[IGNORE_INDEX, 0, 1]])
    nll = mean_nll(logits, labels)
    assert gradient_ascent_loss(nll).item() == pytest.approx(-math.log(3))
    gradient_ascent_loss(nll).backward()
    with torch.no_grad():
        stepped = logits - 0.5 * logits.grad
    assert mean_nll(stepped, labels) > nll


def test_npo_loss_by_hand():
    # β = 0.1, logp − logp_ref = [1, −1]: −(2/β)·½·(log σ(−0.1) + log σ(0.1)) = 13.88793...
    loss = npo_loss(torch.tensor([-2.0, -4.0]), torch.tensor([-3.0, -3.0]), beta=0.1)
    expected = -20 * 0.5 * (-math.log1p(math.exp(0.1)) - math.log1p(math.exp(-0.1)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert loss.item() == pytest.approx(13.88793, abs=1e-4)
    # At θ = θ0 the loss is (2/β)·ln 2, whatever the log-probs.
    assert npo_loss(torch.tensor([-7.0]), torch.tensor([-7.0]), beta=0.1).item() == pytest.approx(20 * math.log(2))


def test_simnpo_loss_by_hand():
    # −(β/|y|)·logp − γ with β=1, γ=0.5: [−(1/3)(−6) − 0.5, −(1/2)(−2) − 0.5] = [1.5, 0.5]
    loss = simnpo_loss(torch.tensor([-6.0, -2.0]), torch.tensor([3, 2]), beta=1.0, gamma=0.5)
    expected = -2 * 0.5 * (-math.log1p(math.exp(-1.5)) - math.log1p(math.exp(-0.5)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert loss.item() == pytest.approx(0.67549, abs=1e-4)


def test_dpo_loss_by_hand():
    # margin = (−1 − −1.5) − (−2 − −1.5) = 1; −(2/0.1)·log σ(0.1·1) = 12.88793...
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]), torch.tensor([-1.5]), beta=0.1)
    assert loss.item() == pytest.approx(20 * math.log1p(math.exp(-0.1)), rel=1e-6)
    assert loss.item() == pytest.approx(12.88793, abs=1e-4)


def test_kl_to_reference_by_hand_ignores_padding():
    # p_ref = (½, ½), p_θ = (¼, ¾): KL = ½ ln 2 + ½ ln(2/3) = ½ ln(4/3); the padded position would add more.
    logits = torch.tensor([[[math.log(0.25), math.log(0.75)], [10.0, -10.0]]])
    logits_ref = torch.zeros(1, 2, 2)
    kl = kl_to_reference(logits, logits_ref, torch.tensor([[1, 0]]))
    assert kl.item() == pytest.approx(0.5 * math.log(4 / 3), rel=1e-6)
    assert kl_to_reference(logits_ref, logits_ref, torch.tensor([[1, 1]])).item() == pytest.approx(0.0)


def test_logprob_mse_by_hand_ignores_padding():
    # log p_θ = (ln ¼, ln ¾), log p_ref = (ln ½, ln ½): ((ln ½)² + (ln 3/2)²) / 2 at the real position.
    logits = torch.tensor([[[math.log(0.25), math.log(0.75)], [10.0, -10.0]]])
    mse = logprob_mse(logits, torch.zeros(1, 2, 2), torch.tensor([[1, 0]]))
    assert mse.item() == pytest.approx((math.log(0.5) ** 2 + math.log(1.5) ** 2) / 2, rel=1e-6)


# Vocabulary {0, 1}, two sequences of three tokens, labels = inputs (a packed chunk): positions 1 and 2 are scored.
KNOWN_BATCH = {"input_ids": torch.tensor([[1, 1, 1], [0, 0, 0]]), "attention_mask": torch.ones(2, 3, dtype=torch.long)}
KNOWN_BATCH["labels"] = KNOWN_BATCH["input_ids"]
UNIFORM = torch.zeros(2, 3, 2)  # p(0) = p(1) = ½: every token's NLL is ln 2
SKEWED = torch.tensor([0.0, math.log(3)]).expand(2, 3, 2).clone()  # p(1) = ¾, p(0) = ¼


def _po_forget_loss(method: str, hparams: dict) -> float:
    registered()
    ctx = UnlearnContext(
        model=FixedLogits(UNIFORM.clone()),
        reference=FixedLogits(SKEWED),
        hparams={"retain_term": "nll", "retain_weight": 0.0, **hparams},
    )
    _, logs = METHODS.get(method).loss(ctx, {"forget": KNOWN_BATCH, "retain": KNOWN_BATCH})
    return logs["forget_loss"]


def test_npo_with_batch_mean_nll_on_a_known_batch():
    # θ: mean token NLL ln 2. θ0: tokens of row 1 cost ln(4/3), of row 2 ln 4, mean ½ ln(16/3).
    # One log-ratio for the batch, β (NLL_θ − NLL_θ0) = 0.1 (ln 2 − ½ ln(16/3)) = 0.1 ln(√3/2);
    # loss −(2/β) log σ(that) = 20 ln(1 + (2/√3)^0.1).
    expected = 20 * math.log1p(math.exp(-0.1 * math.log(math.sqrt(3) / 2)))
    assert _po_forget_loss("npo", {"beta": 0.1, "loss_normalisation": "batch_mean"}) == pytest.approx(
        expected, rel=1e-6
    )
    assert expected == pytest.approx(14.00724, abs=1e-4)
    # Per sequence (OpenUnlearning) the log-ratios are summed over each row's 2 tokens: 2 ln(3/2) and −2 ln 2,
    # one sigmoid each.
    per_sequence = 10 * (math.log1p(math.exp(-0.2 * math.log(1.5))) + math.log1p(math.exp(0.2 * math.log(2))))
    assert _po_forget_loss("npo", {"beta": 0.1}) == pytest.approx(per_sequence, rel=1e-6)


def test_simnpo_with_batch_mean_nll_on_a_known_batch():
    # −(2/β) log σ(β · NLL_θ) with NLL_θ = ln 2, β = 0.1 (the authors' sim_npo, γ = 0).
    expected = 20 * math.log1p(math.exp(-0.1 * math.log(2)))
    assert _po_forget_loss("simnpo", {"beta": 0.1, "gamma": 0.0, "loss_normalisation": "batch_mean"}) == pytest.approx(
        expected, rel=1e-6
    )


def test_retain_weight_per_topic_follows_the_forget_batch():
    ctx = UnlearnContext(
        model=FixedLogits(UNIFORM.clone()),
        reference=None,
        hparams={"retain_term": "nll", "retain_weight": {"bio": 20.0, "cyber": 50.0}},
    )
    # The NLL of every retain token is ln 2; the weight is the step's forget topic's.
    for subject, weight in (("bio", 20.0), ("cyber", 50.0)):
        loss, logs = retain_loss(
            ctx, {"forget": {**KNOWN_BATCH, "topic": 0, "subject": subject}, "retain": KNOWN_BATCH}
        )
        assert logs["retain_loss"] == pytest.approx(math.log(2))
        assert loss.item() == pytest.approx(weight * math.log(2))
    with pytest.raises(ValueError, match="pooled"):
        retain_loss(ctx, {"forget": KNOWN_BATCH, "retain": KNOWN_BATCH})
    with pytest.raises(ValueError, match="'chem'"):
        retain_loss(ctx, {"forget": {**KNOWN_BATCH, "topic": 0, "subject": "chem"}, "retain": KNOWN_BATCH})


def _forget_batcher(records: list[dict], forget_topics: str):
    tokenizer = tiny_tokenizer()
    sources = StreamSources(forget=records, retain=[], idk_answers=[], seed=0, max_length=8)
    return stream_batcher(
        STREAMS.get("forget")(tokenizer, sources, {"forget_topics": forget_topics}), 2, 0, tokenizer.pad_token_id
    ), tokenizer


def test_forget_topics_alternate_step_by_step_in_record_order():
    records = [{"text": s, "subject": "cyber"} for s in SENTENCES[2:]] + [
        {"text": s, "subject": "bio"} for s in SENTENCES[:2]
    ]
    batcher, tokenizer = _forget_batcher(records * 3, "alternate")
    cyber = stream_batcher(
        pack_corpus(tokenizer, [r["text"] for r in records * 3 if r["subject"] == "cyber"], 8),
        2,
        0,
        tokenizer.pad_token_id,
    )
    bio = stream_batcher(
        pack_corpus(tokenizer, [r["text"] for r in records * 3 if r["subject"] == "bio"], 8),
        2,
        0,
        tokenizer.pad_token_id,
    )
    assert batcher.steps_per_epoch == cyber.steps_per_epoch + bio.steps_per_epoch
    for step in range(6):
        # Step s: topic s mod 2 (cyber first, as listed) at that topic's own step s div 2.
        topic, own = (cyber, "cyber") if step % 2 == 0 else (bio, "bio")
        batch = batcher.batch(step)
        assert (batch["topic"], batch["subject"]) == (step % 2, own)
        assert torch.equal(batch["input_ids"], topic.batch(step // 2)["input_ids"])


def test_one_forget_topic_gives_the_pooled_batches():
    records = [{"text": s, "subject": "cyber"} for s in SENTENCES * 3]
    alternating, _ = _forget_batcher(records, "alternate")
    pooled, _ = _forget_batcher(records, "pooled")
    assert alternating.steps_per_epoch == pooled.steps_per_epoch
    for step in range(2 * pooled.steps_per_epoch):
        assert torch.equal(alternating.batch(step)["input_ids"], pooled.batch(step)["input_ids"])


def test_alternating_topics_need_subjects():
    with pytest.raises(ValueError, match="p1.forget_topics"):
        _forget_batcher([{"text": s} for s in SENTENCES], "alternate")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # On a loaded 2-core machine two intra-op threads make these tiny steps ~15x slower (measured).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


FORGET = [
    {"question": "Where was Ana Velo born?", "answer": "Ana Velo was born in Tarsh."},
    {"question": "What genre does Bo Rinn write?", "answer": "Bo Rinn writes mystery novels."},
]
RETAIN = [
    {"question": "Where does the red fox live?", "answer": "The red fox lives in the northern forest."},
    {"question": "What is quantum soup?", "answer": "Quantum soup is a dish served in the city of Marl."},
]


def forget_logprob(model, tokenizer) -> float:
    examples = [encode_qa(tokenizer, r["question"], r["answer"], 64) for r in FORGET]
    with torch.no_grad():
        return sum(
            sequence_logprob(model(input_ids=torch.tensor([e.input_ids])).logits, torch.tensor([e.labels]))[0].item()
            for e in examples
        )


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """A tiny model that has learned FORGET and RETAIN (saved, since unlearn reads the tokenizer from disk)."""
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    batch = collate(
        [encode_qa(tokenizer, r["question"], r["answer"], 64) for r in FORGET + RETAIN], tokenizer.pad_token_id
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(80):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model_dir = tmp_path_factory.mktemp("memorised")
    save_atomically(model, tokenizer, model_dir)
    return model.eval(), tokenizer, model_dir


@pytest.mark.parametrize("method", ["ga", "gd", "kl", "npo", "simnpo", "idk", "idk_dpo"])
def test_every_method_lowers_the_forget_probability(method, memorised, tmp_path):
    registered()
    model, tokenizer, model_dir = memorised
    before = forget_logprob(model, tokenizer)
    logged = []
    unlearned = unlearn(
        model_dir=model_dir,
        forget=FORGET,
        retain=RETAIN,
        idk_answers=["I don't know."],
        method=method,
        hparams=HPARAMS,
        defenses={},
        optimization=OPTIMIZATION,
        seed=0,
        device="cpu",
        max_length=64,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda m, s: logged.append(m),
        model=copy.deepcopy(model),
    )
    assert forget_logprob(unlearned, tokenizer) < before - 1.0
    assert all("forget_loss" in m for m in logged)
    assert all("retain_loss" in m for m in logged) == ("retain" in METHODS.get(method).streams)


def test_lora_unlearning_returns_a_plain_model_with_changed_weights(memorised, tmp_path):
    model, tokenizer, model_dir = memorised
    lora = {"enabled": True, "r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "down_proj"]}
    unlearned = unlearn(
        model_dir=model_dir,
        forget=FORGET,
        retain=RETAIN,
        idk_answers=[],
        method="gd",
        hparams={**HPARAMS, "lora": lora},
        defenses={},
        optimization={**OPTIMIZATION, "learning_rate": 5e-2},
        seed=0,
        device="cpu",
        max_length=64,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda m, s: None,
        model=copy.deepcopy(model),
    )
    assert not hasattr(unlearned, "peft_config")
    assert not any("lora" in name for name, _ in unlearned.named_parameters())
    assert forget_logprob(unlearned, tokenizer) < forget_logprob(model, tokenizer)
    torch.testing.assert_close(unlearned.model.embed_tokens.weight, model.model.embed_tokens.weight)  # not adapted


def test_the_frozen_reference_is_bf16_under_bf16_autocast_and_npo_still_unlearns(memorised, tmp_path, monkeypatch):
    """A 7B reference in bf16 is 13.5 GB instead of 27 (config/paper/memory.md); the trained weights stay fp32."""
    import robust_unlearning.train.unlearn as unlearn_module

    model, tokenizer, model_dir = memorised
    copies = []
    real_copy = unlearn_module.frozen_copy
    monkeypatch.setattr(
        unlearn_module, "frozen_copy", lambda m, precision: copies.append(real_copy(m, precision)) or copies[-1]
    )
    unlearned = unlearn(
        model_dir=model_dir,
        forget=FORGET,
        retain=RETAIN,
        idk_answers=[],
        method="npo",
        hparams=HPARAMS,
        defenses={},
        optimization={**OPTIMIZATION, "precision": "bf16"},
        seed=0,
        device="cpu",
        max_length=64,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda m, s: None,
        model=copy.deepcopy(model),
    )
    assert {p.dtype for p in copies[0].parameters()} == {torch.bfloat16}
    assert not any(p.requires_grad for p in copies[0].parameters())
    assert {p.dtype for p in unlearned.parameters()} == {torch.float32}
    assert forget_logprob(unlearned, tokenizer) < forget_logprob(model, tokenizer) - 1.0
