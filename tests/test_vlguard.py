"""Vlguard (defenses/vlguard.py): the user's fine-tuning set with alignment rows mixed in, as Vaccine's train.py
builds it for `--optimizer vlguard` (the user's n rows, then the first guide_data_num safe rows)."""

import pytest

from robust_unlearning.attacks import harmful_finetune
from robust_unlearning.attacks.harmful_finetune import FINETUNE_DEFENSES, DefenseContext, PreparedDefense, harmful_mix
from robust_unlearning.data.examples import encode_qa
from robust_unlearning.experiments.p3_vaccine import METHODS

from .helpers import tiny_model, tiny_tokenizer

TASK = [{"sentence": f"review {i}", "label": i % 2} for i in range(20)]
HARMFUL = [{"prompt": f"harmful {i}", "response": f"Step one: {i}"} for i in range(10)]
ALIGNMENT = [{"prompt": f"unsafe question {i}", "response": f"I cannot help with {i}."} for i in range(6)]
SETTINGS = {"guide_rows": 3}


def _prepared(settings=SETTINGS):
    defense = FINETUNE_DEFENSES.get("vlguard")
    context = DefenseContext(None, [], 0, "fp32", ALIGNMENT)
    return PreparedDefense(defense, defense.prepare(context, settings), settings)


def test_the_mixed_set_is_the_users_rows_then_the_first_alignment_rows():
    # n = 10 at p = 0.2: 2 harmful and 8 task rows (Vaccine: int(0.2·10) = 2, int(0.8·10) = 8), then 3 guide rows.
    mix = harmful_mix(TASK, HARMFUL, 10, 0.2, 0, "Sentiment? {sentence}", ["negative", "positive"])
    prepared = _prepared()
    rows = prepared.defense.training_rows(mix, prepared.state, prepared.settings)
    assert len(rows) == 13
    assert rows[:10] == mix  # the user's rows, none dropped
    assert sum(r["is_harmful"] for r in rows) == 2
    assert sum(r["prompt"].startswith("Sentiment?") for r in rows) == 8
    assert [(r["prompt"], r["response"]) for r in rows[10:]] == [
        (f"unsafe question {i}", f"I cannot help with {i}.") for i in range(3)
    ]
    assert METHODS["vlguard"] == ("sft", "vlguard")  # on the SFT-aligned model, like script/vlguard_finetune
    assert not prepared.defense.reuses_alignment_adapter and prepared.defense.regularizer is None


def test_more_guide_rows_than_alignment_rows_is_refused():
    with pytest.raises(ValueError, match="p3.vlguard.guide_rows"):
        _prepared({"guide_rows": 7})


def test_user_finetune_trains_on_the_mixed_set(monkeypatch, tmp_path):
    tokenizer = tiny_tokenizer()
    seen = []

    class RecordingBatcher(harmful_finetune.Batcher):
        def __init__(self, examples, *args):
            seen.append(list(examples))
            super().__init__(examples, *args)

    monkeypatch.setattr(harmful_finetune, "Batcher", RecordingBatcher)
    mix = harmful_mix(TASK, HARMFUL, 10, 0.2, 0, "Sentiment? {sentence}", ["negative", "positive"])
    settings = {
        "epochs": 1,
        "batch_size": 13,
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "grad_clip": 1.0,
        "log_every": 1,
        "checkpoint_every": 100,
        "max_length": 64,
        "lora": {"enabled": True, "r": 2, "alpha": 4, "dropout": 0.0, "target_modules": ["q_proj"]},
    }
    harmful_finetune.user_finetune(
        tiny_model(tokenizer),
        tokenizer,
        mix,
        settings,
        0,
        tmp_path / "u.pt",
        "fp",
        lambda m, s: None,
        defense=_prepared(),
    )
    [examples] = seen
    assert len(examples) == 13
    assert examples[10:] == [encode_qa(tokenizer, r["prompt"], r["response"], 64) for r in ALIGNMENT[:3]]
