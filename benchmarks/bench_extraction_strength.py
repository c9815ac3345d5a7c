"""Extraction Strength two ways: one teacher-forced pass vs greedy decoding from every prefix (P4's definition).

Trains a tiny Llama on synthetic QA pairs until it has memorised part of them, computes ES for every pair
both ways, checks that the values are identical, and prints the wall time of each.

    .venv/bin/python benchmarks/bench_extraction_strength.py
"""

import random
import time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from robust_unlearning.data.formatting import format_answer, format_prompt
from robust_unlearning.eval.metrics import extraction_strength, extraction_strength_by_generation
from robust_unlearning.eval.scoring import answer_token_logprobs, tokenize_pairs

N_PAIRS = 50
# Memorisation sets in sharply between ~60 and ~100 steps at lr 1e-3 (measured); 80 leaves ES spread over (0, 1].
TRAIN_STEPS = 80
SEED = 0

FIRST = ["Mira", "Tomas", "Ilse", "Orin", "Kaia", "Bram", "Lena", "Yusuf", "Ada", "Piet"]
LAST = ["Voss", "Quell", "Brand", "Hale", "Moreau", "Sato", "Okafor", "Lind", "Rossi", "Novak"]
CITIES = ["Harbourton", "Velmar", "Ostrava", "Kilbride", "Saltmere", "Dunhollow", "Arlen", "Port Cairn"]
GENRES = ["gothic novels", "travel essays", "children's poetry", "crime fiction", "science fiction", "memoirs"]
PRIZES = ["the Silver Quill", "the Amber Lamp award", "the Northern Book prize", "the Harrow medal"]
TEMPLATES = [
    ("Where was {name} born?", "{name} was born in {city}, a town by the sea."),
    ("What does {name} write?", "{name} writes {genre}, mostly about {city}."),
    ("Which prize did {name} win?", "{name} won {prize} for a book set in {city}."),
]


def synthetic_qa(rng: random.Random) -> list[tuple[str, str]]:
    pairs: dict[str, str] = {}  # one answer per question, else the pair cannot be memorised
    while len(pairs) < N_PAIRS:
        fields = {
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "city": rng.choice(CITIES),
            "genre": rng.choice(GENRES),
            "prize": rng.choice(PRIZES),
        }
        question, answer = rng.choice(TEMPLATES)
        pairs.setdefault(format_prompt(question.format(**fields)), format_answer(answer.format(**fields)))
    return list(pairs.items())


def build_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def train_tiny_llama(tokenizer: PreTrainedTokenizerFast, pairs: list[tuple[str, str]]) -> LlamaForCausalLM:
    torch.manual_seed(SEED)
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
    )
    model = LlamaForCausalLM(config)
    batch = tokenize_pairs(tokenizer, [p for p, _ in pairs], [a for _, a in pairs])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(TRAIN_STEPS):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


def main() -> None:
    # Without it, CPU matmuls slow down as trained weights drift into denormals (design.md, measured).
    torch.set_flush_denormal(True)
    # A hidden-64 model gains nothing from intra-op threads, and on a shared CPU they make timings erratic.
    torch.set_num_threads(1)
    pairs = synthetic_qa(random.Random(SEED))
    tokenizer = build_tokenizer([p + a for p, a in pairs])
    model = train_tiny_llama(tokenizer, pairs)
    prompts, answers = [p for p, _ in pairs], [a for _, a in pairs]
    # Warm-up, so neither timing pays for first-call allocations.
    answer_token_logprobs(model, tokenizer, prompts[:1], answers[:1])
    extraction_strength_by_generation(model, tokenizer, prompts[0], answers[0])

    start = time.perf_counter()
    scores = answer_token_logprobs(model, tokenizer, prompts, answers, batch_size=16)
    one_pass = [extraction_strength(s.argmax_match) for s in scores]
    one_pass_s = time.perf_counter() - start

    start = time.perf_counter()
    by_generation = [extraction_strength_by_generation(model, tokenizer, p, a) for p, a in pairs]
    by_generation_s = time.perf_counter() - start

    assert one_pass == by_generation, [(i, a, b) for i, (a, b) in enumerate(zip(one_pass, by_generation)) if a != b]
    answer_tokens = sum(len(s.logprobs) for s in scores)
    # The reference makes one generate call per prefix tried: k* + 1 of them, none once k* = |y|.
    generate_calls = sum(min(round((1 - es) * len(s.logprobs)) + 1, len(s.logprobs)) for es, s in zip(one_pass, scores))
    print(f"{len(pairs)} QA pairs, {answer_tokens} answer tokens, {TRAIN_STEPS} training steps")
    print(
        f"ES: mean {sum(one_pass) / len(one_pass):.3f}, min {min(one_pass):.3f}, max {max(one_pass):.3f}, "
        f"{sum(0 < es < 1 for es in one_pass)} pairs strictly between 0 and 1"
    )
    print(f"identical ES values: {len(pairs)}/{len(pairs)}")
    print()
    print(f"{'method':<38}{'model calls':>12}{'wall s':>10}{'ms/pair':>10}")
    print(
        f"{'one teacher-forced pass (batch 16)':<38}{len(range(0, len(pairs), 16)):>12}"
        f"{one_pass_s:>10.3f}{1000 * one_pass_s / len(pairs):>10.2f}"
    )
    print(
        f"{'greedy generation from each prefix':<38}{generate_calls:>12}"
        f"{by_generation_s:>10.3f}{1000 * by_generation_s / len(pairs):>10.2f}"
    )
    print()
    print(f"speed-up: {by_generation_s / one_pass_s:.0f}x")


if __name__ == "__main__":
    main()
