"""Model passes every metric is computed from: one batched teacher-forced pass, one batched greedy generation.

The prompt and the answer are tokenised separately and concatenated (optional BOS + prompt ids + answer ids,
no other special tokens), so the answer's token boundaries are the same in scoring, generation and
extraction strength, whatever the tokenizer would have merged across the seam.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributed.fsdp import FSDPModule
from transformers import PreTrainedTokenizerBase

from ..data.examples import encode_answer, encode_prompt

IGNORE_INDEX = -100


@dataclass
class AnswerScores:
    """Teacher-forced statistics of one answer's tokens, each a 1-D tensor of length |y|."""

    logprobs: torch.Tensor  # log p(y_t | x, y_<t)
    argmax_match: torch.Tensor  # argmax_v p(v | x, y_<t) == y_t
    normalized_logprobs: torch.Tensor  # Min-K++: (log p(y_t) − μ_t) / σ_t, moments of log p(v) under p(·|x, y_<t)


def tokenize_pairs(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    answers: Sequence[str],
    max_length: int | None = None,
) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and labels (IGNORE_INDEX on prompt and padding).

    Right padding leaves every real token at the position it has unpadded, so log-probs do not depend on the
    batch. Over-long pairs lose answer tokens from the end; the prompt is kept whole.
    """
    rows = []
    for prompt, answer in zip(prompts, answers, strict=True):
        prompt_ids = encode_prompt(tokenizer, prompt)
        answer_ids = encode_answer(tokenizer, answer)
        if max_length is not None:
            answer_ids = answer_ids[: max(0, max_length - len(prompt_ids))]
        if not answer_ids:
            raise ValueError(f"nothing to score: prompt {prompt!r}, answer {answer!r}, max_length {max_length}")
        rows.append((prompt_ids, answer_ids))
    width = max(len(p) + len(a) for p, a in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, (prompt_ids, answer_ids) in enumerate(rows):
        end = len(prompt_ids) + len(answer_ids)
        input_ids[i, :end] = torch.tensor(prompt_ids + answer_ids)
        attention_mask[i, :end] = 1
        labels[i, len(prompt_ids) : end] = torch.tensor(answer_ids)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    # Scoring is also called mid-training (calibration, curves); hand the model back in the mode it came in.
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def answer_token_logprobs(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    answers: Sequence[str],
    batch_size: int = 16,
    max_length: int | None = None,
) -> list[AnswerScores]:
    """AnswerScores of each (prompt, answer), from one forward pass per batch.

    This single pass serves probability, truth ratio, exact memorization, extraction strength and every MIA
    score, so the full-vocabulary statistics Min-K++ needs are taken here rather than in a second pass.
    """
    device = _device(model)
    scores = []
    with _evaluating(model):
        for start in range(0, len(prompts), batch_size):
            end = start + batch_size
            batch = tokenize_pairs(tokenizer, prompts[start:end], answers[start:end], max_length)
            input_ids, attention_mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
            targets = batch["labels"][:, 1:].to(device)
            is_answer = targets != IGNORE_INDEX
            # Normalising only the answer positions keeps the float32 tensor at [answer tokens, V], not [B, T, V].
            logprobs = logits[:, :-1][is_answer].float().log_softmax(-1)
            token_ids = targets[is_answer]
            token_logprobs = logprobs.gather(-1, token_ids[:, None]).squeeze(-1)
            argmax_match = logprobs.argmax(-1) == token_ids
            probs = logprobs.exp()
            mean = (probs * logprobs).sum(-1)
            variance = (probs * logprobs.square()).sum(-1) - mean.square()
            # A one-hot next-token distribution has σ = 0; the floor turns 0/0 into 0 instead of NaN.
            normalized = (token_logprobs - mean) / variance.clamp_min(1e-12).sqrt()
            lengths = is_answer.sum(1).tolist()
            per_example = zip(token_logprobs.split(lengths), argmax_match.split(lengths), normalized.split(lengths))
            scores.extend(AnswerScores(lp.cpu(), match.cpu(), z.cpu()) for lp, match, z in per_example)
    return scores


def generate_token_ids(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    sequences: Sequence[list[int]],
    max_new_tokens: int,
    stop_strings: list[str] | None = None,
) -> list[list[int]]:
    """Greedy continuation ids of each token sequence (one generate call), cut after the first eos."""
    width = max(len(ids) for ids in sequences)
    # Left padding puts every sequence's last token at the same position, where generation continues.
    input_ids = torch.full((len(sequences), width), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, ids in enumerate(sequences):
        input_ids[i, width - len(ids) :] = torch.tensor(ids)
        attention_mask[i, width - len(ids) :] = 1
    device = _device(model)
    with _evaluating(model):
        output = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            stop_strings=stop_strings,
            tokenizer=tokenizer,
            # A sharded model's ranks generate in lockstep (each forward gathers the weights from all of them): all
            # run to the step the last one stops at.
            synced_gpus=isinstance(model, FSDPModule),
        )
    continuations = []
    for row in output[:, width:].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        continuations.append(row)
    return continuations


def greedy_generate(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    batch_size: int = 16,
    *,
    stop_at_newline: bool = True,
) -> list[str]:
    """Greedy answer to each prompt: decoded up to eos or (by default) the first newline, stripped.

    The newline stop matters because the QA format puts the next "Question:" on a new line; a model that
    keeps going would otherwise be scored on text that is not its answer. With stop_at_newline=False the
    generation runs to eos or max_new_tokens and the whole decoded text is kept (special tokens skipped,
    stripped): the harmful score judges a whole answer, which in BeaverTails is often a multi-line list.
    """
    stop_strings = ["\n"] if stop_at_newline else None
    texts = []
    for start in range(0, len(prompts), batch_size):
        sequences = [encode_prompt(tokenizer, prompt) for prompt in prompts[start : start + batch_size]]
        for ids in generate_token_ids(model, tokenizer, sequences, max_new_tokens, stop_strings=stop_strings):
            text = tokenizer.decode(ids, skip_special_tokens=True)
            texts.append((text.split("\n", 1)[0] if stop_at_newline else text).strip())
    return texts
