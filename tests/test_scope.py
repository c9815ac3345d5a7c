"""Scope-aware Unlearning (arXiv 2506.00359): the scope batch x_f ⊕ x_r → y_r and its η-weighted term."""

import pytest

from robust_unlearning.data.examples import IGNORE_INDEX, collate, encode_qa
from robust_unlearning.data.formatting import format_answer, format_prompt
from robust_unlearning.defenses.su import scope_question, scope_stream, scope_term
from robust_unlearning.models.factory import save_atomically
from robust_unlearning.objectives.base import METHODS, StreamSources, UnlearnContext, register_method
from robust_unlearning.objectives.losses import mean_nll
from robust_unlearning.train.unlearn import unlearn
from robust_unlearning.unlearning_registry import registered

from .helpers import tiny_model, tiny_tokenizer

FORGET = [{"question": f"Where was Ana {i} born?", "answer": f"Ana {i} was born in Tarsh."} for i in range(6)]
RETAIN = [{"question": f"What does Bo {i} write?", "answer": f"Bo {i} writes mystery novels."} for i in range(9)]


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def sources(seed=0):
    return StreamSources(
        forget=FORGET, retain=RETAIN, idk_answers=["I don't know.", "No idea."], seed=seed, max_length=128
    )


def test_scope_example_is_forget_prompt_then_retain_question_scored_on_the_retain_answer(tokenizer):
    assert scope_question("Where was Ana born?", "What does Bo write?") == "Where was Ana born? What does Bo write?"
    examples = scope_stream(tokenizer, sources(), {})
    assert len(examples) == len(FORGET)
    for forget, example in zip(FORGET, examples, strict=True):
        n_prompt = example.labels.count(IGNORE_INDEX)
        prompt = tokenizer.decode(example.input_ids[:n_prompt], skip_special_tokens=True)
        partner = next(r for r in RETAIN if prompt == format_prompt(scope_question(forget["question"], r["question"])))
        # Labels: −100 on every prompt token, then exactly the retain answer and EOS.
        answer_ids = tokenizer(format_answer(partner["answer"]), add_special_tokens=False)["input_ids"] + [
            tokenizer.eos_token_id
        ]
        assert example.labels == [IGNORE_INDEX] * n_prompt + answer_ids
        assert example.input_ids[n_prompt:] == answer_ids
        assert example == encode_qa(
            tokenizer, scope_question(forget["question"], partner["question"]), partner["answer"], 128
        )


def test_scope_partners_are_seeded(tokenizer):
    assert scope_stream(tokenizer, sources(0), {}) == scope_stream(tokenizer, sources(0), {})
    assert scope_stream(tokenizer, sources(0), {}) != scope_stream(tokenizer, sources(1), {})


def test_scope_term_is_eta_times_the_retain_answer_nll(tokenizer):
    model = tiny_model(tokenizer).eval()
    batch = collate(scope_stream(tokenizer, sources(), {})[:3], tokenizer.pad_token_id)
    context = UnlearnContext(model=model, reference=None, hparams={}, state={"scope_eta": 5.0})
    loss, logs = scope_term(context, {"scope": batch})
    nll = mean_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, batch["labels"])
    assert loss.item() == pytest.approx(5.0 * nll.item(), rel=1e-5)
    assert logs["scope_loss"] == pytest.approx(nll.item(), rel=1e-5)


def test_streams_of_one_run_are_paired_row_by_row(tokenizer, tmp_path):
    """In a run, step s of the forget, idk and scope streams holds the same forget questions (IdkDPO, SU)."""
    registered()
    seen = []
    if "_capture_streams" not in METHODS:

        @register_method("_capture_streams", streams=("forget", "idk", "retain"))
        def capture(ctx, batches):
            seen.append({name: batch["input_ids"].clone() for name, batch in batches.items()})
            return sum(p.sum() for p in ctx.model.parameters()) * 0.0, {}

    model = tiny_model(tokenizer)
    save_atomically(model, tokenizer, tmp_path / "model")
    optimization = {
        "epochs": 2,
        "batch_size": 2,
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "grad_clip": 1.0,
        "log_every": 1,
        "checkpoint_every": 100,
    }
    unlearn(
        model_dir=tmp_path / "model",
        forget=FORGET,
        retain=RETAIN,
        idk_answers=["I don't know."],
        method="_capture_streams",
        hparams={},
        defenses={"su": {"eta": 1.0}},
        optimization=optimization,
        seed=3,
        device="cpu",
        max_length=128,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda m, s: None,
        model=model,
    )
    assert len(seen) == 2 * len(FORGET) // 2
    for batches in seen:
        questions = {
            name: [tokenizer.decode(row, skip_special_tokens=True).split("\n")[0] for row in batches[name]]
            for name in ("forget", "idk", "scope")
        }
        assert questions["forget"] == questions["idk"]
        assert all(s.startswith(f + " ") for f, s in zip(questions["forget"], questions["scope"], strict=True))
