"""Tokens and GPU-hours before launch (cost.py) on a hand-computed small P3 config, and config/paper/cost.md kept current."""

import pytest
import yaml

from robust_unlearning.config import CONFIG_DIR, config_stacks, layered, validate_config
from robust_unlearning.cost import config_rules, gpu_hours, measured_mfu, report
from robust_unlearning.memory import KNOWN_MODELS

SMALL_P3 = {
    "p3": {
        "methods": ["sft", "vaccine"],
        "seeds": [0],
        "harmful_ratios": [0.1],
        "n_finetune": 100,
        "n_sweep": [],
        "rho_sweep": [2.0],  # ρ = 2 at p = 0.1 is Table 1's vaccine cell: no sweep job
        "alignment": {"epochs": 2, "max_examples": 50},
        "user_finetune": {"epochs": 3},
    },
    "evaluation": {
        "p3": {
            "max_new_tokens": 16,
            "task_max_new_tokens": 4,
            "max_harmful_prompts": 10,
            "max_task_examples": 20,
            "drift_examples": 8,
        }
    },
}
# Per cell: harmful prompts 10·(64 + 16) = 800, the judge 10·64 + 10·16 = 800, SST2 20·(96 + 4) = 2,000, drift
# 2·8·64 = 1,024 (PROMPT_TOKENS: harmful 64, sst2 96).
CELL_EVALUATED = 800 + 800 + 2_000 + 1_024
# The user's fine-tuning: 3 epochs × 100 rows × 256 tokens; SFT's alignment 2 epochs × 50 rows × 256 tokens,
# Vaccine's twice that (two passes a step).
USER_FINETUNE = 3 * 100 * 256
SFT_ALIGNMENT = 2 * 50 * 256
# Llama-2-7b's matmul weights: 6,738,415,616 less the input embedding 32,000 · 4,096.
N = 6_738_415_616 - 32_000 * 4_096

THROUGHPUT = {
    "gpu": "H100",
    "throughput": [
        {"model": "1b", "backend": "ours", "gradient_checkpointing": False, "mfu": 0.4, "n_parameters": 950_000_000},
        {"model": "1b", "backend": "ours", "gradient_checkpointing": True, "mfu": 0.5, "n_parameters": 950_000_000},
        {
            "model": "llama2-7b-slice",
            "backend": "ours",
            "gradient_checkpointing": True,
            "mfu": 0.3,
            "n_parameters": 1_800_000_000,
        },
        {
            "model": "llama2-7b-slice",
            "backend": "trainer",
            "gradient_checkpointing": False,
            "mfu": 0.9,
            "n_parameters": 1_800_000_000,
        },
    ],
}


@pytest.fixture(scope="module")
def small_p3():
    paper = yaml.safe_load((CONFIG_DIR / "paper" / "p3_vaccine.yaml").read_text())
    default = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())
    return validate_config(layered(layered(default, paper), SMALL_P3))


def test_token_counts_of_a_small_p3_config_by_hand(small_p3):
    rules = {rule.name: rule for rule in config_rules(small_p3)}
    assert list(rules) == ["p3_align_attack sft", "p3_align_attack vaccine"]
    sft, vaccine = rules["p3_align_attack sft"].tokens, rules["p3_align_attack vaccine"].tokens
    assert (sft.trained, sft.frozen, sft.evaluated) == (SFT_ALIGNMENT + USER_FINETUNE, 0, CELL_EVALUATED)
    assert (vaccine.trained, vaccine.evaluated) == (2 * SFT_ALIGNMENT + USER_FINETUNE, CELL_EVALUATED)


def test_measured_mfu_is_our_backends_largest_model_with_matching_checkpointing():
    # The slice is the largest model; it was measured with checkpointing only, so a stage without takes that too.
    assert measured_mfu(THROUGHPUT, True)["mfu"] == 0.3
    assert measured_mfu(THROUGHPUT, False)["mfu"] == 0.3


def test_gpu_hours_from_a_throughput_file_and_from_the_assumed_mfu(small_p3):
    sft = next(rule for rule in config_rules(small_p3) if rule.name == "p3_align_attack sft")
    shape = KNOWN_MODELS["meta-llama/Llama-2-7b-hf"]
    # H100 989 TFLOP/s; training 6·N per token at the measured MFU 0.3, evaluation 2·N at the assumed 0.25.
    measured = (
        6 * N * (SFT_ALIGNMENT + USER_FINETUNE) / (989e12 * 0.3) + 2 * N * CELL_EVALUATED / (989e12 * 0.25)
    ) / 3600
    assert gpu_hours(sft, shape, "H100", THROUGHPUT) == pytest.approx(measured)
    assert measured == pytest.approx(13.93 / 3600, rel=1e-3)  # 13.68 s of training + 0.25 s of evaluation
    # A100 312 TFLOP/s at the assumed training MFU 0.35.
    assumed = (
        6 * N * (SFT_ALIGNMENT + USER_FINETUNE) / (312e12 * 0.35) + 2 * N * CELL_EVALUATED / (312e12 * 0.25)
    ) / 3600
    assert gpu_hours(sft, shape, "A100") == pytest.approx(assumed)


def test_cost_md_is_current():
    expected = report(config_stacks(CONFIG_DIR / "paper"), ["A100", "H100"])
    assert (CONFIG_DIR / "paper" / "cost.md").read_text() == expected, (
        "regenerate: python -m robust_unlearning.cost --out config/paper/cost.md"
    )
