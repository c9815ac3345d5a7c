"""The GPU check's driver (gpu_check.py) on a machine without CUDA: it runs nothing; its overlay of distributed
stages, its per-rule peak GPU memory and its summary table, from hand-made inputs."""

import subprocess
import sys

import pytest
import torch
import yaml

from robust_unlearning.config import load_layered
from robust_unlearning.gpu_check import distributed_overlay, format_summary, peak_memory_per_rule
from robust_unlearning.gpu_memory import PEAK_GPU_MEMORY

from .conftest import ROOT


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run")
def test_without_cuda_it_says_so_and_runs_nothing(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "robust_unlearning.gpu_check", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "gpu-check needs CUDA, and torch sees no CUDA device here: nothing was run.\n"
    assert not (tmp_path / "out").exists()


def test_distributed_stages_go_on_one_process_per_gpu():
    config = {
        "seed": 0,
        "finetune": {"batch_size": 4, "grad_accumulation": 2, "distributed": {"strategy": "fsdp", "processes": 2}},
        "unlearning": {
            "methods": {
                "ga": {
                    "optimization": {
                        "batch_size": 6,
                        "grad_accumulation": 6,
                        "distributed": {"strategy": "ddp", "processes": 2},
                    }
                },
                "rmu": {"optimization": {"batch_size": 2, "distributed": {"strategy": "none", "processes": 1}}},
            }
        },
    }
    assert distributed_overlay(config, 1) == {
        "finetune": {"distributed": {"strategy": "fsdp", "processes": 1}},
        "unlearning": {"methods": {"ga": {"optimization": {"distributed": {"strategy": "ddp", "processes": 1}}}}},
    }
    # On 4 GPUs the micro-batches of a step round up to a multiple of 4, each micro-batch keeping its size (2 and 1).
    assert distributed_overlay(config, 4) == {
        "finetune": {"distributed": {"strategy": "fsdp", "processes": 4}, "grad_accumulation": 4, "batch_size": 8},
        "unlearning": {
            "methods": {
                "ga": {
                    "optimization": {
                        "distributed": {"strategy": "ddp", "processes": 4},
                        "grad_accumulation": 8,
                        "batch_size": 8,
                    }
                }
            }
        },
    }


def test_p2_on_one_gpu_validates_with_its_fsdp_stages_on_one_process(tmp_path):
    stack = [ROOT / "config/paper/p2_sasu.yaml", ROOT / "config/smoke/real_model.yaml", ROOT / "config/smoke/gpu.yaml"]
    overlay = tmp_path / "processes.yaml"
    overlay.write_text(yaml.safe_dump(distributed_overlay(load_layered(stack), 1)))
    config = load_layered([*stack, overlay])
    assert config["device"] == "cuda" and config["model"]["source"] == "results/smoke/random-smollm2"
    assert config["finetune"]["distributed"] == {"strategy": "fsdp", "processes": 1}
    assert config["unlearning"]["methods"]["npo"]["optimization"]["distributed"] == {"strategy": "fsdp", "processes": 1}


def test_peak_gpu_memory_per_rule_from_the_jobs_logs(tmp_path):
    output = "\n".join(
        [
            "rule finetune:",
            "    input: results/models/base",
            "    log: results/logs/finetune/target.log",
            "    jobid: 3",
            "rule finetune:",
            "    log: results/logs/finetune/retain90.log",
            "rule evaluate_model:",
            "    log: results/logs/evaluate/base.log",
            "localrule all:",
            "    input: results/p2/table2_sa.csv",
        ]
    )
    logs = tmp_path / "results/logs"
    (logs / "finetune").mkdir(parents=True)
    (logs / "evaluate").mkdir()
    # Two ranks' lines in one job's log; in the other, after a progress bar that ended in a carriage return.
    (logs / "finetune/target.log").write_text(f"step 1\n{PEAK_GPU_MEMORY} 1.500\n{PEAK_GPU_MEMORY} 2.250\n")
    (logs / "finetune/retain90.log").write_text(f"Writing: 100%|##| 1/1\r{PEAK_GPU_MEMORY} 0.750\n")
    (logs / "evaluate/base.log").write_text("threads: 2\n")  # no CUDA used: no line
    assert peak_memory_per_rule(tmp_path, output) == {"finetune": 2.25}


def test_summary_table():
    summary = {
        "gpu": "NVIDIA H200",
        "gpus": 1,
        "throughput": [
            {
                "model": "llama2-7b-slice",
                "backend": backend,
                "gradient_checkpointing": True,
                "precision": "bf16",
                "tokens_per_s": tokens,
                "mfu": mfu,
                "peak_memory_gib": peak,
                "n_parameters": 1_071_681_536,
                "layers": 4,
                "layers_of_full": 32,
            }
            for backend, tokens, mfu, peak in (("ours", 30500.4, 0.4125, 21.04), ("trainer", 29000.0, 0.39, 22.5))
        ],
        "throughput_runs": [
            {"model": "1b", "gradient_checkpointing": False, "status": "timeout", "wall_s": 120.0, "error": "step 1\n"},
            {"model": "llama2-7b-slice", "gradient_checkpointing": True, "status": "ok", "wall_s": 41.6, "error": ""},
        ],
        "paper_runs": {
            "p1_rna": {
                "status": "ok",
                "wall_s": 130.2,
                "error": "",
                "peak_gpu_memory_gib": {"p1_unlearn": 3.5, "base_model": 0.6},
            },
            "p2_sasu": {
                "status": "failed",
                "wall_s": 12.0,
                "error": "Traceback\nValueError: a | b\n\n",
                "peak_gpu_memory_gib": {},
            },
        },
    }
    assert format_summary(summary).splitlines() == [
        "GPU check on NVIDIA H200 (1 GPU; distributed stages on 1 process)",
        "| part | status | wall (s) | tokens/s | MFU | peak GPU memory (GiB) | detail |",
        "|---|---|---|---|---|---|---|",
        "| 1b, no checkpointing | timeout | 120 | | | | step 1 |",
        "| llama2-7b-slice ours, checkpointing | ok | 42 | 30,500 | 41.2 % | 21.0 | 1.07 B parameters, 4 blocks, 32 in the full model, bf16 |",
        "| llama2-7b-slice trainer, checkpointing | ok | 42 | 29,000 | 39.0 % | 22.5 | 1.07 B parameters, 4 blocks, 32 in the full model, bf16 |",
        "| p1_rna | ok | 130 | | | 3.50 | heaviest rule p1_unlearn; 2 rules on the GPU |",
        "| p2_sasu | failed | 12 | | | 0.00 | ValueError: a / b |",
    ]
