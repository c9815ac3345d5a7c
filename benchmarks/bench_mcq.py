"""MCQ scoring cost: lm-eval's path (eval/mcq.py, both formats) vs the hand-written cloze scorer it replaced.

The embedded default's model (4 blocks, hidden 128, the world's tokenizer) scores the world's general MCQ,
repeated to 1,000 questions, three ways; prints seconds per 1,000 questions and the accuracy each gives.
"cloze" is the removed scorer's computation (one batched teacher-forced pass over "Question: q\\nAnswer:" +
" choice", summed log-probs), rebuilt here from answer_token_logprobs only for this comparison.

    .venv/bin/python benchmarks/bench_mcq.py [--threads 2]
"""

import argparse
import time

import numpy as np
import torch

from robust_unlearning.data.formatting import format_answer, format_prompt
from robust_unlearning.data.world import build_world
from robust_unlearning.eval.mcq import evaluate_mcq
from robust_unlearning.eval.scoring import answer_token_logprobs
from robust_unlearning.models.factory import build_model
from robust_unlearning.models.tokenizer import train_tokenizer

N_QUESTIONS = 1000
BATCH_SIZE = 64
ARCHITECTURE = {
    "hidden_size": 128,
    "intermediate_size": 352,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "max_position_embeddings": 256,
}


def cloze_accuracy(model, tokenizer, records: list[dict]) -> float:
    prompts = [format_prompt(r["question"]) for r in records for _ in r["choices"]]
    choices = [format_answer(c) for r in records for c in r["choices"]]
    totals = [s.logprobs.sum().item() for s in answer_token_logprobs(model, tokenizer, prompts, choices, BATCH_SIZE)]
    picks = np.asarray(totals).reshape(len(records), -1).argmax(1)
    return float(np.mean(picks == [r["answer"] for r in records]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    world = build_world(
        {
            "seed": 0,
            "n_authors": 20,
            "qa_per_author": 5,
            "n_holdout_authors": 2,
            "n_real_authors": 5,
            "n_world_facts": 10,
            "n_hazard_facts": 50,
            "n_general_facts": 300,
            "n_harmful_prompts": 20,
            "n_task_examples": 20,
        }
    )
    general = world.wmdp["general_mcq.jsonl"]
    records = (general * (N_QUESTIONS // len(general) + 1))[:N_QUESTIONS]
    tokenizer = train_tokenizer([d["text"] for d in world.pretrain["corpus.jsonl"]], 2048)
    torch.manual_seed(0)
    model = build_model(ARCHITECTURE, tokenizer).eval()
    runs = {
        "cloze (removed scorer)": lambda: cloze_accuracy(model, tokenizer, records),
        "lm-eval continuation": lambda: evaluate_mcq(model, tokenizer, records, "continuation", BATCH_SIZE)[0]["acc"],
        "lm-eval lettered": lambda: evaluate_mcq(model, tokenizer, records, "lettered", BATCH_SIZE)[0]["acc"],
    }
    print(
        f"{N_QUESTIONS} questions × 4 choices, {sum(p.numel() for p in model.parameters()):,}-parameter model, {args.threads} threads"
    )
    for name, run in runs.items():
        run()  # warm-up: lm-eval's first call imports and builds its task machinery
        started = time.perf_counter()
        accuracy = run()
        seconds = time.perf_counter() - started
        print(f"{name:24s} {seconds:6.2f} s per 1,000 questions   acc {accuracy:.3f} (an untrained model: chance)")


if __name__ == "__main__":
    main()
