"""A paper-scale run fails before any job when its config names a missing file or a block the model lacks, when its
checkpoints would not fit on disk; an out-of-memory job says what the config can change."""

import json
import subprocess
import sys
import textwrap

import huggingface_hub.constants
import pytest

from robust_unlearning.config import CONFIG_DIR, ConfigError, load_layered, validate_config
from robust_unlearning.preflight import DiskSpaceError, check_disk, out_of_memory_advice

from .conftest import ROOT
from .helpers import snakemake_command

# A 7B Llama's config.json fields that memory.model_shape and the layer check read.
LLAMA_7B = {
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "intermediate_size": 11008,
    "vocab_size": 32000,
}


def _invalid(config: dict, *needles: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    for needle in needles:
        assert needle in str(error.value)


@pytest.mark.parametrize(
    ("block", "key", "value", "needle"),
    [
        ("p1", "layer", 9, "config key 'p1.layer': 9 is not a block of model.source's 4-block model"),
        ("p1", "layer_sweep", [1, 9], "config key 'p1.layer_sweep.1': 9"),
        ("model", "source", "/nonexistent/checkpoint", "config key 'model.source': '/nonexistent/checkpoint' does not"),
        ("model", "source", "gguf:./missing.gguf", "config key 'model.source': './missing.gguf' does not exist"),
        ("datasets", "tofu", "/nonexistent/TOFU", "config key 'datasets.tofu': '/nonexistent/TOFU' does not exist"),
        ("datasets", "mmlu", "~/mmlu", "config key 'datasets.mmlu': '~/mmlu' does not exist (a leading ~ is not"),
        ("tofu", "published", {"retain90": "./gone"}, "config key 'tofu.published.retain90': './gone' does not"),
    ],
)
def test_missing_paths_and_blocks_beyond_the_model_are_named(default_config, block, key, value, needle):
    default_config[block][key] = value
    _invalid(default_config, needle)


def test_signed_layers_count_from_the_top_and_are_bounded_both_ways(default_config):
    default_config["p4"]["attacks"]["probing"]["layer"] = -4  # block 0 of 4: valid
    default_config["unlearning"]["methods"]["rmu"]["layer"] = -5
    default_config["p4"]["overrides"]["rmu"]["layer"] = 4
    _invalid(
        default_config,
        "config key 'unlearning.methods.rmu.layer': -5 is not a block",
        "config key 'p4.overrides.rmu.layer': 4 is not a block of model.source's 4-block model "
        "(model.architecture.num_hidden_layers); blocks are 0..3, or -4..-1 counted from the top",
    )
    assert "probing" not in _errors(default_config)


def _errors(config: dict) -> str:
    try:
        validate_config(config)
    except ConfigError as error:
        return str(error)
    return ""


def test_hub_judge_path_is_checked_only_when_the_hub_judge_runs(default_config):
    default_config["p3"]["judge_model"] = "/nonexistent/judge"
    assert _errors(default_config) == ""
    default_config["p3"]["judge"] = "hub"
    _invalid(default_config, "config key 'p3.judge_model': '/nonexistent/judge' does not exist")


def test_a_local_checkpoint_gives_its_block_count(default_config, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA_7B, "num_hidden_layers": 6}))
    default_config["model"]["source"] = str(tmp_path)
    default_config["p1"]["layer_sweep"] = [5, 6]
    _invalid(
        default_config, f"config key 'p1.layer_sweep.1': 6 is not a block of model.source's 6-block model ({tmp_path}"
    )
    default_config["p1"]["layer_sweep"] = [5]
    assert _errors(default_config) == ""


def test_only_the_selected_tracks_layers_must_fit_the_model(default_config, tmp_path):
    """A 2-block checkpoint that runs only the models table (no P1, P2 or P4 job) keeps P1's ℓ = 2 and RMU's layer."""
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA_7B, "num_hidden_layers": 2}))
    default_config["model"]["source"] = str(tmp_path)
    default_config["p1"]["layer"] = 2
    default_config["tracks"] = ["models"]
    assert _errors(default_config) == ""
    default_config["tracks"] = ["models", "p1_rna"]
    _invalid(default_config, "config key 'p1.layer': 2 is not a block of model.source's 2-block model")


def test_a_paper_model_gives_its_block_count_without_the_hub():
    """zephyr-7b-beta has 32 blocks (its hub config.json): the P1 paper config's ℓ sweep cannot reach block 32."""
    config = load_layered([CONFIG_DIR / "paper" / "p1_rna.yaml"])
    config["p1"]["layer_sweep"] = [7, 32]
    _invalid(config, "config key 'p1.layer_sweep.1': 32 is not a block of model.source's 32-block model")


def test_a_cached_hub_model_gives_its_block_count_and_an_uncached_one_is_not_checked(
    default_config, tmp_path, monkeypatch
):
    # The Hugging Face cache's layout: refs/main names the snapshot that holds the files.
    repo = tmp_path / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text(json.dumps({**LLAMA_7B, "num_hidden_layers": 8}))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    default_config["p1"]["layer"] = 9
    default_config["model"]["source"] = "org/tiny"
    _invalid(default_config, "config key 'p1.layer': 9 is not a block of model.source's 8-block model")
    default_config["model"]["source"] = "org/not-downloaded"
    assert _errors(default_config) == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--config", 'p1={"layer": 9}'], "config key 'p1.layer': 9 is not a block of model.source's 4-block model"),
        (["--config", 'p1={"layer_sweep": [9]}'], "config key 'p1.layer_sweep.0': 9"),
        (["--config", 'model={"source": "/nonexistent/checkpoint"}'], "config key 'model.source'"),
        (["--config", 'datasets={"tofu": "/nonexistent/TOFU"}'], "config key 'datasets.tofu'"),
    ],
)
def test_snakemake_rejects_them_before_scheduling_any_job(args, needle, tmp_path, venv_bin):
    result = subprocess.run(
        snakemake_command(venv_bin, tmp_path, "-n", "--cores", 1, *args), capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode != 0
    assert needle in result.stdout + result.stderr
    assert "Job stats" not in result.stdout + result.stderr


def _paper_config(default_config, tmp_path) -> dict:
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_7B))
    default_config["model"]["source"] = str(tmp_path)
    default_config["tracks"] = ["models"]
    return validate_config(default_config)


def test_checkpoints_beyond_the_free_space_fail_with_both_figures(default_config, tmp_path):
    config = _paper_config(default_config, tmp_path)
    # 6,738,415,616 parameters (Llama-2-7b's shape): 26.95 GB per fp32 model; the embedded default fine-tunes every
    # parameter, so the largest resume checkpoint is 12 bytes each, 80.86 GB. Three models: 161.7 GB in all.
    outputs = ["results/models/base", "results/models/target", "results/models/retain90", "results/p1/runs/base.json"]
    with pytest.raises(DiskSpaceError) as error:
        check_disk(config, outputs, free=lambda path: 100 * 10**9)
    message = str(error.value)
    assert "has 100.0 GB free, but this run writes 161.7 GB of checkpoints: 3 saved models" in message
    assert "(27.0 GB each)" in message
    assert "'tofu.forget_splits'" in message
    check_disk(config, outputs, free=lambda path: 162 * 10**9)


def test_unknown_model_shape_is_not_checked(default_config):
    default_config["model"]["source"] = "org/uncached-model"
    config = validate_config(default_config)
    check_disk(config, ["results/models/base"], free=lambda path: 0)


def test_out_of_memory_in_a_job_names_its_stage_estimate_and_the_settings(default_config, tmp_path):
    """A fake training step raises torch's OutOfMemoryError in a script that logs as every job script does (log_to
    installs the hook)."""
    log = tmp_path / "job.log"
    script = textwrap.dedent(
        f"""
        import sys
        from types import SimpleNamespace
        import yaml
        from robust_unlearning.config import validate_config
        from robust_unlearning.jobs import log_to

        snakemake = SimpleNamespace(
            config=validate_config(yaml.safe_load(open({str(ROOT / "config" / "config.yaml")!r}))),
            rule="finetune",
            wildcards={{"finetuned": "target"}},
        )
        log_to({str(log)!r})
        import torch

        def step():
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        step()
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    text = log.read_text()
    assert "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB" in text
    assert "The above exception was the direct cause" in text
    # The default's from-scratch model: 1,066,112 parameters; 16 bytes each of weights, gradients and AdamW (17.1 MB)
    # and activations of 32 sequences × 128 tokens: 4 blocks × 34·4096·128 bytes + logits 10·4096·2048 (155.2 MB).
    assert "rule finetune {'finetuned': 'target'} ran out of memory." in text
    assert "finetune: estimated 0.17 GB per GPU on none × 1" in text
    for setting in ("grad_accumulation", "gradient_checkpointing", "distributed", "evaluation.batch_size"):
        assert setting in text


def test_out_of_memory_advice_of_an_evaluation_job(default_config):
    advice = out_of_memory_advice(validate_config(default_config), "evaluate_model", {"model": "base"})
    assert "no training stage" in advice
    assert "evaluation.batch_size" in advice
