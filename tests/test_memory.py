"""The per-GPU memory estimate (memory.py) on hand-computed cases, and config/paper/memory.md kept current."""

import pytest

from robust_unlearning.config import CONFIG_DIR, config_stacks, load_layered
from robust_unlearning.memory import (
    GB,
    KNOWN_MODELS,
    Stage,
    estimate,
    llama_parameters,
    model_shape,
    report,
    training_stages,
)

LLAMA2 = KNOWN_MODELS["meta-llama/Llama-2-7b-chat-hf"]


def test_parameter_count_formula_gives_the_hubs_counts():
    # Llama-2-7b: 2·32000·4096 + 32·(2·4096² + 2·4096² + 3·4096·11008 + 2·4096) + 4096 = 6,738,415,616.
    assert llama_parameters(4096, 32, 11008, 32000, 4096, tied=False) == 6_738_415_616
    # Mistral-7B (grouped-query: k/v 1024 wide): 262,144,000 + 32·218,112,000 + 4096 = 7,241,732,096.
    assert llama_parameters(4096, 32, 14336, 32000, 1024, tied=False) == 7_241_732_096


def test_lora_r8_on_every_projection_of_llama2_is_peft_s_count():
    # Per block 8·(4·(4096+4096) + 2·(4096+11008) + (11008+4096)) = 624,640; × 32 blocks = 19,988,480 (peft prints this).
    lora = {
        "enabled": True,
        "r": 8,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    }
    stage = Stage("lora", {"batch_size": 1}, 128, lora=lora)
    assert estimate(stage, LLAMA2).trained == 19_988_480


def test_full_fine_tune_sharded_over_two_gpus_by_hand():
    optimization = {
        "batch_size": 32,
        "grad_accumulation": 8,
        "precision": "bf16",
        "gradient_checkpointing": True,
        "distributed": {"strategy": "fsdp", "processes": 2},
    }
    e = estimate(Stage("finetune", optimization, 128), LLAMA2)
    n = 6_738_415_616
    assert (e.weights, e.gradients, e.optimizer, e.frozen) == (4 * n / 2, 4 * n / 2, 8 * n / 2, 0)
    # micro-batch 32 / 8 / 2 = 2 sequences of 128 tokens: checkpointed inputs 32·2·256·4096 = 67,108,864, one block
    # recomputed 34·256·4096 = 35,651,584, logits 10·256·32000 = 81,920,000 bytes.
    assert e.activations == 67_108_864 + 35_651_584 + 81_920_000
    assert e.total / GB == pytest.approx(53.9 + 0.1847, abs=0.01)


def test_frozen_reference_replicated_in_bf16_and_every_stream_keeps_its_graph():
    optimization = {"batch_size": 4, "precision": "bf16", "distributed": {"strategy": "fsdp", "processes": 2}}
    one = estimate(Stage("npo", optimization, 64, frozen_copies=1, streams=1), LLAMA2)
    two = estimate(Stage("npo", optimization, 64, frozen_copies=1, streams=2), LLAMA2)
    assert one.frozen == 2 * 6_738_415_616  # not sharded
    assert two.activations == 2 * one.activations


def test_pure_bf16_weights_and_their_optimizer_state_take_half_and_theta0_follows_reference_precision():
    zephyr = KNOWN_MODELS["HuggingFaceH4/zephyr-7b-beta"]
    n, trained = 7_241_732_096, 3 * 4096 * 14336  # P1's three down-projections: 176,160,768
    pure = estimate(
        Stage("rmu", {"batch_size": 4, "precision": "bf16-pure"}, 512, n_trained_layers=3, frozen_copies=1), zephyr
    )
    assert (pure.weights, pure.gradients, pure.optimizer, pure.frozen) == (2 * n, 2 * trained, 4 * trained, 2 * n)
    master = {"batch_size": 4, "precision": "bf16", "reference_precision": "weights"}
    fp32_reference = estimate(Stage("npo", master, 64, frozen_copies=1), LLAMA2)
    assert (fp32_reference.weights, fp32_reference.frozen) == (4 * 6_738_415_616, 4 * 6_738_415_616)


def test_fine_tuning_sequences_are_finetune_max_length_long():
    tofu = load_layered([CONFIG_DIR / "paper" / "p2_sasu.yaml"])
    assert [s.sequence_length for s in training_stages(tofu) if s.name == "finetune"] == [500]
    default = load_layered([])
    assert [s.sequence_length for s in training_stages(default) if s.name == "finetune"] == [128]


def test_every_paper_stage_fits_its_gpus_and_memory_md_is_current():
    stacks = config_stacks(CONFIG_DIR / "paper")
    for stack in stacks:
        config = load_layered(stack)

        shape = model_shape(config)
        for stage in training_stages(config):
            assert estimate(stage, shape).total <= 80 * GB, (stack, stage.name)
    expected = report(stacks)
    assert (CONFIG_DIR / "paper" / "memory.md").read_text() == expected, (
        "regenerate: python -m robust_unlearning.memory --out config/paper/memory.md"
    )
