"""Metrics: hand-computed values on a fixed-logits model, and the one-pass shortcuts against their definitions."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from robust_unlearning.data.formatting import format_answer, format_prompt
from robust_unlearning.eval.comparisons import forget_quality, mia_auc, model_utility
from robust_unlearning.eval.metrics import (
    METRICS,
    PERTURBATION_METRICS,
    aggregate_truth_ratio,
    answer_probability,
    evaluate_qa_split,
    exact_memorization,
    extraction_strength,
    extraction_strength_by_generation,
    rouge_l_recall,
    truth_ratio,
)
from robust_unlearning.eval.scoring import (
    answer_token_logprobs,
    greedy_generate,
    tokenize_pairs,
)

# --- a fixed-logits model over the word vocabulary {x, a, b, c, [PAD]} ---------------------------------------
# The prompt "x" is one token, so position t predicts answer token t with these next-token distributions:
#   t = 0: a = 1/2 (argmax), others 1/8;   t = 1, 2: b = 1/4, c = 3/8 (argmax), others 1/8.
FIXED_PROBS = torch.tensor(
    [
        [1 / 8, 1 / 2, 1 / 8, 1 / 8, 1 / 8],
        [1 / 8, 1 / 8, 1 / 4, 3 / 8, 1 / 8],
        [1 / 8, 1 / 8, 1 / 4, 3 / 8, 1 / 8],
        [1 / 5, 1 / 5, 1 / 5, 1 / 5, 1 / 5],
    ]
)


class FixedLogitsModel(nn.Module):
    def __init__(self, probs: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(probs.log(), requires_grad=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> SimpleNamespace:
        batch, length = input_ids.shape
        return SimpleNamespace(logits=self.logits[:length].expand(batch, -1, -1))


@pytest.fixture(scope="module")
def word_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.WordLevel({"x": 0, "a": 1, "b": 2, "c": 3, "[PAD]": 4}, unk_token="[PAD]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]")


def test_tokenize_pairs_masks_prompt_and_right_padding(word_tokenizer):
    batch = tokenize_pairs(word_tokenizer, ["x", "x x"], ["a b c", "a"])
    assert batch["input_ids"].tolist() == [[0, 1, 2, 3], [0, 0, 1, 4]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, 1, 2, 3], [-100, -100, 1, -100]]
    truncated = tokenize_pairs(word_tokenizer, ["x"], ["a b c"], max_length=3)
    assert truncated["labels"].tolist() == [[-100, 1, 2]]


def test_fixed_logits_probability_em_es(word_tokenizer):
    model = FixedLogitsModel(FIXED_PROBS)
    answers = ["a b c", "a c c", "a b b", "a"]
    scores = answer_token_logprobs(model, word_tokenizer, ["x"] * 4, answers, batch_size=4)

    middle, all_right, last_wrong, short = scores
    torch.testing.assert_close(middle.logprobs, torch.tensor([1 / 2, 1 / 4, 3 / 8]).log())
    assert answer_probability(middle.logprobs) == pytest.approx((1 / 2 * 1 / 4 * 3 / 8) ** (1 / 3))
    assert middle.argmax_match.tolist() == [True, False, True]
    assert exact_memorization(middle.argmax_match) == pytest.approx(2 / 3)
    assert extraction_strength(middle.argmax_match) == pytest.approx(1 - 2 / 3)  # last mismatch at t = 1 → k* = 2
    assert extraction_strength(all_right.argmax_match) == 1.0
    assert exact_memorization(all_right.argmax_match) == 1.0
    assert extraction_strength(last_wrong.argmax_match) == 0.0
    assert exact_memorization(last_wrong.argmax_match) == pytest.approx(1 / 3)
    assert short.logprobs.tolist() == pytest.approx([math.log(1 / 2)])

    # Min-K++ normalisation at t = 0: μ = Σ p log p, σ² = Σ p log² p − μ².
    p = FIXED_PROBS[0]
    mu = (p * p.log()).sum()
    sigma = ((p * p.log() ** 2).sum() - mu**2).sqrt()
    assert middle.normalized_logprobs[0].item() == pytest.approx(((p[1].log() - mu) / sigma).item(), rel=1e-5)


def test_truth_ratio_and_aggregations():
    paraphrased = torch.tensor([math.log(0.5), math.log(0.5)])
    perturbed = [torch.tensor([math.log(0.25)]), torch.tensor([math.log(0.04), math.log(0.25)])]
    # P(paraphrased) = 0.5; P(perturbed) = geometric mean of 0.25 and sqrt(0.04 · 0.25) = 0.1.
    assert truth_ratio(paraphrased, perturbed) == pytest.approx(math.sqrt(0.25 * 0.1) / 0.5)

    ratios = [0.5, 2.0, 1.0]
    assert aggregate_truth_ratio(ratios, forget=True) == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert aggregate_truth_ratio(ratios, forget=False) == pytest.approx((0.5 + 0.0 + 0.0) / 3)


def test_model_utility_is_harmonic_mean():
    assert model_utility([1.0, 0.5, 0.25]) == pytest.approx(3 / (1 + 2 + 4))
    assert model_utility([0.4] * 9) == pytest.approx(0.4)
    assert model_utility([0.9] * 8 + [0.0]) == 0.0


def test_mia_auc_mann_whitney_with_ties():
    # Pairs (holdout > forget): 2 beats 1, ties 2 (½), loses to 3; 4 beats all three → 4.5 / 6.
    assert mia_auc(member_scores=[1, 2, 3], nonmember_scores=[2, 4]) == pytest.approx(0.75)
    assert mia_auc([1, 2], [3, 4]) == 1.0
    assert mia_auc([3, 4], [1, 2]) == 0.0
    assert mia_auc([1, 1], [1, 1]) == 0.5


def test_rouge_l_recall():
    # Tokens: lower-case, split on anything but [a-z0-9], Porter-stem tokens longer than 3 characters.
    # LCS(the cat sat on the mat | the cat is on the mat) = the cat on the mat: 5 of the 6 reference tokens.
    assert rouge_l_recall("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    # Both sides stem to [pari, franc].
    assert rouge_l_recall("Paris, France!", "paris france") == 1.0
    # LCS(mat the on | the cat is on the mat) = "the on": 2 of 6.
    assert rouge_l_recall("mat the on", "the cat is on the mat") == pytest.approx(2 / 6)
    assert rouge_l_recall("anything", "") == 0.0
    # Recall is over the reference: a short generation covers 2 of its 6 tokens, a long one all of a short one.
    assert rouge_l_recall("the cat", "the cat is on the mat") == pytest.approx(2 / 6)
    assert rouge_l_recall("the cat is on the mat", "the cat") == 1.0


def test_rouge_l_recall_stems_words():
    reference = "Mira Solte wrote four novels in Dovren before she moved to the coast."
    generation = "Mira Solte wrote a novel in Kestra and moved to hills."
    # Reference, 13 tokens: mira solt wrote four novel in dovren befor she move to the coast (stemmed: solte →
    # solt, novels → novel, before → befor, moved → move). Generation: mira solt wrote a novel in kestra and
    # move to hill. Unstemmed the LCS is mira solte wrote in moved to = 6 (6/13 = 0.4615: "novels" ≠ "novel");
    # stemmed, "novel" matches too: mira solt wrote novel in move to = 7.
    assert rouge_l_recall(generation, reference) == pytest.approx(7 / 13)


def test_forget_quality_is_ks_p_value():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, 50), rng.uniform(0.3, 1.3, 60)
    assert forget_quality(a, b) == pytest.approx(ks_2samp(a, b).pvalue)
    assert forget_quality(a, a) == pytest.approx(1.0)
    assert forget_quality(a, b) < 0.05


def test_unknown_metric_lists_choices():
    with pytest.raises(KeyError, match="extraction_strength"):
        METRICS.get("extraction_strenght")


# --- a tiny Llama briefly trained on a few QA pairs ----------------------------------------------------------

QA = [
    ("What does Mira Voss write?", "Mira Voss writes gothic novels about lighthouses."),
    ("Where was Tomas Quell born?", "Tomas Quell was born in a small harbour town."),
    ("Which prize did Ilse Brand win?", "Ilse Brand won the Silver Quill prize."),
    ("What is Orin Hale's first book?", "His first book is The Salt Road."),
    ("Who taught Mira Voss to write?", "Her grandmother taught her to write."),
    ("What colour is the sky?", "The sky is blue."),
]


@pytest.fixture(scope="module")
def tiny_llama() -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    texts = [format_prompt(q) + format_answer(a) for q, a in QA]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
    )
    model = LlamaForCausalLM(config)
    batch = tokenize_pairs(tokenizer, [format_prompt(q) for q, _ in QA], [format_answer(a) for _, a in QA])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    # 50 steps memorise part of most answers (measured ES: 0.03 … 1), so several prefixes k* > 0 get tested.
    for _ in range(50):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), tokenizer


def test_one_pass_extraction_strength_equals_generation(tiny_llama):
    model, tokenizer = tiny_llama
    prompts, answers = [format_prompt(q) for q, _ in QA], [format_answer(a) for _, a in QA]
    one_pass = [extraction_strength(s.argmax_match) for s in answer_token_logprobs(model, tokenizer, prompts, answers)]
    by_generation = [extraction_strength_by_generation(model, tokenizer, p, a) for p, a in zip(prompts, answers)]
    assert one_pass == pytest.approx(by_generation, abs=1e-12)
    assert any(0 < es < 1 for es in one_pass), one_pass


def test_right_padding_does_not_change_logprobs(tiny_llama):
    model, tokenizer = tiny_llama
    prompts, answers = [format_prompt(q) for q, _ in QA], [format_answer(a) for _, a in QA]
    alone = answer_token_logprobs(model, tokenizer, prompts, answers, batch_size=1)
    padded = answer_token_logprobs(model, tokenizer, prompts, answers, batch_size=len(QA))
    for a, b in zip(alone, padded):
        torch.testing.assert_close(a.logprobs, b.logprobs, atol=1e-5, rtol=0)
        torch.testing.assert_close(a.normalized_logprobs, b.normalized_logprobs, atol=1e-4, rtol=0)
        assert torch.equal(a.argmax_match, b.argmax_match)


def test_left_padded_generation_matches_unbatched(tiny_llama):
    model, tokenizer = tiny_llama
    prompts = [format_prompt(q) for q, _ in QA]
    batched = greedy_generate(model, tokenizer, prompts, max_new_tokens=16, batch_size=len(QA))
    assert batched == greedy_generate(model, tokenizer, prompts, max_new_tokens=16, batch_size=1)
    assert all("\n" not in text for text in batched)


def test_evaluate_qa_split_runs_every_metric(tiny_llama):
    model, tokenizer = tiny_llama
    records = [
        {"question": q, "answer": a, "paraphrased_answer": a.lower(), "perturbed_answer": ["The sky is green.", "No."]}
        for q, a in QA
    ]
    summary, per_example = evaluate_qa_split(model, tokenizer, records, METRICS.names(), batch_size=4)
    assert set(summary) == set(METRICS.names()) | {f"{name}_rows" for name in PERTURBATION_METRICS}
    assert all(len(per_example[name]) == len(QA) for name in METRICS.names())
    assert all(summary[f"{name}_rows"] == len(QA) for name in PERTURBATION_METRICS)
    assert per_example["perturbed_rows"] == list(range(len(QA)))
    assert len(per_example["generation"]) == len(QA)
    for name in ("probability", "probability_normalised", "rouge_l", "exact_memorization", "extraction_strength"):
        assert 0 <= summary[name] <= 1, name
    prompts, answers = [format_prompt(q) for q, _ in QA], [format_answer(a) for _, a in QA]
    assert per_example["extraction_strength"] == [
        extraction_strength(s.argmax_match) for s in answer_token_logprobs(model, tokenizer, prompts, answers)
    ]
    no_paraphrase = [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in records]
    summary, _ = evaluate_qa_split(model, tokenizer, no_paraphrase, ["truth_ratio", "probability"])
    assert set(summary) == {"truth_ratio", "truth_ratio_rows", "probability"}


def test_perturbation_metrics_use_only_the_records_that_carry_perturbed_answers(tiny_llama):
    model, tokenizer = tiny_llama
    carrying = {0, 2, 5}
    records = [
        {
            "question": q,
            "answer": a,
            **(
                {"paraphrased_answer": a.lower(), "perturbed_answer": ["The sky is green.", "No."]}
                if i in carrying
                else {}
            ),
        }
        for i, (q, a) in enumerate(QA)
    ]
    names = ["truth_ratio", "probability_normalised", "probability"]
    summary, per_example = evaluate_qa_split(model, tokenizer, records, names, batch_size=4)
    assert summary["truth_ratio_rows"] == summary["probability_normalised_rows"] == len(carrying)
    assert "probability_rows" not in summary
    assert per_example["perturbed_rows"] == sorted(carrying)
    assert len(per_example["probability"]) == len(QA)
    # Aligned with perturbed_rows: the same values as on the carrying records alone.
    alone, alone_per_example = evaluate_qa_split(
        model, tokenizer, [records[i] for i in sorted(carrying)], names, batch_size=4
    )
    for name in ("truth_ratio", "probability_normalised"):
        assert per_example[name] == pytest.approx(alone_per_example[name], rel=1e-4)
        assert summary[name] == pytest.approx(alone[name], rel=1e-4)


def test_perturbation_metric_on_a_split_without_perturbed_answers_names_the_fix():
    plain = [{"question": q, "answer": a} for q, a in QA]
    # Raised before any model pass: no model needed.
    with pytest.raises(
        ValueError,
        match=r"truth_ratio: computed only on records with perturbed answers.*none of the 6 records.*retain_perturbed",
    ):
        evaluate_qa_split(None, None, plain, ["probability", "truth_ratio"])
