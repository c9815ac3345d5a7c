"""Vaccine's alignment step vs SFT's (arXiv 2402.01109 puts it at about two forward/backward passes).

Runs the registered "sft" and "vaccine" alignment steps through the training loop on the same synthetic batches,
from the same initial weights, with the embedded default's architecture and p3.alignment settings (LoRA as
configured, and full fine-tuning), and prints the time per optimizer step of each and the ratio Vaccine / SFT.
The best of `--repeats` timings is kept, so other processes on the machine inflate the ratio less.

    .venv/bin/python benchmarks/bench_vaccine_step.py
    .venv/bin/python benchmarks/bench_vaccine_step.py --device cuda --steps 50
"""

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from robust_unlearning.config import load_config
from robust_unlearning.models.factory import resolve_device
from robust_unlearning.models.lora import attach_lora
from robust_unlearning.train.align import ALIGNMENTS
from robust_unlearning.train.loop import set_determinism, train

ROOT = Path(__file__).resolve().parents[1]


def synthetic_batches(
    n: int, batch_size: int, seq_len: int, vocab_size: int, seed: int
) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        ids = torch.randint(3, vocab_size, (batch_size, seq_len), generator=generator)
        labels = ids.clone()
        labels[:, : seq_len // 2] = -100  # the prompt half carries no loss, as in alignment QA pairs
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    return batches


def seconds_per_step(model, method: str, rho: float, batches, settings: dict, warmup: int) -> float:
    step_fn = ALIGNMENTS.get(method)
    device = next(model.parameters()).device
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up steps (allocator, kernels) are timed apart and dropped.
        train(
            model,
            lambda i: step_fn(model, batches[i % len(batches)], rho),
            warmup,
            settings,
            Path(tmp) / "w.pt",
            "warmup",
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train(
            model,
            lambda i: step_fn(model, batches[i % len(batches)], rho),
            len(batches),
            settings,
            Path(tmp) / "t.pt",
            "timed",
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--seq-len", type=int, default=40, help="tokens per sequence (the world's alignment pairs: ~25-40)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    config = load_config(ROOT / "config" / "config.yaml")
    p3 = config["p3"]
    set_determinism(0, args.threads)
    architecture = config["model"]["architecture"]
    vocab_size = config["tokenizer"]["vocab_size"]
    base = LlamaForCausalLM(
        LlamaConfig(
            **architecture,
            num_key_value_heads=architecture["num_attention_heads"],
            vocab_size=vocab_size,
            tie_word_embeddings=True,
        )
    ).to(resolve_device(args.device))
    settings = {**p3["alignment"], "log_every": 10**9, "checkpoint_every": 10**9}
    batches = synthetic_batches(args.steps, p3["alignment"]["batch_size"], args.seq_len, vocab_size, seed=0)
    print(
        f"batch {p3['alignment']['batch_size']} × {args.seq_len} tokens, {args.steps} steps, best of {args.repeats}, device {args.device}, threads {args.threads}"
    )
    for tuning in ("lora", "full"):
        times = {}
        for method in ("sft", "vaccine"):
            runs = []
            for _ in range(args.repeats):
                model = copy.deepcopy(base)
                model = attach_lora(model, p3["alignment"]["lora"]) if tuning == "lora" else model
                runs.append(seconds_per_step(model, method, p3["rho"], batches, settings, args.warmup))
            times[method] = min(runs)
        print(
            f"{tuning:>4}: SFT {times['sft'] * 1e3:7.1f} ms/step   Vaccine {times['vaccine'] * 1e3:7.1f} ms/step   ratio Vaccine/SFT {times['vaccine'] / times['sft']:.2f}"
        )


if __name__ == "__main__":
    main()
