import math

import pytest
import torch

from robust_unlearning.config import micro_batch_size
from robust_unlearning.data.examples import IGNORE_INDEX, Batcher, encode_qa, encode_qa_records, pack_corpus
from robust_unlearning.models.factory import load_model, save_atomically
from robust_unlearning.models.forward import causal_lm_loss
from robust_unlearning.train.loop import (
    NonFiniteLossError,
    batch_count,
    fingerprint,
    gradient_norm,
    train,
    warmup_constant,
    warmup_cosine,
)

from .helpers import SENTENCES, TINY_ARCHITECTURE, TINY_QA, tiny_model, tiny_tokenizer

OPTIMIZATION = {
    "learning_rate": 1e-2,
    "weight_decay": 0.0,
    "warmup_ratio": 0.1,
    "grad_clip": 1.0,
    "log_every": 5,
    "checkpoint_every": 10,
}


def test_qa_labels_cover_exactly_the_answer_and_eos():
    tokenizer = tiny_tokenizer()
    example = encode_qa(tokenizer, "Where was Ana Velo born?", "In Tarsh.", max_length=128)
    answer_ids = tokenizer(" In Tarsh.", add_special_tokens=False)["input_ids"]
    n_prompt = len(example.input_ids) - len(answer_ids) - 1
    assert example.input_ids[0] == tokenizer.bos_token_id
    assert example.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert example.labels[n_prompt:] == answer_ids + [tokenizer.eos_token_id]
    assert example.input_ids[n_prompt:] == answer_ids + [tokenizer.eos_token_id]


def test_batches_are_a_pure_function_of_seed_and_step():
    tokenizer = tiny_tokenizer()
    examples = pack_corpus(tokenizer, SENTENCES * 10, seq_len=8)
    a, b = Batcher(examples, 4, seed=3, pad_id=0), Batcher(examples, 4, seed=3, pad_id=0)
    assert [a.indices(s) for s in range(12)] == [b.indices(s) for s in range(12)]
    epoch = sorted(i for s in range(a.steps_per_epoch) for i in a.indices(s))
    assert len(set(epoch)) == len(epoch) == a.steps_per_epoch * 4  # no repeats within an epoch
    assert a.indices(0) != Batcher(examples, 4, seed=4, pad_id=0).indices(0)


def test_warmup_cosine_schedule_by_hand():
    factor = warmup_cosine(total_steps=110, warmup_ratio=10 / 110, floor=0.1)
    assert factor(0) == pytest.approx(0.1)
    assert factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factor(110) == pytest.approx(0.1)


def test_warmup_constant_schedule_by_hand():
    factor = warmup_constant(total_steps=100, warmup_ratio=0.04)
    assert [factor(s) for s in (0, 1, 3, 4, 50, 99)] == pytest.approx([0.25, 0.5, 1.0, 1.0, 1.0, 1.0])
    # No warm-up (the RNA authors'): the peak rate from the first step to the last.
    assert {warmup_constant(total_steps=7, warmup_ratio=0.0)(s) for s in range(7)} == {1.0}


def _linear_objective():
    """A 2-weight model with loss 3·w0 + 4·w1: gradient (3, 4), norm 5, at every step."""
    model = torch.nn.Linear(2, 1, bias=False)
    x = torch.tensor([3.0, 4.0])
    return model, lambda step: ((model.weight @ x).sum(), {})


@pytest.mark.parametrize("schedule, last_lr", [("constant", 1e-2), ("cosine", 1e-3)])
def test_schedule_option_sets_the_logged_learning_rate(schedule, last_lr, tmp_path):
    model, objective = _linear_objective()
    logged = []
    settings = {**OPTIMIZATION, "warmup_ratio": 0.0, "log_every": 1, "schedule": schedule}
    train(model, objective, 10, settings, tmp_path / "resume.pt", "fp", lambda m, s: logged.append(m["lr"]))
    # The lr logged after step s is the rate of step s + 1: constant keeps 1e-2, cosine ends at the 10 % floor.
    assert logged[-1] == pytest.approx(last_lr)
    assert (set(logged) == {1e-2}) == (schedule == "constant")


def test_grad_clip_none_leaves_the_gradient_and_logs_its_norm():
    weight = torch.nn.Parameter(torch.zeros(2))
    weight.grad = torch.tensor([3.0, 4.0])
    assert gradient_norm([weight], None).item() == pytest.approx(5.0)
    assert torch.equal(weight.grad, torch.tensor([3.0, 4.0]))
    assert gradient_norm([weight], 1.0).item() == pytest.approx(5.0)  # the norm before clipping
    torch.testing.assert_close(weight.grad, torch.tensor([0.6, 0.8]))


def test_a_parameter_subset_leaves_the_others_without_gradient(tmp_path):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    batcher = Batcher(pack_corpus(tokenizer, SENTENCES * 10, seq_len=16), 4, seed=0, pad_id=tokenizer.pad_token_id)
    subset = [model.model.layers[1].mlp.down_proj.weight]
    seen = []

    def objective(step):
        seen.append({name for name, p in model.named_parameters() if p.requires_grad})
        return causal_lm_loss(model, batcher.batch(step)), {}

    train(model, objective, 3, {**OPTIMIZATION, "grad_clip": None}, tmp_path / "resume.pt", "fp", parameters=subset)
    assert seen == [{"model.layers.1.mlp.down_proj.weight"}] * 3
    # The optimizer clears its own gradients; a frozen parameter's would have piled up uncleared.
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())  # the rest thaw after training


class Interrupt(Exception):
    pass


def _run(tmp_path, interrupt_at=None):
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    model = tiny_model(tokenizer)
    batcher = Batcher(pack_corpus(tokenizer, SENTENCES * 10, seq_len=16), 4, seed=0, pad_id=tokenizer.pad_token_id)

    def objective(step):
        if step == interrupt_at:
            raise Interrupt
        # Dropout-like randomness inside the objective must also resume identically.
        noise = torch.randn(()) * 1e-3
        return causal_lm_loss(model, batcher.batch(step)) + noise, {}

    logged, history = [], []
    train(
        model,
        objective,
        25,
        OPTIMIZATION,
        tmp_path / "resume.pt",
        "fp",
        lambda m, s: logged.append(s),
        history=history,
    )
    assert [step for _, step in history] == [5, 10, 15, 20, 25]  # resumed or not, the whole curve
    return model, logged


def test_interrupted_job_resumes_to_identical_weights(tmp_path):
    reference, logged = _run(tmp_path / "a")
    assert logged == [5, 10, 15, 20, 25]
    with pytest.raises(Interrupt):
        _run(tmp_path / "b", interrupt_at=17)
    assert (tmp_path / "b" / "resume.pt").exists()
    resumed, logged = _run(tmp_path / "b")
    assert logged == [15, 20, 25]  # started from the step-10 checkpoint
    for (name, p), q in zip(reference.named_parameters(), resumed.parameters()):
        torch.testing.assert_close(p, q, msg=name)
    assert not (tmp_path / "b" / "resume.pt").exists()


def test_checkpoint_of_other_params_is_not_resumed(tmp_path):
    (tmp_path / "b").mkdir()
    with pytest.raises(Interrupt):
        _run(tmp_path / "b", interrupt_at=17)
    state = torch.load(tmp_path / "b" / "resume.pt", weights_only=False)
    state["fingerprint"] = "other"
    torch.save(state, tmp_path / "b" / "resume.pt")
    _, logged = _run(tmp_path / "b")
    assert logged[0] == 5


# Constant rate, no clipping: AdamW moves each weight by the rate per step under a constant gradient.
DIVERGING = {**OPTIMIZATION, "warmup_ratio": 0.0, "schedule": "constant", "grad_clip": None, "log_every": 1}


def _diverging_run(tmp_path, settings, nan_from=None, seed=0):
    """Loss 3·w0 + 4·w1 from w = (1, 2), NaN from batch `nan_from` on; returns the weights and the logged steps."""
    model, objective = _linear_objective()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))

    def diverging(batch):
        loss, logs = objective(batch)
        return (loss * math.nan if nan_from is not None and batch >= nan_from else loss), logs

    logged = []
    params = {"optimization": settings, "seed": seed}
    try:
        train(
            model,
            diverging,
            10,
            settings,
            tmp_path / "resume.pt",
            fingerprint(params),
            lambda m, s: logged.append((s, m["lr"])),
        )
    finally:
        weights = model.weight.detach().flatten().tolist()
    return weights, logged


def test_a_non_finite_loss_stops_the_stage_and_keeps_its_last_good_state(tmp_path):
    with pytest.raises(NonFiniteLossError) as error:
        _diverging_run(tmp_path, DIVERGING, nan_from=3)
    message = str(error.value)
    # Batch 2's loss, after two steps of 0.01 from (1, 2): 3·0.98 + 4·1.98 = 10.86.
    assert (
        f"{tmp_path / 'resume.pt'}: loss nan at optimizer step 4 of 10 (last finite loss 10.86, learning rate"
        in message
    )
    assert "precision fp32, grad_clip None). The state after step 3 is kept there" in message
    state = torch.load(tmp_path / "resume.pt", weights_only=False)
    assert state["step"] == 3
    assert state["diverged"] == {"grad_clip": None, "learning_rate": 1e-2, "precision": None}
    torch.testing.assert_close(state["trainable"]["weight"], torch.tensor([[0.97, 1.97]]))
    # A lower rate resumes it at step 4: 7 more steps of 0.005.
    weights, logged = _diverging_run(tmp_path, {**DIVERGING, "learning_rate": 5e-3})
    assert [step for step, _ in logged] == [4, 5, 6, 7, 8, 9, 10]
    assert {lr for _, lr in logged} == {5e-3}
    assert weights == pytest.approx([0.935, 1.935], abs=1e-5)
    assert not (tmp_path / "resume.pt").exists()


def test_a_diverged_checkpoint_is_stale_for_any_other_change(tmp_path):
    with pytest.raises(NonFiniteLossError):
        _diverging_run(tmp_path, DIVERGING, nan_from=3)
    _, logged = _diverging_run(tmp_path, {**DIVERGING, "learning_rate": 5e-3}, seed=1)
    assert logged[0][0] == 1


def test_a_non_finite_gradient_norm_stops_the_stage_before_its_step(tmp_path):
    model = torch.nn.Linear(2, 1, bias=False)
    before = model.weight.detach().clone()
    # d√x/dx at 0 is infinite: a finite loss (0) with a NaN gradient (∞ · 0).
    objective = lambda step: (torch.sqrt((model.weight * 0).sum()), {})  # noqa: E731
    with pytest.raises(NonFiniteLossError, match="gradient norm nan at optimizer step 1 of 3 .last finite loss 0,"):
        train(model, objective, 3, OPTIMIZATION, tmp_path / "resume.pt", "fp")
    assert torch.equal(model.weight.detach(), before)


def test_training_lowers_the_loss(tmp_path):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    batch = Batcher(pack_corpus(tokenizer, SENTENCES * 10, seq_len=16), 8, 0, tokenizer.pad_token_id).batch(0)
    before = causal_lm_loss(model, batch).item()
    _run(tmp_path)
    model, _ = _run(tmp_path)
    assert causal_lm_loss(model, batch).item() < before - 1.0


def _train_tiny(tmp_path, optimization: dict, n_batches: int) -> torch.nn.Module:
    """Train the tiny model on equal-length packed chunks (every batch has the same token count)."""
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    examples = pack_corpus(tokenizer, SENTENCES * 10, seq_len=16)
    batcher = Batcher(
        examples[: len(examples) // 4 * 4], micro_batch_size(optimization), seed=0, pad_id=tokenizer.pad_token_id
    )
    train(
        model,
        lambda step: (causal_lm_loss(model, batcher.batch(step)), {}),
        n_batches,
        optimization,
        tmp_path / "resume.pt",
        "fp",
    )
    return model


def test_grad_accumulation_of_half_batches_equals_full_batches(tmp_path):
    full = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 8}, n_batches=6)
    accumulated = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 8, "grad_accumulation": 2}, n_batches=12)
    for (name, p), q in zip(full.named_parameters(), accumulated.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)


def test_max_steps_cuts_epochs_in_optimizer_steps():
    assert batch_count({"epochs": 3}, 10) == 30
    assert batch_count({"epochs": 3, "max_steps": 500}, 10) == 30
    assert batch_count({"epochs": 3, "max_steps": 7}, 10) == 7
    # Four micro-batches per optimizer step: 7 steps are 28 batches.
    assert batch_count({"epochs": 3, "max_steps": 7, "grad_accumulation": 4}, 10) == 28


def test_batch_size_must_split_into_micro_batches():
    assert micro_batch_size({"batch_size": 8, "grad_accumulation": 4}) == 2
    with pytest.raises(ValueError, match="not divisible"):
        micro_batch_size({"batch_size": 8, "grad_accumulation": 3})


def test_gradient_checkpointing_gives_the_same_weights(tmp_path):
    plain = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 4}, n_batches=4)
    checkpointed = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 4, "gradient_checkpointing": True}, n_batches=4)
    assert not checkpointed.is_activation_checkpointing  # switched off again after training
    for (name, p), q in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(p, q, msg=name)


def test_bf16_autocast_trains_close_to_fp32(tmp_path):
    fp32 = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 4}, n_batches=10)
    bf16 = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 4, "precision": "bf16"}, n_batches=10)
    tokenizer = tiny_tokenizer()
    batch = Batcher(pack_corpus(tokenizer, SENTENCES * 10, seq_len=16), 8, 0, tokenizer.pad_token_id).batch(0)
    assert causal_lm_loss(bf16, batch).item() == pytest.approx(causal_lm_loss(fp32, batch).item(), rel=0.05)
    assert all(p.dtype == torch.float32 for p in bf16.parameters())


class OneWeight(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))


@pytest.mark.parametrize("precision, expected", [("fp32", 0.999), ("bf16", 0.999), ("bf16-pure", 1.0)])
def test_a_bf16_weight_rounds_away_an_update_that_fp32_master_weights_keep(tmp_path, precision, expected):
    """One AdamW step on w = 1 with gradient 1: m̂ = g and v̂ = g², so the step is lr · g / (|g| + ε) = 1e-3.
    An fp32 weight (plain or the master weight under autocast) becomes 0.999; bf16's neighbours of 1.0 are 1 − 2⁻⁸
    and 1 + 2⁻⁷, and 0.999 is within half a step (2⁻⁹ ≈ 0.00195) of 1.0, so a bf16 weight stays 1.0 (P1-02)."""
    model = OneWeight()
    settings = {**OPTIMIZATION, "learning_rate": 1e-3, "warmup_ratio": 0.0, "grad_clip": None, "precision": precision}
    train(model, lambda step: (model.weight.sum(), {}), 1, settings, tmp_path / "resume.pt", "fp")
    assert model.weight.dtype == torch.float32  # handed back in the dtype it came in
    assert model.weight.item() == pytest.approx(expected, abs=1e-7)


def test_bf16_pure_trains_bf16_weights_and_hands_them_back_in_fp32(tmp_path):
    model = _train_tiny(tmp_path, {**OPTIMIZATION, "batch_size": 4, "precision": "bf16-pure"}, n_batches=4)
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32, name
        assert torch.equal(p, p.bfloat16().float()), name  # every value a bf16 value: the steps were taken in bf16


@pytest.mark.parametrize(
    "optimization, dtype",
    [
        ({}, torch.float32),
        ({"precision": "bf16"}, torch.bfloat16),  # unset under autocast: half the memory, the choice before the key
        ({"precision": "bf16", "reference_precision": "weights"}, torch.float32),
        ({"precision": "bf16-pure"}, torch.bfloat16),
        ({"precision": "bf16-pure", "reference_precision": "weights"}, torch.bfloat16),
        ({"precision": "fp32", "reference_precision": "bf16"}, torch.bfloat16),
    ],
)
def test_the_frozen_copy_takes_its_dtype_from_reference_precision(optimization, dtype):
    from robust_unlearning.train.unlearn import frozen_copy, reference_dtype

    reference = frozen_copy(tiny_model(tiny_tokenizer()), reference_dtype(optimization))
    assert {p.dtype for p in reference.parameters()} == {dtype}
    # Buffers keep their dtype, as transformers' bf16 loading leaves RoPE's inv_freq.
    assert reference.model.rotary_emb.inv_freq.dtype == torch.float32


@pytest.mark.parametrize("precision", ["bf16", "bf16-pure"])
def test_theta0_in_the_weights_dtype_gives_theta_s_outputs_at_step_0(precision):
    """As the authors' θ0 (the checkpoint loaded twice, or deep-copied) gives θ's outputs until the first step;
    a bf16 θ0 beside fp32 weights under autocast does not."""
    from robust_unlearning.models.factory import cast_weights
    from robust_unlearning.train.loop import weight_dtype
    from robust_unlearning.train.unlearn import frozen_copy, reference_dtype

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    settings = {"precision": precision, "reference_precision": "weights"}
    reference, half = frozen_copy(model, reference_dtype(settings)), frozen_copy(model, torch.bfloat16)
    cast_weights(model, weight_dtype(settings))  # as train() does before the first step
    batch = Batcher(pack_corpus(tokenizer, SENTENCES, seq_len=16), 4, 0, tokenizer.pad_token_id).batch(0)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits, reference_logits = model(**batch).logits, reference(**batch).logits
        half_logits = half(**batch).logits
    assert torch.equal(logits, reference_logits)
    if precision == "bf16":
        assert not torch.equal(logits, half_logits)


def test_a_p1_po_run_in_bf16_pure_moves_only_its_down_projections(tmp_path):
    """NPO with the KL retain term on θ0 and RNA's noise on θ0's retain pass, the P1 paper config's recipe, in bf16
    weights: the untrained weights come back as they went in, bf16-rounded (exact on a bf16 checkpoint such as
    zephyr's), and only the down-projections of the blocks ending at ℓ moved."""
    from robust_unlearning.train.unlearn import unlearn

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    save_atomically(model, tokenizer, tmp_path / "model")
    start = {name: p.detach().bfloat16().float() for name, p in model.named_parameters()}
    hparams = {"beta": 0.1, "retain_term": "kl", "retain_weight": 5.0, "loss_normalisation": "batch_mean"}
    unlearned = unlearn(
        model_dir=tmp_path / "model",
        forget=[{"text": s} for s in SENTENCES * 2],
        retain=[{"text": s} for s in reversed(SENTENCES * 2)],
        idk_answers=[],
        method="npo",
        hparams={**hparams, "n_trained_layers": 1, "layer": 1},
        defenses={"rna": {"layer": 1, "nu": 0.5}},
        optimization={**OPTIMIZATION, "epochs": 2, "batch_size": 2, "precision": "bf16-pure"},
        seed=0,
        device="cpu",
        max_length=12,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda metrics, step: None,
        model=model,
    )
    assert {p.dtype for p in unlearned.parameters()} == {torch.float32}
    moved = {name for name, p in unlearned.named_parameters() if not torch.equal(p, start[name])}
    assert moved == {"model.layers.1.mlp.down_proj.weight"}


def test_save_is_atomic(tmp_path, monkeypatch):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    out = tmp_path / "model"
    save_atomically(model, tokenizer, out)
    reloaded = load_model(out)
    torch.testing.assert_close(reloaded.model.embed_tokens.weight, model.model.embed_tokens.weight)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(tokenizer), "save_pretrained", crash)
    with pytest.raises(OSError):
        save_atomically(model, tokenizer, tmp_path / "other")
    assert not (tmp_path / "other").exists()
    assert (out / "model.safetensors").exists()  # the earlier checkpoint is untouched


def test_lora_finetune_saves_merged_weights_that_learned(tmp_path):
    """finetune.lora: only the adapter trains; the saved checkpoint is a plain model with the adapter merged in."""
    from robust_unlearning.data.io import write_jsonl
    from robust_unlearning.train.stages import finetune

    tokenizer = tiny_tokenizer()
    save_atomically(tiny_model(tokenizer), tokenizer, tmp_path / "base")
    write_jsonl(tmp_path / "qa.jsonl", TINY_QA)
    settings = {
        **OPTIMIZATION,
        "epochs": 60,
        "batch_size": 4,
        "learning_rate": 5e-2,
        "max_length": 128,
        "replay_ratio": 0.0,
        "lora": {
            "enabled": True,
            "r": 4,
            "alpha": 8,
            "dropout": 0.0,
            "target_modules": ["q_proj", "v_proj", "down_proj"],
        },
    }
    config = {"seed": 0, "device": "cpu", "finetune": settings}
    finetune(
        config,
        tmp_path / "base",
        tmp_path / "qa.jsonl",
        tmp_path / "unused.jsonl",
        tmp_path / "out",
        tmp_path / "resume.pt",
        lambda metrics, step: None,
    )
    base, tuned = load_model(tmp_path / "base", "cpu"), load_model(tmp_path / "out", "cpu")
    assert type(tuned) is type(base)
    changed = {name for (name, p), q in zip(base.named_parameters(), tuned.parameters()) if not torch.equal(p, q)}
    # Merging adds B·A to the adapted weights only; embeddings, norms and the other projections stay as they were.
    assert changed and all(name.endswith(("q_proj.weight", "v_proj.weight", "down_proj.weight")) for name in changed)
    batch = Batcher(encode_qa_records(tokenizer, TINY_QA, 64), 4, 0, tokenizer.pad_token_id).batch(0)
    # A rank-4 adapter on a random 2-block model learns slowly: 60 steps took the loss 5.93 → 5.45 (measured).
    assert causal_lm_loss(tuned, batch).item() < causal_lm_loss(base, batch).item() - 0.3


def test_world_pretraining_continues_a_pretrained_model_with_its_own_tokenizer(tmp_path):
    from robust_unlearning.data.io import read_jsonl, write_jsonl
    from robust_unlearning.models.factory import load_tokenizer
    from robust_unlearning.train.stages import pretrain

    tokenizer = tiny_tokenizer()
    save_atomically(tiny_model(tokenizer), tokenizer, tmp_path / "hub")
    write_jsonl(tmp_path / "corpus.jsonl", [{"text": s} for s in SENTENCES * 8])
    config = {
        "seed": 0,
        "device": "cpu",
        "model": {"source": str(tmp_path / "hub"), "world_pretraining": True, "prompt_format": "plain"},
        "pretrain": {**OPTIMIZATION, "epochs": 10, "batch_size": 4, "seq_len": 16},
    }
    pretrain(
        config, tmp_path / "corpus.jsonl", [], tmp_path / "base", tmp_path / "resume.pt", lambda metrics, step: None
    )
    assert load_tokenizer(tmp_path / "base").get_vocab() == tokenizer.get_vocab()
    texts = [r["text"] for r in read_jsonl(tmp_path / "corpus.jsonl")]
    batch = Batcher(pack_corpus(tokenizer, texts, 16), 8, 0, tokenizer.pad_token_id).batch(0)
    before, after = load_model(tmp_path / "hub", "cpu"), load_model(tmp_path / "base", "cpu")
    assert causal_lm_loss(after, batch).item() < causal_lm_loss(before, batch).item() - 1.0


def test_a_from_scratch_alpaca_base_model_carries_the_alpaca_format(tmp_path):
    """The from-scratch tokenizer once skipped keep_chat_template, so prompt_format alpaca silently trained plain."""
    from robust_unlearning.data.formatting import prompt_format_of
    from robust_unlearning.data.io import write_jsonl
    from robust_unlearning.models.factory import load_tokenizer
    from robust_unlearning.train.stages import pretrain

    write_jsonl(tmp_path / "corpus.jsonl", [{"text": s} for s in SENTENCES * 2])
    config = {
        "seed": 0,
        "device": "cpu",
        "tokenizer": {"vocab_size": 300},
        "model": {"source": "scratch", "architecture": TINY_ARCHITECTURE, "prompt_format": "alpaca"},
        "pretrain": {**OPTIMIZATION, "epochs": 1, "batch_size": 4, "seq_len": 16},
    }
    pretrain(
        config, tmp_path / "corpus.jsonl", [], tmp_path / "base", tmp_path / "resume.pt", lambda metrics, step: None
    )
    assert prompt_format_of(load_tokenizer(tmp_path / "base")) == "alpaca"
