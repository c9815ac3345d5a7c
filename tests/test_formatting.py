"""Prompt formats: plain "Question:/Answer:" for the tiny model, the tokenizer's chat template for chat models."""

import pytest

from robust_unlearning.config import ConfigError, validate_config
from robust_unlearning.data.examples import IGNORE_INDEX, encode_qa
from robust_unlearning.data.formatting import format_answer, format_prompt, keep_chat_template, prompt_format_of

from .helpers import tiny_tokenizer

# Llama-2-chat's layout in miniature: the template writes the BOS text itself.
LLAMA2_LIKE = "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"


def _chat_tokenizer():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = LLAMA2_LIKE
    return tokenizer


def test_plain_is_the_question_answer_template():
    assert format_prompt("Where was Ana Velo born?") == "Question: Where was Ana Velo born?\nAnswer:"
    assert format_answer(" Tarsh. ") == " Tarsh."
    assert prompt_format_of(tiny_tokenizer()) == "plain"


def test_chat_renders_the_template_without_a_second_bos():
    tokenizer = _chat_tokenizer()
    assert prompt_format_of(tokenizer) == "chat"
    assert format_prompt("Where was Ana Velo born?", tokenizer) == "[INST] Where was Ana Velo born? [/INST]"
    assert format_answer(" Tarsh. ", tokenizer) == "Tarsh."
    example = encode_qa(tokenizer, "Where was Ana Velo born?", "Tarsh.", 64)
    assert example.input_ids.count(tokenizer.bos_token_id) == 1 and example.input_ids[0] == tokenizer.bos_token_id
    answer_ids = [i for i, label in zip(example.input_ids, example.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(answer_ids) == "Tarsh.</s>"


def test_the_base_checkpoint_keeps_the_chat_template_only_under_chat():
    assert prompt_format_of(keep_chat_template(_chat_tokenizer(), "plain", "hub/model")) == "plain"
    assert prompt_format_of(keep_chat_template(_chat_tokenizer(), "chat", "hub/model")) == "chat"
    with pytest.raises(ValueError, match="model.prompt_format.*'hub/model' has no chat template"):
        keep_chat_template(tiny_tokenizer(), "chat", "hub/model")


def test_chat_with_a_from_scratch_model_fails_at_validation(default_config):
    with pytest.raises(ConfigError, match="config key 'model.prompt_format'"):
        validate_config({**default_config, "model": {**default_config["model"], "prompt_format": "chat"}})
