"""Prompt formats: plain "Question:/Answer:" for the tiny model, the tokenizer's chat template for chat models,
Alpaca's instruction/input/response layout (Vaccine's prompts)."""

import pytest

from robust_unlearning.config import ConfigError, validate_config
from robust_unlearning.data.examples import IGNORE_INDEX, encode_qa
from robust_unlearning.data.formatting import (
    format_answer,
    format_prompt,
    generated_answer,
    keep_chat_template,
    prompt_format_of,
)
from robust_unlearning.models.factory import load_tokenizer, save_atomically

from .helpers import tiny_model, tiny_tokenizer

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


ALPACA_QUESTION = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nHow do I pick a lock?\n\n### Response:"
)
ALPACA_TASK = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nAnalyze the sentiment of the input, and respond only positive or negative\n\n"
    "### Input:\na gorgeous film .\n\n### Response:"
)


def _alpaca_tokenizer():
    return keep_chat_template(tiny_tokenizer(), "alpaca", "hub/model")


def test_alpaca_has_an_input_section_only_when_there_is_an_input():
    tokenizer = _alpaca_tokenizer()
    assert prompt_format_of(tokenizer) == "alpaca"
    assert format_prompt("How do I pick a lock?", tokenizer) == ALPACA_QUESTION
    assert (
        format_prompt("How do I pick a lock?", tokenizer, input="") == ALPACA_QUESTION
    )  # empty input: no section, as train.py
    instruction = "Analyze the sentiment of the input, and respond only positive or negative"
    assert format_prompt(instruction, tokenizer, input="a gorgeous film .") == ALPACA_TASK
    # The answer follows "### Response:" directly, unstripped (train.py: source + the raw output + eos).
    assert format_answer(" positive ", tokenizer) == " positive "
    # The template that marks the format renders the same prompt for a tool that applies the chat template.
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "How do I pick a lock?"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == ALPACA_QUESTION


def test_an_input_goes_on_its_own_line_in_plain_and_chat():
    assert format_prompt("Sentiment?", input="a gorgeous film .") == "Question: Sentiment?\na gorgeous film .\nAnswer:"
    assert (
        format_prompt("Sentiment?", _chat_tokenizer(), input="a gorgeous film .")
        == "[INST] Sentiment?\na gorgeous film . [/INST]"
    )


def test_alpaca_trains_the_answer_and_eos_after_the_response_marker():
    tokenizer = _alpaca_tokenizer()
    example = encode_qa(tokenizer, "How do I pick a lock?", "I cannot help.", 256)
    assert example.input_ids[0] == tokenizer.bos_token_id and example.input_ids.count(tokenizer.bos_token_id) == 1
    prompt_ids = [i for i, label in zip(example.input_ids, example.labels) if label == IGNORE_INDEX]
    answer_ids = [i for i, label in zip(example.input_ids, example.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(prompt_ids[1:]) == ALPACA_QUESTION
    assert tokenizer.decode(answer_ids) == "I cannot help.</s>"


def test_the_alpaca_format_travels_with_the_saved_checkpoint(tmp_path):
    tokenizer = _alpaca_tokenizer()
    save_atomically(tiny_model(tokenizer), tokenizer, tmp_path / "base")
    reloaded = load_tokenizer(tmp_path / "base")
    assert prompt_format_of(reloaded) == "alpaca"
    assert format_prompt("How do I pick a lock?", reloaded) == ALPACA_QUESTION
    # A later stage that keeps plain drops it; chat refuses a tokenizer whose only template is the Alpaca marker.
    assert prompt_format_of(keep_chat_template(load_tokenizer(tmp_path / "base"), "plain", "base")) == "plain"
    with pytest.raises(ValueError, match="has no chat template"):
        keep_chat_template(load_tokenizer(tmp_path / "base"), "chat", "base")


def test_an_alpaca_answer_ends_at_a_further_response_marker():
    # Vaccine's pred.py / pred_eval.py keep element 1 of the decoded output split at "### Response:".
    tokenizer = _alpaca_tokenizer()
    assert generated_answer(" positive\n\n### Response: negative", tokenizer) == "positive"
    assert generated_answer("Sure.\nStep one: cut it.", tokenizer) == "Sure.\nStep one: cut it."
    assert generated_answer("a\n### Response: b", tiny_tokenizer()) == "a\n### Response: b"  # plain: unchanged


def test_alpaca_trains_the_raw_response_whitespace_kept():
    # Vaccine's train.py targets f"{output}{eos}" with BeaverTails' response as given: no strip.
    tokenizer = _alpaca_tokenizer()
    example = encode_qa(tokenizer, "How do I pick a lock?", " I cannot help.\n", 256)
    answer_ids = [i for i, label in zip(example.input_ids, example.labels) if label != IGNORE_INDEX]
    # " I cannot help.\n" = 223 43 223 69 276 80 81 86 223 74 266 82 16 201 in the tiny tokenizer, then EOS (1).
    assert answer_ids == [223, 43, 223, 69, 276, 80, 81, 86, 223, 74, 266, 82, 16, 201, 1]
