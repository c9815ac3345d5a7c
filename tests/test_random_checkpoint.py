"""Random-weight checkpoints of real architectures (models/random_checkpoint.py): SmolLM2's with two blocks, and a
config with per-layer lists."""

import shutil

import pytest
from safetensors import safe_open
from transformers import LlamaForCausalLM, Qwen3Config

from robust_unlearning.models.factory import load_model, load_tokenizer
from robust_unlearning.models.random_checkpoint import main, write_random_checkpoint

from .helpers import tiny_tokenizer

NOT_WEIGHTS = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)


def _embeddings(checkpoint):
    with safe_open(checkpoint / "model.safetensors", "pt") as weights:
        return weights.get_tensor("model.embed_tokens.weight")


def test_random_smollm2_has_its_tokenizer_and_two_blocks_and_regenerates_from_config_alone(tmp_path, smollm2_base):
    base = smollm2_base[0]
    summary = write_random_checkpoint(str(base), tmp_path / "random", layers=2, seed=0)
    # Tied 49,152 x 576 embeddings, two blocks of 3,540,096 (q, o 576²; k, v 576 x 192; three 576 x 1,536 MLP
    # matrices; two norms) and the final norm: 28,311,552 + 7,080,192 + 576.
    assert summary == {"n_parameters": 35_392_320, "layers": 2}
    model = load_model(tmp_path / "random")
    assert isinstance(model, LlamaForCausalLM)
    assert model.config.num_hidden_layers == len(model.model.layers) == 2
    assert model.config.hidden_size == 576 and model.config.vocab_size == 49152
    template = load_tokenizer(tmp_path / "random").chat_template
    assert template == load_tokenizer(base).chat_template and "<|im_start|>assistant" in template
    random, pretrained = _embeddings(tmp_path / "random"), _embeddings(base)
    assert random.shape == pretrained.shape and not random.equal(pretrained)

    # The weights are not read: the config and tokenizer alone give the same checkpoint, byte for byte.
    (tmp_path / "like").mkdir()
    for name in NOT_WEIGHTS:
        shutil.copy(tmp_path / "random" / name, tmp_path / "like" / name)
    write_random_checkpoint(str(tmp_path / "like"), tmp_path / "again", seed=0)
    assert (tmp_path / "again/model.safetensors").read_bytes() == (tmp_path / "random/model.safetensors").read_bytes()


def test_per_layer_config_lists_are_cut_with_the_blocks(tmp_path, capsys):
    config = Qwen3Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=400,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        sliding_window=8,
    )
    config.save_pretrained(tmp_path / "like")
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    tokenizer.save_pretrained(tmp_path / "like")

    main(["--like", str(tmp_path / "like"), "--out", str(tmp_path / "random"), "--layers", "2", "--seed", "3"])
    assert "2 blocks" in capsys.readouterr().out
    model = load_model(tmp_path / "random")
    assert model.config.layer_types == ["sliding_attention", "full_attention"]
    assert len(model.model.layers) == 2
    assert load_tokenizer(tmp_path / "random").chat_template == tokenizer.chat_template

    with pytest.raises(ValueError, match="between 1 and the architecture's 4 blocks, got 5"):
        write_random_checkpoint(str(tmp_path / "like"), tmp_path / "too-deep", layers=5)
