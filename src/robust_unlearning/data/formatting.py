"""Prompt formats shared by every track, so training and evaluation see the same strings.

``plain``: "Question: {question}\\nAnswer:" and the answer after a space (the tiny model, phi-1.5 as TOFU
prompts it). ``chat``: the question as the user turn of the tokenizer's chat template with the assistant turn
opened, and the answer right after it (TOFU's and OpenUnlearning's chat models). ``alpaca``: the Stanford Alpaca
layout that Vaccine's code uses everywhere (git-disl/Vaccine train.py PROMPT_DICT, poison/evaluation/pred.py,
sst2/pred_eval.py): a preamble, "### Instruction:" with the question, an "### Input:" section only when there is
an input, then "### Response:", the answer directly after it (train.py's target is output + EOS, no separator).

Which one a model uses is a property of its checkpoint: the base-model stage keeps the tokenizer's chat template
only under `model.prompt_format: chat`, replaces it by ALPACA_CHAT_TEMPLATE (which carries ALPACA_MARKER) under
`alpaca` and drops it under `plain` (`keep_chat_template`); the template is saved with the tokenizer, so every
later stage reads the format back (`prompt_format_of`) and prompts the model the way it was trained.
"""

from transformers import PreTrainedTokenizerBase

QUESTION_TEMPLATE = "Question: {question}\nAnswer:"

# The description line lm-eval's tasks open each multiple-choice prompt with (eval/mcq.py): WMDP's names its topic
# (wmdp_bio / wmdp_cyber / wmdp_chem), MMLU's its subject with spaces. Per MCQ format, as lm-eval's mmlu templates.
WMDP_TOPICS = {"bio": "biology", "cyber": "cybersecurity", "chem": "chemistry"}
MCQ_DESCRIPTIONS = {
    "lettered": "The following are multiple choice questions (with answers) about {topic}.\n\n",
    "continuation": "The following are questions (with answers) about {topic}.\n\n",
}


def mcq_description(subject: str, mcq_format: str) -> str:
    """The description lm-eval's task for this subject prepends (WMDP's topic words, else MMLU's subject name)."""
    topic = WMDP_TOPICS.get(subject, " ".join(subject.split("_")))
    return MCQ_DESCRIPTIONS[mcq_format].format(topic=topic)


PROMPT_FORMATS = ("plain", "chat", "alpaca")

ALPACA_RESPONSE = "### Response:"
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n" + ALPACA_RESPONSE
)
ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n" + ALPACA_RESPONSE
)
# How a saved tokenizer says "alpaca": a Jinja comment in its chat template. The template itself renders the
# no-input layout for a user turn (and answer + eos for an assistant turn), so a tool that applies the chat
# template gets the same prompt as format_prompt.
ALPACA_MARKER = "robust_unlearning prompt_format: alpaca"
_BEFORE, _AFTER = ALPACA_NO_INPUT.split("{instruction}")
ALPACA_CHAT_TEMPLATE = (
    "{#- " + ALPACA_MARKER + " (data/formatting.py) -#}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    + _BEFORE
    + "{{ message['content'] }}"
    + _AFTER
    + "{%- elif message['role'] == 'assistant' -%}{{ message['content'] }}{{ eos_token }}{%- endif -%}{%- endfor -%}"
)


def prompt_format_of(tokenizer: PreTrainedTokenizerBase | None) -> str:
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if not template:
        return "plain"
    return "alpaca" if isinstance(template, str) and ALPACA_MARKER in template else "chat"


def keep_chat_template(tokenizer: PreTrainedTokenizerBase, prompt_format: str, source: str) -> PreTrainedTokenizerBase:
    """The tokenizer a base checkpoint is saved with: its chat template kept for "chat", dropped for "plain",
    replaced by the Alpaca marker template for "alpaca"."""
    if prompt_format not in PROMPT_FORMATS:
        raise ValueError(
            f"config key 'model.prompt_format': unknown format {prompt_format!r}; choose one of {', '.join(PROMPT_FORMATS)}"
        )
    if prompt_format == "chat" and prompt_format_of(tokenizer) != "chat":
        raise ValueError(
            f"config key 'model.prompt_format' is 'chat' but the tokenizer of {source!r} has no chat template"
        )
    if prompt_format == "plain":
        tokenizer.chat_template = None
    elif prompt_format == "alpaca":
        tokenizer.chat_template = ALPACA_CHAT_TEMPLATE
    return tokenizer


def format_prompt(question: str, tokenizer: PreTrainedTokenizerBase | None = None, input: str | None = None) -> str:
    """The prompt of `question`, with an optional `input` (the text the question is about, e.g. the sentence of a
    classification task): Alpaca's "### Input:" section, or for plain and chat the question followed by the input
    on its own line. An empty input is no input, as in Vaccine's train.py."""
    prompt_format = prompt_format_of(tokenizer)
    if prompt_format == "alpaca":
        return (
            ALPACA_WITH_INPUT.format(instruction=question, input=input)
            if input
            else ALPACA_NO_INPUT.format(instruction=question)
        )
    if input:
        question = f"{question}\n{input}"
    if prompt_format == "plain":
        return QUESTION_TEMPLATE.format(question=question)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )
    # encode_prompt prepends the BOS id itself; a template that writes the BOS text would give it twice.
    bos = tokenizer.bos_token
    return prompt[len(bos) :] if bos and prompt.startswith(bos) else prompt


def format_answer(answer: str, tokenizer: PreTrainedTokenizerBase | None = None) -> str:
    """The continuation scored and trained on. Plain: a leading space keeps BPE merges identical to running
    text; chat: the answer, stripped, follows the opened assistant turn directly; alpaca: the answer as the data
    gives it, whitespace kept, right after "### Response:" (Vaccine's train.py targets the raw response + EOS)."""
    prompt_format = prompt_format_of(tokenizer)
    if prompt_format == "alpaca":
        return answer
    return " " + answer.strip() if prompt_format == "plain" else answer.strip()


def generated_answer(text: str, tokenizer: PreTrainedTokenizerBase | None = None) -> str:
    """The answer in a greedy continuation of format_prompt's prompt. Alpaca: the text before any further
    "### Response:" the model writes, stripped, as Vaccine's pred.py and pred_eval.py read it (the decoded
    output split at "### Response:", element 1); plain and chat: the text unchanged."""
    if prompt_format_of(tokenizer) == "alpaca":
        return text.split(ALPACA_RESPONSE, 1)[0].strip()
    return text
