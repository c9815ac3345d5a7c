"""Prompt formats shared by every track, so training and evaluation see the same strings.

``plain``: "Question: {question}\\nAnswer:" and the answer after a space (the tiny model, phi-1.5 as TOFU
prompts it). ``chat``: the question as the user turn of the tokenizer's chat template with the assistant turn
opened, and the answer right after it (TOFU's and OpenUnlearning's chat models). Which one a model uses is a
property of its checkpoint: the base-model stage keeps the tokenizer's chat template only under
`model.prompt_format: chat` (`keep_chat_template`), so every later stage prompts it the way it was trained.
"""

from transformers import PreTrainedTokenizerBase

QUESTION_TEMPLATE = "Question: {question}\nAnswer:"
PROMPT_FORMATS = ("plain", "chat")


def prompt_format_of(tokenizer: PreTrainedTokenizerBase | None) -> str:
    return "chat" if tokenizer is not None and getattr(tokenizer, "chat_template", None) else "plain"


def keep_chat_template(tokenizer: PreTrainedTokenizerBase, prompt_format: str, source: str) -> PreTrainedTokenizerBase:
    """The tokenizer a base checkpoint is saved with: its chat template kept for "chat", dropped for "plain"."""
    if prompt_format == "chat" and not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"config key 'model.prompt_format' is 'chat' but the tokenizer of {source!r} has no chat template")
    if prompt_format == "plain":
        tokenizer.chat_template = None
    return tokenizer


def format_prompt(question: str, tokenizer: PreTrainedTokenizerBase | None = None) -> str:
    if prompt_format_of(tokenizer) == "plain":
        return QUESTION_TEMPLATE.format(question=question)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
    # encode_prompt prepends the BOS id itself; a template that writes the BOS text would give it twice.
    bos = tokenizer.bos_token
    return prompt[len(bos):] if bos and prompt.startswith(bos) else prompt


def format_answer(answer: str, tokenizer: PreTrainedTokenizerBase | None = None) -> str:
    """The continuation scored and trained on. Plain: a leading space keeps BPE merges identical to running
    text; chat: the answer follows the template's opened assistant turn directly."""
    return answer.strip() if prompt_format_of(tokenizer) == "chat" else " " + answer.strip()
